"""Together's error bodies of every shape → Dify's InvokeError classes, in Together's words, key removed."""

from __future__ import annotations

import json

import pytest
from dify_plugin.errors import model as dify

from models.together.errors import (
    REDACTED,
    error_for_payload,
    error_for_response,
    message_from_body,
    redact,
)
from models.together.model_mixin import TogetherModelMixin

KEY = "tgp_v1_errors-key-abcdef0123456789"
UNAVAILABLE = dify.InvokeServerUnavailableError
UNAUTHORIZED = (
    b'{"error":{"message":"Invalid API key provided. You can find your API key at '
    b'https://api.together.xyz/settings/api-keys.","type":"invalid_request_error","param":null,'
    b'"code":"invalid_api_key"}}'
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            UNAUTHORIZED.decode(),
            "Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-keys.",
        ),
        ('{"error": "model not found"}', "model not found"),
        ('{"error": {"error": "old style", "error_type": "invalid_request"}}', "old style"),
        ('{"error": {"detail": "detailed"}}', "detailed"),
        ('{"error": {"message": "", "detail": "the detail"}}', "the detail"),  # an empty field is skipped
        ('{"code": 503, "message": "The server is overloaded"}', "The server is overloaded"),
        ('{"detail": "Not Found"}', "Not Found"),
        ('{"unexpected": true}', '{"unexpected": true}'),  # no known field: the JSON itself
        ("[1, 2]", "[1, 2]"),
        (
            "upstream connect error or disconnect/reset before headers",
            "upstream connect error or disconnect/reset before headers",
        ),
        (
            "<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>",
            "502 Bad Gateway",
        ),
        # the title alone, whatever the case of its tag and across lines
        ("<HTML><HEAD><TITLE>502 Bad Gateway</TITLE></HEAD><BODY>nginx</BODY></HTML>", "502 Bad Gateway"),
        (
            "<html><title>503 Service\n  Unavailable</title><body>varnish</body></html>",
            "503 Service Unavailable",
        ),
        ("<html><body><h1>Service</h1>\n<p>Unavailable</p></body></html>", "Service Unavailable"),
        ("<html><title> </title><body>Overloaded</body></html>", "Overloaded"),  # an empty title
        ("  multi\n  line\t text  ", "multi line text"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_message_from_body(body: str, message: str) -> None:
    assert message_from_body(body) == message


def test_long_messages_are_cut() -> None:
    message = message_from_body("x" * 5000)

    assert message == "x" * 999 + "…"
    assert message_from_body("y" * 1000) == "y" * 1000  # the longest message kept whole


def test_a_body_that_is_not_utf8_is_quoted_with_its_broken_bytes_replaced() -> None:
    for body, cls, words in (
        (b"\xff\xfe overloaded", dify.InvokeServerUnavailableError, "\ufffd\ufffd overloaded"),
        (b"\xff Unable to access non-serverless model x", dify.InvokeBadRequestError, "dedicated endpoint"),
    ):
        error = error_for_response(503, "Service Unavailable", {}, body, KEY)

        assert type(error) is cls
        assert words in str(error)


def test_response_error_quotes_message_status_and_request_id() -> None:
    error = error_for_response(401, "Unauthorized", {"x-request-id": "abc-123"}, UNAUTHORIZED, KEY)

    assert isinstance(error, dify.InvokeAuthorizationError)
    assert str(error) == (
        "Together AI: Invalid API key provided. You can find your API key at "
        "https://api.together.xyz/settings/api-keys. (HTTP 401, request id abc-123)"
    )


def test_response_error_without_body_or_reason() -> None:
    assert str(error_for_response(500, "", {}, b"", KEY)) == "Together AI: no error message (HTTP 500)"


@pytest.mark.parametrize(
    ("payload", "cls"),
    [
        ({"error": {"message": "m", "status": 429}}, dify.InvokeRateLimitError),
        ({"error": {"message": "m", "code": "401"}}, dify.InvokeAuthorizationError),
        ({"error": {"message": "m"}, "status_code": 422}, dify.InvokeBadRequestError),
        ({"error": {"message": "m", "type": "dynamic_token_limited"}}, dify.InvokeRateLimitError),
        ({"error": {"message": "m", "error_type": "credit_limit"}}, dify.InvokeAuthorizationError),  # as 402
        ({"error": {"message": "m", "type": "permission_denied"}}, dify.InvokeBadRequestError),  # as 403
        ({"error": {"message": "m", "type": "request_timeout"}}, dify.InvokeConnectionError),  # as 408
        ({"error": {"message": "m", "status": 408}}, dify.InvokeConnectionError),
        ({"error": {"message": "m", "type": "authentication_error"}}, dify.InvokeAuthorizationError),
        ({"error": {"message": "m", "code": "context_length_exceeded"}}, dify.InvokeBadRequestError),
        ({"error": {"message": "m", "type": "server_error"}}, dify.InvokeServerUnavailableError),
        ({"error": {"message": "m", "code": 200}}, dify.InvokeServerUnavailableError),  # not an error status
        # 400–599 is a status whether a number or digits; outside it, the error's type decides
        ({"error": {"message": "m", "code": 400}}, dify.InvokeBadRequestError),
        ({"error": {"message": "m", "code": "400"}}, dify.InvokeBadRequestError),
        ({"error": {"message": "m", "code": 599, "type": "bad_request"}}, UNAVAILABLE),
        ({"error": {"message": "m", "code": "599", "type": "bad_request"}}, UNAVAILABLE),
        ({"error": {"message": "m", "code": 600, "type": "bad_request"}}, dify.InvokeBadRequestError),
        ({"error": {"message": "m", "code": "600", "type": "bad_request"}}, dify.InvokeBadRequestError),
        ({"error": {"message": "m", "code": 399, "type": "rate_limit"}}, dify.InvokeRateLimitError),
        ({"error": "m"}, dify.InvokeServerUnavailableError),
    ],
)
def test_payload_error_class(payload: dict, cls: type[dify.InvokeError]) -> None:
    error = error_for_payload(payload, KEY)

    assert type(error) is cls
    assert str(error) == "Together AI: m"


def test_a_message_saying_permission_is_classed_as_a_403() -> None:
    error = error_for_payload({"error": {"message": "You lack permission to use this model"}}, KEY)

    assert type(error) is dify.InvokeBadRequestError


@pytest.mark.parametrize(
    ("status", "body", "advice"),
    [
        (
            403,
            b'{"error": {"message": "Blocked", "code": "third_party_data_sharing_blocked"}}',
            "third-party data sharing",
        ),
        (503, b'{"error": {"message": "Model unavailable", "code": "model_not_available"}}', "serverless"),
        (
            404,
            b'{"error": {"message": "Unable to access non-serverless model acme/x"}}',
            "dedicated endpoint",
        ),
        (429, b"Unable to access non-serverless model acme/x", "dedicated endpoint"),
        (400, b'{"error": {"type": "bad_request"}, "message": "Model_Not_Available"}', "serverless"),
    ],
)
def test_conditions_that_cannot_succeed_are_bad_requests_that_say_what_to_do(
    status: int, body: bytes, advice: str
) -> None:
    for error in (
        error_for_response(status, "", {}, body, KEY),
        error_for_payload(json.loads(body) if body.startswith(b"{") else {"error": body.decode()}, KEY),
    ):
        assert type(error) is dify.InvokeBadRequestError
        assert advice in str(error)


def test_payload_error_without_message() -> None:
    error = error_for_payload({"error": {"type": "server_error"}}, KEY)

    assert str(error) == "Together AI: Together AI reported an error without a message"


def test_key_is_redacted_everywhere() -> None:
    body = f'{{"error": {{"message": "key {KEY} is revoked; {KEY}"}}}}'.encode()
    advised = f"Unable to access non-serverless model acme/x with key {KEY}"  # a message that gets advice

    for error in (
        error_for_response(401, "Unauthorized", {"x-request-id": KEY}, body, KEY),
        error_for_payload({"error": {"message": f"key {KEY}"}}, KEY),
        error_for_response(404, "Not Found", {}, json.dumps({"error": {"message": advised}}).encode(), KEY),
        error_for_payload({"error": {"message": advised}}, KEY),
    ):
        assert KEY not in str(error)
        assert KEY not in repr(error.args)
        assert REDACTED in str(error)


def test_redact_leaves_text_alone_for_a_key_too_short_to_be_one() -> None:
    # Redacting "a" would wreck every message; a real key is never this short.
    assert redact("a cat", "a") == "a cat"
    assert redact("key 12345678 here", "12345678") == f"key {REDACTED} here"


def test_transform_keeps_togethers_message_for_authorization_errors() -> None:
    class Probe(TogetherModelMixin):
        pass

    error = dify.InvokeAuthorizationError("Together AI: Invalid API key provided (HTTP 401)")

    assert Probe()._transform_invoke_error(error) is error
