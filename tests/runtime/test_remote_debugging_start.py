"""`make run` (the plugin in remote-debugging mode) against a loopback stand-in for Dify's debugging port.

The stand-in answers as dify-plugin-daemon 0.6.10 does (internal/core/debugging_runtime): the first
line must be a handshake with a known key; an unknown key gets `handshake failed, invalid key` and the
connection is closed; a known key gets no answer, and the plugin then sends its declarations, its
assets and `end`.
"""

from __future__ import annotations

import http.server
import json
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"


class DebuggingPort:
    """A TCP listener on loopback that records, per connection, the JSON messages it received."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, 0), family=family)
        self.port = self._listener.getsockname()[1]
        self.connections: list[list[dict]] = []
        self.declared = threading.Event()  # a connection sent its `end`
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        received: list[dict] = []
        self.connections.append(received)
        buffer = b""
        with connection:
            while chunk := connection.recv(65536):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in filter(None, (raw.strip() for raw in lines)):
                    message = json.loads(line)
                    received.append(message)
                    if message.get("type") == "handshake" and message["data"]["key"] != GOOD_KEY:
                        connection.sendall(b"handshake failed, invalid key\n")
                        return
                    if message.get("type") == "end":
                        self.declared.set()

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def debugging_port() -> DebuggingPort:
    port = DebuggingPort()
    yield port
    port.close()


def start(url: str, key: str = GOOD_KEY) -> subprocess.Popen[str]:
    env = {**os.environ, "INSTALL_METHOD": "remote", "REMOTE_INSTALL_URL": url, "REMOTE_INSTALL_KEY": key}
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    return subprocess.Popen([sys.executable, "-m", "main"], cwd=ROOT, env=env, text=True, **pipes)


def one_line_and_exit(process: subprocess.Popen[str], key: str = GOOD_KEY) -> str:
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stdout == ""
    assert len(stderr.splitlines()) == 1, stderr
    assert key not in stderr
    return stderr.strip()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_debugging_port_is_one_line_naming_the_host() -> None:
    port = closed_port()

    line = one_line_and_exit(start(f"127.0.0.1:{port}"))

    assert f"127.0.0.1:{port}" in line and "REMOTE_INSTALL_URL" in line
    assert "Traceback" not in line


def test_a_url_without_a_port_is_one_line_naming_the_setting() -> None:
    line = one_line_and_exit(start("localhost"))

    assert "REMOTE_INSTALL_URL='localhost'" in line and "<host>:<port>" in line


def test_a_refused_key_is_one_line_with_the_daemons_words(debugging_port: DebuggingPort) -> None:
    key = "0b9e7c1d-2f3a-4b5c-8d6e-7f8091a2b3c4"
    line = one_line_and_exit(start(f"127.0.0.1:{debugging_port.port}", key=key), key=key)

    assert f"127.0.0.1:{debugging_port.port}" in line and "REMOTE_INSTALL_KEY" in line
    assert "handshake failed, invalid key" in line
    assert len(debugging_port.connections) == 1  # no reconnecting with a key that cannot work


class EchoingWebServer(http.server.ThreadingHTTPServer):
    """A web server where the debugging port should be (Dify's web or API port, a proxy): Python's own
    answers the handshake line with a bare 400 page (no status line) that quotes it, key included."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_a_web_server_on_the_port_is_named_as_one_without_blaming_or_printing_the_key() -> None:
    server = EchoingWebServer()
    try:
        line = one_line_and_exit(start(f"127.0.0.1:{server.port}"))
    finally:
        server.shutdown()
        server.server_close()

    assert f"127.0.0.1:{server.port} is a web server" in line and "REMOTE_INSTALL_URL" in line
    assert "REMOTE_INSTALL_KEY" not in line and "refused" not in line


class SilentPort:
    """A TCP listener that takes every connection and never answers or closes it."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self._held.append(self._listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()


def stderr_lines(process: subprocess.Popen[str]) -> Iterator[str]:
    """The process's stderr, line by line; a line that takes over a minute ends the test."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True).start()
    while True:
        yield lines.get(timeout=60)


def test_a_silent_port_gets_one_line_saying_where_the_plugin_connected_and_what_to_check() -> None:
    port = SilentPort()
    process = start(f"127.0.0.1:{port.port}")
    try:
        line = next(line for line in stderr_lines(process) if "Connected" in line)
    finally:
        process.kill()
        process.wait(10)
        port.close()

    assert f"Connected to Dify's plugin debugging port at 127.0.0.1:{port.port}" in line
    assert "within a minute" in line and "REMOTE_INSTALL_URL" in line and "exposes that port" in line
    assert GOOD_KEY not in line


def test_an_accepted_key_goes_on_to_declare_the_plugin(debugging_port: DebuggingPort) -> None:
    process = start(f"127.0.0.1:{debugging_port.port}")
    try:
        assert debugging_port.declared.wait(60), process.stderr
    finally:
        process.kill()
        _, stderr = process.communicate(timeout=10)

    assert GOOD_KEY not in stderr

    probe, session = debugging_port.connections
    assert [m["type"] for m in probe] == ["handshake"]
    types = [m.get("type") for m in session]
    assert types[:3] == ["handshake", "manifest_declaration", "model_declaration"]
    assert "asset_chunk" in types and "end" in types
    assert session[1]["data"]["name"] == "togetherai"


def test_the_sdk_connects_where_the_check_connected() -> None:
    """An IPv6 `[host]:port`: the SDK's own reading of REMOTE_INSTALL_URL would split it at its first
    colon; given the host and port the check found, it connects there."""
    port = DebuggingPort(host="::1")
    process = start(f"[::1]:{port.port}")
    try:
        assert port.declared.wait(60), process.stderr
    finally:
        process.kill()
        process.wait(10)
        port.close()

    probe, session = port.connections
    assert [m["type"] for m in probe] == ["handshake"] and session[1]["type"] == "manifest_declaration"
