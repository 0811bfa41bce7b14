"""A customizable model of each of the six types: its credential form validates against the stand-in.

Embedding, rerank and moderation exist only this way (Together serves none of them serverless):
the model of the user's own dedicated endpoint, at its own `endpoint_url`. Validation is one real
request, so each case checks that it reached the stand-in for that model and that nothing is
predefined where Together serves nothing.
"""

from __future__ import annotations

import json

import pytest

from tests.faults.adapters import MP3, build, chat_completion
from tests.support.fake_together import FakeTogether, Reply

EMBEDDINGS = {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}]}
RANKED = {"object": "rerank", "results": [{"index": 0, "relevance_score": 0.9}]}
CASES = {
    # folder: (model, credential fields of its form, path validated, the stand-in's answer)
    "llm": (
        "acme/fine-tune-7b",
        {"mode": "chat", "context_size": "8192", "max_tokens_to_sample": "2048"},
        "/chat/completions",
        lambda model: Reply.json(chat_completion("pong", model)),
    ),
    "text_embedding": (
        "acme/dedicated-e5",
        {"context_size": "512", "max_chunks": "32"},
        "/embeddings",
        lambda model: Reply.json({**EMBEDDINGS, "model": model}),
    ),
    "rerank": (
        "acme/dedicated-mxbai-rerank",
        {},
        "/rerank",
        lambda model: Reply.json({**RANKED, "model": model}),
    ),
    "tts": (
        "acme/dedicated-voice",
        {"default_voice": "narrator"},
        "/audio/speech",
        lambda _model: Reply(200, {"Content-Type": "audio/mpeg"}, MP3),
    ),
    "speech2text": (
        "acme/dedicated-whisper",
        {"file_upload_limit": "25"},
        "/audio/transcriptions",
        lambda _model: Reply.json({"text": "hello"}),
    ),
    "moderation": (
        "acme/dedicated-llama-guard",
        {"max_characters_per_chunk": "4000", "max_chunks": "32"},
        "/chat/completions",
        lambda model: Reply.json(chat_completion("safe", model)),
    ),
}


@pytest.mark.parametrize("folder", sorted(CASES))
def test_a_customizable_model_validates_against_its_own_endpoint(
    folder: str, fake_together: FakeTogether, credentials: dict
) -> None:
    model, fields, path, answer = CASES[folder]
    fake_together.route("POST", path, answer(model))
    fake_together.route("GET", "/voices", Reply.json({"data": []}))
    instance = build(folder)

    instance.validate_credentials(model, {**credentials, **fields})

    posted = [r for r in fake_together.requests if r.method == "POST"]
    assert posted and all(r.path == "/v1" + path for r in posted)
    body = posted[0].body
    sent_model = json.loads(body)["model"] if folder != "speech2text" else model
    assert sent_model == model and model.encode() in body
    assert instance.get_model_schema(model, {**credentials, **fields}).model == model


@pytest.mark.parametrize("folder", ["text_embedding", "rerank", "moderation"])
def test_nothing_is_predefined_where_together_serves_no_model(folder: str) -> None:
    assert build(folder).predefined_models() == []
