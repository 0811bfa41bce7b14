"""Events that arrive together are handled together, and nothing waits for a later read.

`iter_sse_batches` and `TogetherClient.stream_event_batches` group events by the network chunk
that completed them; the LLM turns each group into one Dify chunk, using `plain_chat_text` as the
fast path for plain text events. Grouping must never change what Dify receives, only how many
chunks carry it (see issue 8 and `make bench`).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from dify_plugin.entities.model.message import UserPromptMessage
from dify_plugin.errors.model import InvokeRateLimitError

respx = pytest.importorskip("respx")
pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.llm.stream import Delta, chat_chunk_delta, plain_chat_text
from models.together.client import DEFAULT_ENDPOINT_URL, TogetherClient
from models.together.sse import iter_sse_batches, iter_sse_data
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

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def event_bytes(event: dict[str, Any] | str) -> bytes:
    data = event if isinstance(event, str) else json.dumps(event)
    return f"data: {data}\n\n".encode()


def stream_response(chunks: list[bytes]) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(chunks))


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
    assert [data for batch in batches for data in batch] == events == list(iter_sse_data(chunks))


def test_a_line_that_is_not_utf8_comes_after_the_events_before_it() -> None:
    batches = iter_sse_batches([event_bytes("ok") + b"data: \xff\n\n"])

    assert next(batches) == ["ok"]
    with pytest.raises(Exception, match="not UTF-8"):
        next(batches)


@respx.mock
def test_stream_event_batches_groups_by_read_and_yields_the_events_before_an_error() -> None:
    good = [{"n": 1}, {"n": 2}]
    error = {"error": {"message": "slow down", "type": "rate_limit"}, "status": 429}
    respx.post(f"{DEFAULT_ENDPOINT_URL}/chat/completions").mock(
        return_value=stream_response([event_bytes(good[0]), event_bytes(good[1]) + event_bytes(error)])
    )
    batches = TogetherClient({"api_key": API_KEY}).stream_event_batches("/chat/completions", {})

    assert next(batches) == [good[0]]
    assert next(batches) == [good[1]]
    with pytest.raises(InvokeRateLimitError):
        next(batches)


@respx.mock
def test_events_after_done_in_the_same_read_are_ignored() -> None:
    respx.post(f"{DEFAULT_ENDPOINT_URL}/chat/completions").mock(
        return_value=stream_response([event_bytes({"n": 1}) + event_bytes("[DONE]") + event_bytes({"n": 2})])
    )

    assert list(TogetherClient({"api_key": API_KEY}).stream_events("/chat/completions", {})) == [{"n": 1}]


# --- the LLM --------------------------------------------------------------------------------------


def ask(chunks: list[bytes]) -> list:
    with respx.mock:
        respx.post(CHAT_URL).mock(return_value=stream_response(chunks))
        return list(llm().invoke(MODEL, CREDENTIALS, [UserPromptMessage(content="hi")], {}, None, None, True))


def test_a_burst_becomes_one_chunk_and_separate_reads_stay_separate_chunks() -> None:
    events = [chunk({"content": f" t{i}"}) for i in range(50)]
    last = chunk({"content": "."}, finish_reason="eos", usage=usage(3, 51))
    burst = b"".join(event_bytes(e) for e in events) + event_bytes(last) + event_bytes("[DONE]")

    together = ask([burst])
    apart = ask([event_bytes(e) for e in [*events, last]] + [event_bytes("[DONE]")])

    assert len(together) == 2  # the burst's text, then the final chunk with finish reason and usage
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


@FUZZ
@given(events=st.lists(STREAM_EVENTS, min_size=1, max_size=12), cuts=st.lists(st.integers(0, 12), max_size=6))
def test_grouping_never_changes_what_dify_receives(events: list[dict], cuts: list[int]) -> None:
    wire = [event_bytes(e) for e in [*events, chunk({}, finish_reason="eos")]] + [event_bytes("[DONE]")]
    points = sorted({cut % (len(wire) + 1) for cut in cuts})
    grouped = [b"".join(wire[a:b]) for a, b in zip([0, *points], [*points, len(wire)], strict=True)]

    one_by_one, together = ask(wire), ask([group for group in grouped if group])

    assert text_of(together) == text_of(one_by_one)
    assert together[-1].delta.message.tool_calls == one_by_one[-1].delta.message.tool_calls
    assert together[-1].delta.finish_reason == one_by_one[-1].delta.finish_reason
    assert together[-1].delta.usage.total_tokens == one_by_one[-1].delta.usage.total_tokens
    assert len(together) <= len(one_by_one)


json_leaves = st.none() | st.booleans() | st.integers(-2, 2) | st.text(max_size=3)
delta_fields = st.dictionaries(
    st.sampled_from(["content", "role", "reasoning", "reasoning_content", "tool_calls", "token_id"]),
    json_leaves | st.lists(st.dictionaries(st.sampled_from(["index", "id"]), json_leaves), max_size=2),
)
choices = st.fixed_dictionaries(
    {"delta": delta_fields | json_leaves},
    optional={"index": st.integers(0, 1) | st.none(), "finish_reason": st.sampled_from([None, "", "eos"])},
)
chat_events = st.fixed_dictionaries(
    {"choices": st.lists(choices, max_size=2) | json_leaves},
    optional={"usage": st.none() | st.just(usage(1, 2)) | st.just({}), "warnings": st.none() | st.just([])},
)


@FUZZ
@given(event=chat_events)
def test_the_fast_path_agrees_with_the_full_reader(event: dict[str, Any]) -> None:
    text = plain_chat_text(event)

    if text is not None:
        assert chat_chunk_delta(event) == Delta(content=text)
