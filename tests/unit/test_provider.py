"""Provider credential validation: one free GET /models, Together's words on failure."""

from __future__ import annotations

import httpx
import pytest
from dify_plugin.errors.model import CredentialsValidateFailedError

respx = pytest.importorskip("respx")

from provider.togetherai import TogetherAIProvider
from tests.conftest import API_KEY

BASE = "https://api.together.ai/v1"


def validate(credentials: dict) -> None:
    TogetherAIProvider.validate_provider_credentials(object.__new__(TogetherAIProvider), credentials)


@respx.mock
@pytest.mark.parametrize("body", [[{"id": "m", "object": "model", "created": 1, "type": "chat"}], {"data": []}])
def test_accepts_a_model_list_in_either_shape(body: object) -> None:
    route = respx.get(f"{BASE}/models").mock(return_value=httpx.Response(200, json=body))

    validate({"api_key": API_KEY})

    assert route.call_count == 1
    assert route.calls[0].request.headers["authorization"] == f"Bearer {API_KEY}"


@respx.mock
def test_spend_limit_is_reported_in_togethers_words() -> None:
    respx.get(f"{BASE}/models").mock(
        return_value=httpx.Response(402, json={"error": {"message": "Credit limit exceeded", "type": "credit_limit"}})
    )

    with pytest.raises(CredentialsValidateFailedError, match="Credit limit exceeded"):
        validate({"api_key": API_KEY})


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({"api_key": ""}, "API key is missing"),
        ({"api_key": API_KEY, "endpoint_url": "ftp://api.together.ai"}, "http or https"),
        ({"api_key": API_KEY, "read_timeout": "soon"}, "read_timeout"),
        ({"api_key": API_KEY, "endpoint_url": "https://user:secret@gateway.example.com/v1"}, "user name or password"),
    ],
)
def test_bad_settings_fail_before_any_request(credentials: dict, message: str) -> None:
    with respx.mock(assert_all_called=False) as router:
        with pytest.raises(CredentialsValidateFailedError, match=message):
            validate(credentials)
        assert not router.calls


@respx.mock
def test_custom_endpoint_with_trailing_slash_is_normalised() -> None:
    route = respx.get("https://gateway.example.com/together/v1/models").mock(
        return_value=httpx.Response(200, json=[])
    )

    validate({"api_key": API_KEY, "endpoint_url": "https://gateway.example.com/together/"})

    assert route.called
