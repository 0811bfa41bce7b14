"""The fault matrix's rows: what Together (or the network) does wrong, and the error that must result.

Each `Fault` scripts the loopback stand-in for one adapter and says which `InvokeError` the user
must get and which words the message must carry. Error bodies echo the API key, as a careless
proxy might, so every row also proves the key is redacted. `RESULTS` collects each cell's outcome
for the table printed at the end of the run (tests/faults/conftest.py).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dify_plugin.errors.model import (
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeServerUnavailableError,
)

from models.together.client import MAX_ATTEMPTS
from tests.faults.adapters import Adapter
from tests.support.fake_together import Recorded, Reply
from tests.support.status_errors import STATUS_ERRORS

# Recognisable, so a leak anywhere is unmistakable.
SECRET_KEY = "tgp_v1_FAULT-MATRIX-SECRET-5b1d7e9c3a"
STALL_SECONDS = 10  # a stalled reply is released at teardown long before this
TIMEOUT_READ = "0.3"  # the `read_timeout` credential for the timeout row (seconds)
NORMAL_READ = "5"  # any other row: a hang fails fast instead of blocking the run


def vendor_message(status: int) -> str:
    return f"fault {status}: the key {SECRET_KEY} may not do this"


def error_json(status: int, kind: str = "invalid_request_error", code: str | None = None) -> dict:
    return {"error": {"message": vendor_message(status), "type": kind, "param": None, "code": code}}


def every_type(_adapter: Adapter) -> bool:
    return True


def streamed(adapter: Adapter) -> bool:
    return adapter.streamed


def event_stream(adapter: Adapter) -> bool:
    return adapter.content_type == "text/event-stream"


def blocking(adapter: Adapter) -> bool:
    return not adapter.streamed


def embeddings(adapter: Adapter) -> bool:
    return adapter.folder == "text_embedding"


@dataclass(frozen=True)
class Fault:
    """One row. `reply` scripts the path (None: nothing listens); `attempts`: requests that must arrive."""

    name: str
    expected: type[InvokeError]
    words: tuple[str, ...]
    reply: Callable[[Adapter, str, threading.Event], Reply | Callable[[Recorded], Reply]] | None
    attempts: int = 1
    applies: Callable[[Adapter], bool] = every_type
    read_timeout: str = NORMAL_READ

    def expected_for(self, adapter: Adapter) -> type[InvokeError]:
        return adapter.expected.get(self.name, self.expected)


def status_fault(
    status: int, name: str = "", code: str | None = None, attempts: int = 0, **headers: str
) -> Fault:
    """The row for an error status whose class (and attempts, unless given) are the shared table's."""
    expected, retried = STATUS_ERRORS[status]
    attempts = attempts or retried

    def reply(_adapter: Adapter, _model: str, _stall: threading.Event) -> Reply:
        body = error_json(status, code=code)
        return Reply.json(body, status, {"x-request-id": f"req-fault-{status}", **headers})

    words = (f"fault {status}", f"HTTP {status}", f"req-fault-{status}")
    return Fault(name or str(status), expected, words, reply, attempts)


def advised_fault(status: int, name: str, code: str, advice: str) -> Fault:
    """A status whose error code Together documents as a request that cannot succeed as sent."""
    row = status_fault(status, name, code)
    return Fault(name, InvokeBadRequestError, (*row.words, advice), row.reply)


def in_body_error(name: str, kind: str, expected: type[InvokeError]) -> Fault:
    """Together's error object with HTTP 200 (in a body or a stream), classed by its type alone."""
    return Fault(
        name,
        expected,
        ("fault 200",),
        lambda adapter, _model, _stall: adapter.error_200(error_json(200, kind)),
    )


def _html_502(_adapter: Adapter, _model: str, _stall: threading.Event) -> Reply:
    page = (
        "<html><head><title>502 Bad Gateway</title></head>"
        f"<body><center><h1>502 Bad Gateway</h1></center><!-- {SECRET_KEY} --></body></html>"
    )
    return Reply(502, {"Content-Type": "text/html"}, page.encode())


def _stalled(adapter: Adapter, model: str, stall: threading.Event) -> Callable[[Recorded], Reply]:
    def handler(_request: Recorded) -> Reply:
        stall.wait(STALL_SECONDS)
        return adapter.ok_reply(model)

    return handler


