"""Fuzzing the LLM's two translations (hypothesis): Dify messages → Together, Together's stream → Dify.

Properties: whatever the input, only `InvokeError` escapes; text survives both ways unchanged.
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
from dify_plugin.errors.model import InvokeError

respx = pytest.importorskip("respx")
pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.together.client import DEFAULT_ENDPOINT_URL
from tests.conftest import API_KEY
from tests.faults.adapters import build, first_model, model_class

pytestmark = pytest.mark.skipif(model_class("llm") is None, reason="models/llm is still a placeholder")

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


@FUZZ
@given(
    system=text_contents,
    user=text_contents,
    assistant=texts.filter(lambda text: "<think>" not in text),
    tool=text_contents,
)
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


def sse(events: list[Any], done: bool) -> bytes:
    body = b"".join(f"data: {json.dumps(event)}\n\n".encode() for event in events)
    return body + (b"data: [DONE]\n\n" if done else b"")


@FUZZ
@given(events=st.lists(chunks, max_size=5), done=st.booleans())
def test_any_stream_gives_chunks_or_an_invoke_error(events: list[dict], done: bool) -> None:
    try:
        result = invoke_stream(sse(events, done))
    except InvokeError as error:
        assert API_KEY not in str(error)
        return
    assert result, "a stream that succeeds ends with a final chunk"
    for chunk in result:
        assert isinstance(chunk.delta.message.content, str | list)


@FUZZ
@given(pieces=st.lists(texts.filter(lambda text: "<" not in text), min_size=1, max_size=6))
def test_streamed_text_round_trips_unchanged(pieces: list[str]) -> None:
    events = [
        {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]} for piece in pieces
    ]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})

    result = invoke_stream(sse(events, done=True))

    assert "".join(chunk.delta.message.content for chunk in result) == "".join(pieces)
    assert result[-1].delta.finish_reason == "stop"
