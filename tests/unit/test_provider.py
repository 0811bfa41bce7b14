"""Provider credential validation: one free GET /models, Together's words on failure."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import httpx
import pytest
from dify_plugin.config.logger_format import plugin_logger_handler
from dify_plugin.errors.model import CredentialsValidateFailedError

respx = pytest.importorskip("respx")

from models.together.client import TogetherClient
from provider.togetherai import TogetherAIProvider
from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parents[2]

BASE = "https://api.together.ai/v1"


def validate(credentials: dict) -> None:
    TogetherAIProvider.validate_provider_credentials(object.__new__(TogetherAIProvider), credentials)


@respx.mock
@pytest.mark.parametrize(
    "body", [[{"id": "m", "object": "model", "created": 1, "type": "chat"}], {"data": []}]
)
def test_accepts_a_model_list_in_either_shape(body: object) -> None:
    route = respx.get(f"{BASE}/models").mock(return_value=httpx.Response(200, json=body))

    validate({"api_key": API_KEY})

    assert route.call_count == 1
    assert route.calls[0].request.headers["authorization"] == f"Bearer {API_KEY}"


@respx.mock
def test_spend_limit_is_reported_in_togethers_words() -> None:
    respx.get(f"{BASE}/models").mock(
        return_value=httpx.Response(
            402, json={"error": {"message": "Credit limit exceeded", "type": "credit_limit"}}
        )
    )

    with pytest.raises(CredentialsValidateFailedError, match="Credit limit exceeded"):
        validate({"api_key": API_KEY})


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({"api_key": ""}, "API key is missing"),
        ({"api_key": API_KEY, "endpoint_url": "ftp://api.together.ai"}, "http or https"),
        ({"api_key": API_KEY, "read_timeout": "soon"}, "read_timeout"),
        (
            {"api_key": API_KEY, "endpoint_url": "https://user:secret@gateway.example.com/v1"},
            "user name or password",
        ),
        ({"api_key": 1234567890123}, "API key must be text"),
        ({"api_key": API_KEY, "endpoint_url": 8080}, "http or https"),
        ({"api_key": API_KEY, "read_timeout": True}, "read_timeout"),
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


@respx.mock
def test_a_redirect_fails_validation_naming_where_it_points() -> None:
    respx.get(f"{BASE}/models").mock(
        return_value=httpx.Response(308, headers={"location": "https://api.together.xyz/v1/models"})
    )

    with pytest.raises(
        CredentialsValidateFailedError, match="redirects .* to https://api.together.xyz/v1/models"
    ):
        validate({"api_key": API_KEY})


def test_a_fault_of_the_plugin_is_not_reported_as_bad_credentials_and_is_logged_without_the_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: TogetherClient, path: str) -> object:
        raise KeyError(f"unexpected field for {API_KEY}")

    monkeypatch.setattr(TogetherClient, "get_json", broken)

    with pytest.raises(CredentialsValidateFailedError, match="fault is in the plugin") as caught:
        validate({"api_key": API_KEY})

    assert API_KEY not in str(caught.value)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "KeyError: 'unexpected field for [REDACTED]'" in record.getMessage()
    assert "Traceback" in record.getMessage()
    assert API_KEY not in record.getMessage()


def test_every_plugin_module_logs_through_the_sdks_handler_exactly_once() -> None:
    for path in [*ROOT.glob("models/**/*.py"), *ROOT.glob("provider/*.py")]:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        importlib.import_module(name)
        handlers = []
        logger: logging.Logger | None = logging.getLogger(name)
        while logger is not None:
            handlers += logger.handlers
            logger = logger.parent if logger.propagate else None
        assert handlers.count(plugin_logger_handler) == 1, name
        assert logging.getLogger(name).getEffectiveLevel() <= logging.INFO, name
