"""How the fault matrix drives each model type: which path it hits, a good answer, how to call it.

One `Adapter` per matrix column.
"""

from __future__ import annotations

import importlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from dify_plugin import (
    LargeLanguageModel,
    ModerationModel,
    RerankModel,
    Speech2TextModel,
    TextEmbeddingModel,
    TTSModel,
)
from dify_plugin.entities.model.message import UserPromptMessage
from dify_plugin.entities.model.schema import AIModelEntity
from dify_plugin.errors.model import InvokeConnectionError, InvokeError
from dify_plugin.interfaces.model.ai_model import AIModel

from tests.support.fake_together import Reply
from tests.support.llm_fakes import chunk, response, usage
from tests.support.sse import sse_body

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "tests" / "fixtures" / "audio"
MP3 = (AUDIO / "speech.mp3").read_bytes()
WAV = (AUDIO / "speech.wav").read_bytes()

BASES: dict[str, type[AIModel]] = {
    "llm": LargeLanguageModel,
    "text_embedding": TextEmbeddingModel,
    "rerank": RerankModel,
    "tts": TTSModel,
    "speech2text": Speech2TextModel,
    "moderation": ModerationModel,
}


def model_class(folder: str) -> type[AIModel]:
    """The model class `models/<folder>/<folder>.py` defines."""
    module = importlib.import_module(f"models.{folder}.{folder}")
    base = BASES[folder]
    [found] = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, base) and value.__module__ == module.__name__
    ]
    return found


def first_model(folder: str) -> str:
    """The first predefined model of a type, as its `_position.yaml` orders them, or the name of a
    customizable one (a user's dedicated endpoint) for a type Together serves none of."""
    position = yaml.safe_load((ROOT / "models" / folder / "_position.yaml").read_text()) or []
    return str(position[0]) if position else f"acme/dedicated-{folder.replace('_', '-')}"


def build(folder: str) -> AIModel:
    """The model class with its predefined schemas, as the SDK builds it."""
    cls = model_class(folder)
    schemas = [
        AIModelEntity(**yaml.safe_load(path.read_text()))
        for path in (ROOT / "models" / folder).glob("*.yaml")
        if not path.name.startswith("_")
    ]
    return cls(schemas)


def chat_completion(content: str, model: str) -> dict[str, Any]:
    return response(content, "stop", usage(5, 2), model=model)


def chat_chunks(model: str) -> list[dict[str, Any]]:
    return [
        chunk({"content": "Hel"}, model=model),
        chunk({"content": "lo"}, model=model),
        chunk({}, "stop", usage(5, 2), model=model),
    ]


@dataclass(frozen=True)
class Adapter:
    """One matrix column: a model type called one way.

    `ok_body` is a complete good answer (the fault cases cut or corrupt it); `invoke` calls the
    model in-process through its public `invoke` and consumes any generator; `stdio` is the
    action and request fields for the same call over the plugin's stdio runtime.
    """

    column: str
    folder: str
    path: str
    content_type: str
    ok_body: Callable[[str], bytes]
    invoke: Callable[[AIModel, str, dict], object]
    stdio: Callable[[str], tuple[str, dict[str, Any]]]
    streamed: bool = False  # the answer arrives as a stream the client relays while reading
    extra_routes: Callable[[str], dict[tuple[str, str], Reply]] = lambda _model: {}
    # Faults whose right error differs for this type (e.g. an empty stream is a cut-off stream).
    expected: dict[str, type[InvokeError]] = field(default_factory=dict)
    # The model credential fields a customizable model of this type needs.
    model_credentials: dict[str, str] = field(default_factory=dict)

    def model(self) -> str:
        return first_model(self.folder)

    def build_model(self) -> AIModel:
        return build(self.folder)

    def ok_reply(self, model: str) -> Reply:
        body = self.ok_body(model)
        if self.streamed:
            return Reply(200, {"Content-Type": self.content_type}, chunks=[body])
        return Reply(200, {"Content-Type": self.content_type}, body)

    def error_200(self, payload: dict[str, Any]) -> Reply:
        """A 200 carrying Together's error object, as this type's answer would carry it."""
        if self.content_type == "text/event-stream":
            return Reply(200, {"Content-Type": self.content_type}, chunks=[sse_body([payload], done=False)])
        return Reply.json(payload)

    def malformed(self) -> Reply:
        """A 200 whose JSON is broken, in this type's framing."""
        if self.content_type == "text/event-stream":
            return Reply(200, {"Content-Type": self.content_type}, chunks=[b'data: {"choices": [{"del\n\n'])
        return Reply(200, {"Content-Type": "application/json"}, b'{"data": [{"index": 0, "embedd')

    def empty(self) -> Reply:
        if self.streamed:
            return Reply(200, {"Content-Type": self.content_type}, chunks=[])
        return Reply(200, {"Content-Type": self.content_type}, b"")

    def first_part(self, model: str) -> bytes:
        """A complete first piece of a streamed answer (one event, or the first audio bytes)."""
        if self.content_type == "text/event-stream":
            return sse_body(chat_chunks(model)[:1], done=False)
        return self.ok_body(model)[:1024]


