"""`make run` (the plugin in remote-debugging mode) against a loopback stand-in for Dify's debugging port.

The stand-in answers as dify-plugin-daemon 0.6.10 does (internal/core/debugging_runtime): the first
line must be a handshake with a known key; an unknown key gets `handshake failed, invalid key` and the
connection is closed; a known key gets no answer, and the plugin then sends its declarations, its
assets and `end`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"


class DebuggingPort:
    """A TCP listener on loopback that records, per connection, the JSON messages it received."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
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


def one_line_and_exit(process: subprocess.Popen[str]) -> str:
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stdout == ""
    assert len(stderr.splitlines()) == 1, stderr
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
    line = one_line_and_exit(start(f"127.0.0.1:{debugging_port.port}", key="expired-key"))

    assert f"127.0.0.1:{debugging_port.port}" in line and "REMOTE_INSTALL_KEY" in line
    assert "handshake failed, invalid key" in line
    assert len(debugging_port.connections) == 1  # no reconnecting with a key that cannot work


def test_an_accepted_key_goes_on_to_declare_the_plugin(debugging_port: DebuggingPort) -> None:
    process = start(f"127.0.0.1:{debugging_port.port}")
    try:
        assert debugging_port.declared.wait(60), process.stderr
    finally:
        process.kill()
        process.wait(10)

    probe, session = debugging_port.connections
    assert [m["type"] for m in probe] == ["handshake"]
    types = [m.get("type") for m in session]
    assert types[:3] == ["handshake", "manifest_declaration", "model_declaration"]
    assert "asset_chunk" in types and "end" in types
    assert session[1]["data"]["name"] == "togetherai"
