"""Together's failures as Dify's `InvokeError` classes, with the API key kept out of every message.

Together answers errors as `{"error": {"message", "type", "param", "code"}}`, but older paths send
`error` as a plain string, a top-level `message`, plain text or an HTML page from a proxy. Whatever
the shape, the user sees Together's own words, the HTTP status and the request id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import orjson
from dify_plugin.errors.model import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

INVOKE_ERRORS: tuple[type[InvokeError], ...] = (
    InvokeConnectionError,
    InvokeServerUnavailableError,
    InvokeRateLimitError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
)

# The statuses whose class is not that of their range: a 4xx is a bad request (Together's 403 is
# prompt + max_tokens beyond the context, or a model the organization may not use), a 5xx is
# unavailability.
STATUS_ERRORS: dict[int, type[InvokeError]] = {
    401: InvokeAuthorizationError,
    402: InvokeAuthorizationError,  # credit or spend limit reached: the account must change
    408: InvokeConnectionError,  # the server gave up waiting for the request: transient, not wrong
    429: InvokeRateLimitError,
}

# Words in an error's `type` or `code` (or, for "permission", its message) that say which class an
# error without a status belongs to (errors inside a 200 stream or body); each class is the one its
# HTTP status gets, so a condition means the same whichever way it arrives.
_KIND_WORDS: tuple[tuple[type[InvokeError], tuple[str, ...]], ...] = (
    (InvokeAuthorizationError, ("api_key", "authentication", "unauthorized", "credit_limit")),  # 401, 402
    (InvokeRateLimitError, ("rate_limit", "ratelimit", "request_limited", "token_limited")),  # 429
    (InvokeConnectionError, ("timeout",)),  # 408
    (
        InvokeBadRequestError,
        ("invalid_request", "invalid_params", "bad_request", "not_found", "context_length", "permission"),
    ),
)

# Conditions Together names in an error's code, type or message whatever its status, each a request
# that cannot succeed as sent (so never retried), and what the user can do about it.
_ADVICE: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("third_party_data_sharing",),
        (
            "This model runs only for organizations that allow third-party data sharing: an admin of "
            "your Together organization can enable it in the organization's privacy settings on "
            "together.ai, or pick another model."
        ),
    ),
    (
        ("non-serverless", "model_not_available"),
        (
            "Together does not serve this model serverless (any more): pick another model, or deploy "
            "it on a Together dedicated endpoint and add it as a customizable model whose endpoint_url "
            "is that endpoint's."
        ),
    ),
)

MAX_MESSAGE_CHARS = 1000
REDACTED = "[REDACTED]"


def error_class_for_status(status: int) -> type[InvokeError]:
    """The `InvokeError` subclass for an HTTP status of 400 or more."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    return InvokeServerUnavailableError if status >= 500 else InvokeBadRequestError


def message_from_body(body: str) -> str:
    """Together's own words from the text of an error body of any shape; empty when it has none."""
    text = body.strip()
    if not text:
        return ""
    try:
        payload = orjson.loads(text)
    except ValueError:
        return _message_from_text(text)
    return message_from_payload(payload) or _shorten(text)


def message_from_payload(payload: object) -> str:
    """The message inside a decoded error payload, or empty."""
    if not isinstance(payload, Mapping):
        return ""
    error = payload.get("error")
    if isinstance(error, str):
        return _shorten(error)
    if isinstance(error, Mapping):
        for key in ("message", "error", "detail"):
            if isinstance(error.get(key), str) and error[key]:
                return _shorten(error[key])
    for key in ("message", "detail"):
        if isinstance(payload.get(key), str) and payload[key]:
            return _shorten(payload[key])
    return ""


def error_for_response(
    status: int, reason: str, headers: Mapping[str, str], body: bytes, secret: str
) -> InvokeError:
    """The `InvokeError` for a failed HTTP response, quoting Together with the key removed; a body
    that is not UTF-8 is read with its broken bytes replaced."""
    text = body.decode("utf-8", "replace")
    message = message_from_body(text) or reason or "no error message"
    details = f"HTTP {status}"
    if request_id := headers.get("x-request-id"):
        details += f", request id {request_id}"
    description = f"Together AI: {message} ({details})"
    if advice := _advice_for(text):  # the description quotes this same text
        return InvokeBadRequestError(redact(f"{description}. {advice}", secret))
    return error_class_for_status(status)(redact(description, secret))


def error_for_payload(payload: Mapping, secret: str) -> InvokeError:
    """The `InvokeError` for an error object that arrived with HTTP 200 (in a stream or a body)."""
    error = payload.get("error")
    message = message_from_payload(payload) or "Together AI reported an error without a message"
    if advice := _advice_for(message, str(error)):
        return InvokeBadRequestError(redact(f"Together AI: {message}. {advice}", secret))
    status = _status_in(error) or _status_in(payload)
    if status:
        cls = error_class_for_status(status)
    else:
        cls = _class_from_kind(error, message) or InvokeServerUnavailableError
    return cls(redact(f"Together AI: {message}", secret))


def as_dify_error(error: InvokeError) -> InvokeError:
    """`error` as one of the five classes Dify knows by name, keeping its message.

    The SDK reports an error to Dify by its class name, and Dify recognises only these five: a
    subclass (such as the client's `TruncatedStreamError`) would lose its kind on the way.
    """
    for cls in INVOKE_ERRORS:
        if isinstance(error, cls):
            return error if type(error) is cls else cls(error.description)
    return error


def redact(text: str, secret: str) -> str:
    """`text` with every occurrence of `secret` replaced; a secret too short to be a key is ignored."""
    if secret and len(secret) >= 8:
        text = text.replace(secret, REDACTED)
    return text


def _status_in(value: object) -> int | None:
    if not isinstance(value, Mapping):
        return None
    for key in ("status", "status_code", "code"):
        candidate = value.get(key)
        if isinstance(candidate, int) and 400 <= candidate <= 599:
            return candidate
        if isinstance(candidate, str) and candidate.isdigit() and 400 <= int(candidate) <= 599:
            return int(candidate)
    return None


def _class_from_kind(error: object, message: str) -> type[InvokeError] | None:
    if not isinstance(error, Mapping):
        return None
    kind = " ".join(str(error.get(key) or "") for key in ("type", "code", "error_type")).lower()
    for cls, words in _KIND_WORDS:
        if any(word in kind for word in words):
            return cls
    return InvokeBadRequestError if "permission" in message.lower() else None


def _advice_for(*texts: str) -> str:
    """What to do about a condition named in any of `texts`; empty when none is."""
    text = " ".join(texts).lower()
    return next((advice for words, advice in _ADVICE if any(word in text for word in words)), "")


def _message_from_text(text: str) -> str:
    """The words of a stripped body that is not JSON: an HTML page's title, else its text."""
    if text.startswith("<"):
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        if title and title.group(1).strip():
            return _shorten(title.group(1))
        text = re.sub(r"<[^>]+>", " ", text)
    return _shorten(text)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_CHARS:
        return text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text
