"""The plugin as Dify's daemon runs it (`python -m main` over stdio), reduced to what a benchmark needs:
the time to the first heartbeat, one request at a time, and the process's memory.

Replies are read as they come and not kept, so the reader's memory never weighs on the figures;
`tools/stdio_runtime.py` describes the protocol.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from bench.plugin import PLUGIN_ROOT
from tools.stdio_runtime import request_message


class StdioPlugin:
    """One plugin process; use in a `with` block (it is killed on exit: stdin EOF does not stop it)."""

    def __init__(self, root: Path = PLUGIN_ROOT) -> None:
        self._root = root
        self._proc: subprocess.Popen[bytes] | None = None
        self.seconds_to_heartbeat = 0.0

    def __enter__(self) -> Self:
        started = time.perf_counter()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "main"],
            cwd=self._root,
            env={**os.environ, "INSTALL_METHOD": "local"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for message in self._messages():
            if message.get("event") == "heartbeat":
                self.seconds_to_heartbeat = time.perf_counter() - started
                return self
        raise RuntimeError("the plugin exited before its first heartbeat")

    def __exit__(self, *exc: object) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)

    @property
    def pid(self) -> int:
        assert self._proc
        return self._proc.pid

    def request(self, action: str, data: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Send one request and yield its `stream` payloads until `end`; raise on its `error`."""
        assert self._proc and self._proc.stdin
        session_id = uuid.uuid4().hex
        message = request_message(session_id, action, data, user_id="bench")
        self._proc.stdin.write(json.dumps(message).encode() + b"\n")
        self._proc.stdin.flush()
        for reply in self._messages():
            if reply.get("event") != "session" or reply.get("session_id") != session_id:
                continue
            kind, payload = reply["data"]["type"], reply["data"]["data"]
            if kind == "end":
                return
            if kind == "error":
                raise RuntimeError(f"the plugin answered an error: {payload}")
            yield payload
        raise RuntimeError("the plugin exited during a request")

    def memory_kib(self) -> tuple[int, int]:
        """The process's resident memory now and its peak since the last `reset_peak`, in KiB."""
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines()
            if ":" in line
        )
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

    def reset_peak(self) -> None:
        """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def _messages(self) -> Iterator[dict[str, Any]]:
        assert self._proc and self._proc.stdout
        for line in self._proc.stdout:
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    continue
