"""Events that arrive together are handled together, and nothing waits for a later read.

`iter_arrived` joins the chunks already read (the SDK's gevent patching, active in every test,
makes the reader thread a greenlet, so what is joined does not depend on timing), `iter_sse_batches` and
`TogetherClient.stream_event_batches` group events by the joined chunk that completed them, and
the LLM turns each group into one Dify chunk. Grouping must never change what Dify receives,
only how many chunks carry it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dify_plugin.entities.model.message import UserPromptMessage
from dify_plugin.errors.model import InvokeRateLimitError, InvokeServerUnavailableError

respx = pytest.importorskip("respx")
pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.together import sse
from models.together.client import DEFAULT_ENDPOINT_URL, TogetherClient
from models.together.sse import iter_arrived, iter_sse_batches
from tests.conftest import API_KEY
from tests.support.llm_fakes import (
    CHAT_URL,
    CREDENTIALS,
    MODEL,
    chunk,
    llm,
    text_of,
    tool_delta,
    tool_fragment,
    usage,
)
from tests.support.sse import sse_frames, streamed_events

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def event_bytes(event: dict[str, Any] | str) -> bytes:
    return sse_frames([event], done=False)[0]


def stream_response(chunks: Iterator[bytes] | list[bytes]) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(chunks))


def paced(chunks: list[bytes], handed_on: threading.Event) -> Iterator[bytes]:
    """The chunks, each sent only once the consumer has handed on what the one before produced."""
    for i, chunk in enumerate(chunks):
        yield chunk
        if i < len(chunks) - 1:
            assert handed_on.wait(5), f"chunk {i} was held back until a later one arrived"
            handed_on.clear()


@pytest.fixture(autouse=True)
def unmistakable_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk counts as already arrived when handed over within 10 ms: a loaded machine never
    takes that long for one that has, and `spaced` waits five times as long."""
    monkeypatch.setattr(sse, "ARRIVED_SECONDS", 0.01)


# --- reading ahead --------------------------------------------------------------------------------


def test_chunks_that_have_arrived_are_joined_after_the_first() -> None:
    assert list(iter_arrived([b"a", b"b", b"c"])) == [b"a", b"bc"]


class CountedThread(threading.Thread):
    started = 0

    def start(self) -> None:
        CountedThread.started += 1
        super().start()


@pytest.fixture
def readers_started(monkeypatch: pytest.MonkeyPatch) -> type[CountedThread]:
    """Counts the reader threads `iter_arrived` starts: `readers_started.started`."""
    monkeypatch.setattr(sse.threading, "Thread", CountedThread)
    CountedThread.started = 0
    return CountedThread


def spaced(chunks: list[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        time.sleep(sse.ARRIVED_SECONDS * 5)  # a model's pace: each read waits
        yield chunk


def test_spaced_chunks_are_read_directly_and_a_burst_after_them_is_joined(readers_started) -> None:

    def chunks() -> Iterator[bytes]:
        yield from spaced([b"a", b"b", b"c"])
        yield from [b"d", b"e", b"f"]

    got = list(iter_arrived(chunks()))

    assert got == [b"a", b"b", b"c", b"d", b"ef"]
    assert readers_started.started == 1  # only for the burst


def test_a_reader_hands_reading_back_once_chunks_are_spaced_out_again(readers_started) -> None:

    def chunks() -> Iterator[bytes]:
        yield from [b"a", b"b", b"c"]
        yield from spaced([b"d", b"e", b"f", b"g", b"h"])

    got = list(iter_arrived(chunks()))

    assert got == [b"a", b"bc", b"d", b"e", b"f", b"g", b"h"]
    assert readers_started.started == 1  # g and h were read directly


def test_a_join_holds_at_most_the_chunks_read_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "MAX_CHUNKS_AHEAD", 2)

    joined = list(iter_arrived([b"a", b"b", b"c", b"d", b"e", b"f", b"g"]))

    assert b"".join(joined) == b"abcdefg" and all(len(item) <= 3 for item in joined)


def test_a_reader_waiting_for_a_slow_consumer_keeps_reading(
    monkeypatch: pytest.MonkeyPatch, readers_started
) -> None:
    monkeypatch.setattr(sse, "MAX_CHUNKS_AHEAD", 2)  # the reader soon waits for room
    monkeypatch.setattr(sse, "MAX_JOINED_BYTES", 1)  # and the consumer takes one chunk at a time
    got = []

    for item in iter_arrived([b"x"] * 8):
        got.append(item)
        time.sleep(sse.ARRIVED_SECONDS * 5)

    assert got == [b"x"] * 8
    assert readers_started.started == 1  # waiting for the consumer is not chunks spaced out


def test_a_join_stops_at_the_byte_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "MAX_JOINED_BYTES", 4)

    assert list(iter_arrived([b"ab", b"cd", b"ef", b"g"])) == [b"ab", b"cdef", b"g"]


