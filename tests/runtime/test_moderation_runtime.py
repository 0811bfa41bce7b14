"""Moderation under the real SDK runtime over stdio, as Dify's daemon drives it."""

from __future__ import annotations

from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Reply
from tests.support.moderation_fakes import MODEL, UNSAFE_WORD, completion, guard
from tools.stdio_runtime import PluginProcess


def moderation_request(credentials: dict, text: str, model: str = MODEL) -> dict:
    return {"credentials": credentials, "model_type": "moderation", "model": model, "text": text}


def test_safe_text_is_not_flagged(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/chat/completions", guard())

    stream = plugin.call("invoke_moderation", moderation_request(credentials, "How do I bake bread?")).ok()

    assert stream == [{"result": False}]
    [request] = fake_together.requests
    assert request.json()["messages"] == [{"role": "user", "content": "How do I bake bread?"}]


def test_unsafe_text_is_flagged_after_the_first_unsafe_piece(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/chat/completions", guard())
    text = f"{UNSAFE_WORD} " + "filler " * 2000  # the first of four pieces is unsafe

    stream = plugin.call("invoke_moderation", moderation_request(credentials, text)).ok()

    assert stream == [{"result": True}]
    assert len(fake_together.requests) == 1


def test_an_error_reply_reaches_dify_as_the_mapped_error(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    message = "Invalid API key provided."
    error = {"error": {"message": message, "type": "invalid_request_error"}}
    fake_together.route("POST", "/chat/completions", Reply.json(error, 401))

    result = plugin.call("invoke_moderation", moderation_request(credentials, "hello"))

    assert result.stream == []
    assert result.error["error_type"] == "InvokeAuthorizationError"
    assert message in result.error["message"]
    assert API_KEY not in str(result.error)


def test_a_reply_that_is_no_verdict_is_an_error_not_safe(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/chat/completions", completion("I'd be happy to help!"))

    result = plugin.call("invoke_moderation", moderation_request(credentials, "hello"))

    assert result.stream == []
    assert result.error["error_type"] == "InvokeBadRequestError"
    assert "I'd be happy to help!" in result.error["message"]


def test_predefined_model_credentials_validate_with_one_call(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/chat/completions", guard())

    stream = plugin.call(
        "validate_model_credentials", {"credentials": credentials, "model_type": "moderation", "model": MODEL}
    ).ok()

    assert stream == [{"result": True, "credentials": credentials}]
    assert len(fake_together.requests) == 1


def test_customizable_guard_model_validates_and_uses_its_limits(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/chat/completions", guard())
    model = "my-org/llama-guard-dedicated"
    custom = {**credentials, "max_characters_per_chunk": "20", "max_chunks": "2"}

    validated = plugin.call(
        "validate_model_credentials", {"credentials": custom, "model_type": "moderation", "model": model}
    ).ok()
    refused = plugin.call("invoke_moderation", moderation_request(custom, "word " * 10, model))

    assert validated == [{"result": True, "credentials": custom}]
    assert refused.error["error_type"] == "InvokeBadRequestError"
    assert "max_chunks" in refused.error["message"]
    assert len(fake_together.requests) == 1  # only the validation; the refused text was never sent


def test_a_model_that_is_not_a_guard_model_fails_validation(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/chat/completions", completion("Pong!"))

    result = plugin.call(
        "validate_model_credentials",
        {"credentials": credentials, "model_type": "moderation", "model": "openai/gpt-oss-20b"},
    )

    assert result.error["error_type"] == "CredentialsValidateFailedError"
    assert "Pong!" in result.error["message"]
