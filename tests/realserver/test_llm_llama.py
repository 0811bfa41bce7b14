"""Chat against a real OpenAI-compatible server (llama.cpp serving SmolLM2-135M) via the SDK's invoke path.

llama.cpp answers under any model name, so the requests use a predefined model id: its YAML
supplies the parameter rules the SDK validates against and the prices usage is charged at. At
temperature 0 with a fixed seed llama.cpp's answers repeat exactly, which the comparisons use.
llama.cpp sends streamed usage in a last chunk with empty `choices`, as Together may.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from dify_plugin import LargeLanguageModel
from dify_plugin.entities.model.llm import LLMResultChunk, LLMUsage
from dify_plugin.entities.model.message import SystemPromptMessage, UserPromptMessage
from dify_plugin.entities.model.schema import AIModelEntity

jsonschema = pytest.importorskip("jsonschema")

from models.llm import llm as llm_module
from tools.llama_server import LlamaServer

ROOT = Path(__file__).resolve().parents[2]
MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"  # a model without reasoning, as SmolLM2 is
CUSTOM = "acme/smollm2-fine-tune"  # not in the catalog: its schema comes from the credentials
GREEDY = {"temperature": 0.0, "seed": 7}
DAYS = "List the days of the week, one per line."
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def chat_model() -> LargeLanguageModel:
    """The plugin's LLM class with the predefined schemas, as the SDK's model factory builds it."""
    [cls] = [
        value
        for value in vars(llm_module).values()
        if isinstance(value, type)
        and issubclass(value, LargeLanguageModel)
        and value.__module__ == llm_module.__name__
    ]
    paths = (ROOT / "models" / "llm").glob("*.yaml")
    schemas = [AIModelEntity(**yaml.safe_load(p.read_text())) for p in paths if p.name[0] != "_"]
    return cls(schemas)


@pytest.fixture
def credentials(llama: LlamaServer) -> dict[str, str]:
    return {"api_key": "local-llama-key", "endpoint_url": llama.base_url}


def ask(
    credentials: dict,
    text: str,
    parameters: dict,
    *,
    stream: bool = True,
    stop: list[str] | None = None,
    model: str = MODEL,
) -> list[LLMResultChunk]:
    messages = [SystemPromptMessage(content="You are a helpful assistant."), UserPromptMessage(content=text)]
    return list(
        chat_model().invoke(model, credentials, messages, {**GREEDY, **parameters}, stop=stop, stream=stream)
    )


def text_of(chunks: list[LLMResultChunk]) -> str:
    assert all(isinstance(chunk.delta.message.content, str) for chunk in chunks), "a chunk's content is None"
    return "".join(chunk.delta.message.content for chunk in chunks)


def usage_of(chunks: list[LLMResultChunk]) -> LLMUsage:
    [usage] = [chunk.delta.usage for chunk in chunks if chunk.delta.usage is not None]
    return usage


def test_streamed_chat_arrives_in_pieces_with_priced_usage(credentials: dict) -> None:
    chunks = ask(credentials, "Say hello to the llamas.", {"max_tokens": 40})

    assert len(chunks) > 2
    assert text_of(chunks).strip()
    assert chunks[-1].delta.finish_reason in {"stop", "length"}
    usage = usage_of(chunks)
    assert usage.prompt_tokens > 0
    assert 0 < usage.completion_tokens <= 40
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.total_price > 0 and usage.currency == "USD"
    assert usage.prompt_unit_price == Decimal("1.04")  # Llama 3.3 70B Turbo, USD per 1M tokens


def test_blocking_chat_gives_the_streamed_answer_in_one_chunk(credentials: dict) -> None:
    streamed = ask(credentials, DAYS, {"max_tokens": 60})
    [blocking] = ask(credentials, DAYS, {"max_tokens": 60}, stream=False)

    assert blocking.delta.message.content == text_of(streamed)
    assert blocking.delta.usage is not None
    assert blocking.delta.usage.completion_tokens == usage_of(streamed).completion_tokens > 0
    assert blocking.delta.usage.prompt_tokens == usage_of(streamed).prompt_tokens > 0


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_max_tokens_cuts_the_answer_with_finish_reason_length(credentials: dict, stream: bool) -> None:
    story = "Write a long story about a llama who learns to fly."

    chunks = ask(credentials, story, {"max_tokens": 8}, stream=stream)

    assert usage_of(chunks).completion_tokens == 8
    if stream:  # a blocking LLMResult has no finish reason in Dify's entities
        assert chunks[-1].delta.finish_reason == "length"


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_stop_sequences_end_the_answer_before_the_stop_string(credentials: dict, stream: bool) -> None:
    full = text_of(ask(credentials, DAYS, {"max_tokens": 60}))
    assert "Wednesday" in full, f"precondition: the unconstrained answer names Wednesday: {full!r}"

    stopped = ask(credentials, DAYS, {"max_tokens": 60}, stream=stream, stop=["Wednesday"])

    assert text_of(stopped) == full[: full.index("Wednesday")]
    if stream:
        assert stopped[-1].delta.finish_reason == "stop"


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_json_schema_output_parses_and_follows_the_schema(credentials: dict, stream: bool) -> None:
    parameters = {"response_format": "json_schema", "json_schema": json.dumps(PERSON), "max_tokens": 120}

    chunks = ask(credentials, "Invent a person.", parameters, stream=stream)

    person = json.loads(text_of(chunks))
    jsonschema.validate(person, PERSON)


def test_json_object_output_is_a_json_object(credentials: dict) -> None:
    parameters = {"response_format": "json_object", "max_tokens": 120}

    chunks = ask(credentials, "Return a JSON object with keys name and color for a fruit.", parameters, stream=False)

    assert isinstance(json.loads(text_of(chunks)), dict)


def test_customizable_chat_model_follows_a_json_schema(credentials: dict) -> None:
    custom = {
        **credentials,
        "mode": "chat",
        "context_size": "2048",
        "max_tokens_to_sample": "256",
        "structured_output_support": "supported",
    }
    parameters = {"response_format": "json_schema", "json_schema": json.dumps(PERSON), "max_tokens": 120}

    chunks = ask(custom, "Invent a person.", parameters, stream=False, model=CUSTOM)

    jsonschema.validate(json.loads(text_of(chunks)), PERSON)
    assert usage_of(chunks).completion_tokens > 0
    assert usage_of(chunks).total_price == 0  # a customizable model has no price list


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_customizable_completion_mode_answers_from_completions(credentials: dict, stream: bool) -> None:
    custom = {**credentials, "mode": "completion", "context_size": "2048", "max_tokens_to_sample": "256"}
    # Completion-mode apps send the rendered prompt as one message; the model continues it.
    opening = [UserPromptMessage(content="Once upon a time, in a village high in the Andes,")]

    chunks = list(chat_model().invoke(CUSTOM, custom, opening, {**GREEDY, "max_tokens": 8}, stream=stream))

    assert text_of(chunks).strip()
    assert usage_of(chunks).completion_tokens == 8
    if stream:
        assert chunks[-1].delta.finish_reason == "length"
