"""A local stand-in for Together's API, fast enough never to be what a benchmark measures.

It runs in its own process (`python -m bench.servers`, which prints its port) so that serving
never competes with the measured code for the interpreter lock. Endpoints under `/v1`:

- `POST /chat/completions` (streamed): `max_tokens` one-token `ChatCompletionChunk` events (5,000
  when absent), usage on the last, then `data: [DONE]`, built in advance. A first path segment
  before `/v1` chooses the framing (`FRAMINGS`): `burst` (the default) writes the body with one
  call and a Content-Length; `framed` sends one HTTP chunk per event, as Together does, all in one
  write; `paced-1ms` and `paced-10ms` send one chunk per event on that schedule, as a model does.
- `POST /embeddings`: one vector per input after `EMBEDDING_DELAY` seconds, as a model would take.
- `POST /audio/speech`: an MP3-framed body of the size written in the input text ("bytes=N"),
  sent in 64 KiB writes.
- `GET /voices`: an empty list (the plugin then offers its declared voices).
- `GET /_stats`: requests served per endpoint since the last `POST /_reset`.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

EMBEDDING_DELAY = 0.050
DEFAULT_STREAM_TOKENS = 5000
# framing → seconds between events (None: all at once)
FRAMINGS: dict[str, float | None] = {"burst": None, "framed": None, "paced-1ms": 0.001, "paced-10ms": 0.010}
# Common English words, each one cl100k token with its leading space.
WORDS = (" the", " model", " answer", " is", " a", " stream", " of", " tokens", " and", " it", " works")
# One MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz, 417 bytes): the sync word players and
# the plugin's format sniffing look for, then silence.
MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(413)
AUDIO_WRITE = 64 * 1024


def stream_tokens(count: int) -> list[str]:
    """The content of each streamed event, in order."""
    return [WORDS[i % len(WORDS)] for i in range(count)]


@cache
def chat_stream_events(count: int, model: str) -> tuple[bytes, ...]:
    """Each SSE event of a streamed chat completion with `count` one-token events, `[DONE]` last."""
    created = 1723834621
    events = []
    tokens = stream_tokens(count)
    for i, token in enumerate(tokens):
        last = i == count - 1
        chunk = {
            "id": "bench-0001",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "text": token,
                    "logprobs": None,
                    "finish_reason": "stop" if last else None,
                    "delta": {
                        "token_id": 1000 + i % 50,
                        "role": "assistant",
                        "content": token,
                        "tool_calls": None,
                    },
                }
            ],
            "usage": {"prompt_tokens": 8, "completion_tokens": count, "total_tokens": 8 + count}
            if last
            else None,
        }
        events.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return tuple(events)


def http_chunk(data: bytes) -> bytes:
    """`data` as one chunk of a chunked HTTP/1.1 body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


@cache
def embedding_json(dimensions: int) -> str:
    """One vector as JSON, with values written as Together writes them (about ten digits)."""
    rng = random.Random(dimensions)
    return json.dumps([round(rng.gauss(0, 0.03), 10) for _ in range(dimensions)])


@cache
def audio_block() -> bytes:
    """64 KiB of back-to-back MP3 frames (the last one cut short)."""
    frames = MP3_FRAME * (AUDIO_WRITE // len(MP3_FRAME) + 1)
    return frames[:AUDIO_WRITE]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm the body of a small reply
    # would wait for the client's delayed ACK (40 ms), as no real server makes a client wait.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.endswith("/_stats"):
            with self.server.lock:
                self._json(200, dict(self.server.counts))
        elif self.path.startswith("/v1/voices"):
            self._json(200, {"object": "list", "data": []})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        prefix, _, rest = self.path.partition("/v1/")
        framing, route = prefix.strip("/") or "burst", "/" + rest
        with self.server.lock:
            if route == "/_reset":
                self.server.counts.clear()
            else:
                self.server.counts[route] += 1
        if route == "/_reset":
            self._json(200, {})
        elif route == "/chat/completions":
            self._chat(body, framing)
        elif route == "/embeddings":
            self._embeddings(body)
        elif route == "/audio/speech":
            self._speech(body)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def _chat(self, body: dict, framing: str) -> None:
        if not body.get("stream") or framing not in FRAMINGS:
            self._json(400, {"error": {"message": "the benchmark server streams only, framed as FRAMINGS says"}})
            return
        events = chat_stream_events(
            int(body.get("max_tokens") or DEFAULT_STREAM_TOKENS), str(body.get("model"))
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        if framing == "burst":
            payload = b"".join(events)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        interval = FRAMINGS[framing]
        if interval is None:
            self.wfile.write(b"".join(map(http_chunk, events)) + b"0\r\n\r\n")
            return
        started = time.perf_counter()
        for i, event in enumerate(events):
            # A schedule rather than a sleep per event: late wake-ups do not add up.
            time.sleep(max(0.0, started + i * interval - time.perf_counter()))
            self.wfile.write(http_chunk(event))
        self.wfile.write(b"0\r\n\r\n")

    def _embeddings(self, body: dict) -> None:
        texts = body.get("input") or []
        time.sleep(EMBEDDING_DELAY)
        vector = embedding_json(self.server.dimensions)
        items = ",".join(
            f'{{"object":"embedding","index":{i},"embedding":{vector}}}' for i in range(len(texts))
        )
        tokens = sum(len(text.split()) + 2 for text in texts)
        reply = (
            f'{{"object":"list","model":{json.dumps(body.get("model"))},"data":[{items}],'
            f'"usage":{{"prompt_tokens":{tokens},"total_tokens":{tokens}}}}}'
        )
        self._send(200, "application/json", reply.encode())

    def _speech(self, body: dict) -> None:
        match = re.search(r"bytes=(\d+)", str(body.get("input")))
        size = int(match.group(1)) if match else len(MP3_FRAME)
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = audio_block()
        sent = 0
        while sent < size:
            piece = block[: min(len(block), size - sent)]
            self.wfile.write(piece)
            sent += len(piece)

    def _json(self, status: int, payload: object) -> None:
        self._send(status, "application/json", json.dumps(payload).encode())

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, dimensions: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.dimensions = dimensions
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()


class LocalTogether:
    """The server in a child process, for a `with` block; `base_url` ends in `/v1`."""

    def __init__(self, dimensions: int = 1024) -> None:
        self.dimensions = dimensions
        self.base_url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.servers", str(self.dimensions)],
            cwd=Path(__file__).resolve().parents[1],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout
        port = int(self._proc.stdout.readline())
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc:
            self._proc.kill()
            self._proc.wait(10)


def main() -> None:
    server = _Server(int(sys.argv[1]) if len(sys.argv) > 1 else 1024)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
