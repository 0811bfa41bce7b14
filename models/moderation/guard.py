"""The guard models' wire format: the chat completion that asks for a verdict, and reading it.

Llama Guard answers `safe`, or `unsafe` with the violated categories (`S1`–`S14`, comma-separated)
on the next line; Together applies the model's own prompt template and taxonomy server-side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dify_plugin.errors.model import InvokeBadRequestError, InvokeServerUnavailableError

# The verdict is one word and a short category list; more tokens would only pay for chatter.
REPLY_MAX_TOKENS = 20
MAX_QUOTED_REPLY_CHARS = 200


@dataclass(frozen=True)
class Verdict:
    """A guard model's answer: unsafe or not, and the violated categories (`S1`–`S14`) it named."""

    unsafe: bool
    categories: tuple[str, ...] = ()


def guard_request(model: str, text: str) -> dict[str, Any]:
    """The chat completion request asking `model` to classify `text` as one user message."""
    return {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "temperature": 0,  # the same text must get the same verdict
        "max_tokens": REPLY_MAX_TOKENS,
    }


def guard_verdict(model: str, payload: Any) -> Verdict:
    """The verdict in a chat completion response: first non-empty line `safe` or `unsafe` (any
    case), the categories comma-separated on the next line.

    Raises `InvokeServerUnavailableError` when the response carries no reply text, and
    `InvokeBadRequestError` quoting the reply when it is neither verdict.
    """
    reply = _reply_text(payload)
    lines = [line.strip() for line in reply.splitlines() if line.strip()]
    label = lines[0].lower() if lines else ""
    if label == "safe":
        return Verdict(unsafe=False)
    if label == "unsafe":
        categories = lines[1].split(",") if len(lines) > 1 else []
        return Verdict(unsafe=True, categories=tuple(code.strip() for code in categories if code.strip()))
    quoted = reply if len(reply) <= MAX_QUOTED_REPLY_CHARS else reply[: MAX_QUOTED_REPLY_CHARS - 1] + "…"
    raise InvokeBadRequestError(
        f"{model} answered neither 'safe' nor 'unsafe', so it cannot moderate; is it a guard model "
        f"such as meta-llama/Llama-Guard-4-12B? Its reply: {quoted!r}"
    )


def _reply_text(payload: Any) -> str:
    """The first choice's message content of a chat completion response."""
    choices = payload.get("choices") if isinstance(payload, Mapping) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, Mapping) else None
    content = message.get("content") if isinstance(message, Mapping) else None
    if not isinstance(content, str):
        raise InvokeServerUnavailableError(
            "Together AI answered the moderation request without a reply from the model"
        )
    return content
