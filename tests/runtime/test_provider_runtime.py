"""The plugin under the real SDK runtime validates provider credentials against a Together stand-in."""

from __future__ import annotations

from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Recorded, Reply
from tools.stdio_runtime import PluginProcess

INVALID_KEY = {
    "error": {
        "message": "Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
}
MODELS = [{"id": "openai/gpt-oss-20b", "object": "model", "created": 1, "type": "chat"}]


def together_models(request: Recorded) -> Reply:
    if request.headers.get("authorization") == f"Bearer {API_KEY}":
        return Reply.json(MODELS)
    return Reply.json(INVALID_KEY, 401, {"x-request-id": "req-401"})


def test_good_key_validates(plugin: PluginProcess, fake_together: FakeTogether) -> None:
    fake_together.route("GET", "/models", together_models)
    credentials = {"api_key": API_KEY, "endpoint_url": fake_together.base_url}

    stream = plugin.call("validate_provider_credentials", {"credentials": credentials}).ok()

    assert stream == [{"result": True, "credentials": credentials}]
    [request] = fake_together.requests
    assert (request.method, request.path) == ("GET", "/v1/models")


def test_bad_key_fails_with_togethers_message(plugin: PluginProcess, fake_together: FakeTogether) -> None:
    fake_together.route("GET", "/models", together_models)

    result = plugin.call(
        "validate_provider_credentials",
        {"credentials": {"api_key": "tgp_v1_wrong-key-000000", "endpoint_url": fake_together.base_url}},
    )

    assert result.stream == []
    assert result.error["error_type"] == "CredentialsValidateFailedError"
    assert "Invalid API key provided" in result.error["message"]
    assert "req-401" in result.error["message"]
    assert "tgp_v1_wrong-key-000000" not in str(result.error)


def test_endpoint_that_is_not_together_fails(plugin: PluginProcess, fake_together: FakeTogether) -> None:
    fake_together.route("GET", "/models", Reply.json({"status": "ok"}))

    result = plugin.call(
        "validate_provider_credentials", {"credentials": {"api_key": API_KEY, "endpoint_url": fake_together.base_url}}
    )

    assert result.error["error_type"] == "CredentialsValidateFailedError"
    assert "model list" in result.error["message"]


def test_unreachable_endpoint_fails_with_a_connection_message(plugin: PluginProcess) -> None:
    result = plugin.call(
        "validate_provider_credentials", {"credentials": {"api_key": API_KEY, "endpoint_url": "http://127.0.0.1:9"}}
    )

    assert result.error["error_type"] == "CredentialsValidateFailedError"
    assert "Connection to Together AI at http://127.0.0.1:9/v1 failed" in result.error["message"]
