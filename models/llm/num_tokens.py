"""An offline, deterministic estimate of a chat prompt's tokens.

Together serves many tokenizers and states no counting rule; Dify needs a number that never
touches the network, so this counts with the bundled cl100k encoding the way OpenAI-style chat
templates spend tokens: text, names and tool calls of each message plus a fixed per-message
overhead, the tool schemas as sent, and the reply's priming. Media parts count nothing: their
cost depends on the model's vision encoder, and their base64 text is not what the model reads.
An earlier assistant turn counts as `messages` sends it back: its content without the think
block, and the block's reasoning as the turn's trace, which the chat template renders again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    PromptMessage,
    PromptMessageRole,
    PromptMessageTool,
)

from models.llm.messages import assistant_parts
from models.together.tokens import count_tokens

TOKENS_PER_MESSAGE = 3  # role and message delimiters in a chat template
TOKENS_PER_TOOL = 8  # the wrapper a chat template puts around each tool schema
REPLY_PRIMING = 3  # the assistant header the reply starts with


def count_prompt_tokens(
    messages: Sequence[PromptMessage], tools: Sequence[PromptMessageTool] | None = None
) -> int:
    """Tokens the messages and tool schemas are expected to take as a chat prompt."""
    total = REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE + count_tokens(message.role.value)
        text = message.get_text_content()
        if message.role is PromptMessageRole.ASSISTANT:
            total += sum(count_tokens(part) for part in assistant_parts(text))
        else:
            total += count_tokens(text)
        if message.name:
            total += count_tokens(message.name)
        if isinstance(message, AssistantPromptMessage):
            for call in message.tool_calls:
                total += count_tokens(call.function.name) + count_tokens(call.function.arguments)
    for tool in tools or []:
        schema = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
        total += TOKENS_PER_TOOL + count_tokens(json.dumps(schema, ensure_ascii=False, sort_keys=True))
    return total
