"""Oversized inputs: refused before anything is sent (with what to change), or cut to fit each request.

Each type owns its limits; this checks what they promise from the outside, against the stand-in.
"""

from __future__ import annotations

import io

import pytest
from dify_plugin.errors.model import InvokeBadRequestError

from models.together.tokens import count_tokens
from tests.faults.adapters import MP3, build, chat_completion
from tests.support.fake_together import FakeTogether, Recorded, Reply


def test_audio_over_the_upload_limit_is_refused_before_upload(
    fake_together: FakeTogether, credentials: dict
) -> None:
    limit_mb = 80  # whisper-large-v3's file_upload_limit
    audio = io.BytesIO(b"RIFF\0\0\0\0WAVEfmt " + bytes(limit_mb * 1024 * 1024))

    with pytest.raises(InvokeBadRequestError, match="at most 80 MB"):
        build("speech2text").invoke("openai/whisper-large-v3", credentials, audio)

    assert fake_together.requests == []


def test_text_beyond_what_moderation_checks_is_refused_before_any_request(
    fake_together: FakeTogether, credentials: dict
) -> None:
    model = "acme/dedicated-llama-guard"  # Together serves no guard model: a user's own endpoint
    fake_together.route("POST", "/chat/completions", Reply.json(chat_completion("safe", model)))
    text = "word " * 200_000  # a million characters
    guard = {**credentials, "max_characters_per_chunk": "4000", "max_chunks": "32"}

    with pytest.raises(InvokeBadRequestError, match="too long to moderate"):
        build("moderation").invoke(model, guard, text)

    assert fake_together.requests == []


def test_embedding_batches_and_texts_are_cut_to_the_models_limits(
    fake_together: FakeTogether, credentials: dict
) -> None:

    def embed(request: Recorded) -> Reply:
        texts = request.json()["input"]
        data = [{"object": "embedding", "index": i, "embedding": [0.5]} for i in range(len(texts))]
        return Reply.json({"object": "list", "data": data})

    fake_together.route("POST", "/embeddings", embed)
    texts = [f"text {n} " + "lorem ipsum dolor " * 400 for n in range(250)]  # 250 texts of ~1,200 tokens

    endpoint = {**credentials, "context_size": "514", "max_chunks": "100"}  # a dedicated e5 endpoint's
    result = build("text_embedding").invoke("acme/dedicated-e5", endpoint, texts)

    assert len(result.embeddings) == 250
    batches = [request.json()["input"] for request in fake_together.requests]
    assert all(len(batch) <= 100 for batch in batches)  # max_chunks
    assert all(count_tokens(text) <= 514 for batch in batches for text in batch)  # context_size


def test_long_speech_is_sent_in_requests_within_the_word_limit(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("GET", "/voices", Reply.json({"object": "list", "data": []}))
    fake_together.route("POST", "/audio/speech", Reply(200, {"Content-Type": "audio/mpeg"}, MP3))
    text = "This sentence is read aloud. " * 300  # 8,700 characters

    audio = b"".join(build("tts").invoke("hexgrad/Kokoro-82M", "tenant", credentials, text, ""))

    sent = [request.json()["input"] for request in fake_together.requests if request.path.endswith("/speech")]
    assert len(sent) > 1
    assert all(len(piece) <= 2000 for piece in sent)  # word_limit
    assert audio == MP3 * len(sent)


def test_ranked_documents_beyond_one_daemon_reply_are_refused_naming_top_k(
    fake_together: FakeTogether, credentials: dict
) -> None:
    docs = [f"document {n} " + "x" * 600_000 for n in range(10)]  # 6 MB of text, echoed in the result
    results = [{"index": n, "relevance_score": 1 - n / 10} for n in range(10)]
    fake_together.route("POST", "/rerank", Reply.json({"object": "rerank", "results": results}))

    with pytest.raises(InvokeBadRequestError, match=r"lower Top K \(top_n\)"):
        build("rerank").invoke("acme/rerank-endpoint", credentials, "query", docs, None, None)

    assert len(build("rerank").invoke("acme/rerank-endpoint", credentials, "query", docs, None, 3).docs) == 3