def _consume(result: object) -> object:
    if hasattr(result, "__next__"):
        return list(result)  # type: ignore[call-overload]
    return result


def _llm_invoke(stream: bool) -> Callable[[AIModel, str, dict], object]:
    def invoke(model: AIModel, name: str, credentials: dict) -> object:
        prompt = [UserPromptMessage(content="Say hello")]
        return _consume(model.invoke(name, credentials, prompt, {}, None, None, stream, None))  # type: ignore[attr-defined]

    return invoke


def _llm_stdio(stream: bool) -> Callable[[str], tuple[str, dict[str, Any]]]:
    def data(name: str) -> tuple[str, dict[str, Any]]:
        return "invoke_llm", {
            "model_type": "llm",
            "model": name,
            "prompt_messages": [{"role": "user", "content": "Say hello", "name": ""}],
            "model_parameters": {},
            "stop": None,
            "tools": None,
            "stream": stream,
        }

    return data


def _voices(model: str) -> dict[tuple[str, str], Reply]:
    return {("GET", "/voices"): Reply.json({"object": "list", "data": []})}


ADAPTERS: list[Adapter] = [
    Adapter(
        column="llm stream",
        folder="llm",
        path="/chat/completions",
        content_type="text/event-stream",
        ok_body=lambda model: sse_body(chat_chunks(model)),
        invoke=_llm_invoke(stream=True),
        stdio=_llm_stdio(stream=True),
        streamed=True,
        expected={"empty body": InvokeConnectionError},  # a stream that ends before [DONE]
    ),
    Adapter(
        column="llm blocking",
        folder="llm",
        path="/chat/completions",
        content_type="application/json",
        ok_body=lambda model: json.dumps(chat_completion("Hello", model)).encode(),
        invoke=_llm_invoke(stream=False),
        stdio=_llm_stdio(stream=False),
    ),
    Adapter(
        column="text-embedding",
        folder="text_embedding",
        path="/embeddings",
        content_type="application/json",
        ok_body=lambda model: json.dumps(
            {
                "object": "list",
                "model": model,
                "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
            }
        ).encode(),
        invoke=lambda model, name, credentials: model.invoke(name, credentials, ["hello world"]),  # type: ignore[attr-defined]
        stdio=lambda name: (
            "invoke_text_embedding",
            {
                "model_type": "text-embedding",
                "model": name,
                "texts": ["hello world"],
                "input_type": "document",
            },
        ),
        model_credentials={"context_size": "512", "max_chunks": "32"},
    ),
    Adapter(
        column="rerank",
        folder="rerank",
        path="/rerank",
        content_type="application/json",
        ok_body=lambda model: json.dumps(
            {"object": "rerank", "model": model, "results": [{"index": 0, "relevance_score": 0.9}]}
        ).encode(),
        invoke=lambda model, name, credentials: model.invoke(name, credentials, "q", ["a doc"], None, None),  # type: ignore[attr-defined]
        stdio=lambda name: (
            "invoke_rerank",
            {
                "model_type": "rerank",
                "model": name,
                "query": "q",
                "docs": ["a doc"],
                "score_threshold": 0.0,
                "top_n": 0,
            },
        ),
    ),
    Adapter(
        column="tts",
        folder="tts",
        path="/audio/speech",
        content_type="audio/mpeg",
        ok_body=lambda _model: MP3,
        invoke=lambda model, name, credentials: _consume(
            model.invoke(name, "tenant", credentials, "Hello there.", "")  # type: ignore[attr-defined]
        ),
        stdio=lambda name: (
            "invoke_tts",
            {
                "model_type": "tts",
                "model": name,
                "content_text": "Hello there.",
                "voice": "",
                "tenant_id": "t",
            },
        ),
        streamed=True,
        extra_routes=_voices,
    ),
    Adapter(
        column="speech2text",
        folder="speech2text",
        path="/audio/transcriptions",
        content_type="application/json",
        ok_body=lambda _model: json.dumps({"text": "hello"}).encode(),
        invoke=lambda model, name, credentials: model.invoke(name, credentials, io.BytesIO(WAV)),  # type: ignore[attr-defined]
        stdio=lambda name: (
            "invoke_speech2text",
            {"model_type": "speech2text", "model": name, "file": WAV.hex()},
        ),
    ),
    Adapter(
        column="moderation",
        folder="moderation",
        path="/chat/completions",
        content_type="application/json",
        ok_body=lambda model: json.dumps(chat_completion("safe", model)).encode(),
        invoke=lambda model, name, credentials: model.invoke(name, credentials, "hello"),  # type: ignore[attr-defined]
        stdio=lambda name: (
            "invoke_moderation",
            {"model_type": "moderation", "model": name, "text": "hello"},
        ),
        model_credentials={"max_characters_per_chunk": "4000", "max_chunks": "32"},
    ),
]
