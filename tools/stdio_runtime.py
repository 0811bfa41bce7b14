"""Drive the plugin as Dify's daemon does: `python -m main` over stdio, one JSON line per message.

Each request is one JSON line carrying a session id, as the daemon writes it to a locally run plugin.
Requests run concurrently inside the plugin; replies are grouped by session id until each session's
`end`. Used by `tools/try.py` and by the tests.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PLUGIN_ROOT = Path(__file__).resolve().parents[1]
PROVIDER = "togetherai"


@dataclass
class SessionResult:
    """Everything one session sent back: its stream payloads, and the error if it failed."""

    stream: list[dict[str, Any]]
    error: dict[str, Any] | None

    def ok(self) -> list[dict[str, Any]]:
        """The stream payloads; fails the test with the plugin's error if there was one."""
        assert self.error is None, f"plugin answered an error: {self.error}"
        return self.stream


def request_message(session_id: str, action: str, data: dict[str, Any], user_id: str = "test-user") -> dict:
    """The daemon's envelope for one model request; `data` is merged over the common fields."""
    return {
        "session_id": session_id,
        "conversation_id": None,
        "message_id": None,
        "app_id": None,
        "endpoint_id": None,
        "context": {},
        "event": "request",
        "data": {"user_id": user_id, "type": "model", "action": action, "provider": PROVIDER, **data},
    }


class PluginProcess:
    """One plugin process under the real SDK runtime, started from `root` (default: this checkout)."""

    def __init__(self, root: Path = PLUGIN_ROOT, env: dict[str, str] | None = None) -> None:
        self.root = root
        self._env = {**os.environ, "INSTALL_METHOD": "local", **(env or {})}
        self._proc: subprocess.Popen[bytes] | None = None
        self._sessions: dict[str, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()  # guards the session inboxes
        # Writes get their own lock: a writer blocked on a full stdin pipe must never keep the
        # stdout reader from an inbox, or neither side drains its pipe and both wait forever.
        self._write_lock = threading.Lock()
        self._heartbeat = threading.Event()
        self._stdout_reader: threading.Thread | None = None
        self.stderr_lines: list[str] = []
        self.stdout_lines: list[bytes] = []

    def start(self, timeout: float = 60) -> PluginProcess:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "main"],
            cwd=self.root,
            env=self._env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._stdout_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._stdout_reader.start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._heartbeat.wait(timeout):
            self.stop()
            raise RuntimeError("plugin sent no heartbeat; stderr:\n" + "\n".join(self.stderr_lines[-40:]))
        return self

    def stop(self) -> None:
        # stdin EOF does not stop the SDK's reader (it spins), so the process is killed.
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)

    def __enter__(self) -> PluginProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def send(self, action: str, data: dict[str, Any], session_id: str | None = None) -> str:
        """Send one request and return its session id; `data` is merged over the common fields."""
        assert self._proc and self._proc.stdin
        session_id = session_id or uuid.uuid4().hex
        with self._lock:
            self._sessions[session_id] = queue.Queue()
        message = request_message(session_id, action, data)
        with self._write_lock:
            self._proc.stdin.write(json.dumps(message).encode() + b"\n")
            self._proc.stdin.flush()
        return session_id

    def messages(self, session_id: str, timeout: float = 60) -> Iterator[dict[str, Any]]:
        """A session's `stream` and `error` messages as they arrive, until its `end`.

        Each item is the session message's `data`: `{"type": "stream"|"error", "data": {...}}`.
        Raises `TimeoutError` when the whole session takes longer than `timeout` seconds, and
        `RuntimeError` with the plugin's last stderr lines when the process dies first.
        """
        assert self._proc
        deadline = time.monotonic() + timeout
        inbox = self._sessions[session_id]
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"session {session_id} did not end in {timeout}s")
            try:
                message = inbox.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if self._proc.poll() is None:
                    continue
                assert self._stdout_reader
                self._stdout_reader.join(5)  # deliver what the process wrote before it died
                if inbox.empty():
                    raise RuntimeError(
                        f"plugin exited with code {self._proc.returncode}; stderr:\n"
                        + "\n".join(self.stderr_lines[-40:])
                    ) from None
                continue
            if message.get("type") == "end":
                return
            yield message

    def collect(self, session_id: str, timeout: float = 60) -> SessionResult:
        """Wait for a session's `end` and return what it streamed."""
        stream: list[dict[str, Any]] = []
        error = None
        for message in self.messages(session_id, timeout):
            if message.get("type") == "stream":
                stream.append(message["data"])
            elif message.get("type") == "error":
                error = message["data"]
        return SessionResult(stream, error)

    def call(self, action: str, data: dict[str, Any], timeout: float = 60) -> SessionResult:
        """Send a request and wait for its reply."""
        return self.collect(self.send(action, data), timeout)

    def _read_stdout(self) -> None:
        assert self._proc and self._proc.stdout
        for line in self._proc.stdout:
            line = line.strip()
            if not line:
                continue
            self.stdout_lines.append(line)
            try:
                message = json.loads(line)
            except ValueError:
                continue
            event = message.get("event")
            if event == "heartbeat":
                self._heartbeat.set()
            elif event == "session":
                with self._lock:
                    inbox = self._sessions.get(message.get("session_id"))
                if inbox is not None:
                    inbox.put(message["data"])

    def _read_stderr(self) -> None:
        assert self._proc and self._proc.stderr
        for line in self._proc.stderr:
            self.stderr_lines.append(line.decode("utf-8", "replace").rstrip())
