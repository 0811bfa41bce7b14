"""Chat models on the real API: streamed and blocking text, a tool-call round, structured output
and reasoning. Small prompts and `max_tokens`, the cheapest models that show each behaviour."""

from __future__ import annotations

import json

import pytest
from dify_plugin.entities.model.llm import LLMResultChunk
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    PromptMessage,
    PromptMessageTool,
    SystemPromptMessage,
    ToolPromptMessage,
    UserPromptMessage,
)

jsonschema = pytest.importorskip("jsonschema")

from models.llm.llm import TogetherLargeLanguageModel
from tests.support.tts_audio import predefined_schemas

LLAMA = "meta-llama/Llama-3.3-70B-Instruct-Turbo"  # no reasoning: plain text, tools, structured output
REASONER = "openai/gpt-oss-120b"  # always reasons, with effort levels
CAPITAL = [UserPromptMessage(content="What is the capital of France? Answer with the city name only.")]
WEATHER = PromptMessageTool(
    name="get_weather",
    description="The current weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CAPITAL_SCHEMA = {
    "type": "object",
    "properties": {"country": {"type": "string"}, "capital": {"type": "string"}},
    "required": ["country", "capital"],
    "additionalProperties": False,
}


def chat_model() -> TogetherLargeLanguageModel:
    """The chat model class with every predefined schema, as the SDK builds it."""
    return TogetherLargeLanguageModel(predefined_schemas("llm"))


def ask(
    model: str,
    credentials: dict,
    messages: list[PromptMessage],
    parameters: dict,
    *,
    tools: list[PromptMessageTool] | None = None,
    stream: bool = True,
) -> list[LLMResultChunk]:
    """The chunks of one call through the SDK's `invoke`, as Dify receives them."""
    return list(
        chat_model().invoke(model, credentials, messages, parameters, tools, None, stream, "live-test")
    )


def text_of(chunks: list[LLMResultChunk]) -> str:
    contents = [chunk.delta.message.content for chunk in chunks]
    assert all(isinstance(content, str) for content in contents), contents
    return "".join(contents)  # type: ignore[arg-type]


def test_credentials_validate(live_credentials: dict) -> None:
    chat_model().validate_credentials(LLAMA, live_credentials)


def test_a_streamed_answer_has_text_and_priced_usage_once_at_the_end(live_credentials: dict) -> None:
    chunks = ask(LLAMA, live_credentials, CAPITAL, {"max_tokens": 10, "temperature": 0})

    assert "paris" in text_of(chunks).lower()
    last = chunks[-1]
    assert [chunk for chunk in chunks if chunk.delta.usage is not None] == [last]
    assert last.delta.finish_reason in ("stop", "length")
    assert last.delta.usage.prompt_tokens > 0 and last.delta.usage.completion_tokens > 0
    assert last.delta.usage.total_price > 0  # Together's counts, priced from the model YAML


def test_a_blocking_answer_has_text_and_usage(live_credentials: dict) -> None:
    [result] = ask(LLAMA, live_credentials, CAPITAL, {"max_tokens": 10, "temperature": 0}, stream=False)

    assert "paris" in text_of([result]).lower()
    assert result.delta.usage.prompt_tokens > 0 and result.delta.usage.completion_tokens > 0


def test_a_tool_call_arrives_whole_and_its_result_is_answered(live_credentials: dict) -> None:
    question = [
        SystemPromptMessage(content="Answer weather questions with the get_weather tool."),
        UserPromptMessage(content="What is the weather in Oslo right now?"),
    ]
    parameters = {"max_tokens": 200, "temperature": 0}

    chunks = ask(LLAMA, live_credentials, question, parameters, tools=[WEATHER])

    assert all(not chunk.delta.message.tool_calls for chunk in chunks[:-1]), "calls come once, at the end"
    [call] = chunks[-1].delta.message.tool_calls
    assert call.id and call.function.name == "get_weather"
    assert "oslo" in json.loads(call.function.arguments)["city"].lower()

    history = [
        *question,
        AssistantPromptMessage(content=text_of(chunks), tool_calls=[call]),
        ToolPromptMessage(
            content='{"condition": "snow", "celsius": -3}', tool_call_id=call.id, name="get_weather"
        ),
    ]
    [answer] = ask(LLAMA, live_credentials, history, parameters, tools=[WEATHER], stream=False)

    assert "snow" in text_of([answer]).lower()


def test_json_schema_output_parses_and_follows_the_schema(live_credentials: dict) -> None:
    parameters = {
        "response_format": "json_schema",
        "json_schema": json.dumps({"name": "capital", "schema": CAPITAL_SCHEMA, "strict": True}),
        "max_tokens": 100,
        "temperature": 0,
    }

    [result] = ask(LLAMA, live_credentials, CAPITAL, parameters, stream=False)

    answer = json.loads(text_of([result]))
    jsonschema.validate(answer, CAPITAL_SCHEMA)
    assert answer["capital"].lower() == "paris"


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_reasoning_is_shown_in_a_think_block_before_the_answer(live_credentials: dict, stream: bool) -> None:
    question = [UserPromptMessage(content="What is 17 + 25? Answer with the number only.")]

    chunks = ask(
        REASONER, live_credentials, question, {"reasoning_effort": "low", "max_tokens": 600}, stream=stream
    )

    text = text_of(chunks)
    assert text.startswith("<think>\n"), text[:200]
    thinking, _, answer = text.partition("\n</think>")
    assert thinking.removeprefix("<think>\n").strip(), "the think block is not empty"
    assert "42" in answer
    assert "<think>" not in answer
