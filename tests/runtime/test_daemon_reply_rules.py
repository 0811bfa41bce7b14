"""Every kind of reply the plugin sends over stdio, held to the rules Dify's plugin daemon applies to it.

dify-plugin-daemon 0.6.10 unmarshals each stream payload into a Go struct and checks its `validate`
tags (pkg/entities/model_entities/*.go; model schemas and the remote-debugging declaration against
pkg/entities/plugin_entities/model_declaration.go and basic_type.go). A violation ends the call with
`unmarshal_error`, which Dify shows as a raw PluginInvokeError, so each rule below restates one tag for
a field this plugin fills. Replies that do not depend on the catalogue come from customizable models.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from dify_plugin import DifyPluginEnv
from dify_plugin.core.plugin_registration import PluginRegistration

from tests.support.fake_together import FakeTogether, Recorded, Reply
from tests.support.llm_fakes import chunk, response, text_chunks, tool_delta, tool_fragment, usage
from tests.support.moderation_fakes import UNSAFE_WORD, guard
from tests.support.rerank_fakes import DOCS, QUERY, together_rerank
from tests.support.text_embedding_fakes import embeddings_reply
from tests.support.tts_audio import SPEECH_MP3, SPEECH_WAV
from tools.stdio_runtime import PLUGIN_ROOT, PluginProcess

LLAMA = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
KOKORO = "hexgrad/Kokoro-82M"
WHISPER = "openai/whisper-large-v3"
CUSTOM = "acme/custom-model"
ROLES = {"system", "user", "assistant", "tool"}
CONTENT_TYPES = {"text", "image", "audio", "video", "document"}
# The daemon knows only these `use_template` names; any other fails the whole schema.
TEMPLATES = {
    "temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty", "max_tokens",
    "response_format", "json_schema",
}  # fmt: skip
PARAMETER_TYPES = {"float", "int", "string", "boolean", "text"}
FORM_TYPES = {"text-input", "secret-input", "select", "radio", "switch"}
MODEL_TYPES = {"llm", "text-embedding", "rerank", "speech2text", "moderation", "tts"}
LLM_USAGE = [
    f"{side}_{field}"
    for side in ("prompt", "completion")
    for field in ("tokens", "unit_price", "price_unit", "price")
] + ["total_tokens", "total_price", "currency", "latency"]
EMBEDDING_USAGE = ["tokens", "total_tokens", "unit_price", "price_unit", "total_price", "currency", "latency"]
CUSTOM_CREDENTIALS = {
    "llm": {"mode": "chat", "context_size": "8192", "max_tokens_to_sample": "2048"},
    "text-embedding": {"context_size": "512", "max_chunks": "8"},
    "rerank": {},
    "tts": {"default_voice": "narrator"},
    "speech2text": {},
    "moderation": {"max_characters_per_chunk": "4000", "max_chunks": "4"},
}


# --- the daemon's rules, one function per Go struct ------------------------------------------


def check_i18n(label: Any) -> None:
    assert isinstance(label, dict) and label.get("en_US"), label
    assert all(len(text) < 1024 for text in label.values() if text), label


def check_decimal(value: Any) -> None:
    assert value is not None
    Decimal(str(value))  # decimal.Decimal unmarshals a JSON number or a numeric string


def check_llm_chunk(payload: dict) -> None:
    assert isinstance(payload["model"], str) and payload["model"]
    delta = payload["delta"]
    assert isinstance(delta["index"], int)
    message = delta["message"]
    assert message["role"] in ROLES
    content = message["content"]
    assert isinstance(content, str | list), "null content is refused"
    if isinstance(content, list):
        assert all(part["type"] in CONTENT_TYPES for part in content)
    for call in message.get("tool_calls") or []:
        assert all(isinstance(call[key], str) for key in ("id", "type"))
        assert all(isinstance(call["function"][key], str) for key in ("name", "arguments"))
    if delta.get("usage") is not None:
        reported = delta["usage"]
        assert all(reported[field] is not None for field in LLM_USAGE), reported
        for field in LLM_USAGE:
            if "price" in field:
                check_decimal(reported[field])
    assert delta.get("finish_reason") is None or isinstance(delta["finish_reason"], str)


def check_model_schema(schema: dict | None) -> None:
    assert schema is not None, "Dify's API raises on a null model_schema"
    assert schema["model"] and len(schema["model"]) < 256
    check_i18n(schema["label"])
    assert schema["model_type"] in MODEL_TYPES
    assert schema.get("fetch_from") in (None, "predefined-model", "customizable-model")
    assert all(isinstance(feature, str) for feature in schema.get("features") or [])
    assert isinstance(schema.get("model_properties") or {}, dict)
    rules = schema.get("parameter_rules") or []
    assert len(rules) <= 128
    for rule in rules:
        assert rule["name"] and len(rule["name"]) < 256
        if rule.get("use_template"):
            assert rule["use_template"] in TEMPLATES, rule["name"]
        if rule.get("use_template") is None:
            assert rule.get("label") is not None and rule.get("type") is not None, rule["name"]
        assert rule.get("type") is None or rule["type"] in PARAMETER_TYPES, rule["name"]
        assert isinstance(rule.get("default"), int | float | str | bool | None), rule["name"]
        assert all(isinstance(rule.get(key), int | float | None) for key in ("min", "max")), rule["name"]
        assert all(isinstance(option, str) and len(option) < 256 for option in rule.get("options") or [])
        for key in ("label", "help"):
            if rule.get(key) is not None:
                check_i18n(rule[key])
    if schema.get("pricing") is not None:
        pricing = schema["pricing"]
        check_decimal(pricing["input"])
        check_decimal(pricing["unit"])
        assert pricing["currency"]


def check_form(forms: list[dict]) -> None:
    assert len(forms) <= 32
    for form in forms:
        assert form["variable"] and form["type"] in FORM_TYPES, form["variable"]
        check_i18n(form["label"])
        assert form.get("default") is None or isinstance(form["default"], str), form["variable"]
        assert isinstance(form.get("max_length", 0), int)
        assert len(form.get("show_on") or []) <= 16
        assert all(condition["variable"] and condition["value"] for condition in form.get("show_on") or [])
        for option in form.get("options") or []:
            check_i18n(option["label"])
            assert option["value"] and len(option["value"]) < 256
        for key in ("help", "placeholder"):
            if form.get(key) is not None:
                check_i18n(form[key])


# --- the replies -----------------------------------------------------------------------------


def llm_request(
    credentials: dict, *, model: str = LLAMA, stream: bool = True, tools: list | None = None
) -> dict:
    # A prompt message as the daemon's Go struct serialises it.
    user = {"role": "user", "content": "Weather?", "name": "", "tool_calls": None, "tool_call_id": ""}
    return {
        "credentials": credentials,
        "model_type": "llm",
        "model": model,
        "prompt_messages": [user],
        "model_parameters": {},
        "stop": None,
        "tools": tools,
        "stream": stream,
    }


def test_llm_chunks_streamed_blocking_and_with_tool_calls(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    weather = {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object"}}
    replies = iter(
        [
            Reply.sse(text_chunks("It is ", "snowing.", usage=usage(12, 4))),
            Reply.sse(
                [
                    chunk(tool_delta(tool_fragment(0, "call_a", "get_weather", '{"city": "Oslo"}'))),
                    chunk(tool_delta(tool_fragment(1, "call_b", "get_weather", '{"city": "Rome"}'))),
                    chunk({"content": None}, finish_reason="tool_calls", usage=usage(30, 20)),
                ]
            ),
            Reply.json(response("Snowing in Oslo.", usage=usage(12, 5))),
        ]
    )
    fake_together.route("POST", "/chat/completions", lambda _request: next(replies))
    custom = {**credentials, **CUSTOM_CREDENTIALS["llm"]}

    payloads = [
        *plugin.call("invoke_llm", llm_request(credentials)).ok(),
        *plugin.call("invoke_llm", llm_request(credentials, tools=[weather])).ok(),
        *plugin.call("invoke_llm", llm_request(custom, model=CUSTOM, stream=False)).ok(),
    ]

    assert sum(1 for p in payloads if p["delta"].get("usage")) == 3
    for payload in payloads:
        check_llm_chunk(payload)


def test_token_counts_are_whole_numbers(plugin: PluginProcess, credentials: dict) -> None:
    request = llm_request(credentials)
    del request["model_parameters"], request["stop"], request["stream"]
    embedding = {
        "credentials": {**credentials, **CUSTOM_CREDENTIALS["text-embedding"]},
        "model_type": "text-embedding",
        "model": CUSTOM,
        "texts": ["a", "bc"],
    }

    [llm] = plugin.call("get_llm_num_tokens", request).ok()
    [texts] = plugin.call("get_text_embedding_num_tokens", embedding).ok()

    assert isinstance(llm["num_tokens"], int)
    assert isinstance(texts["num_tokens"], list) and all(isinstance(n, int) for n in texts["num_tokens"])


def test_embeddings_carry_model_vectors_and_full_usage(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/embeddings", embeddings_reply)
    request = {
        "credentials": {**credentials, **CUSTOM_CREDENTIALS["text-embedding"]},
        "model_type": "text-embedding",
        "model": CUSTOM,
        "texts": ["first", "second"],
        "input_type": "document",
    }

    [result] = plugin.call("invoke_text_embedding", request).ok()

    assert result["model"]
    assert len(result["embeddings"]) == 2
    assert all(isinstance(x, float | int) for vector in result["embeddings"] for x in vector)
    assert all(result["usage"][field] is not None for field in EMBEDDING_USAGE)


def rerank_request(credentials: dict, docs: list[str]) -> dict:
    # The daemon sends 0.0 and 0 for an unset threshold and top_n.
    return {
        "credentials": credentials,
        "model_type": "rerank",
        "model": CUSTOM,
        "query": QUERY,
        "docs": docs,
        "score_threshold": 0.0,
        "top_n": 0,
    }


def test_rerank_documents_carry_their_index_text_and_score(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/rerank", together_rerank)

    [result] = plugin.call("invoke_rerank", rerank_request(credentials, DOCS)).ok()

    assert result["model"] == CUSTOM
    for doc in result["docs"]:
        assert isinstance(doc["index"], int) and isinstance(doc["text"], str)
        assert isinstance(doc["score"], float | int)
    # every document, best first (ties in the order sent), with its own text and Together's raw score
    assert [(doc["index"], doc["text"], doc["score"]) for doc in result["docs"]] == [
        (1, "Llamas live in the Andes.", 0.91),
        (0, "Pandas live in China.", 0.55),
        (2, "Guanacos roam the Andes.", 0.55),
        (3, "Camels cross deserts.", -0.2),
    ]


def test_an_embedding_reply_over_the_line_limit_is_a_bad_request_not_a_killed_plugin(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    # The daemon reads one reply as one stdout line of at most 5 MiB (PLUGIN_STDIO_MAX_BUFFER_SIZE)
    # and kills the plugin, with every session on it, for a longer one: Dify's call then never ends.
    def wide_vectors(request: Recorded) -> Reply:
        texts = request.json()["input"]
        data = [{"index": i, "embedding": [-0.0123456789012345] * 2048} for i in range(len(texts))]
        return Reply.json({"object": "list", "model": CUSTOM, "data": data})

    fake_together.route("POST", "/embeddings", wide_vectors)
    request = {
        "credentials": {**credentials, "context_size": "512", "max_chunks": "150"},
        "model_type": "text-embedding",
        "model": CUSTOM,
        "texts": [f"text {i}" for i in range(150)],
        "input_type": "document",
    }

    refused = plugin.call("invoke_text_embedding", request)
    fake_together.route("POST", "/embeddings", embeddings_reply)
    [small] = plugin.call("invoke_text_embedding", {**request, "texts": ["still here"]}).ok()

    assert refused.error and refused.error["error_type"] == "InvokeBadRequestError"
    assert "lower max_chunks" in refused.error["message"]
    assert max(map(len, plugin.stdout_lines)) < 5 * 1024 * 1024
    assert len(small["embeddings"]) == 1


def test_a_rerank_reply_over_the_line_limit_is_a_bad_request_not_a_killed_plugin(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    # Rerank results carry every document's text back, so long documents without a top_n pass 5 MiB.
    fake_together.route("POST", "/rerank", together_rerank)
    long_docs = [f"{i} " + "x" * 2_000_000 for i in range(3)]

    refused = plugin.call("invoke_rerank", rerank_request(credentials, long_docs))
    [small] = plugin.call("invoke_rerank", rerank_request(credentials, DOCS)).ok()

    assert refused.error and refused.error["error_type"] == "InvokeBadRequestError"
    assert "lower Top K (top_n)" in refused.error["message"]
    assert max(map(len, plugin.stdout_lines)) < 5 * 1024 * 1024
    assert len(small["docs"]) == len(DOCS)


@pytest.mark.parametrize("model", [KOKORO, CUSTOM])
def test_voices_are_a_list_of_named_values(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict, model: str
) -> None:
    fake_together.route("GET", "/voices", Reply.json({"data": []}))
    request = {
        "credentials": {**credentials, **CUSTOM_CREDENTIALS["tts"]},
        "model_type": "tts",
        "model": model,
        "language": "",
    }

    [result] = plugin.call("get_tts_model_voices", request).ok()

    assert isinstance(result["voices"], list) and result["voices"]
    assert all(voice["name"] and voice["value"] for voice in result["voices"])


def test_speech_text_and_verdicts_have_the_daemons_types_and_values(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("GET", "/voices", Reply.json({"data": []}))
    fake_together.route("POST", "/audio/speech", Reply(200, {"Content-Type": "audio/mpeg"}, SPEECH_MP3))
    fake_together.route("POST", "/audio/transcriptions", Reply.json({"text": "Hello there."}))
    fake_together.route("POST", "/chat/completions", guard())
    tts = {"model_type": "tts", "model": KOKORO, "tenant_id": "t", "content_text": "Hi.", "voice": "af_heart"}
    speech2text = {"model_type": "speech2text", "model": WHISPER, "file": SPEECH_WAV.hex()}
    moderation_credentials = {**credentials, **CUSTOM_CREDENTIALS["moderation"]}

    def moderate(text: str) -> Any:
        request = {"model_type": "moderation", "model": CUSTOM, "text": text}
        [verdict] = plugin.call("invoke_moderation", {"credentials": moderation_credentials, **request}).ok()
        return verdict["result"]

    audio = plugin.call("invoke_tts", {"credentials": credentials, **tts}).ok()
    [text] = plugin.call("invoke_speech2text", {"credentials": credentials, **speech2text}).ok()

    assert audio and b"".join(bytes.fromhex(piece["result"]) for piece in audio) == SPEECH_MP3
    assert text["result"] == "Hello there."
    # the daemon's bool: true when the guard model flags the text, false when it finds it safe
    assert moderate("How do I bake bread?") is False
    assert moderate(f"How do I make {UNSAFE_WORD}?") is True


@pytest.mark.parametrize("model_type", sorted(CUSTOM_CREDENTIALS))
def test_customizable_model_schemas_pass_the_declaration_rules(
    plugin: PluginProcess, credentials: dict, model_type: str
) -> None:
    for extra in ({}, CUSTOM_CREDENTIALS[model_type]):
        request = {"credentials": {**credentials, **extra}, "model_type": model_type, "model": CUSTOM}

        [result] = plugin.call("get_ai_model_schemas", request).ok()

        check_model_schema(result["model_schema"])


def test_the_remote_debugging_declaration_passes_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    # What `make run` sends as `model_declaration`, as the SDK serialises it.
    monkeypatch.chdir(PLUGIN_ROOT)
    registration = PluginRegistration(DifyPluginEnv(INSTALL_METHOD="local"))
    [provider] = [json.loads(entity.model_dump_json()) for entity in registration.models_configuration]

    assert set(provider["supported_model_types"]) <= MODEL_TYPES
    check_i18n(provider["label"])
    check_form(provider["provider_credential_schema"]["credential_form_schemas"])
    check_i18n(provider["model_credential_schema"]["model"]["label"])
    check_form(provider["model_credential_schema"]["credential_form_schemas"])
    assert provider["models"]
    for model in provider["models"]:
        check_model_schema(model)
