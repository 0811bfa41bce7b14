"""The predefined chat models: what each YAML promises Dify must match the model and what llm.py reads.

tests/unit/test_catalog.py checks every model YAML generically (SDK entity, file name, position,
quoted prices). This file checks the LLM-specific contract: the parameter names the LLM code
translates, ranges Together accepts, and per-model capabilities as Together documents them
(shared notes together-api.md §5.1: vision, tool calls, reasoning controls).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from dify_plugin.entities.model import ModelFeature, ModelPropertyKey
from dify_plugin.entities.model.schema import AIModelEntity, ParameterRule, ParameterType

ROOT = Path(__file__).resolve().parents[2]
LLM_DIR = ROOT / "models" / "llm"
PATHS = sorted(path for path in LLM_DIR.glob("*.yaml") if not path.name.startswith("_"))

# Capabilities per Together's docs (together-api.md §5.1); a model missing here fails the test below.
VISION = {"moonshotai/Kimi-K2.6", "Qwen/Qwen3.5-9B", "google/gemma-4-31B-it"}
NO_TOOLS = {"google/gemma-3n-E4B-it"}
HYBRID = {  # `reasoning: {enabled}` toggles thinking
    "moonshotai/Kimi-K2.6",
    "deepseek-ai/DeepSeek-V4-Pro",
    "Qwen/Qwen3.6-Plus",
    "Qwen/Qwen3.5-9B",
    "zai-org/GLM-5.1",
    "zai-org/GLM-5",
    "nvidia/nemotron-3-ultra-550b-a55b",
}
EFFORT = {  # `reasoning_effort` values Together documents per model
    "openai/gpt-oss-120b": ["low", "medium", "high"],
    "openai/gpt-oss-20b": ["low", "medium", "high"],
    "deepseek-ai/DeepSeek-V4-Pro": ["high", "max"],
}
CATALOG = {
    "moonshotai/Kimi-K2.6",
    "deepseek-ai/DeepSeek-V4-Pro",
    "Qwen/Qwen3.6-Plus",
    "Qwen/Qwen3.5-9B",
    "Qwen/Qwen2.5-7B-Instruct-Turbo",
    "zai-org/GLM-5.1",
    "zai-org/GLM-5",
    "MiniMaxAI/MiniMax-M2.7",
    "openai/gpt-oss-120b",
    "openai/gpt-oss-20b",
    "nvidia/nemotron-3-ultra-550b-a55b",
    "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "google/gemma-4-31B-it",
    "google/gemma-3n-E4B-it",
}

# The rule names the LLM code translates into Together's request (anything else would be dropped
# by the SDK or sent under a name Together does not know).
COMMON_RULES = [
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
    "max_tokens",
    "seed",
    "response_format",
    "json_schema",
    "safety_model",
]
RULE_TYPES = {
    "temperature": ParameterType.FLOAT,
    "top_p": ParameterType.FLOAT,
    "top_k": ParameterType.INT,
    "min_p": ParameterType.FLOAT,
    "repetition_penalty": ParameterType.FLOAT,
    "presence_penalty": ParameterType.FLOAT,
    "frequency_penalty": ParameterType.FLOAT,
    "max_tokens": ParameterType.INT,
    "seed": ParameterType.INT,
    "response_format": ParameterType.STRING,
    "json_schema": ParameterType.TEXT,
    "reasoning": ParameterType.BOOLEAN,
    "reasoning_effort": ParameterType.STRING,
    "safety_model": ParameterType.STRING,
}


def raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def entity(path: Path) -> AIModelEntity:
    return AIModelEntity(**raw(path))


def rules(model: AIModelEntity) -> dict[str, ParameterRule]:
    return {rule.name: rule for rule in model.parameter_rules}


ENTITIES = {path: entity(path) for path in PATHS}
ids = [path.stem for path in PATHS]


def test_the_catalog_is_the_documented_serverless_chat_models() -> None:
    models = {model.model for model in ENTITIES.values()}
    assert models == CATALOG
    assert VISION | NO_TOOLS | HYBRID | set(EFFORT) <= models
    position = yaml.safe_load((LLM_DIR / "_position.yaml").read_text(encoding="utf-8"))
    assert set(position) == CATALOG


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_rules_are_exactly_what_the_llm_code_reads(path: Path) -> None:
    model = ENTITIES[path]
    expected = set(COMMON_RULES)
    if model.model in HYBRID:
        expected.add("reasoning")
    if model.model in EFFORT:
        expected.add("reasoning_effort")
    assert set(rules(model)) == expected
    for name, rule in rules(model).items():
        assert rule.type == RULE_TYPES[name], name


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_every_rule_is_labelled_and_explained_in_english_and_chinese(path: Path) -> None:
    for rule in raw(path)["parameter_rules"]:
        if "use_template" in rule:
            continue  # the SDK's template brings label, type and help in both languages
        assert {"name", "label", "type", "help"} <= rule.keys(), rule["name"]
        assert rule["label"].get("en_US") and rule["label"].get("zh_Hans"), rule["name"]
        assert rule["help"].get("en_US") and rule["help"].get("zh_Hans"), rule["name"]


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_defaults_lie_within_their_rules(path: Path) -> None:
    # The SDK checks values Dify sends against min/max/options, but never the YAML's own defaults.
    for rule in ENTITIES[path].parameter_rules:
        if rule.default is None:
            continue
        if rule.min is not None:
            assert rule.default >= rule.min, rule.name
        if rule.max is not None:
            assert rule.default <= rule.max, rule.name
        if rule.options:
            assert rule.default in rule.options, rule.name
        if rule.type == ParameterType.INT:
            assert isinstance(rule.default, int), rule.name
        if rule.type == ParameterType.BOOLEAN:
            assert isinstance(rule.default, bool), rule.name


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_sampling_ranges_are_the_ones_together_accepts(path: Path) -> None:
    rule = rules(ENTITIES[path])
    assert (rule["temperature"].min, rule["temperature"].max) == (0, 2)
    for penalty in ("presence_penalty", "frequency_penalty"):
        assert (rule[penalty].min, rule[penalty].max) == (-2, 2)
        assert rule[penalty].default == 0
    assert (rule["min_p"].min, rule["min_p"].max) == (0, 1)
    repetition = rule["repetition_penalty"]
    assert repetition.default == 1.0  # neutral: the old plugin's −3.4..3.4 range had no neutral default
    assert 0 < repetition.min < 1 < repetition.max
    assert rule["top_k"].min >= 1


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_max_tokens_is_bounded_by_the_real_context(path: Path) -> None:
    model = ENTITIES[path]
    context = model.model_properties[ModelPropertyKey.CONTEXT_SIZE]
    max_tokens = rules(model)["max_tokens"]
    assert model.model_properties[ModelPropertyKey.MODE] == "chat"
    assert isinstance(context, int) and context >= 8192
    assert max_tokens.min == 1
    assert 4096 <= max_tokens.max <= context
    assert max_tokens.max > 2048, "the template's 2,048 ceiling would cap long answers"
    assert 1 <= max_tokens.default <= max_tokens.max


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_structured_output_is_declared_with_both_rules(path: Path) -> None:
    model = ENTITIES[path]
    rule = rules(model)
    assert ModelFeature.STRUCTURED_OUTPUT in model.features
    assert rule["response_format"].options == ["text", "json_object", "json_schema"]
    # JSON/XML would turn on the SDK's code-block wrapper, which rewrites the prompt.
    assert not {"JSON", "XML"} & set(rule["response_format"].options)
    assert raw_rule(path, "json_schema") == {"name": "json_schema", "use_template": "json_schema"}


def raw_rule(path: Path, name: str) -> dict:
    return next(rule for rule in raw(path)["parameter_rules"] if rule["name"] == name)


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_reasoning_controls_match_the_model(path: Path) -> None:
    model = ENTITIES[path]
    rule = rules(model)
    if model.model in HYBRID:
        assert rule["reasoning"].default is True  # Together's default for hybrid models is thinking on
    if model.model in EFFORT:
        assert rule["reasoning_effort"].options == EFFORT[model.model]
        assert rule["reasoning_effort"].default in EFFORT[model.model]


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_features_match_the_documented_capabilities(path: Path) -> None:
    model = ENTITIES[path]
    features = set(model.features)
    assert (ModelFeature.VISION in features) == (model.model in VISION)
    tools = {ModelFeature.TOOL_CALL, ModelFeature.MULTI_TOOL_CALL, ModelFeature.AGENT_THOUGHT}
    if model.model in NO_TOOLS:
        assert not features & (tools | {ModelFeature.STREAM_TOOL_CALL})
    else:
        assert tools <= features
    # Features the LLM code has no mapping for must not be promised.
    unmapped = {ModelFeature.AUDIO, ModelFeature.VIDEO, ModelFeature.DOCUMENT, ModelFeature.POLLING}
    assert not features & unmapped


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_prices_are_positive_usd_per_million_tokens(path: Path) -> None:
    pricing = raw(path)["pricing"]
    assert pricing["unit"] == "0.000001"
    assert pricing["currency"] == "USD"
    for key in ("input", "output"):
        price = Decimal(pricing[key])
        assert Decimal("0.01") <= price <= Decimal("20"), f"{key} {price} is not a per-1M-token price"
    assert ENTITIES[path].pricing.output >= ENTITIES[path].pricing.input


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_safety_model_is_optional_and_names_the_current_guard(path: Path) -> None:
    rule = rules(ENTITIES[path])["safety_model"]
    assert not rule.required and rule.default is None and not rule.options
    assert "meta-llama/Llama-Guard-4-12B" in rule.help.en_us
