"""Fuzzing the LLM's two translations (hypothesis): Dify messages → Together, Together's stream → Dify.

Properties: whatever the input, only `InvokeError` escapes from the messages and, from the stream,
only one of the five classes Dify knows by name (never the SDK's catch-all); text survives both
ways unchanged, as far as the runtime's serialisation for Dify, even when a character's UTF-16
halves arrive in two events.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import httpx
import pytest
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    AudioPromptMessageContent,
    DocumentPromptMessageContent,
    ImagePromptMessageContent,
    PromptMessage,
    SystemPromptMessage,
    TextPromptMessageContent,
    ToolPromptMessage,
    UserPromptMessage,
    VideoPromptMessageContent,
)
from dify_plugin.core.server.__base.response_writer import ResponseWriter
from dify_plugin.errors.model import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

respx = pytest.importorskip("respx")
pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.together.client import DEFAULT_ENDPOINT_URL
from tests.conftest import API_KEY
from tests.faults.adapters import build, first_model
from tests.support.fake_together import FakeTogether, Reply
from tests.support.sse import sse_body, sse_frames

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

texts = st.text(max_size=40)
names = st.sampled_from(["", "alice", "tool_1"]) | texts
formats = st.sampled_from(["", "png", "wav", "mp3", "mp4", "pdf", ".WAV"]) | texts
mimes = st.sampled_from(["", "image/png", "audio/wav", "audio/x-wav", "video/mp4", "application/pdf"]) | texts


def media(cls: type) -> st.SearchStrategy:
    return st.builds(
        cls,
        format=formats,
        base64_data=st.sampled_from(["", "UklGRg=="]) | texts,
        url=st.sampled_from(["", "https://example.com/a.png"]) | texts,
        mime_type=mimes,
        filename=st.sampled_from(["", "a.pdf"]) | texts,
    )


text_parts = st.builds(TextPromptMessageContent, data=texts)
parts = st.one_of(
    text_parts,
    st.builds(ImagePromptMessageContent, format=formats, url=texts, base64_data=texts, mime_type=mimes),
    media(AudioPromptMessageContent),
    media(VideoPromptMessageContent),
    media(DocumentPromptMessageContent),
)
contents = st.none() | texts | st.lists(parts, max_size=4)
tool_calls = st.lists(
    st.builds(
        AssistantPromptMessage.ToolCall,
        id=texts,
        type=st.just("function"),
        function=st.builds(AssistantPromptMessage.ToolCall.ToolCallFunction, name=texts, arguments=texts),
    ),
    max_size=3,
)
messages = st.one_of(
    st.builds(SystemPromptMessage, content=contents, name=names),
    st.builds(UserPromptMessage, content=contents, name=names),
    st.builds(AssistantPromptMessage, content=contents, name=names, tool_calls=tool_calls),
    st.builds(ToolPromptMessage, content=contents, name=names, tool_call_id=texts),
)


def conversions() -> tuple[Any, Any]:
    from models.llm.messages import chat_messages, completion_prompt

    return chat_messages, completion_prompt


@FUZZ
@given(prompt=st.lists(messages, max_size=6))
def test_any_messages_convert_or_raise_an_invoke_error(prompt: list[PromptMessage]) -> None:
    chat_messages, completion_prompt = conversions()
    for convert in (chat_messages, completion_prompt):
        try:
            converted = convert(prompt)
        except InvokeError:
            continue
        assert json.loads(json.dumps(converted)) == converted  # plain JSON, nothing else


def text_of(content: str | list[TextPromptMessageContent] | None) -> str:
    if isinstance(content, list):
        return "".join(part.data for part in content)
    return content or ""


text_contents = st.none() | texts | st.lists(text_parts, max_size=4)
# Text built from whole tags, line breaks and words, so that think tags occur in most examples.
tagged_texts = st.lists(
    st.sampled_from(["<think>", "</think>", "\n", " ", "\n\n"]) | texts, max_size=8
).map("".join)
# Any answer but one that opens with a think block: that block is the reply's own reasoning.
answers = tagged_texts.filter(lambda text: not text.startswith("<think>"))


@FUZZ
@given(system=text_contents, user=text_contents, assistant=answers, tool=text_contents)
def test_text_round_trips_unchanged(system: Any, user: Any, assistant: str, tool: Any) -> None:
    chat_messages, completion_prompt = conversions()
    prompt = [
        SystemPromptMessage(content=system),
        UserPromptMessage(content=user),
        AssistantPromptMessage(content=assistant),
        ToolPromptMessage(content=tool, tool_call_id="call_1"),
    ]

    converted = chat_messages(prompt)

    assert [message["content"] for message in converted] == [
        text_of(system),
        text_of(user),
        assistant,
        text_of(tool),
    ]
    assert [message["role"] for message in converted] == ["system", "user", "assistant", "tool"]
    assert "reasoning" not in converted[2]
    assert completion_prompt(prompt) == "\n\n".join(
        converted_message["content"] for converted_message in converted
    )


# --- Together's stream → Dify chunks --------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)
deltas = st.fixed_dictionaries(
    {},
    optional={
        "role": st.sampled_from(["assistant", None]) | json_values,
        "content": texts | json_values,
        "reasoning": texts | json_values,
        "tool_calls": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "index": st.integers(-2, 3) | json_values,
                    "id": texts,
                    "type": st.just("function"),
                    "function": st.fixed_dictionaries(
                        {}, optional={"name": texts | json_values, "arguments": texts | json_values}
                    ),
                },
            ),
            max_size=2,
        )
        | json_values,
    },
)
chunks = st.fixed_dictionaries(
    {},
    optional={
        "id": texts,
        "choices": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "index": st.integers(0, 2) | json_values,
                    "delta": deltas | json_values,
                    "finish_reason": st.sampled_from(["stop", "length", "tool_calls", None]) | json_values,
                },
            ),
            max_size=2,
        )
        | json_values,
        "usage": st.fixed_dictionaries(
            {},
            optional={"prompt_tokens": st.integers(-1, 99) | json_values, "completion_tokens": json_values},
        )
        | json_values,
        "warnings": json_values,
    },
)


@cache
def llm() -> tuple[Any, str]:
    return build("llm"), first_model("llm")


def invoke_stream(body: bytes) -> list[Any]:
    model, name = llm()
    with respx.mock:
        respx.post(f"{DEFAULT_ENDPOINT_URL}/chat/completions").mock(
            return_value=httpx.Response(200, content=body)
        )
        prompt = [UserPromptMessage(content="hi")]
        return list(model.invoke(name, {"api_key": API_KEY}, prompt, {}, None, None, True, None))


class _Collecting(ResponseWriter):
    def __init__(self) -> None:
        self.written: list[str] = []

    def write(self, data: str) -> None:
        self.written.append(data)

    def done(self) -> None:
        pass


def as_dify_reads_it(chunks: list[Any]) -> str:
    """The text of the chunks after the runtime's serialisation for Dify (which refuses a lone
    surrogate), parsed back as the daemon parses it."""
    writer = _Collecting()
    for chunk in chunks:
        writer.session_message(session_id="s", data=writer.stream_object(data=chunk))
    messages = [json.loads(line) for line in writer.written if line.strip()]
    return "".join(message["data"]["data"]["delta"]["message"]["content"] for message in messages)


def text_events(pieces: list[str]) -> list[dict[str, Any]]:
    events = [{"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]} for piece in pieces]
    return [*events, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]


# The classes Dify maps by name; anything else reaches it as an unknown error.
DIFY_ERRORS = (
    InvokeBadRequestError,
    InvokeAuthorizationError,
    InvokeRateLimitError,
    InvokeConnectionError,
    InvokeServerUnavailableError,
)


@FUZZ
@given(events=st.lists(chunks, max_size=5), done=st.booleans())
def test_any_stream_gives_chunks_or_an_invoke_error(events: list[dict], done: bool) -> None:
    try:
        result = invoke_stream(sse_body(events, done))
    except InvokeError as error:
        assert type(error) in DIFY_ERRORS, f"{type(error).__name__}: {error}"
        assert API_KEY not in str(error)
        return
    assert result, "a stream that succeeds ends with a final chunk"
    for chunk in result:
        assert isinstance(chunk.delta.message.content, str | list)


WEATHER_CALL = {"index": 0, "id": "call_a", "type": "function"}


WEATHER_CALL = {"index": 0, "id": "call_a", "type": "function"}
SENT = "Together AI sent a tool call whose "


@pytest.mark.parametrize(
    ("tool_calls", "message"),
    [
        ([{**WEATHER_CALL, "function": "get_weather"}], SENT + 'function is not an object: "get_weather"'),
        (
            [{**WEATHER_CALL, "function": {"name": "get_weather", "arguments": ["Oslo"]}}],
            SENT + 'arguments is not a string or an object: ["Oslo"]',
        ),
        (
            [{**WEATHER_CALL, "function": {"name": "get_weather", "arguments": '["Oslo"]'}}],
            'Together AI sent tool call 0 (get_weather) with arguments that are not a JSON object: ["Oslo"]',
        ),
        (
            [{**WEATHER_CALL, "function": {"name": "get_weather", "arguments": '{"city"'}}],
            'Together AI sent tool call 0 (get_weather) with arguments that are not a JSON object: {"city"',
        ),
        (
            [{**WEATHER_CALL, "function": {"name": ["get_weather"], "arguments": "{}"}}],
            SENT + 'name is not a string: ["get_weather"]',
        ),
        ([{**WEATHER_CALL, "id": 7, "function": {"name": "get_weather"}}], SENT + "id is not a string: 7"),
        (
            [{**WEATHER_CALL, "index": "first", "function": {"name": "get_weather"}}],
            SENT + "index is 'first'",
        ),
        (
            [{**WEATHER_CALL, "index": 0.5, "function": {"name": "get_weather"}}],
            SENT + "index is 0.5",
        ),
        (["get_weather"], "Together AI sent tool_calls that are not a list of objects: ['get_weather']"),
        (
            {**WEATHER_CALL, "function": {"name": "get_weather"}},
            "Together AI sent tool_calls that are not a list of objects: {'index': 0,",
        ),
    ],
    ids=["function-string", "arguments-list", "arguments-json-list", "arguments-unfinished", "name-list",
         "id-number", "index-string", "index-fraction", "call-string", "calls-object"],
)  # fmt: skip
def test_a_malformed_tool_call_is_a_server_error_naming_it(tool_calls: Any, message: str) -> None:
    events = [{"choices": [{"index": 0, "delta": {"tool_calls": tool_calls}, "finish_reason": "tool_calls"}]}]

    with pytest.raises(InvokeServerUnavailableError) as raised:
        invoke_stream(sse_body(events))

    assert str(raised.value).startswith(message)


@FUZZ
@given(pieces=st.lists(texts.filter(lambda text: "<" not in text), min_size=1, max_size=6))
def test_streamed_text_round_trips_unchanged(pieces: list[str]) -> None:
    result = invoke_stream(sse_body(text_events(pieces)))

    assert "".join(chunk.delta.message.content for chunk in result) == "".join(pieces)
    assert result[-1].delta.finish_reason == "stop"


def utf16_pieces(text: str, cuts: list[int]) -> list[str]:
    """`text` cut at UTF-16 code units, so a piece may end or begin with half a character."""
    units = text.encode("utf-16-le")
    points = sorted({0, len(units), *(2 * (cut % (len(units) // 2 + 1)) for cut in cuts)})
    return [units[a:b].decode("utf-16-le", "surrogatepass") for a, b in zip(points, points[1:], strict=False)]


@FUZZ
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="<"), max_size=20),
    cuts=st.lists(st.integers(min_value=0), max_size=6),
)
def test_characters_split_between_events_reach_dify_whole(text: str, cuts: list[int]) -> None:
    # json.dumps escapes each half of a split character as `\udXXX`, as a server that writes
    # ASCII-only JSON does.
    result = invoke_stream(sse_body(text_events(utf16_pieces(text, cuts))))

    assert as_dify_reads_it(result) == text


def test_an_emoji_in_two_events_from_a_server_is_one_emoji(fake_together: FakeTogether, credentials: dict) -> None:
    frames = [
        b'data: {"choices":[{"index":0,"delta":{"content":"smile \\ud83d"}}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"\\ude00 ok"},"finish_reason":"stop"}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    fake_together.route("POST", "/chat/completions", Reply(200, {"Content-Type": "text/event-stream"}, chunks=frames))
    model, name = llm()

    result = list(model.invoke(name, credentials, [UserPromptMessage(content="hi")], {}, None, None, True))

    assert as_dify_reads_it(result) == "smile \U0001f600 ok"


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["a \ud83d", "b"], "a \ufffdb"),  # a first half followed by something else
        (["a \ude00 b"], "a \ufffd b"),  # a second half alone
        (["ends with \ud83d"], "ends with \ufffd"),  # a first half at the very end
    ],
)
def test_a_lone_half_becomes_the_replacement_character(pieces: list[str], expected: str) -> None:
    assert as_dify_reads_it(invoke_stream(b"".join(sse_frames(text_events(pieces))))) == expected
