"""Together chat answers shaped as the spec's ChatCompletionChunk / ChatCompletionResponse (and the
completion equivalents), respx helpers that serve them, and the LLM model built as the SDK builds it.

Tests invoke through the SDK's public `invoke`, which drops every parameter the model's schema does
not declare; `MODEL` is therefore a predefined test schema built from the customizable schema with
every switch on (all parameter rules the code reads) plus prices, so usage is priced.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
from dify_plugin.entities.model import FetchFrom, ParameterRule, PriceConfig
from dify_plugin.entities.model.llm import LLMResultChunk

from models.llm.llm import TogetherLargeLanguageModel
from models.llm.schema import chat_rules, customizable_schema
from tests.conftest import API_KEY
from tests.support.sse import sse_frames

if TYPE_CHECKING:  # only an annotation: the fixtures must load where respx is not installed
    import respx

BASE = "https://api.together.ai/v1"
CHAT_URL = f"{BASE}/chat/completions"
COMPLETIONS_URL = f"{BASE}/completions"
MODEL = "test/priced-chat"  # the predefined test model: every rule, priced
CUSTOM = "acme/fine-tune-7b"  # a customizable model, described by CUSTOM_CREDENTIALS
INPUT_PRICE, OUTPUT_PRICE = Decimal("0.50"), Decimal("2.00")  # USD per 1M tokens
CREDENTIALS = {"api_key": API_KEY}
ALL_SWITCHES = {
    "mode": "chat",
    "context_size": "32768",
    "max_tokens_to_sample": "8192",
    "function_calling_type": "tool_call",
    "vision_support": "support",
    "structured_output_support": "supported",
    "reasoning_control": "switch",
}
CUSTOM_CREDENTIALS = {**CREDENTIALS, **ALL_SWITCHES}


def llm() -> TogetherLargeLanguageModel:
    """The model class with one predefined schema (`MODEL`), as the SDK's factory builds it."""
    schema = customizable_schema(MODEL, ALL_SWITCHES)
    more = chat_rules(8192, structured_output=False, reasoning="effort", preserved_thinking=True)
    extra = [
        ParameterRule(**rule) for rule in more if rule["name"] in ("reasoning_effort", "preserved_thinking")
    ]
    schema.parameter_rules = [*schema.parameter_rules, *extra]
    schema.fetch_from = FetchFrom.PREDEFINED_MODEL
    schema.pricing = PriceConfig(
        input=INPUT_PRICE, output=OUTPUT_PRICE, unit=Decimal("0.000001"), currency="USD"
    )
    return TogetherLargeLanguageModel([schema])


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _envelope(object_id: str, kind: str, model: str, **fields: Any) -> dict[str, Any]:
    """The fields every chat completion object and chunk starts with."""
    return {"id": object_id, "object": kind, "created": 1750000000, "model": model, **fields}


def chunk(
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    usage: dict | None = None,
    model: str = MODEL,
) -> dict:
    """A ChatCompletionChunk; `delta=None` gives the last chunk with empty `choices` (usage only)."""
    event = _envelope("chatcmpl-8b43a5cf", "chat.completion.chunk", model, choices=[])
    if delta is not None:
        event["choices"] = [
            {
                "index": 0,
                "delta": {"role": "assistant", **delta},
                "finish_reason": finish_reason,
                "logprobs": None,
                "seed": None,
            }
        ]
    if usage is not None:
        event["usage"] = usage
    return event


def text_chunks(*pieces: str, finish_reason: str = "eos", usage: dict | None = None) -> list[dict]:
    """Content deltas, the last carrying the finish reason (and usage when given)."""
    *head, last = pieces
    return [chunk({"content": piece}) for piece in head] + [
        chunk({"content": last}, finish_reason=finish_reason, usage=usage)
    ]


def tool_fragment(
    index: int, call_id: str | None = None, name: str | None = None, arguments: str = ""
) -> dict:
    """One streamed ToolChoice fragment; the first of a call carries id, type and name."""
    fragment: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if call_id is not None:
        fragment |= {"id": call_id, "type": "function"}
    if name is not None:
        fragment["function"]["name"] = name
    return fragment


def tool_delta(*fragments: dict) -> dict:
    return {"content": None, "tool_calls": list(fragments)}


def response(
    content: str | None,
    finish_reason: str = "eos",
    usage: dict | None = None,
    model: str = MODEL,
    **message: Any,
) -> dict:
    """A ChatCompletionResponse with one choice."""
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": content, **message},
        "finish_reason": finish_reason,
        "logprobs": None,
    }
    payload = _envelope("chatcmpl-9c1d", "chat.completion", model, prompt=[], choices=[choice])
    if usage is not None:
        payload["usage"] = usage
    return payload


def completion_chunk(text: str, finish_reason: str | None = None, usage: dict | None = None) -> dict:
    """A CompletionChunk (the finish reason and usage sit on the chunk, as the spec requires)."""
    return {
        "id": "cmpl-4f2a",
        "object": "completion.chunk",
        "created": 1750000000,
        "token": {"id": 42, "text": text, "logprob": -0.1, "special": False},
        "choices": [{"index": 0, "text": text}],
        "usage": usage,
        "finish_reason": finish_reason,
    }


def completion_response(text: str, finish_reason: str = "eos", usage: dict | None = None) -> dict:
    """A CompletionResponse with one choice."""
    return {
        "id": "cmpl-4f2b",
        "object": "text.completion",
        "created": 1750000000,
        "model": CUSTOM,
        "prompt": [],
        "choices": [{"text": text, "finish_reason": finish_reason, "seed": 7}],
        "usage": usage,
    }


def sse(events: Iterable[dict], done: bool = True) -> httpx.Response:
    """A 200 event stream, one network chunk per event, ending with `[DONE]` unless `done` is False."""
    pieces = sse_frames(events, done)
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Stream(pieces))


class _Stream(httpx.SyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces


def sent(route: respx.Route, call: int = -1) -> dict:
    """The JSON body of a recorded request."""
    return json.loads(route.calls[call].request.content)


def text_of(chunks: list[LLMResultChunk]) -> str:
    assert all(isinstance(c.delta.message.content, str) for c in chunks), "a chunk's content is None"
    return "".join(c.delta.message.content for c in chunks)  # type: ignore[misc]