def test_a_chunk_is_handed_on_before_the_next_arrives() -> None:
    handed_on = threading.Event()
    got = []
    for item in iter_arrived(paced([b"a", b"b", b"c"], handed_on)):
        got.append(item)
        handed_on.set()

    assert got == [b"a", b"b", b"c"]


def test_an_error_comes_after_the_chunks_before_it() -> None:
    def failing() -> Iterator[bytes]:
        yield b"a"
        raise httpx.ReadError("reset")

    items = iter_arrived(failing())

    assert next(items) == b"a"
    with pytest.raises(httpx.ReadError):
        next(items)


def test_closing_stops_the_reader() -> None:
    sent = []

    def endless() -> Iterator[bytes]:
        while True:
            sent.append(b"x")
            yield b"x"

    items = iter_arrived(endless())
    next(items)
    items.close()
    count = len(sent)
    threading.Event().wait(0.05)  # the reader had time to run on, if it did

    assert len(sent) <= count + 1 <= sse.MAX_CHUNKS_AHEAD + 2


# --- SSE and client -------------------------------------------------------------------------------


def test_events_of_one_chunk_come_as_one_batch_and_a_split_event_with_the_chunk_completing_it() -> None:
    first = event_bytes("a") + event_bytes("b") + b"data: c"
    second = b"\n\n" + event_bytes("d")

    assert list(iter_sse_batches([first, second, b": keep-alive\n\n"])) == [["a", "b"], ["c", "d"]]


@FUZZ
@given(
    events=st.lists(
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")), max_size=8
    ),
    cuts=st.lists(st.integers(min_value=0), max_size=8),
)
def test_batches_flatten_to_the_events_whatever_the_chunking(events: list[str], cuts: list[int]) -> None:
    body = b"".join(event_bytes(text) for text in events)
    points = sorted({cut % (len(body) + 1) for cut in cuts})
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]

    batches = list(iter_sse_batches(chunks))

    assert all(batches)
    assert [data for batch in batches for data in batch] == events


def test_a_line_that_is_not_utf8_comes_after_the_events_before_it() -> None:
    batches = iter_sse_batches([event_bytes("ok") + b"data: \xff\n\n"])

    assert next(batches) == ["ok"]
    with pytest.raises(InvokeServerUnavailableError, match="not UTF-8"):
        next(batches)


@respx.mock
def test_stream_event_batches_groups_by_arrival_and_yields_the_events_before_an_error() -> None:
    good = [{"n": 1}, {"n": 2}, {"n": 3}]
    error = {"error": {"message": "slow down", "type": "rate_limit"}, "status": 429}
    handed_on = threading.Event()
    chunks = [event_bytes(good[0]), event_bytes(good[1]) + event_bytes(good[2]) + event_bytes(error)]
    respx.post(f"{DEFAULT_ENDPOINT_URL}/chat/completions").mock(return_value=stream_response(paced(chunks, handed_on)))
    batches = TogetherClient({"api_key": API_KEY}).stream_event_batches("/chat/completions", {})

    assert next(batches) == [good[0]]
    handed_on.set()
    assert next(batches) == good[1:]
    with pytest.raises(InvokeRateLimitError):
        next(batches)


