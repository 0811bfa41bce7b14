"""The chat parameter rules, written once: the customizable schema is built from them at run time
and every predefined YAML is rendered from them by `tools/catalog.py` (a test keeps the two equal).

A customizable model's credential fields (provider YAML, `# llm credentials`):
- `mode`: chat (default) or completion; `context_size` (default 4096);
  `max_tokens_to_sample`, the ceiling of `max_tokens` (default 4096);
- `function_calling_type`: `tool_call` declares tool-call, multi-tool-call, stream-tool-call and
  agent-thought;
- `vision_support`: `support` declares vision;
- `structured_output_support`: `supported` declares structured-output and adds the
  `response_format` and `json_schema` rules;
- `reasoning_control`: `switch` adds the thinking on/off rule, `effort` the effort levels.
Completion mode declares no features: `/completions` takes no tools, media, formats or reasoning.
Every rule name here is one `request.py` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
EFFORT_LEVELS = ["low", "medium", "high"]


def _rule(name: str, kind: str, label: tuple[str, str], help_text: tuple[str, str], **limits: Any) -> dict:
    return {
        "name": name,
        "label": {"en_US": label[0], "zh_Hans": label[1]},
        "type": kind,
        "help": {"en_US": help_text[0], "zh_Hans": help_text[1]},
        **limits,
    }


SAMPLING_RULES: list[dict[str, Any]] = [
    {"name": "temperature", "use_template": "temperature", "max": 2},
    {"name": "top_p", "use_template": "top_p"},
    {"name": "top_k", "use_template": "top_k", "max": 100},
    _rule(
        "min_p",
        "float",
        ("Min P", "Min P"),
        (
            "Drops tokens whose probability is below this fraction of the most likely token's. 0 turns it off.",
            "舍弃概率低于最可能 Token 概率的该比例的 Token；0 表示关闭。",
        ),
        min=0,
        max=1,
        precision=2,
    ),
    _rule(
        "repetition_penalty",
        "float",
        ("Repetition penalty", "重复惩罚"),
        (
            "Above 1.0 discourages repeating tokens already in the text, below 1.0 encourages it; 1.0 is "
            "neutral. Prefer it or the presence/frequency penalties, not both.",
            "大于 1.0 抑制重复已出现的 Token，小于 1.0 则鼓励重复；1.0 为不惩罚。请与存在/频率惩罚二选一。",
        ),
        min=0.5,
        max=2,
        precision=2,
        default=1.0,
    ),
    {"name": "presence_penalty", "use_template": "presence_penalty", "min": -2, "max": 2},
    {"name": "frequency_penalty", "use_template": "frequency_penalty", "min": -2, "max": 2},
    _rule(
        "seed",
        "int",
        ("Seed", "随机种子"),
        ("Sample with this seed for more repeatable answers.", "使用该种子采样，使回答更可复现。"),
        min=0,
    ),
]
STRUCTURED_OUTPUT_RULES: list[dict[str, Any]] = [
    _rule(
        "response_format",
        "string",
        ("Response format", "回复格式"),
        (
            "json_object makes the model answer with a JSON object (say so in the prompt too); "
            "json_schema makes it follow the JSON Schema below.",
            "json_object 令模型输出 JSON 对象（请同时在提示词中说明）；json_schema 令其遵循下方的 JSON Schema。",
        ),
        options=["text", "json_object", "json_schema"],
    ),
    {"name": "json_schema", "use_template": "json_schema"},
]
THINKING = (("Thinking", "深度思考"), (
    "Whether the model reasons before it answers. Off gives faster, cheaper answers.",
    "模型是否先推理再回答。关闭可更快、更省地得到回答。",
))
EFFORT = (("Reasoning effort", "推理强度"), (
    "How much the model reasons before it answers: more effort is slower and uses more tokens.",
    "模型回答前的推理程度：越高越慢、消耗的 Token 越多。",
))
PRESERVED_THINKING = (("Preserved thinking", "保留思考"), (
    "Keep the reasoning of earlier turns in the context, which helps agents across tool calls.",
    "在上下文中保留之前轮次的推理，有助于多轮工具调用的智能体。",
))


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
    rules = [*SAMPLING_RULES, {**max_tokens, "default": min(DEFAULT_MAX_TOKENS, ceiling)}]
    if structured_output:
        rules += STRUCTURED_OUTPUT_RULES
    default = {} if reasoning_default is None else {"default": reasoning_default}
    if reasoning == "switch":
        rules.append(_rule("reasoning", "boolean", *THINKING, **default))
    elif reasoning == "effort":
        rules.append(_rule("reasoning_effort", "string", *EFFORT, options=EFFORT_LEVELS, **default))
    if preserved_thinking:
        rules.append(_rule("preserved_thinking", "boolean", *PRESERVED_THINKING))
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
