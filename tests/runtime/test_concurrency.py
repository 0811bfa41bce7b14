"""50 streamed LLM sessions at once in one plugin process, over stdio: each gets its own answer, whole.

The stand-in holds every stream open after its first event until all 50 requests have arrived,
so the sessions are provably in flight together and their events interleave on stdout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.conftest import API_KEY
from tests.faults.adapters import first_model
from tests.support.fake_together import FakeTogether, Recorded, Reply
from tests.support.llm_fakes import chunk, usage
from tests.support.sse import sse_frames
from tools.stdio_runtime import PluginProcess

SESSIONS = 50
WORDS = 6  # content events per answer


def answer_words(marker: str) -> list[str]:
    return [f"{marker}:{n} " for n in range(WORDS)]


def event(model: str, delta: dict, finish: str | None = None) -> bytes:
    tokens = usage(3, WORDS) if finish else None
    return sse_frames([chunk(delta, finish, tokens, model=model)], done=False)[0]


def last_user_text(body: dict) -> str:
    content = body["messages"][-1]["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return content


class EchoAll:
    """Streams back each request's marker word by word, once every session has been asked."""

    def __init__(self) -> None:
        self.all_in = threading.Barrier(SESSIONS, timeout=60)
        self.overlapped = True

    def __call__(self, request: Recorded) -> Reply:
        body = request.json()
        marker = last_user_text(body).split()[-1]
        return Reply(200, {"Content-Type": "text/event-stream"}, chunks=self._chunks(body["model"], marker))

    def _chunks(self, model: str, marker: str) -> Iterator[bytes]:
        words = answer_words(marker)
        yield event(model, {"role": "assistant", "content": words[0]})
        try:
            self.all_in.wait()
        except threading.BrokenBarrierError:
            self.overlapped = False
        for word in words[1:]:
            yield event(model, {"content": word})
        yield event(model, {}, "stop")
        yield b"data: [DONE]\n\n"


@pytest.fixture
def echo(fake_together: FakeTogether) -> EchoAll:
    handler = EchoAll()
    fake_together.route("POST", "/chat/completions", handler)
    return handler


def test_fifty_streamed_sessions_at_once(plugin: PluginProcess, fake_together: FakeTogether, echo: EchoAll) -> None:
    model = first_model("llm")
    credentials = {"api_key": API_KEY, "endpoint_url": fake_together.base_url}
    markers = [f"session-{n:02d}" for n in range(SESSIONS)]

    sessions = {
        marker: plugin.send(
            "invoke_llm",
            {
                "model_type": "llm",
                "model": model,
                "credentials": credentials,
                "prompt_messages": [{"role": "user", "content": f"Repeat {marker}", "name": ""}],
                "model_parameters": {},
                "stop": None,
                "tools": None,
                "stream": True,
            },
        )
        for marker in markers
    }
    results = {marker: plugin.collect(session, timeout=120) for marker, session in sessions.items()}

    assert echo.overlapped, "the 50 requests were not all in flight at the same time"
    assert len(fake_together.requests) == SESSIONS
    for marker, result in results.items():
        chunks = result.ok()
        text = "".join(chunk["delta"]["message"]["content"] for chunk in chunks)
        assert text == "".join(answer_words(marker)), f"{marker} got {text!r}"
        assert chunks[-1]["delta"]["finish_reason"] == "stop"
