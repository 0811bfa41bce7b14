"""Dify prompt messages as Together's chat messages, or as one prompt for completion mode.

Shapes follow the spec's `ChatCompletionMessageParam`:
- system and developer messages → `{"role": "system", "content": str}` (Together has no
  developer role); they carry text only.
- user messages → a string, or a list of parts when they hold media: text → `text`, image →
  `image_url`, video → `video_url`, audio → `audio_url` (a URL or data URI) or `input_audio`
  for inline WAV, the one inline form the spec names. Documents have no Together part and are
  refused with `InvokeBadRequestError` naming the file.
- assistant messages → the text after its reasoning block, that block's reasoning under the
  trace key (`reasoning` or `reasoning_content`: Dify keeps an earlier turn's reasoning only as
  the `<think>` block the reply opened its text with, and Together asks for it back, unmodified
  and under the key it arrived on, to continue multi-turn tool calling), plus `tool_calls`,
  each with the `index` the spec requires. Only a block at the very start is reasoning: a
  `<think>` anywhere later is what the model said, and goes back as it was.
- tool results → `{"role": "tool", "tool_call_id", "content"}`.
An empty `name` (the daemon sends `""` for every message) is left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    AudioPromptMessageContent,
    DocumentPromptMessageContent,
    ImagePromptMessageContent,
    MultiModalPromptMessageContent,
    PromptMessage,
    PromptMessageRole,
    TextPromptMessageContent,
    ToolPromptMessage,
    VideoPromptMessageContent,
)
from dify_plugin.errors.model import InvokeBadRequestError

from models.llm.trace_keys import DEFAULT_TRACE_KEY

# The think block a reply opens with, or an unclosed one running to the end, with the whitespace
# after it; the group is the reasoning without the line breaks the reply put around it.
_REASONING_BLOCK = re.compile(r"<think>\n?(.*?)\n?(?:</think>\s*|\Z)", re.DOTALL)
_WAV_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"})


def assistant_parts(text: str) -> tuple[str, str]:
    """An assistant turn's text as it goes back to Together: (what the model said, how it reasoned).

    The reasoning is the think block the text starts with ("" without one); the rest is the
    content, unchanged but for the whitespace after the block.
    """
    block = _REASONING_BLOCK.match(text)
    if block is None:
        return text, ""
    return text[block.end() :], block.group(1)


def chat_messages(
    prompt_messages: Sequence[PromptMessage], trace_key: str = DEFAULT_TRACE_KEY
) -> list[dict[str, Any]]:
    """Together chat messages for Dify's prompt messages, in order; earlier reasoning goes under
    `trace_key` (the model's, from `trace_keys`)."""
    return [_chat_message(message, trace_key) for message in prompt_messages]


def completion_prompt(prompt_messages: Sequence[PromptMessage]) -> str:
    """The text of all messages, separated by blank lines, for `/completions`.

    Dify's completion-mode apps send one message holding the rendered prompt; several are joined
    in order. An assistant turn goes without its reasoning block (as in chat mode); media parts are
    refused, because a completion prompt is text only.
    """
    texts = []
    for message in prompt_messages:
        text = _text_only(message, "completion mode (a plain text prompt)")
        texts.append(assistant_parts(text)[0] if message.role is PromptMessageRole.ASSISTANT else text)
    return "\n\n".join(texts)


def _chat_message(message: PromptMessage, trace_key: str) -> dict[str, Any]:
    role = message.role
    if role in (PromptMessageRole.SYSTEM, PromptMessageRole.DEVELOPER):
        result: dict[str, Any] = {"role": "system", "content": _text_only(message, "a system message")}
    elif role is PromptMessageRole.USER:
        result = {"role": "user", "content": _user_content(message.content)}
    elif role is PromptMessageRole.ASSISTANT:
        result = _assistant_message(message, trace_key)
    elif role is PromptMessageRole.TOOL:
        if not isinstance(message, ToolPromptMessage):
            raise InvokeBadRequestError("A tool message needs the id of the tool call it answers")
        result = {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _text_only(message, "a tool result"),
        }
    else:
        raise InvokeBadRequestError(f"Together has no chat role for {role.value!r} messages")
    if message.name:
        result["name"] = message.name
    return result


def _assistant_message(message: PromptMessage, trace_key: str) -> dict[str, Any]:
    content, trace = assistant_parts(_text_only(message, "an assistant message"))
    result: dict[str, Any] = {"role": "assistant", "content": content}
    if trace:
        result[trace_key] = trace
    calls = message.tool_calls if isinstance(message, AssistantPromptMessage) else []
    if calls:
        result["tool_calls"] = [
            {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for index, call in enumerate(calls)
        ]
    return result


def _user_content(content: Any) -> str | list[dict[str, Any]]:
    """A string when the message is text only (every chat model takes it), else a list of parts."""
    if content is None or isinstance(content, str):
        return content or ""
    if all(isinstance(part, TextPromptMessageContent) for part in content):
        return "".join(part.data for part in content)
    return [_user_part(part) for part in content]


def _user_part(part: Any) -> dict[str, Any]:
    if isinstance(part, TextPromptMessageContent):
        return {"type": "text", "text": part.data}
    if isinstance(part, DocumentPromptMessageContent):
        raise InvokeBadRequestError(
            f"Together's chat models take no document files: remove the document {_describe(part)} "
            "or pass its text instead"
        )
    if isinstance(part, MultiModalPromptMessageContent) and not (part.url or part.base64_data):
        raise InvokeBadRequestError(
            f"The {part.type.value} part {_describe(part)} has neither a URL nor data"
        )
    if isinstance(part, ImagePromptMessageContent):
        return {"type": "image_url", "image_url": {"url": part.data}}
    if isinstance(part, VideoPromptMessageContent):
        return {"type": "video_url", "video_url": {"url": part.data}}
    if isinstance(part, AudioPromptMessageContent):
        if not part.url and _is_wav(part):
            return {"type": "input_audio", "input_audio": {"data": part.base64_data, "format": "wav"}}
        return {"type": "audio_url", "audio_url": {"url": part.data}}
    raise InvokeBadRequestError(f"Together has no message part for {type(part).__name__}")


def _text_only(message: PromptMessage, where: str) -> str:
    """The message's text; any media part raises `InvokeBadRequestError` naming it and `where`."""
    content = message.content
    if content is None or isinstance(content, str):
        return content or ""
    for part in content:
        if not isinstance(part, TextPromptMessageContent):
            raise InvokeBadRequestError(
                f"Together takes only text in {where}: remove the {part.type.value} part {_describe(part)}"
            )
    return "".join(part.data for part in content)


def _is_wav(part: MultiModalPromptMessageContent) -> bool:
    return part.format.lower().lstrip(".") == "wav" or part.mime_type.lower() in _WAV_TYPES


def _describe(part: MultiModalPromptMessageContent) -> str:
    """A short name for a media part in error messages: its file name, else its MIME type, else its format."""
    return repr(part.filename or part.mime_type or part.format)
