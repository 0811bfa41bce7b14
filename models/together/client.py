"""The one HTTP client every Together model type uses.

It owns the base URL, the Bearer header, timeouts, retries and the translation of every failure
into an `InvokeError` (see `errors`). Nothing it raises is anything else. A request is retried only
before any byte of its body is read: after a failed connection, or an HTTP 408, 429, 500, 502, 503
or 504 (any 5xx when the server sends `x-should-retry: true`, none when it sends `false`) unless
Together says the request cannot succeed, at most `MAX_ATTEMPTS` times. It waits as
`retry-after-ms`, `retry-after` or `x-ratelimit-reset` says, else with exponential backoff and
jitter. A stream is never retried once its body has begun.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml
from dify_plugin.errors.model import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeServerUnavailableError,
)

from models.together.errors import error_for_payload, error_for_response, redact
from models.together.sse import iter_arrived, iter_sse_batches

DEFAULT_ENDPOINT_URL = "https://api.together.ai/v1"
CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 600.0
MAX_ATTEMPTS = 3
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_BASE = 0.5
MAX_RETRY_WAIT = 20.0  # a longer wait than this is the caller's decision, not ours

PLUGIN_ROOT = Path(__file__).resolve().parents[2]
_MANIFEST = yaml.safe_load((PLUGIN_ROOT / "manifest.yaml").read_text(encoding="utf-8"))

# A key travels in an HTTP header: visible ASCII only.
_API_KEY_CHARS = re.compile(r"[\x21-\x7e]+")

# Tests replace this to observe waits without spending them.
sleep = time.sleep


class TruncatedStreamError(InvokeConnectionError):
    """The stream closed before `[DONE]`; it reaches Dify as an `InvokeConnectionError` (`as_dify_error`)."""


def normalize_endpoint_url(value: object) -> str:
    """The API base URL from a user's `endpoint_url`: default when empty, always ending in `/v1`.

    Raises `InvokeBadRequestError` for anything but an absolute http or https URL.
    """
    text, url = value, None
    if value is None or isinstance(value, str):
        text = (value or "").strip() or DEFAULT_ENDPOINT_URL
        try:
            url = httpx.URL(text)
        except httpx.InvalidURL:
            pass
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise InvokeBadRequestError(
            f"endpoint_url must be an http or https URL such as {DEFAULT_ENDPOINT_URL}, got {text!r}"
        )
    if url.userinfo:
        # It would travel in every connection error message; the key belongs in api_key.
        raise InvokeBadRequestError("endpoint_url must not contain a user name or password")
    path = url.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return str(url.copy_with(path=path, query=None, fragment=None))


def read_timeout_from(credentials: Mapping[str, Any]) -> float:
    """Seconds to wait for each read, and for a whole blocking body, from the `read_timeout` credential."""
    raw = credentials.get("read_timeout")
    if raw in (None, ""):
        return DEFAULT_READ_TIMEOUT
    try:
        seconds = float(raw) if not isinstance(raw, bool) else 0.0
    except (TypeError, ValueError):
        seconds = 0.0
    if not 0 < seconds <= 3600:
        raise InvokeBadRequestError(
            f"read_timeout must be a number of seconds above 0 and at most 3600, got {raw!r}"
        )
    return seconds


# One process-wide connection pool, so calls reuse TLS connections; each request carries its own
# timeouts. No cap on connections: an open stream holds one for its whole answer, and a cap would
# make the next call wait behind long answers and fail with a misleading pool timeout.
_http = httpx.Client(
    limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
    headers={"User-Agent": f"dify-plugin-togetherai/{_MANIFEST['version']}"},
)


class TogetherClient:
    """Calls Together's REST API with one user's credentials.

    `credentials` needs `api_key`; `endpoint_url` and `read_timeout` are optional.
    """

    def __init__(self, credentials: Mapping[str, Any]):
        api_key = credentials.get("api_key") or ""
        if not isinstance(api_key, str):  # its value is not quoted: it may be the key itself
            raise InvokeAuthorizationError(
                f"Together AI API key must be text, not {type(api_key).__name__}: paste it again"
            )
        api_key = api_key.strip()
        if not api_key:
            raise InvokeAuthorizationError("Together AI API key is missing: enter it in the provider settings")
        if not _API_KEY_CHARS.fullmatch(api_key):
            # Sent as is, such a key fails inside the HTTP library, whose message quotes the header.
            raise InvokeAuthorizationError(
                "Together AI API key contains spaces, line breaks or non-ASCII characters: paste it again"
            )
        self._api_key = api_key
        self.base_url = normalize_endpoint_url(credentials.get("endpoint_url"))
        self.read_timeout = read_timeout_from(credentials)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` and return the decoded JSON body."""
        return self._json(self._send("GET", path, params=params))

    def post_json(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST `body` as JSON and return the decoded JSON body."""
        return self._json(self._send("POST", path, json=body))

    def post_multipart(self, path: str, data: Mapping[str, str], files: Mapping[str, Any]) -> Any:
        """POST a multipart form (fields in `data` first, then `files`) and return the JSON body.

        Each value in `files` is `(filename, file object, content type)`; each attempt sends a file
        from its start (httpx seeks a file object to 0 whenever it renders the form).
        """
        return self._json(self._send("POST", path, data=data, files=files))

    def stream_event_batches(self, path: str, body: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """POST `body` and yield the JSON events of the event stream, those that arrived together
        (`sse.iter_arrived`) as one list, never empty. Raises, after the events before it, the mapped
        `InvokeError` for an `error` event and `TruncatedStreamError` for a stream without `[DONE]`.
        """
        with closing(self._send("POST", path, json=body)) as response, self._reading():
            for batch in iter_sse_batches(iter_arrived(self._event_stream(response))):
                done = "[DONE]" in batch
                if done:
                    batch = batch[: batch.index("[DONE]")]
                events: list[dict[str, Any]] = []
                for data in batch:
                    event = _json_or_none(data)
                    if not isinstance(event, dict) or event.get("error"):
                        if events:
                            yield events
                        raise self._stream_error(event, data)
                    events.append(event)
                if events:
                    yield events
                if done:
                    return
        raise TruncatedStreamError(
            "Together AI closed the stream before it was complete; the answer is cut off"
        )

    def _stream_error(self, event: Any, data: str) -> InvokeError:
        """The error for a stream event that is Together's `error` object or not a JSON object."""
        if isinstance(event, dict):
            return error_for_payload(event, self._api_key)
        snippet = redact(data[:200], self._api_key)  # each Together event is a JSON object
        return InvokeServerUnavailableError(f"Together AI sent a malformed stream event: {snippet!r}")

    def stream_bytes(
        self, path: str, body: Mapping[str, Any], chunk_size: int = 64 * 1024
    ) -> Iterator[bytes]:
        """POST `body` and yield the response body as it arrives, in chunks of at most `chunk_size`.

        A JSON answer where bytes were asked for is Together's error object sent with HTTP 200:
        it raises the mapped `InvokeError` instead of being passed on as data.
        """
        with closing(self._send("POST", path, json=body)) as response, self._reading():
            if response.headers.get("content-type", "").startswith("application/json"):
                whole = self._read_whole(response)
                _raise_for_error_object(whole, self._api_key)
                yield from (whole[i : i + chunk_size] for i in range(0, len(whole), chunk_size))
                return
            yield from response.iter_bytes(chunk_size)

    def _event_stream(self, response: httpx.Response) -> Iterator[bytes]:
        """The body of a streamed answer; raises when the server declares it something else."""
        kind = response.headers.get("content-type", "")
        if not kind or kind.startswith("text/event-stream"):
            return response.iter_bytes()
        start = self._read_whole(response)
        _raise_for_error_object(start, self._api_key)
        snippet = redact(start[:200].decode("utf-8", "replace"), self._api_key)
        raise InvokeServerUnavailableError(
            f"{self.base_url} answered a streamed request with {kind}, not an event stream: {snippet!r}"
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with retries; return a response whose status is below 300 and whose body is unread."""
        headers = {"Authorization": f"Bearer {self._api_key}"}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            request = self._build(method, path, headers, kwargs)
            try:
                response = _http.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt < MAX_ATTEMPTS:
                    sleep(_backoff(attempt))
                    continue
                raise InvokeConnectionError(self._transport_message(exc)) from None
            except httpx.HTTPError as exc:
                raise InvokeConnectionError(self._transport_message(exc)) from None
            if response.status_code < 300:
                return response
            error = self._error_for(response)
            wait = _retry_wait(response, error, attempt)
            if wait is None:
                raise error
            sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _error_for(self, response: httpx.Response) -> InvokeError:
        """The error a redirect or a failed status stands for; closes the response."""
        if response.status_code < 400:  # a redirect: endpoint_url is not where the API answers
            response.close()
            target = redact(response.headers.get("location", "an unnamed address"), self._api_key)
            return InvokeBadRequestError(
                f"{self.base_url} redirects (HTTP {response.status_code}) to {target}: "
                "set endpoint_url to the address the API answers at"
            )
        body = self._read_whole(response)
        return error_for_response(
            response.status_code, response.reason_phrase, response.headers, body, self._api_key
        )

    def _build(
        self, method: str, path: str, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> httpx.Request:
        """The request; a body JSON cannot carry is the caller's bad input, not a crash."""
        timeout = httpx.Timeout(self.read_timeout, connect=CONNECT_TIMEOUT)
        try:
            url = self.base_url + "/" + path.lstrip("/")
            return _http.build_request(method, url, headers=headers, timeout=timeout, **kwargs)
        except UnicodeEncodeError as exc:  # a lone surrogate (half an emoji) has no UTF-8 form
            char = ord(exc.object[exc.start])
            raise InvokeBadRequestError(
                f"The input contains a broken character (U+{char:04X}, half of a surrogate pair) "
                "that cannot be sent: remove or retype it"
            ) from None
        except ValueError as exc:  # NaN or infinity, which JSON cannot express
            raise InvokeBadRequestError(
                f"The request to Together AI cannot be encoded as JSON: {exc}"
            ) from None

    def _json(self, response: httpx.Response) -> Any:
        body = self._read_whole(response)
        if not body.strip():
            raise InvokeServerUnavailableError(
                f"Together AI returned an empty body (HTTP {response.status_code})"
            )
        try:
            payload = _decode_json(body)
        except ValueError:
            snippet = redact(body[:200].decode("utf-8", "replace"), self._api_key)
            raise InvokeServerUnavailableError(
                f"Together AI returned a body that is not JSON: {snippet!r}"
            ) from None
        if isinstance(payload, dict) and payload.get("error"):
            raise error_for_payload(payload, self._api_key)
        return payload

    def _read_whole(self, response: httpx.Response) -> bytes:
        """The body of a response that is not a stream, which must arrive within `read_timeout` (a
        server sending a byte now and then would otherwise hold the call forever); closes the response."""
        deadline = time.monotonic() + self.read_timeout
        parts: list[bytes] = []
        with closing(response), self._reading():
            for part in response.iter_bytes():
                parts.append(part)
                if time.monotonic() > deadline:
                    raise InvokeConnectionError(
                        f"Connection to Together AI at {self.base_url} timed out: the answer took longer "
                        f"than read_timeout ({self.read_timeout:g} s) to arrive"
                    )
        return b"".join(parts)

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Map failures while a body is read (reset, timeout, protocol error) to `InvokeConnectionError`."""
        try:
            yield
        except InvokeError:
            raise
        except httpx.HTTPError as exc:
            raise InvokeConnectionError(self._transport_message(exc)) from None

    def _transport_message(self, exc: httpx.HTTPError) -> str:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        detail = redact(str(exc) or type(exc).__name__, self._api_key)
        return f"Connection to Together AI at {self.base_url} {kind}: {detail}"


def _decode_json(body: bytes | str) -> Any:
    """The JSON value of a body or stream event; raises `ValueError` when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        # integers beyond 64 bits, and the escape of half a surrogate pair (which can end a stream
        # event, the other half opening the next one), which orjson refuses
        return json.loads(body)


def _json_or_none(text: str) -> Any:
    """The JSON value of `text`, or None when it is not JSON."""
    try:
        return _decode_json(text)
    except ValueError:
        return None


def _raise_for_error_object(body: bytes, secret: str) -> None:
    """Raise the mapped `InvokeError` when `body` is a JSON object carrying `error`."""
    payload = _json_or_none(body)  # type: ignore[arg-type]
    if isinstance(payload, dict) and payload.get("error"):
        raise error_for_payload(payload, secret)


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter for the wait after attempt number `attempt`."""
    return BACKOFF_BASE * 2 ** (attempt - 1) * (1 + random.random())


def _retry_wait(response: httpx.Response, error: InvokeError, attempt: int) -> float | None:
    """Seconds to wait before sending attempt `attempt + 1`, or None when it must not be sent.

    A bad request (a redirect, or a model Together does not serve) cannot succeed whatever its
    status; a wait longer than `MAX_RETRY_WAIT` is reported at once.
    """
    status, headers = response.status_code, response.headers
    verdict = headers.get("x-should-retry", "").lower()  # httpx strips the spaces around a header value
    retryable = (status in RETRY_STATUSES or (verdict == "true" and status >= 500)) and verdict != "false"
    if attempt >= MAX_ATTEMPTS or not retryable or isinstance(error, InvokeBadRequestError):
        return None
    hinted = _seconds_from_header(headers.get("retry-after-ms"))
    if hinted is not None:
        hinted /= 1000
    for name in ("retry-after", "x-ratelimit-reset"):
        if hinted is None:
            hinted = _seconds_from_header(headers.get(name))
    if hinted is None:
        return _backoff(attempt)
    return hinted if hinted <= MAX_RETRY_WAIT else None


def _seconds_from_header(value: str | None) -> float | None:
    """Seconds from a delay (`"2"`, `"0.5"`), a Unix time or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, moment.timestamp() - time.time())
    if number > 1e9:  # a Unix timestamp rather than a delay
        return max(0.0, number - time.time())
    return max(0.0, number)
