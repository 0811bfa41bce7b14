"""Together's chat and completion responses, streamed or whole, as Dify's LLM results.

Events are read as the spec shapes them (`ChatCompletionChunk`, `CompletionChunk`,
`ChatCompletionResponse`, `CompletionResponse`), tolerating what the spec leaves open:
reasoning under `reasoning` or `reasoning_content`, usage on the finish chunk or on a last
chunk with empty `choices`, a completion's finish reason on the choice or the chunk.

Streamed contract: every chunk's content is a string (never None); text chunks carry no finish
reason; one final chunk carries the held-back text, the whole tool calls, the mapped finish
reason and the usage. A stream cut off before `[DONE]` is accepted only when a finish reason
had already arrived; otherwise the `TruncatedStreamError` propagates. Events that arrived
together become one chunk, so a burst costs few Dify chunks, and no event waits for a later one.

At the token limit (`length`), streamed or blocking, every tool call whose arguments are whole
JSON still comes, and one the limit cut off raises `InvokeBadRequestError` naming Max Tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dify_plugin.entities.model.llm import LLMResult, LLMResultChunk, LLMResultChunkDelta, LLMUsage
from dify_plugin.entities.model.message import AssistantPromptMessage, PromptMessage
from dify_plugin.errors.model import InvokeServerUnavailableError

from models.llm.reply import ReplyAssembler
from models.together.client import TruncatedStreamError

logger = logging.getLogger(__name__)

# Together's FinishReason values that Dify names otherwise (`eos` is an ordinary stop); the rest pass.
FINISH_REASONS = {"eos": "stop", "function_call": "tool_calls"}

# (usage Together reported or None, all text shown) → priced usage
UsageFor = Callable[[Mapping[str, Any] | None, str], LLMUsage]


@dataclass(slots=True)
class Delta:
    """What one event (or a whole response) adds to the reply."""

    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[Mapping[str, Any]] | None = None
    finish_reason: str | None = None
    usage: Mapping[str, Any] | None = None


def chat_chunk_delta(event: Mapping[str, Any]) -> Delta:
    """The delta of a `ChatCompletionChunk` (its first choice; Dify asks for one)."""
    choice = _first_choice(event)
    delta = choice.get("delta")
    if type(delta) is not dict:
        delta = {}
    content, calls = _string(delta.get("content")), _tool_calls(delta.get("tool_calls"))
    return Delta(content, _reasoning(delta), calls, choice.get("finish_reason"), _usage(event))


def completion_chunk_delta(event: Mapping[str, Any]) -> Delta:
    """The delta of a `CompletionChunk`: the choice's text (or chat-like delta content)."""
    choice = _first_choice(event)
    text = choice.get("text")
    if not isinstance(text, str):
        text = (choice.get("delta") or {}).get("content")
    return Delta(
        content=_string(text),
        finish_reason=choice.get("finish_reason") or event.get("finish_reason"),
        usage=_usage(event),
    )


def chat_response_delta(payload: Mapping[str, Any]) -> Delta:
    """A whole `ChatCompletionResponse` as one delta; tool calls get their position as index."""
    choice = _required_choice(payload)
    message = choice.get("message")
    if type(message) is not dict:
        raise InvokeServerUnavailableError(f"Together AI answered a choice without a message: {message!r:.200}")
    calls = _tool_calls(message.get("tool_calls"))
    return Delta(
        content=_string(message.get("content")),
        reasoning=_reasoning(message),
        tool_calls=[{"index": i, **call} for i, call in enumerate(calls)] if calls else None,
        finish_reason=choice.get("finish_reason"),
        usage=_usage(payload),
    )


def completion_response_delta(payload: Mapping[str, Any]) -> Delta:
    """A whole `CompletionResponse` as one delta (its finish reason has nowhere to go: a blocking
    result carries none, and a completion has no tool calls it could cut off)."""
    choice = _required_choice(payload)
    return Delta(content=_string(choice.get("text")), usage=_usage(payload))


