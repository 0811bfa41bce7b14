"""A scripted HTTP server on loopback that stands in for Together's API.

Tests register a handler per (method, path) and read back what the plugin sent. It runs in a
thread of the test process, so a plugin in another process (the stdio runtime) can reach it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.sse import sse_frames


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """What a handler answers: a status, headers and a body given whole or as chunks to flush one by one.

    `chunks` ending early with `reset=True` drops the connection mid-body.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: Iterable[bytes] | None = None
    reset: bool = False

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload).encode())

    @classmethod
    def sse(cls, events: Iterable[Any], done: bool = True) -> Reply:
        """A server-sent-event stream of JSON events, ending with `[DONE]` unless `done` is False."""
        return cls(200, {"Content-Type": "text/event-stream"}, chunks=sse_frames(events, done))


Handler = Callable[[Recorded], Reply]


class _BurstReadyServer(ThreadingHTTPServer):
    # The standard library listens with a queue of 5; a burst beyond it (concurrency tests) would
    # be reset by the kernel and look like a network fault.
    request_queue_size = 256


class FakeTogether:
    """A loopback server: `route()` scripts it, `requests` records what arrived, `base_url` points at it."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                path = path[3:] if path.startswith("/v1/") else path
                recorded = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with owner._lock:
                    owner.requests.append(recorded)
                    handler = owner.routes.get((self.command, path))
                reply = handler(recorded) if handler else Reply.json({"error": {"message": f"no route {path}"}}, 404)
                self._write(reply)

            do_GET = do_POST = _serve

            def _write(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunks is None:
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in reply.chunks:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                if reply.reset:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(b"0\r\n\r\n")

        self._server = _BurstReadyServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        # A short poll keeps shutdown (every test's teardown) fast.
        self._thread = threading.Thread(target=lambda: self._server.serve_forever(poll_interval=0.05), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def route(self, method: str, path: str, handler: Handler | Reply) -> None:
        """Answer `method path` (path without `/v1`) with a fixed reply or a function of the request."""
        self.routes[(method, path)] = handler if callable(handler) else (lambda _request: handler)

    def start(self) -> FakeTogether:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
