"""A chat model's parameter rules from the one set in `rules/parameters.yaml`: the customizable
schema is built with them at run time, and `tools/catalog.py` renders every predefined YAML with
the same `chat_rules` (a test keeps the two equal).

A customizable model's credential fields (provider YAML, `# llm credentials`):
- `mode`: chat (default) or completion; `context_size` (default 4096);
  `max_tokens_to_sample`, the ceiling of `max_tokens` (default 4096);
- `function_calling_type`: `tool_call` declares tool-call, multi-tool-call, stream-tool-call and
  agent-thought;
- `vision_support`: `support` declares vision;
- `structured_output_support`: `supported` declares structured-output and adds the
  `response_format` and `json_schema` rules;
- `reasoning_control`: `switch` adds the thinking on/off rule, `effort` the effort levels;
- `think_tags`: `close_only` says the chat template writes `<think>`, so the answer text starts
  inside a think block (read by `llm.py`, not part of the schema).
Completion mode declares no features: `/completions` takes no tools, media, formats or reasoning,
and its prompt is ours, not a chat template.
Every rule name here is one `request.py` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import (
    AIModelEntity,
    FetchFrom,
    ModelFeature,
    ModelPropertyKey,
    ModelType,
    ParameterRule,
)
from dify_plugin.entities.model.llm import LLMMode
from dify_plugin.errors.model import InvokeBadRequestError

from models.together.credentials import whole_number

DEFAULT_CONTEXT_SIZE = 4096
DEFAULT_MAX_TOKENS_CEILING = 4096
DEFAULT_MAX_TOKENS = 4096
TOOL_FEATURES = [
    ModelFeature.TOOL_CALL,
    ModelFeature.MULTI_TOOL_CALL,
    ModelFeature.STREAM_TOOL_CALL,
    ModelFeature.AGENT_THOUGHT,
]
RULES = yaml.safe_load((Path(__file__).parent / "rules" / "parameters.yaml").read_text(encoding="utf-8"))


def chat_rules(
    ceiling: int,
    *,
    structured_output: bool,
    reasoning: str | None,
    preserved_thinking: bool = False,
    reasoning_default: bool | str | None = None,
) -> list[dict[str, Any]]:
    """The parameter rules of a chat model: sampling, `max_tokens` up to `ceiling`, then the
    structured-output rules and the reasoning control (`"switch"`, `"effort"` or None)."""
    max_tokens = {"name": "max_tokens", "use_template": "max_tokens", "min": 1, "max": ceiling}
    rules = [*RULES["sampling"], {**max_tokens, "default": min(DEFAULT_MAX_TOKENS, ceiling)}]
    if structured_output:
        rules += RULES["structured_output"]
    default = {} if reasoning_default is None else {"default": reasoning_default}
    control = {"switch": "reasoning", "effort": "reasoning_effort"}.get(reasoning or "")
    if control:
        rules.append({**RULES[control], **default})
    if preserved_thinking:
        rules.append(RULES["preserved_thinking"])
    return rules


def customizable_schema(model: str, credentials: Mapping[str, Any]) -> AIModelEntity:
    """The schema the credential switches describe; `InvokeBadRequestError` names a bad field."""
    mode = _mode(credentials)
    context_size = whole_number(credentials, "context_size", DEFAULT_CONTEXT_SIZE)
    ceiling = whole_number(credentials, "max_tokens_to_sample", DEFAULT_MAX_TOKENS_CEILING)
    chat = mode is LLMMode.CHAT
    structured = chat and credentials.get("structured_output_support") == "supported"
    reasoning = credentials.get("reasoning_control") if chat else None
    features: list[ModelFeature] = []
    if chat and credentials.get("function_calling_type") == "tool_call":
        features += TOOL_FEATURES
    if chat and credentials.get("vision_support") == "support":
        features.append(ModelFeature.VISION)
    if structured:
        features.append(ModelFeature.STRUCTURED_OUTPUT)
    rules = chat_rules(ceiling, structured_output=structured, reasoning=reasoning)
    return AIModelEntity(
        model=model,
        label=I18nObject(en_US=model),
        model_type=ModelType.LLM,
        fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
        features=features,
        model_properties={ModelPropertyKey.MODE: mode.value, ModelPropertyKey.CONTEXT_SIZE: context_size},
        parameter_rules=[ParameterRule(**rule) for rule in rules],
    )


def _mode(credentials: Mapping[str, Any]) -> LLMMode:
    raw = str(credentials.get("mode") or LLMMode.CHAT.value).strip()
    try:
        return LLMMode.value_of(raw)
    except ValueError:
        raise InvokeBadRequestError(f"mode must be chat or completion, got {raw!r}") from None
