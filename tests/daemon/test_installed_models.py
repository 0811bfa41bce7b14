"""Credentials, schemas and the five other model types of the installed package, through the real daemon."""

from __future__ import annotations

import binascii
from typing import Any

import pytest

from tests.conftest import API_KEY
from tests.daemon.dify_api import DifyApi
from tests.support.fake_together import FakeTogether, Recorded, Reply
from tests.support.llm_fakes import response, usage
from tests.support.moderation_fakes import UNSAFE_WORD, guard
from tests.support.rerank_fakes import DOCS, QUERY, SCORES, together_rerank
from tests.support.text_embedding_fakes import embeddings_reply, vector_for
from tests.support.tts_audio import SPEECH_MP3, SPEECH_WAV, is_mp3, mp3_of_size, multipart_parts

pytestmark = pytest.mark.usefixtures("installed")

WRONG_KEY = "tgp_v1_wrong-key-0000000000000000"
INVALID_KEY = {
    "error": {
        "message": "Invalid API key provided.",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
}
KOKORO = "hexgrad/Kokoro-82M"
WHISPER = "openai/whisper-large-v3"
LIVE_VOICES = {
    "data": [{"model": KOKORO, "voices": [{"id": "k1", "name": "af_heart"}, {"id": "k2", "name": "af_nova"}]}]
}
# One customizable model per type, with the credentials Dify's "Add model" form sends for it.
CHAT_SETTINGS = {"mode": "chat", "context_size": "32768", "max_tokens_to_sample": "4096"}
CHAT_SETTINGS |= {"function_calling_type": "tool_call", "vision_support": "no_support"}
VOICE_SETTINGS = {"default_voice": "narrator", "voices": "narrator, storyteller", "word_limit": "500"}
CUSTOM = {
    "llm": ("acme/chat-7b", CHAT_SETTINGS),
    "text-embedding": ("acme/embedder", {"context_size": "8192", "max_chunks": "16"}),
    "rerank": ("acme/reranker", {}),
    "tts": ("acme/voice", VOICE_SETTINGS),
    "speech2text": ("acme/transcriber", {"file_upload_limit": "25"}),
    "moderation": ("acme/llama-guard", {}),
}


def keyed(handler: Any) -> Any:
    """`handler` for the right key, Together's 401 for any other."""

    def handle(request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return Reply.json(INVALID_KEY, 401, {"x-request-id": "req-401"})
        return handler(request) if callable(handler) else handler

    return handle


@pytest.fixture
def together(fake_together: FakeTogether) -> FakeTogether:
    """Every endpoint the plugin calls, answering like Together for the right key."""
    routes = {
        ("GET", "/models"): Reply.json(
            [{"id": "openai/gpt-oss-20b", "object": "model", "created": 1, "type": "chat"}]
        ),
        ("POST", "/chat/completions"): lambda r: (
            guard()(r) if "guard" in r.json()["model"] else Reply.json(response("pong", usage=usage(5, 1)))
        ),
        ("POST", "/embeddings"): embeddings_reply,
        ("POST", "/rerank"): together_rerank,
        ("GET", "/voices"): Reply.json(LIVE_VOICES),
        ("POST", "/audio/speech"): Reply(200, {"Content-Type": "audio/mpeg"}, SPEECH_MP3),
        ("POST", "/audio/transcriptions"): Reply.json({"text": "Hello from Together AI."}),
    }
    for (method, path), handler in routes.items():
        fake_together.route(method, path, keyed(handler))
    return fake_together


def test_provider_credentials_validate_with_the_right_key_only(
    dify: DifyApi, together: FakeTogether, credentials: dict
) -> None:
    good = dify.dispatch(
        "model/validate_provider_credentials", {"provider": "togetherai", "credentials": credentials}
    )
    wrong = {**credentials, "api_key": WRONG_KEY}
    refused = dify.dispatch(
        "model/validate_provider_credentials", {"provider": "togetherai", "credentials": wrong}
    )

    assert good.ok() == [{"result": True, "credentials": credentials}]
    assert refused.error["error_type"] == "CredentialsValidateFailedError"
    assert "Invalid API key provided." in refused.error["message"] and "req-401" in refused.error["message"]
    assert WRONG_KEY not in refused.raw
    assert [r.path for r in together.requests] == ["/v1/models", "/v1/models"]


@pytest.mark.parametrize("model_type", list(CUSTOM))
def test_a_customizable_model_validates_with_the_right_key_only(
    dify: DifyApi, together: FakeTogether, credentials: dict, model_type: str
) -> None:
    model, settings = CUSTOM[model_type]
    custom = {**credentials, **settings}

    good = dify.model("model/validate_model_credentials", model_type, model, custom)
    refused = dify.model(
        "model/validate_model_credentials", model_type, model, {**custom, "api_key": WRONG_KEY}
    )

    assert good.ok() == [{"result": True, "credentials": custom}]
    assert refused.error["error_type"] == "CredentialsValidateFailedError"
    assert "Invalid API key provided." in refused.error["message"]
    assert WRONG_KEY not in refused.raw
    sent_models = {r.json()["model"] for r in together.requests if r.method == "POST" and r.body[:1] == b"{"}
    assert sent_models <= {model}


@pytest.mark.parametrize("model_type", list(CUSTOM))
def test_a_customizable_model_has_a_schema_built_from_its_credentials(
    dify: DifyApi, credentials: dict, model_type: str
) -> None:
    model, settings = CUSTOM[model_type]

    [payload] = dify.model("model/schema", model_type, model, {**credentials, **settings}).ok()

    schema = payload["model_schema"]
    assert (schema["model"], schema["model_type"], schema["fetch_from"]) == (
        model,
        model_type,
        "customizable-model",
    )
    properties = schema["model_properties"]
    expected = {
        "llm": {"mode": "chat", "context_size": 32768},
        "text-embedding": {"context_size": 8192, "max_chunks": 16},
        "tts": {"default_voice": "narrator", "word_limit": 500, "audio_type": "mp3"},
        "speech2text": {"file_upload_limit": 25},
    }.get(model_type, {})
    assert {key: properties.get(key) for key in expected} == expected
    if model_type == "llm":
        assert "tool-call" in schema["features"]
        assert {rule["name"] for rule in schema["parameter_rules"]} >= {"temperature", "max_tokens"}
    if model_type == "tts":
        assert [voice["name"] for voice in properties["voices"]] == ["narrator", "storyteller"]


def test_embeddings_come_back_in_order_with_usage(
    dify: DifyApi, together: FakeTogether, credentials: dict
) -> None:
    model, settings = CUSTOM["text-embedding"]
    texts = [f"chunk {i} of a knowledge base" for i in range(5)]

    [result] = dify.model(
        "text_embedding/invoke",
        "text-embedding",
        model,
        {**credentials, **settings},
        texts=texts,
        input_type="document",
    ).ok()

    assert result["model"] == model
    assert result["embeddings"] == [vector_for(t) for t in texts]
    assert result["usage"]["tokens"] == 10 * len(texts)
    assert [r.json()["input"] for r in together.requests] == [texts]


def test_embedding_token_counts_are_one_per_text(
    dify: DifyApi, together: FakeTogether, credentials: dict
) -> None:
    model, settings = CUSTOM["text-embedding"]

    [payload] = dify.model(
        "text_embedding/num_tokens",
        "text-embedding",
        model,
        {**credentials, **settings},
        texts=["hello world", "知识库", ""],
    ).ok()

    counts = payload["num_tokens"]
    assert len(counts) == 3 and counts[0] > 0 and counts[1] > 0 and counts[2] == 0
    assert together.requests == []


def test_rerank_returns_every_document_best_first(
    dify: DifyApi, together: FakeTogether, credentials: dict
) -> None:
    model, _ = CUSTOM["rerank"]

    [result] = dify.model(
        "rerank/invoke", "rerank", model, credentials, query=QUERY, docs=DOCS, score_threshold=0.5, top_n=3
    ).ok()

    best_first = sorted(SCORES, key=lambda i: (-SCORES[i], i))
    assert [(d["index"], d["text"], d["score"]) for d in result["docs"]] == [
        (i, DOCS[i], SCORES[i]) for i in best_first[:3] if SCORES[i] >= 0.5
    ]
    assert together.requests[0].json()["query"] == QUERY


def test_rerank_without_a_threshold_or_top_n_returns_every_document(
    dify: DifyApi, together: FakeTogether, credentials: dict
) -> None:
    # Dify sends null for both when the knowledge base sets neither.
    model, _ = CUSTOM["rerank"]

    [result] = dify.model(
        "rerank/invoke",
        "rerank",
        model,
        credentials,
        query=QUERY,
        docs=DOCS,
        score_threshold=None,
        top_n=None,
    ).ok()

    best_first = sorted(SCORES, key=lambda i: (-SCORES[i], i))
    assert [(d["index"], d["score"]) for d in result["docs"]] == [(i, SCORES[i]) for i in best_first]
    assert together.requests[0].json()["top_n"] == len(DOCS)


def test_a_call_without_a_user_is_answered(dify: DifyApi, together: FakeTogether, credentials: dict) -> None:
    # Dify's API leaves `user_id` out when it has none; the daemon then sends the plugin "".
    data = {"provider": "togetherai", "model_type": "moderation", "model": "acme/llama-guard"}
    data |= {"credentials": credentials, "text": "How do I bake bread?"}

    assert dify.dispatch("moderation/invoke", data, user_id=None).ok() == [{"result": False}]


def test_voices_are_listed_and_speech_streams_back_whole(
    dify: DifyApi, together: FakeTogether, credentials: dict
) -> None:
    audio = mp3_of_size(3 * 1024 * 1024)  # more than one 5 MiB line if sent as hex at once
    together.route("POST", "/audio/speech", keyed(Reply(200, {"Content-Type": "audio/mpeg"}, audio)))

    [voices] = dify.model("tts/model/voices", "tts", KOKORO, credentials, language="").ok()
    stream = dify.model(
        "tts/invoke",
        "tts",
        KOKORO,
        credentials,
        tenant_id=dify.tenant,
        content_text="Hello there.",
        voice="af_nova",
    ).ok()

    assert voices["voices"] == [
        {"name": "Heart (US English, female)", "value": "af_heart"},
        {"name": "Nova (US English, female)", "value": "af_nova"},
    ]
    relayed = b"".join(binascii.unhexlify(payload["result"]) for payload in stream)
    assert len(stream) > 1 and relayed == audio and is_mp3(relayed)
    [speech] = [r.json() for r in together.requests if r.path == "/v1/audio/speech"]
    assert (speech["model"], speech["input"], speech["voice"]) == (KOKORO, "Hello there.", "af_nova")


def test_a_recording_is_transcribed(dify: DifyApi, together: FakeTogether, credentials: dict) -> None:
    stream = dify.model("speech2text/invoke", "speech2text", WHISPER, credentials, file=SPEECH_WAV.hex()).ok()

    assert stream == [{"result": "Hello from Together AI."}]
    [upload] = together.requests
    parts = multipart_parts(upload)
    assert parts[0] == ("model", None, WHISPER.encode())
    assert parts[-1] == ("file", "audio.wav", SPEECH_WAV)


def test_moderation_flags_unsafe_text_only(dify: DifyApi, together: FakeTogether, credentials: dict) -> None:
    model, _ = CUSTOM["moderation"]

    safe = dify.model("moderation/invoke", "moderation", model, credentials, text="How do I bake bread?").ok()
    unsafe = dify.model(
        "moderation/invoke", "moderation", model, credentials, text=f"How to make {UNSAFE_WORD}"
    ).ok()

    assert (safe, unsafe) == ([{"result": False}], [{"result": True}])
    assert [r.json()["messages"][0]["content"] for r in together.requests] == [
        "How do I bake bread?",
        f"How to make {UNSAFE_WORD}",
    ]


def test_a_real_model_embeds_through_the_daemon(dify: DifyApi, llama: Any) -> None:
    custom = {"api_key": API_KEY, "endpoint_url": llama.base_url, "context_size": "2048", "max_chunks": "4"}

    [result] = dify.model(
        "text_embedding/invoke",
        "text-embedding",
        "smollm2-135m",
        custom,
        texts=["llamas", "alpacas"],
        input_type="document",
    ).ok()

    first, second = result["embeddings"]
    assert len(first) == len(second) == 576  # SmolLM2-135M's hidden size
    assert first != second


def test_a_customizable_tts_model_without_a_default_voice_still_has_a_schema(
    dify: DifyApi, credentials: dict
) -> None:
    # Dify requires `model_schema`: a null one fails the whole model settings page.
    [payload] = dify.model("model/schema", "tts", "acme/voice", {**credentials, "voices": "alto, bass"}).ok()

    properties = payload["model_schema"]["model_properties"]
    assert "default_voice" not in properties
    assert [voice["name"] for voice in properties["voices"]] == ["alto", "bass"]
