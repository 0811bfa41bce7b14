"""The fault matrix's rows: what Together (or the network) does wrong, and the error that must result.

Each `Fault` scripts the loopback stand-in for one adapter and says which `InvokeError` the user
must get and which words the message must carry. Error bodies echo the API key, as a careless
proxy might, so every row also proves the key is redacted. `RESULTS` collects each cell's outcome
for the table printed at the end of the run (tests/faults/conftest.py).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from dify_plugin.errors.model import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from tests.faults.adapters import Adapter
from tests.support.fake_together import Recorded, Reply

# Recognisable, so a leak anywhere is unmistakable.
SECRET_KEY = "tgp_v1_FAULT-MATRIX-SECRET-5b1d7e9c3a"
STALL_SECONDS = 10  # a stalled reply is released at teardown long before this
TIMEOUT_READ = "0.3"  # the `read_timeout` credential for the timeout row (seconds)
NORMAL_READ = "5"  # any other row: a hang fails fast instead of blocking the run


def vendor_message(status: int) -> str:
    return f"fault {status}: the key {SECRET_KEY} may not do this"


def error_json(status: int, kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": vendor_message(status), "type": kind, "param": None, "code": None}}


@dataclass(frozen=True)
class Fault:
    """One row. `reply` scripts the path (None: nothing listens); `attempts`: requests that must arrive."""

    name: str
    expected: type[InvokeError]
    words: tuple[str, ...]
    reply: Callable[[Adapter, str, threading.Event], Reply | Callable[[Recorded], Reply]] | None
    attempts: int = 1
    streamed_only: bool = False
    read_timeout: str = NORMAL_READ

    def applies(self, adapter: Adapter) -> bool:
        return adapter.streamed or not self.streamed_only

    def expected_for(self, adapter: Adapter) -> type[InvokeError]:
        return adapter.expected.get(self.name, self.expected)


def status_fault(status: int, expected: type[InvokeError], attempts: int = 1, **headers: str) -> Fault:
    name = f"{status}" + (" + rate-limit headers" if headers else "")

    def reply(_adapter: Adapter, _model: str, _stall: threading.Event) -> Reply:
        return Reply.json(error_json(status), status, {"x-request-id": f"req-fault-{status}", **headers})

    return Fault(
        name, expected, (f"fault {status}", f"HTTP {status}", f"req-fault-{status}"), reply, attempts
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


RATE_LIMIT_HEADERS = {
    "retry-after": "1",
    "x-ratelimit-limit": "10",
    "x-ratelimit-remaining": "0",
    "x-ratelimit-reset": "1",
}

FAULTS: list[Fault] = [
    status_fault(400, InvokeBadRequestError),
    status_fault(401, InvokeAuthorizationError),
    status_fault(402, InvokeAuthorizationError),
    status_fault(403, InvokeBadRequestError),
    status_fault(404, InvokeBadRequestError),
    status_fault(413, InvokeBadRequestError),
    status_fault(422, InvokeBadRequestError),
    status_fault(429, InvokeRateLimitError, 3, **RATE_LIMIT_HEADERS),
    status_fault(429, InvokeRateLimitError, 3),
    status_fault(500, InvokeServerUnavailableError),
    Fault("502 HTML page", InvokeServerUnavailableError, ("502 Bad Gateway", "HTTP 502"), _html_502),
    status_fault(503, InvokeServerUnavailableError, 3),
    status_fault(504, InvokeServerUnavailableError),
    Fault("connection refused", InvokeConnectionError, ("failed",), None, attempts=0),
    Fault(
        "timeout before first byte",
        InvokeConnectionError,
        ("timed out",),
        _stalled,
        read_timeout=TIMEOUT_READ,
    ),
    Fault("reset mid-body", InvokeConnectionError, ("Together AI",), _reset_mid_body),
    Fault("reset mid-stream", InvokeConnectionError, ("Together AI",), _reset_mid_stream, streamed_only=True),
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
