"""Start-up: `main` makes the SDK read YAML with libyaml's safe loader, which must read every file
the SDK reads exactly as PyYAML's pure-Python safe loader does; in remote-debugging mode it finds
Dify's debugging port from the SDK's settings and says in one line, never holding the key, why that
port will not take the plugin."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import yaml
from dify_plugin import DifyPluginEnv

import main

ROOT = Path(__file__).resolve().parents[2]
YAMLS = sorted([ROOT / "manifest.yaml", *ROOT.glob("provider/*.yaml"), *ROOT.glob("models/*/*.yaml")])


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
@pytest.mark.parametrize("path", YAMLS, ids=lambda path: str(path.relative_to(ROOT)))
def test_libyaml_reads_each_yaml_as_the_pure_python_loader_does(path: Path) -> None:
    text = path.read_text(encoding="utf-8")

    assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.load(text, Loader=yaml.SafeLoader)


KEY = "5c0f9d7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def env(**settings: object) -> DifyPluginEnv:
    """The settings as the SDK reads them, with no .env file in the way."""
    return DifyPluginEnv(_env_file=None, INSTALL_METHOD="remote", **settings)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("debug.dify.ai:5003", ("debug.dify.ai", 5003)),
        ("localhost:5003", ("localhost", 5003)),
        ("http://192.168.1.20:5003", ("192.168.1.20", 5003)),
        ("tcp://[::1]:5003/", ("::1", 5003)),
    ],
)
def test_remote_install_url_is_host_and_port(url: str, address: tuple[str, int]) -> None:
    assert main.debugging_address(env(REMOTE_INSTALL_URL=url)) == address


def test_without_remote_install_url_the_sdks_host_and_port_settings_apply() -> None:
    config = env(REMOTE_INSTALL_HOST="dify.internal", REMOTE_INSTALL_PORT=15003)

    assert main.debugging_address(config) == ("dify.internal", 15003)


@pytest.mark.parametrize(
    "url", ["localhost", "http://localhost", "host:port", "host:70000", "host:5003/x", ""]
)
def test_a_remote_install_url_without_host_and_port_is_one_line_naming_it(url: str) -> None:
    with pytest.raises(ValueError) as raised:
        main.debugging_address(env(REMOTE_INSTALL_URL=url))

    assert f"REMOTE_INSTALL_URL={url!r}" in str(raised.value) and "<host>:<port>" in str(raised.value)


class CannedPort:
    """A loopback listener that reads the handshake line, then answers `reply` (None: stays silent)
    and closes."""

    def __init__(self, reply: bytes | None) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.received = b""
        threading.Thread(target=self._serve, args=(reply,), daemon=True).start()

    def _serve(self, reply: bytes | None) -> None:
        connection, _ = self._listener.accept()
        with connection:
            while not self.received.endswith(b"\n"):
                self.received += connection.recv(4096)
            if reply is None:
                connection.recv(1)  # until the plugin closes its side
                return
            connection.sendall(reply.replace(b"<line>", self.received.strip()))

    def problem(self) -> str | None:
        config = env(REMOTE_INSTALL_URL=f"127.0.0.1:{self.port}", REMOTE_INSTALL_KEY=KEY)
        try:
            return main.remote_debugging_problem(config)
        finally:
            self._listener.close()


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n\r\n<html>400</html>",
        b"<!DOCTYPE HTML>\n<html><body>Bad request syntax ('<line>')</body></html>\n",
        b"\r\n<html>\n<head><title>400 Bad Request</title></head>",
    ],
    ids=["status line", "bare page quoting the request", "html"],
)
def test_a_web_server_on_the_port_is_named_without_blaming_or_printing_the_key(reply: bytes) -> None:
    port = CannedPort(reply)

    line = port.problem()

    assert f"127.0.0.1:{port.port} is a web server" in line and "REMOTE_INSTALL_URL" in line
    assert "REMOTE_INSTALL_KEY" not in line and KEY not in line


def test_the_daemons_refusal_blames_the_key_in_its_own_words() -> None:
    port = CannedPort(b"handshake failed, invalid key\n")

    line = port.problem()

    assert KEY.encode() in port.received  # the key was sent, and only to that port
    assert f"Dify at 127.0.0.1:{port.port} refused the debug key" in line
    assert "(handshake failed, invalid key)" in line and "REMOTE_INSTALL_KEY" in line


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (b"unexpected message <line>\n", "unexpected message"),
        (b"", "it closed the connection without a word"),
    ],
)
def test_any_other_answer_is_quoted_without_the_key(reply: bytes, words: str) -> None:
    port = CannedPort(reply)

    line = port.problem()

    assert f"127.0.0.1:{port.port} did not take the plugin ({words}" in line and "REMOTE_INSTALL_URL" in line
    assert KEY not in line


def test_no_piece_of_an_echoed_key_survives_the_shortening() -> None:
    # The quote is cut at 200 characters; here the cut falls inside the echoed key.
    port = CannedPort(b"x" * (200 - len(KEY) // 2) + KEY.encode() + b"\n")

    line = port.problem()

    assert KEY[: len(KEY) // 2 - 10] not in line


def test_a_port_that_takes_the_key_in_silence_is_no_problem() -> None:
    assert CannedPort(None).problem() is None


def test_no_key_is_one_line_naming_the_setting() -> None:
    line = main.remote_debugging_problem(env(REMOTE_INSTALL_URL="127.0.0.1:1"))

    assert line.startswith("REMOTE_INSTALL_KEY is not set in .env") and "Debugging" in line
