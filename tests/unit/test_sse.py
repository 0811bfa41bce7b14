"""The SSE decoder and the streamed-events client over arbitrary input (hypothesis).

Properties: only `InvokeError` ever escapes; the data of valid events comes back unchanged
however the bytes are chunked; chunking never changes the result; no event grows without bound.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from dify_plugin.errors.model import InvokeError, InvokeServerUnavailableError

respx = pytest.importorskip("respx")
pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.together.client import DEFAULT_ENDPOINT_URL, TogetherClient, TruncatedStreamError
from models.together import sse
from models.together.sse import iter_sse_batches
from tests.conftest import API_KEY
from tests.support.sse import sse_body, streamed_events

# The `no_retry_waits` fixture is function-scoped and harmless to share between examples.
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Event data: any text without CR (a line terminator in SSE, and always escaped inside JSON).
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=60)


def flat_data(chunks: list[bytes]) -> Iterator[str]:
    for batch in iter_sse_batches(chunks):
        yield from batch


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` cut at the given offsets (taken modulo its length), so chunks may split a UTF-8 character."""
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def encode(events: list[str], newline: str, comments: bool) -> bytes:
    out = []
    for i, text in enumerate(events):
        if comments:
            out.append(f": keep-alive {i}{newline}event: message{newline}id: {i}{newline}")
        out.extend(f"data: {line}{newline}" for line in text.split("\n"))
        out.append(newline)
    return "".join(out).encode()


# Any events, in either newline style, with or without comments, cut into chunks anywhere.
any_stream = given(
    events=st.lists(texts, max_size=8),
    newline=st.sampled_from(["\n", "\r\n"]),
    comments=st.booleans(),
    cuts=st.lists(st.integers(min_value=0), max_size=12),
)


@FUZZ
@any_stream
def test_valid_events_round_trip_under_any_chunking(
    events: list[str], newline: str, comments: bool, cuts: list[int]
) -> None:
    assert list(flat_data(split(encode(events, newline, comments), cuts))) == events


@FUZZ
@any_stream
def test_batches_hold_the_same_events_and_are_never_empty(
    events: list[str], newline: str, comments: bool, cuts: list[int]
) -> None:
    batches = list(iter_sse_batches(split(encode(events, newline, comments), cuts)))

    assert all(batches)
    assert [data for batch in batches for data in batch] == events


@FUZZ
@given(body=st.binary(max_size=400), cuts=st.lists(st.integers(min_value=0), max_size=12))
def test_arbitrary_bytes_raise_only_invoke_errors_and_chunking_does_not_matter(
    body: bytes, cuts: list[int]
) -> None:
    def decode(chunks: list[bytes]) -> list[str] | type[InvokeError]:
        try:
            return list(flat_data(chunks))
        except InvokeError as exc:
            return type(exc)

    assert decode(split(body, cuts)) == decode([body])


@FUZZ
@given(body=st.text(max_size=400).map(str.encode), cuts=st.lists(st.integers(min_value=0), max_size=12))
def test_arbitrary_text_decodes_without_error(body: bytes, cuts: list[int]) -> None:
    for data in flat_data(split(body, cuts)):
        assert isinstance(data, str)


def test_field_forms() -> None:
    body = (
        b"data:no space\n\ndata\n\ndata:  two spaces\n\n"
        b"event: x\nid: 7\nretry: 10\n: note\ndata: a\ndata: b\n\n"
    )

    assert list(flat_data([body])) == ["no space", "", " two spaces", "a\nb"]


def test_an_event_without_its_blank_line_is_kept_but_a_partial_line_is_not() -> None:
    assert list(flat_data([b"data: whole\n"])) == ["whole"]
    assert list(flat_data([b'data: {"par'])) == []


def test_a_line_that_is_not_utf8_is_server_unavailable() -> None:
    with pytest.raises(InvokeServerUnavailableError, match="not UTF-8"):
        list(flat_data([b"data: \xff\xfe\n\n"]))


# --- the client's event stream over arbitrary bodies ----------------------------------------------

# Integers within 64 bits: events are decoded with orjson, which reads larger ones as floats (no
# field the plugin reads comes near).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
# An ordinary event: no `error` key (that one is Together's failure signal).
events = st.dictionaries(texts.filter(lambda key: key != "error"), json_values, max_size=4)


def stream(body: bytes) -> Iterator[dict]:
    with respx.mock:
        respx.post(f"{DEFAULT_ENDPOINT_URL}/chat/completions").mock(
            return_value=httpx.Response(200, content=body)
        )
        yield from streamed_events(TogetherClient({"api_key": API_KEY}), "/chat/completions", {"stream": True})


def batches(body: bytes) -> list[list[dict]]:
    with respx.mock:
        respx.post(f"{DEFAULT_ENDPOINT_URL}/chat/completions").mock(
            return_value=httpx.Response(200, content=body)
        )
        client = TogetherClient({"api_key": API_KEY})
        return list(client.stream_event_batches("/chat/completions", {"stream": True}))


@FUZZ
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_streamed_events_over_arbitrary_bodies_raise_only_invoke_errors(body: bytes) -> None:
    try:
        for event in stream(body):
            assert isinstance(event, dict)
    except InvokeError as exc:
        assert API_KEY not in str(exc)


@FUZZ
@given(sent=st.lists(events, max_size=6), ascii_only=st.booleans())
def test_streamed_events_round_trip(sent: list[dict], ascii_only: bool) -> None:
    frames = [json.dumps(e, ensure_ascii=ascii_only) for e in sent]

    assert list(stream(sse_body(frames))) == sent
    grouped = batches(sse_body(frames))
    assert all(grouped) and [event for batch in grouped for event in batch] == sent
    with pytest.raises(TruncatedStreamError):
        list(stream(sse_body(frames, done=False)))


def test_a_stream_without_line_breaks_is_cut_off_at_the_event_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "MAX_EVENT_BYTES", 1000)
    chunks = (b"data: " + b"x" * 300 for _ in range(10))

    with pytest.raises(InvokeServerUnavailableError, match="larger than"):
        list(flat_data(chunks))


def test_an_event_of_many_short_lines_is_cut_off_at_the_event_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "MAX_EVENT_BYTES", 1000)
    chunks = (b"data: " + b"x" * 30 + b"\n" for _ in range(100))  # each line short, no blank line

    with pytest.raises(InvokeServerUnavailableError, match="larger than"):
        list(flat_data(chunks))


def test_events_under_the_limit_pass_however_many_there_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "MAX_EVENT_BYTES", 1000)

    assert list(flat_data([b"data: " + b"x" * 900 + b"\n\n"] * 50)) == ["x" * 900] * 50
