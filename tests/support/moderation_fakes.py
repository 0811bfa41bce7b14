"""Test helpers for moderation: the model class as the SDK builds it and a Together-like guard model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml
from dify_plugin.entities.model.schema import AIModelEntity

from models.moderation.moderation import TogetherModerationModel
from tests.support.fake_together import Recorded, Reply

ROOT = Path(__file__).resolve().parents[2]
MODEL = "acme/dedicated-llama-guard"  # a customizable model: Together serves none serverless
UNSAFE_WORD = "napalm"  # the stand-in flags any text containing it


def moderation_model() -> TogetherModerationModel:
    """The model class with the predefined schemas from `models/moderation/*.yaml`."""
    folder = ROOT / "models" / "moderation"
    paths = [path for path in folder.glob("*.yaml") if not path.name.startswith("_")]
    schemas = [AIModelEntity(**yaml.safe_load(path.read_text())) for path in paths]
    return TogetherModerationModel(schemas)


def completion(content: str | None, model: str = MODEL) -> Reply:
    """A chat completion response whose only choice says `content`."""
    return Reply.json(
        {
            "id": "cmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 200, "completion_tokens": 3, "total_tokens": 203},
        }
    )


def flag_unsafe_word(text: str) -> str:
    """Llama Guard's reply for `text` in these tests: unsafe (S9, S1) when it names the unsafe word."""
    return "unsafe\nS9,S1" if UNSAFE_WORD in text else "safe"


def guard(verdict: Callable[[str], str] = flag_unsafe_word) -> Callable[[Recorded], Reply]:
    """A `/chat/completions` handler answering like Llama Guard, from the user message's text."""

    def handle(request: Recorded) -> Reply:
        [message] = request.json()["messages"]
        return completion(verdict(message["content"]), request.json()["model"])

    return handle