def _reset_mid_body(adapter: Adapter, model: str, _stall: threading.Event) -> Reply:
    body = adapter.ok_body(model)
    return Reply(200, {"Content-Type": adapter.content_type}, chunks=[body[: len(body) // 2]], reset=True)


def _reset_mid_stream(adapter: Adapter, model: str, _stall: threading.Event) -> Reply:
    return Reply(200, {"Content-Type": adapter.content_type}, chunks=[adapter.first_part(model)], reset=True)


def _redirect(_adapter: Adapter, _model: str, _stall: threading.Event) -> Reply:
    return Reply(307, {"Location": "https://elsewhere.example/v1/moved", "Content-Length": "0"})


def _html_200(_adapter: Adapter, _model: str, _stall: threading.Event) -> Reply:
    page = f"<html><body>Sign in to continue <!-- {SECRET_KEY} --></body></html>"
    return Reply(200, {"Content-Type": "text/html"}, page.encode())


def _trickle(adapter: Adapter, _model: str, stall: threading.Event) -> Reply:
    def chunks() -> Iterator[bytes]:
        while not stall.wait(0.05):  # a byte well within read_timeout, forever
            yield b" "

    return Reply(200, {"Content-Type": adapter.content_type}, chunks=chunks())


def _vector_beyond_one_reply(_adapter: Adapter, model: str, _stall: threading.Event) -> Reply:
    # 600,000 floats: a reply line of about 7 MB, beyond the 5,242,879 bytes Dify's daemon accepts.
    return Reply.json(
        {"object": "list", "model": model, "data": [{"index": 0, "embedding": [-0.1234567] * 600_000}]}
    )


RATE_LIMIT_HEADERS = {
    "retry-after": "1",
    "x-ratelimit-limit": "10",
    "x-ratelimit-remaining": "0",
    "x-ratelimit-reset": "1",
}

FAULTS: list[Fault] = [
    *(status_fault(status) for status in STATUS_ERRORS),
    status_fault(429, "429 + rate-limit headers", **RATE_LIMIT_HEADERS),
    status_fault(503, "503 + x-should-retry: false", attempts=1, **{"x-should-retry": "false"}),
    status_fault(529, "529 + x-should-retry: true", attempts=MAX_ATTEMPTS, **{"x-should-retry": "true"}),
    Fault(
        "502 HTML page",
        InvokeServerUnavailableError,
        ("502 Bad Gateway", "HTTP 502"),
        _html_502,
        MAX_ATTEMPTS,
    ),
    advised_fault(503, "503 model_not_available", "model_not_available", "not serve this model serverless"),
    advised_fault(
        403, "403 data sharing blocked", "third_party_data_sharing_blocked", "third-party data sharing"
    ),
    in_body_error("200 credit limit", "credit_limit", STATUS_ERRORS[402][0]),
    in_body_error("200 permission denied", "permission_denied", STATUS_ERRORS[403][0]),
    in_body_error("200 request timeout", "request_timeout", STATUS_ERRORS[408][0]),
    Fault(
        "redirect",
        InvokeBadRequestError,
        ("redirects (HTTP 307) to https://elsewhere.example/v1/moved",),
        _redirect,
    ),
    Fault(
        "HTML page for a stream",
        InvokeServerUnavailableError,
        ("not an event stream", "Sign in"),
        _html_200,
        applies=event_stream,
    ),
    Fault(
        "answer beyond one daemon reply",
        InvokeBadRequestError,
        ("lower max_chunks",),
        _vector_beyond_one_reply,
        applies=embeddings,
    ),
    Fault("connection refused", InvokeConnectionError, ("failed",), None, attempts=0),
    Fault(
        "timeout before first byte",
        InvokeConnectionError,
        ("timed out",),
        _stalled,
        read_timeout=TIMEOUT_READ,
    ),
    Fault("reset mid-body", InvokeConnectionError, ("Together AI",), _reset_mid_body),
    Fault("reset mid-stream", InvokeConnectionError, ("Together AI",), _reset_mid_stream, applies=streamed),
    Fault(
        "body trickled past read_timeout",
        InvokeConnectionError,
        ("timed out",),  # under load a gap can pass read_timeout first: a timeout all the same
        _trickle,
        applies=blocking,
        read_timeout=TIMEOUT_READ,
    ),
    Fault(
        "malformed JSON",
        InvokeServerUnavailableError,
        ("Together AI",),
        lambda adapter, _model, _stall: adapter.malformed(),
    ),
    Fault(
        "200 with error object",
        InvokeBadRequestError,
        ("fault 200",),
        lambda adapter, _model, _stall: adapter.error_200(error_json(200)),
    ),
    Fault(
        "empty body",
        InvokeServerUnavailableError,
        ("Together AI",),
        lambda adapter, _model, _stall: adapter.empty(),
    ),
]

# (fault name, adapter column) → "pass", "FAIL: why", or absent (not run).
RESULTS: dict[tuple[str, str], str] = {}


def closed_port_url() -> str:
    """An endpoint where nothing listens: the port was free a moment ago and is closed again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