@respx.mock
def test_events_after_done_in_the_same_read_are_ignored() -> None:
    respx.post(f"{DEFAULT_ENDPOINT_URL}/chat/completions").mock(
        return_value=stream_response([event_bytes({"n": 1}) + event_bytes("[DONE]") + event_bytes({"n": 2})])
    )

    client = TogetherClient({"api_key": API_KEY})
    assert list(streamed_events(client, "/chat/completions", {})) == [{"n": 1}]


# --- the LLM --------------------------------------------------------------------------------------


def ask(chunks: list[bytes], one_at_a_time: bool = False) -> list:
    """The LLM's chunks for a stream of these network chunks: all at once, or each sent only once
    the text of the one before has reached the caller."""
    handed_on = threading.Event()
    got = []
    with respx.mock:
        respx.post(CHAT_URL).mock(return_value=stream_response(paced(chunks, handed_on) if one_at_a_time else chunks))
        for result in llm().invoke(MODEL, CREDENTIALS, [UserPromptMessage(content="hi")], {}, None, None, True):
            got.append(result)
            handed_on.set()
    return got


def test_a_burst_becomes_one_chunk_and_separate_arrivals_stay_separate_chunks() -> None:
    events = [chunk({"content": f" t{i}"}) for i in range(50)]
    last = chunk({"content": "."}, finish_reason="eos", usage=usage(3, 51))
    frames = sse_frames([*events, last])

    together = ask(frames)
    apart = ask([*frames[:-2], frames[-2] + frames[-1]], one_at_a_time=True)

    # the first event's text (handed on before the burst is known), the burst's, then the final
    # chunk with finish reason and usage
    assert len(together) == 3
    assert len(apart) == 52  # one per event, then the final chunk
    assert text_of(together) == text_of(apart) == "".join(f" t{i}" for i in range(50)) + "."
    assert together[-1].delta.usage.completion_tokens == apart[-1].delta.usage.completion_tokens == 51


STREAM_EVENTS = st.one_of(
    st.builds(
        lambda text: chunk({"content": text}), st.sampled_from(["Hi", " there", "<th", "ink>", "\n", "", " "])
    ),
    st.builds(
        lambda text: chunk({"content": None, "reasoning": text}), st.sampled_from(["Let me", " think", " "])
    ),
    st.builds(
        lambda i, args: chunk(tool_delta(tool_fragment(i, f"call_{i}", "lookup", args))),
        st.integers(0, 1),
        st.sampled_from(['{"q":', '"x"}', ""]),
    ),
    st.just(chunk({"content": "!"}, usage=usage(2, 9))),
    st.just({**chunk({"content": "w"}), "warnings": [{"message": "note"}]}),
)


def outcome(chunks: list[bytes]) -> list | str:
    """The chunks, or the message of the error raised for tool-call arguments that are not a JSON object."""
    try:
        return ask(chunks)
    except InvokeServerUnavailableError as error:
        return str(error)


@FUZZ
@given(events=st.lists(STREAM_EVENTS, min_size=1, max_size=12), cuts=st.lists(st.integers(0, 12), max_size=6))
def test_grouping_never_changes_what_dify_receives(events: list[dict], cuts: list[int]) -> None:
    wire = [event_bytes(e) for e in [*events, chunk({}, finish_reason="eos")]] + [event_bytes("[DONE]")]
    points = sorted({cut % (len(wire) + 1) for cut in cuts})
    grouped = [b"".join(wire[a:b]) for a, b in zip([0, *points], [*points, len(wire)], strict=True)]

    one_by_one, together = outcome(wire), outcome([group for group in grouped if group])

    if isinstance(one_by_one, str):  # the same error, whichever the grouping
        assert together == one_by_one
        return
    assert text_of(together) == text_of(one_by_one)
    assert together[-1].delta.message.tool_calls == one_by_one[-1].delta.message.tool_calls
    assert together[-1].delta.finish_reason == one_by_one[-1].delta.finish_reason
    assert together[-1].delta.usage.total_tokens == one_by_one[-1].delta.usage.total_tokens
    assert len(together) <= len([group for group in grouped if group]) + 1  # a chunk per read at most
