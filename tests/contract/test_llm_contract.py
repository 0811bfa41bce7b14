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
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import respx
import yaml
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    DeveloperPromptMessage,
    PromptMessageTool,
    SystemPromptMessage,
    TextPromptMessageContent,
    ToolPromptMessage,
    UserPromptMessage,
)

from models.llm.llm import TogetherLargeLanguageModel
from tests.support.llm_fakes import (
    CHAT_URL,
    COMPLETIONS_URL,
    CREDENTIALS,
    CUSTOM,
    CUSTOM_CREDENTIALS,
    MODEL,
    chunk,
    completion_chunk,
    completion_response,
    llm,
    response,
    sse,
    text_chunks,
    tool_delta,
    tool_fragment,
    usage,
)

SPEC = Path(__file__).resolve().parents[3] / "shared" / "together-openapi.yaml"
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVQI12P4z8AAAAMBAQAY3Y2wAAAAAElFTkSuQmCC"
WEATHER = PromptMessageTool(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
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
    "safety_model": "meta-llama/Llama-Guard-4-12B",
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.is_file():
        pytest.skip(f"the Together OpenAPI spec is not at {SPEC}")
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


def validator(spec: dict[str, Any], name: str, *, closed: bool = False) -> jsonschema.protocols.Validator:
    """A validator for one component schema, `nullable` read as a null type, optionally closed."""
    components = _nullable_as_null(spec["components"])
    schema = dict(components["schemas"][name])
    if closed:
        schema["additionalProperties"] = False
    return jsonschema.Draft202012Validator({**schema, "components": components})


def _nullable_as_null(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable_as_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    members = node.get("allOf", [])
    if {"nullable": True} in members:  # allOf [X, {nullable: true}] means "X or null"
        others = [member for member in members if member != {"nullable": True}]
        rest = {key: value for key, value in node.items() if key != "allOf"}
        return {"anyOf": [{"type": "null"}, _nullable_as_null({**rest, "allOf": others})]}
    node = {key: _nullable_as_null(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [{"type": "null"}, node]}
    return node


def part(kind: str, **fields: str) -> dict[str, str]:
    return {
        "type": kind,
        "format": fields.pop("format", "bin"),
        "mime_type": fields.pop("mime_type", ""),
        **fields,
    }


HISTORY = [
    SystemPromptMessage(content="Be helpful."),
    DeveloperPromptMessage(content="Answer in English."),
    UserPromptMessage(
        content=[
            TextPromptMessageContent(data="What is here?"),
            part("image", base64_data=PIXEL, format="png", mime_type="image/png", detail="high"),
            part("image", url="https://example.com/cat.jpg", format="jpg", mime_type="image/jpeg"),
            part("video", url="https://example.com/clip.mp4", format="mp4", mime_type="video/mp4"),
            part("audio", url="https://example.com/a.mp3", format="mp3", mime_type="audio/mpeg"),
            part("audio", base64_data="UklGRg==", format="wav", mime_type="audio/wav"),
        ],
        name="ada",
    ),
    AssistantPromptMessage(
        content="<think>\nplan\n</think>Checking.",
        tool_calls=[
            AssistantPromptMessage.ToolCall(
                id="call_0",
                type="function",
                function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                    name="get_weather", arguments='{"city":"Oslo"}'
                ),
            )
        ],
    ),
    ToolPromptMessage(content="Snow", tool_call_id="call_0", name="get_weather"),
    AssistantPromptMessage(content=""),
    UserPromptMessage(content="Thanks."),
]


def chat_bodies() -> list[dict[str, Any]]:
    """Every shape of chat request the model builds."""
    bodies: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        if json.loads(request.content).get("stream"):
            return sse(text_chunks("ok", usage=usage(3, 1)))
        return httpx.Response(200, json=response("{}", usage=usage(3, 1)))

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
    model = llm()
    with respx.mock:
        respx.post(CHAT_URL).mock(side_effect=record)
        for stream in (True, False):
            list(
                model.invoke(MODEL, CREDENTIALS, HISTORY, ALL_PARAMETERS, [WEATHER], ["\n\n", "END"], stream)
            )
            for extra in [*structured, *reasoning]:
                list(model.invoke(MODEL, CREDENTIALS, HISTORY[-1:], extra, None, None, stream))
        model.validate_credentials(MODEL, CREDENTIALS)
    return bodies


def completion_bodies() -> list[dict[str, Any]]:
    """Every shape of completion request the model builds."""
    bodies: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        if json.loads(request.content).get("stream"):
            return sse([completion_chunk("ok", finish_reason="eos", usage=usage(3, 1))])
        return httpx.Response(200, json=completion_response("ok", usage=usage(3, 1)))

    credentials = {**CUSTOM_CREDENTIALS, "mode": "completion"}
    model = TogetherLargeLanguageModel([])
    prompt = [SystemPromptMessage(content="Complete:"), UserPromptMessage(content="Once upon a time")]
    with respx.mock:
        respx.post(COMPLETIONS_URL).mock(side_effect=record)
        for stream in (True, False):
            list(model.invoke(CUSTOM, credentials, prompt, ALL_PARAMETERS, None, ["\n"], stream))
        model.validate_credentials(CUSTOM, credentials)
    return bodies


def test_every_chat_request_validates(spec: dict[str, Any]) -> None:
    check = validator(spec, "ChatCompletionRequest", closed=True)
    bodies = chat_bodies()

    assert len(bodies) == 2 * (1 + 4 + 5) + 1
    for body in bodies:
        body.pop("stream_options", None)
        errors = [error.message for error in check.iter_errors(body)]
        assert not errors, (errors, body)


def test_every_completion_request_validates(spec: dict[str, Any]) -> None:
    check = validator(spec, "CompletionRequest", closed=True)
    bodies = completion_bodies()

    assert len(bodies) == 3
    for body in bodies:
        body.pop("stream_options", None)
        errors = [error.message for error in check.iter_errors(body)]
        assert not errors, (errors, body)


def test_the_request_validator_rejects_what_together_would(spec: dict[str, Any]) -> None:
    check = validator(spec, "ChatCompletionRequest", closed=True)
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


def test_the_fixtures_are_shaped_as_the_spec_says(spec: dict[str, Any]) -> None:
    chunks = [
        chunk({"content": "Hi"}),
        chunk({"reasoning": "hmm"}),
        chunk(tool_delta(tool_fragment(0, "call_a", "get_weather", '{"ci')), finish_reason="tool_calls"),
        chunk({"content": "."}, finish_reason="eos", usage=usage(5, 2)),
        chunk(None, usage=usage(5, 2)),
    ]
    for event in chunks:
        validator(spec, "ChatCompletionChunk").validate(event)
    calls = [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    validator(spec, "ChatCompletionResponse").validate(response("Paris.", usage=usage(5, 2), reasoning="r"))
    validator(spec, "ChatCompletionResponse").validate(
        response(None, finish_reason="tool_calls", tool_calls=calls)
    )
    validator(spec, "CompletionChunk").validate(completion_chunk("Hi"))
    validator(spec, "CompletionChunk").validate(completion_chunk(".", finish_reason="eos", usage=usage(3, 1)))
    validator(spec, "CompletionResponse").validate(completion_response("Hi", usage=usage(3, 1)))
