"""The one HTTP client every Together model type uses.

It owns the base URL, the Bearer header, timeouts, retries and the translation of every failure
into an `InvokeError` (see `errors`). Nothing it raises is anything else. Requests are retried
only while no response has started: for 429, 503 and connection failures, at most
`MAX_ATTEMPTS` times, waiting as `Retry-After` or `x-ratelimit-reset` says or else with
exponential backoff and jitter. A stream is never retried once its body has begun.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from functools import cache
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
from models.together.sse import iter_sse_batches

DEFAULT_ENDPOINT_URL = "https://api.together.ai/v1"
CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 600.0
MAX_ATTEMPTS = 3
RETRY_STATUSES = frozenset({429, 503})
BACKOFF_BASE = 0.5
MAX_RETRY_WAIT = 20.0  # a longer wait than this is the caller's decision, not ours

PLUGIN_ROOT = Path(__file__).resolve().parents[2]

# A key travels in an HTTP header: visible ASCII only.
_API_KEY_CHARS = re.compile(r"[\x21-\x7e]+")

_DECODER = json.JSONDecoder()

# Tests replace this to observe waits without spending them.
sleep = time.sleep


class TruncatedStreamError(InvokeConnectionError):
    """The stream closed before Together's `[DONE]` sentinel.

    Model classes reach Dify as a plain `InvokeConnectionError` (see `errors.as_dify_error`).
    """


def normalize_endpoint_url(value: str | None) -> str:
    """The API base URL from a user's `endpoint_url`: default when empty, always ending in `/v1`.

    Raises `InvokeBadRequestError` for anything but an absolute http or https URL.
    """
    text = (value or "").strip() or DEFAULT_ENDPOINT_URL
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        url = None
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
    """Seconds to wait between bytes of a response, from the optional `read_timeout` credential."""
    raw = credentials.get("read_timeout")
    if raw in (None, ""):
        return DEFAULT_READ_TIMEOUT
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        seconds = 0.0
    if not 0 < seconds <= 3600:
        raise InvokeBadRequestError(
            f"read_timeout must be a number of seconds above 0 and at most 3600, got {raw!r}"
        )
    return seconds


@cache
def plugin_version() -> str:
    """The plugin's version as the manifest declares it."""
    manifest = yaml.safe_load((PLUGIN_ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    return str(manifest["version"])


_pools: dict[float, httpx.Client] = {}
_pools_lock = threading.Lock()


def _pool(read_timeout: float) -> httpx.Client:
    """A process-wide connection pool per read timeout, so calls reuse TLS connections."""
    with _pools_lock:
        client = _pools.get(read_timeout)
        if client is None:
            client = httpx.Client(
                timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                headers={"User-Agent": f"dify-plugin-togetherai/{plugin_version()}"},
            )
            _pools[read_timeout] = client
        return client


class TogetherClient:
    """Calls Together's REST API with one user's credentials.

    `credentials` needs `api_key`; `endpoint_url` and `read_timeout` are optional.
    """

    def __init__(self, credentials: Mapping[str, Any]):
        api_key = str(credentials.get("api_key") or "").strip()
        if not api_key:
            raise InvokeAuthorizationError(
                "Together AI API key is missing: enter it in the provider settings"
            )
        if not _API_KEY_CHARS.fullmatch(api_key):
            # Sent as is, such a key fails inside the HTTP library, whose message quotes the header.
            raise InvokeAuthorizationError(
                "Together AI API key contains spaces, line breaks or non-ASCII characters: paste it again"
            )
        self._api_key = api_key
        self.base_url = normalize_endpoint_url(credentials.get("endpoint_url"))
        self._http = _pool(read_timeout_from(credentials))

    def url(self, path: str) -> str:
        """The absolute URL of an API path such as `/chat/completions`."""
        return self.base_url + "/" + path.lstrip("/")

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` and return the decoded JSON body."""
        return self._json(self._send("GET", path, params=params))

    def post_json(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST `body` as JSON and return the decoded JSON body."""
        return self._json(self._send("POST", path, json=body))

    def post_multipart(self, path: str, data: Mapping[str, str], files: Mapping[str, Any]) -> Any:
        """POST a multipart form (fields in `data` first, then `files`) and return the JSON body.

        Each value in `files` is `(filename, file object, content type)`; file objects are
        rewound before a retry.
        """
        return self._json(self._send("POST", path, data=data, files=files))

    def stream_events(self, path: str, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """POST `body` and yield each JSON event of the server-sent-event response.

        Raises the mapped `InvokeError` for an `error` object inside the stream, and
        `TruncatedStreamError` when the stream ends without `[DONE]`.
        """
        with closing(self.stream_event_batches(path, body)) as batches:
            for events in batches:
                yield from events

    def stream_event_batches(self, path: str, body: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Like `stream_events`, but the events that arrived together (completed by one read from
        the connection) come as one list, yielded at once and never empty.

        A caller that emits one message per list saves the per-message cost of a burst without
        holding any event back. Errors are those of `stream_events`, raised after the events
        before them have been yielded.
        """
        with self._open("POST", path, json=body) as response, self._reading():
            for batch in iter_sse_batches(response.iter_bytes()):
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
        with self._open("POST", path, json=body) as response:
            with self._reading():
                if response.headers.get("content-type", "").startswith("application/json"):
                    whole = response.read()
                    _raise_for_error_object(whole, self._api_key)
                    yield from (whole[i : i + chunk_size] for i in range(0, len(whole), chunk_size))
                    return
                yield from response.iter_bytes(chunk_size)

    @contextmanager
    def _open(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        response = self._send(method, path, **kwargs)
        try:
            yield response
        finally:
            response.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with retries; return a response whose status is below 400 and whose body is unread."""
        headers = {"Authorization": f"Bearer {self._api_key}"}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            for file in (kwargs.get("files") or {}).values():
                file[1].seek(0)
            request = self._build(method, path, headers, kwargs)
            try:
                response = self._http.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt < MAX_ATTEMPTS:
                    sleep(_backoff(attempt))
                    continue
                raise InvokeConnectionError(self._transport_message(exc)) from None
            except httpx.HTTPError as exc:
                raise InvokeConnectionError(self._transport_message(exc)) from None
            if response.status_code < 400:
                return response
            with self._reading():
                body = response.read()
            response.close()
            error = error_for_response(
                response.status_code, response.reason_phrase, response.headers, body, self._api_key
            )
            if response.status_code in RETRY_STATUSES and attempt < MAX_ATTEMPTS:
                wait = _retry_wait(response.headers, attempt)
                if wait is not None:
                    sleep(wait)
                    continue
            raise error
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _build(
        self, method: str, path: str, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> httpx.Request:
        """The request; a body JSON cannot carry is the caller's bad input, not a crash."""
        try:
            return self._http.build_request(method, self.url(path), headers=headers, **kwargs)
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
        try:
            with self._reading():
                body = response.read()
        finally:
            response.close()
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


def _decode_json(body: bytes) -> Any:
    """The JSON value of a whole response body; raises `ValueError` when it is not JSON.

    orjson decodes a large embeddings response several times faster than the standard library,
    which is what lets concurrent embedding requests overlap on one core.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)  # integers beyond 64 bits, which orjson refuses


def _json_or_none(text: str) -> Any:
    """`json.loads(text)`, or None where that raises.

    The usual event is exactly one JSON value; `raw_decode` parses it without `loads`' two
    whitespace scans, which are a large part of a small event's cost. Anything else takes `loads`.
    """
    try:
        value, end = _DECODER.raw_decode(text)
        if end == len(text):
            return value
    except ValueError:
        pass
    try:
        return json.loads(text)
    except ValueError:
        return None


def _raise_for_error_object(body: bytes, secret: str) -> None:
    """Raise the mapped `InvokeError` when `body` is a JSON object carrying `error`."""
    try:
        payload = json.loads(body)
    except ValueError:
        return
    if isinstance(payload, dict) and payload.get("error"):
        raise error_for_payload(payload, secret)


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter for the wait after attempt number `attempt`."""
    return BACKOFF_BASE * 2 ** (attempt - 1) * (1 + random.random())


def _retry_wait(headers: Mapping[str, str], attempt: int) -> float | None:
    """Seconds to wait before retrying, or None when the server asks for longer than we wait."""
    hinted = _seconds_from_header(headers.get("retry-after"))
    if hinted is None:
        hinted = _seconds_from_header(headers.get("x-ratelimit-reset"))
    if hinted is None:
        return _backoff(attempt)
    return hinted if hinted <= MAX_RETRY_WAIT else None


def _seconds_from_header(value: str | None) -> float | None:
    """Seconds from a delay (`"2"`, `"0.5"`), a Unix time or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
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
