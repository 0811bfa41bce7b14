"""Every request body the LLM builds validates against Together's spec, and so does every fixture.

Request bodies are checked against `ChatCompletionRequest` / `CompletionRequest` with extra
top-level fields closed (the spec leaves them open), `stream_options` aside: it is not in the
spec, yet some models report streamed usage only with it. The answers the unit tests serve
(tests/support/llm_fakes.py) are checked against `ChatCompletionChunk`, `ChatCompletionResponse`,
`CompletionChunk` and `CompletionResponse`, reading the spec's OpenAPI-3.0 `nullable` as JSON
Schema's null type.

Not covered by the spec and so not sent here: `reasoning_effort: "max"`, which some predefined
models accept beyond the spec's low/medium/high.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    AudioPromptMessageContent,
    DeveloperPromptMessage,
    ImagePromptMessageContent,
    PromptMessageTool,
    SystemPromptMessage,
    TextPromptMessageContent,
    ToolPromptMessage,
    UserPromptMessage,
    VideoPromptMessageContent,
)

from models.llm.llm import TogetherLargeLanguageModel
from tests.support.fake_together import FakeTogether, Recorded, Reply
from tests.support.llm_fakes import (
    CREDENTIALS,
    CUSTOM,
    CUSTOM_CREDENTIALS,
    MODEL,
    chunk,
    completion_chunk,
    completion_response,
    llm,
    response,
    text_chunks,
    tool_delta,
    tool_fragment,
    usage,
)
from tests.support.openapi import OpenAPI

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVQI12P4z8AAAAMBAQAY3Y2wAAAAAElFTkSuQmCC"
WEATHER = PromptMessageTool(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
# Written as on the wire; the SDK entity reads it as a ToolCall.
CALL_OSLO = {
    "id": "call_0",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
}
PERSON = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
ALL_PARAMETERS = {
    "temperature": 0.7,
    "top_p": 0.9,
    "top_k": 40,
    "min_p": 0.05,
    "repetition_penalty": 1.05,
    "presence_penalty": 0.2,
    "frequency_penalty": 0.2,
    "max_tokens": 256,
    "seed": 11,
}
HISTORY = [
    SystemPromptMessage(content="Be helpful."),
    DeveloperPromptMessage(content="Answer in English."),
    UserPromptMessage(
        content=[
            TextPromptMessageContent(data="What is here?"),
            ImagePromptMessageContent(
                base64_data=PIXEL,
                format="png",
                mime_type="image/png",
                detail=ImagePromptMessageContent.DETAIL.HIGH,
            ),
            ImagePromptMessageContent(
                url="https://example.com/cat.jpg", format="jpg", mime_type="image/jpeg"
            ),
            VideoPromptMessageContent(
                url="https://example.com/clip.mp4", format="mp4", mime_type="video/mp4"
            ),
            AudioPromptMessageContent(url="https://example.com/a.mp3", format="mp3", mime_type="audio/mpeg"),
            AudioPromptMessageContent(base64_data="UklGRg==", format="wav", mime_type="audio/wav"),
        ],
        name="ada",
    ),
    AssistantPromptMessage(
        content="<think>\nplan\n</think>Checking.",
        tool_calls=[CALL_OSLO],
    ),
    ToolPromptMessage(content="Snow", tool_call_id="call_0", name="get_weather"),
    AssistantPromptMessage(content=""),
    UserPromptMessage(content="Thanks."),
]


def answer(streamed: list[dict[str, Any]], whole: dict[str, Any]) -> Callable[[Recorded], Reply]:
    """A handler that answers each request as an event stream or whole, as it asked."""

    def reply(request: Recorded) -> Reply:
        return Reply.sse(streamed) if request.json().get("stream") else Reply.json(whole)

    return reply


def chat_bodies(together: FakeTogether) -> list[dict[str, Any]]:
    """Every shape of chat request the model builds."""
    structured = [
        {"response_format": "json_object"},
        {"response_format": "json_schema", "json_schema": json.dumps(PERSON)},
        {
            "response_format": "json_schema",
            "json_schema": json.dumps(
                {"name": "person", "schema": PERSON, "strict": True, "description": "A person"}
            ),
        },
        {"response_format": "text"},
    ]
    reasoning = [
        {"reasoning": True},
        {"reasoning": False},
        *({"reasoning_effort": level} for level in ("low", "medium", "high")),
    ]
    whole = response("{}", usage=usage(3, 1))
    together.route("POST", "/chat/completions", answer(text_chunks("ok", usage=usage(3, 1)), whole))
    credentials = {**CREDENTIALS, "endpoint_url": together.base_url}
    model = llm()
    for stream in (True, False):
        list(model.invoke(MODEL, credentials, HISTORY, ALL_PARAMETERS, [WEATHER], ["\n\n", "END"], stream))
        for extra in [*structured, *reasoning]:
            list(model.invoke(MODEL, credentials, HISTORY[-1:], extra, None, None, stream))
    model.validate_credentials(MODEL, credentials)
    bodies = [request.json() for request in together.requests]
    assert len(bodies) == 2 * (1 + len(structured) + len(reasoning)) + 1
    return bodies


def completion_bodies(together: FakeTogether) -> list[dict[str, Any]]:
    """Every shape of completion request the model builds."""
    together.route(
        "POST",
        "/completions",
        answer(
            [completion_chunk("ok", finish_reason="eos", usage=usage(3, 1))],
            completion_response("ok", usage=usage(3, 1)),
        ),
    )
    credentials = {**CUSTOM_CREDENTIALS, "mode": "completion", "endpoint_url": together.base_url}
    model = TogetherLargeLanguageModel([])
    prompt = [SystemPromptMessage(content="Complete:"), UserPromptMessage(content="Once upon a time")]
    for stream in (True, False):
        list(model.invoke(CUSTOM, credentials, prompt, ALL_PARAMETERS, None, ["\n"], stream))
    model.validate_credentials(CUSTOM, credentials)
    bodies = [request.json() for request in together.requests]
    assert len(bodies) == 3
    return bodies


@pytest.mark.parametrize(
    ("schema", "bodies"),
    [("ChatCompletionRequest", chat_bodies), ("CompletionRequest", completion_bodies)],
    ids=["chat", "completion"],
)
def test_every_request_validates(
    openapi: OpenAPI,
    fake_together: FakeTogether,
    schema: str,
    bodies: Callable[[FakeTogether], list[dict[str, Any]]],
) -> None:
    check = openapi.validator(schema, closed=True)
    for body in bodies(fake_together):
        body.pop("stream_options", None)
        errors = [error.message for error in check.iter_errors(body)]
        assert not errors, (errors, body)


def test_the_request_validator_rejects_what_together_would(openapi: OpenAPI) -> None:
    check = openapi.validator("ChatCompletionRequest", closed=True)
    user = {"role": "user", "content": "hi"}
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert check.is_valid({"model": MODEL, "messages": [user]})
    assert not check.is_valid({"model": MODEL, "messages": [user], "user": "u1"})
    assert not check.is_valid(
        {"model": MODEL, "messages": [{"role": "assistant", "content": "", "tool_calls": [call]}]}
    )
    assert not check.is_valid(
        {"model": MODEL, "messages": [{"role": "system", "content": [{"type": "text", "text": "x"}]}]}
    )
    assert not check.is_valid(
        {"model": MODEL, "messages": [user], "response_format": {"type": "json_schema"}}
    )
    assert not check.is_valid({"model": MODEL, "messages": [user], "reasoning_effort": "extreme"})


def test_the_fixtures_are_shaped_as_the_spec_says(openapi: OpenAPI) -> None:
    chunks = [
        chunk({"content": "Hi"}),
        chunk({"reasoning": "hmm"}),
        chunk(tool_delta(tool_fragment(0, "call_a", "get_weather", '{"ci')), finish_reason="tool_calls"),
        chunk({"content": "."}, finish_reason="eos", usage=usage(5, 2)),
        chunk(None, usage=usage(5, 2)),
    ]
    for event in chunks:
        openapi.validator("ChatCompletionChunk").validate(event)
    calls = [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    whole = openapi.validator("ChatCompletionResponse")
    whole.validate(response("Paris.", usage=usage(5, 2), reasoning="r"))
    whole.validate(response(None, finish_reason="tool_calls", tool_calls=calls))
    openapi.validator("CompletionChunk").validate(completion_chunk("Hi"))
    openapi.validator("CompletionChunk").validate(
        completion_chunk(".", finish_reason="eos", usage=usage(3, 1))
    )
    openapi.validator("CompletionResponse").validate(completion_response("Hi", usage=usage(3, 1)))