def stream_result(
    model: str,
    batches: Iterator[list[Mapping[str, Any]]],
    read: Callable[[Mapping[str, Any]], Delta],
    reply: ReplyAssembler,
    usage_for: UsageFor,
) -> Generator[LLMResultChunk, None, None]:
    """Dify chunks for Together's events, given as lists of the events that arrived together,
    assembled by the fresh `reply`; see the module docstring for the contract."""
    finish_reason: str | None = None
    usage: Mapping[str, Any] | None = None
    index = 0
    try:
        for events in batches:
            shown: list[str] = []
            texts: list[str] = []  # consecutive text-only deltas, added to the reply as one
            for event in events:
                if event.get("warnings"):
                    _log_warnings(event)
                delta = read(event)
                if delta.usage:
                    usage = delta.usage
                if delta.finish_reason is not None and type(delta.finish_reason) is not str:
                    raise InvokeServerUnavailableError(
                        f"Together AI sent a finish_reason that is not a string: {delta.finish_reason!r:.200}"
                    )
                if delta.finish_reason:
                    finish_reason = delta.finish_reason
                if delta.reasoning is None and delta.tool_calls is None:
                    if delta.content:
                        texts.append(delta.content)
                    continue
                if texts:
                    shown.append(reply.add("".join(texts)))
                    texts = []
                shown.append(reply.add(delta.content, delta.reasoning, delta.tool_calls))
            if texts:
                shown.append(reply.add("".join(texts)))
            text = "".join(shown)
            if text:
                yield _chunk(model, index, text)
                index += 1
    except TruncatedStreamError:
        if finish_reason is None:
            raise
        # Everything was sent; only the closing `[DONE]` (and perhaps a usage chunk) is missing.
        logger.warning("Together AI closed a finished stream without [DONE]; keeping the answer")
    text = reply.finish()
    calls = reply.tool_calls.calls(cut_off=finish_reason == "length")
    yield LLMResultChunk(
        model=model,
        delta=LLMResultChunkDelta(
            index=index,
            message=AssistantPromptMessage(content=text, tool_calls=calls),
            finish_reason="stop" if reply.stopped else FINISH_REASONS.get(finish_reason, finish_reason),
            usage=usage_for(usage, reply.text + _arguments(calls)),
        ),
    )


def whole_result(
    model: str,
    prompt_messages: list[PromptMessage],
    delta: Delta,
    reply: ReplyAssembler,
    usage_for: UsageFor,
) -> LLMResult:
    """The Dify result for a whole response, assembled by the fresh `reply` as a stream is."""
    text = reply.add(delta.content, delta.reasoning, delta.tool_calls) + reply.finish()
    calls = reply.tool_calls.calls(cut_off=delta.finish_reason == "length")
    return LLMResult(
        model=model,
        prompt_messages=prompt_messages,
        message=AssistantPromptMessage(content=text, tool_calls=calls),
        usage=usage_for(delta.usage, reply.text + _arguments(calls)),
    )


def reported_tokens(usage: Mapping[str, Any] | None) -> tuple[int, int] | None:
    """(prompt, completion) tokens from Together's `UsageData`, or None when it has no counts."""
    if not usage:
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return prompt, completion
    return None


def _chunk(model: str, index: int, text: str) -> LLMResultChunk:
    # Validating plain data once is cheaper than building nested models, or `model_construct`.
    message = {"content": text}  # and no tool calls: they all come in the final chunk
    return LLMResultChunk.model_validate({"model": model, "delta": {"index": index, "message": message}})


def _arguments(calls: list[AssistantPromptMessage.ToolCall]) -> str:
    return "".join(call.function.name + call.function.arguments for call in calls)


def _first_choice(event: Mapping[str, Any]) -> Mapping[str, Any]:
    choices = event.get("choices")
    if type(choices) is not list:
        return {}
    for choice in choices:  # none in the usage chunk after the finish
        if type(choice) is dict and choice.get("index", 0) == 0:
            return choice
    return {}


def _required_choice(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    choice = _first_choice(payload)
    if not choice:
        raise InvokeServerUnavailableError("Together AI answered without any choice")
    return choice


def _reasoning(part: Mapping[str, Any]) -> str | None:
    """The reasoning text, on whichever of the two keys it came."""
    reasoning = part.get("reasoning")
    if type(reasoning) is str and reasoning:
        return reasoning
    return _string(part.get("reasoning_content"))


def _usage(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    usage = event.get("usage")
    return usage if type(usage) is dict and reported_tokens(usage) else None


def _string(value: Any) -> str | None:
    return value if type(value) is str else None


def _tool_calls(value: Any) -> list[Mapping[str, Any]] | None:
    """A message's `tool_calls`: None or a list of objects, else `InvokeServerUnavailableError`."""
    if value is None or (type(value) is list and all(type(item) is dict for item in value)):
        return value
    raise InvokeServerUnavailableError(
        f"Together AI sent tool_calls that are not a list of objects: {value!r:.200}"
    )


def _log_warnings(event: Mapping[str, Any]) -> None:
    warnings = event.get("warnings")
    if type(warnings) is not list:  # the spec's list of `{message}`; anything else has nothing to log
        return
    for warning in warnings:
        if isinstance(warning, Mapping) and warning.get("message"):
            logger.info("Together AI warning: %s", warning["message"])
