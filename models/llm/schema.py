"""The schema of a customizable chat model (a fine-tune, a dedicated endpoint, any Together model id).

Its credential fields (provider YAML, `# llm credentials`), with openai_api_compatible's names
where it has one:
- `mode`: chat (default) or completion; `context_size` (default 4096);
  `max_tokens_to_sample`, the ceiling of `max_tokens` (default 4096);
- `function_calling_type`: `tool_call` declares tool-call, multi-tool-call and agent-thought;
- `vision_support`: `support` declares vision;
- `structured_output_support`: `supported` declares structured-output and adds the
  `response_format` and `json_schema` rules;
- `reasoning_control`: `switch` adds the `reasoning` on/off rule, `effort` adds the
  effort levels the spec names.
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
DEFAULT_MAX_TOKENS = 512


def _rule(
    name: str, kind: str, en: str, zh: str, help_en: str, help_zh: str, **limits: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "label": {"en_US": en, "zh_Hans": zh},
        "help": {"en_US": help_en, "zh_Hans": help_zh},
        **limits,
    }


SAMPLING_RULES: list[dict[str, Any]] = [
    {"name": "temperature", "use_template": "temperature", "max": 2},
    {"name": "top_p", "use_template": "top_p"},
    {"name": "top_k", "use_template": "top_k", "max": 100},
    _rule(
        "min_p",
        "float",
        "Min P",
        "Min P",
        "Drops tokens whose probability is below this fraction of the most likely token's. 0 turns it off.",
        "舍弃概率低于最可能 Token 概率的该比例的 Token；0 表示关闭。",
        min=0,
        max=1,
        precision=2,
    ),
    _rule(
        "repetition_penalty",
        "float",
        "Repetition penalty",
        "重复惩罚",
        "Above 1.0 discourages repeating tokens already in the text, below 1.0 encourages it; "
        "1.0 is neutral.",
        "大于 1.0 抑制重复已出现的 Token，小于 1.0 则鼓励重复；1.0 为不惩罚。",
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
        "Seed",
        "随机种子",
        "Sample with this seed for more repeatable answers.",
        "使用该种子采样，使回答更可复现。",
        min=0,
    ),
    _rule(
        "safety_model",
        "string",
        "Safety model",
        "安全模型",
        "A moderation model Together runs over the generation, e.g. meta-llama/Llama-Guard-4-12B. "
        "Leave empty for none.",
        "Together 用于审核生成内容的模型，例如 meta-llama/Llama-Guard-4-12B。留空则不使用。",
    ),
]
STRUCTURED_OUTPUT_RULES: list[dict[str, Any]] = [
    _rule(
        "response_format",
        "string",
        "Response format",
        "回复格式",
        "json_object makes the model answer with a JSON object (say so in the prompt too); "
        "json_schema makes it follow the JSON Schema below.",
        "json_object 令模型输出 JSON 对象（请同时在提示词中说明）；json_schema 令其遵循下方的 JSON Schema。",
        options=["text", "json_object", "json_schema"],
    ),
    {"name": "json_schema", "use_template": "json_schema"},
]
REASONING_SWITCH_RULE = _rule(
    "reasoning",
    "boolean",
    "Thinking",
    "深度思考",
    "Whether the model reasons before it answers. Off gives faster, cheaper answers.",
    "模型是否先推理再回答。关闭可更快、更省地得到回答。",
)
REASONING_EFFORT_RULE = _rule(
    "reasoning_effort",
    "string",
    "Reasoning effort",
    "推理强度",
    "How much the model reasons before it answers: more effort is slower and uses more tokens.",
    "模型回答前的推理程度：越高越慢、消耗的 Token 越多。",
    options=["low", "medium", "high"],
)


def customizable_schema(model: str, credentials: Mapping[str, Any]) -> AIModelEntity:
    """The schema the credential switches describe; `InvokeBadRequestError` names a bad field."""
    mode = _mode(credentials)
    context_size = whole_number(credentials, "context_size", DEFAULT_CONTEXT_SIZE)
    ceiling = whole_number(credentials, "max_tokens_to_sample", DEFAULT_MAX_TOKENS_CEILING)
    max_tokens = {
        "name": "max_tokens",
        "use_template": "max_tokens",
        "min": 1,
        "max": ceiling,
        "default": min(DEFAULT_MAX_TOKENS, ceiling),
    }
    rules = [*SAMPLING_RULES, max_tokens]
    features: list[ModelFeature] = []
    if mode is LLMMode.CHAT:
        if credentials.get("function_calling_type") == "tool_call":
            features += [ModelFeature.TOOL_CALL, ModelFeature.MULTI_TOOL_CALL, ModelFeature.AGENT_THOUGHT]
        if credentials.get("vision_support") == "support":
            features.append(ModelFeature.VISION)
        if credentials.get("structured_output_support") == "supported":
            features.append(ModelFeature.STRUCTURED_OUTPUT)
            rules += STRUCTURED_OUTPUT_RULES
        reasoning = credentials.get("reasoning_control")
        if reasoning == "switch":
            rules.append(REASONING_SWITCH_RULE)
        elif reasoning == "effort":
            rules.append(REASONING_EFFORT_RULE)
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
