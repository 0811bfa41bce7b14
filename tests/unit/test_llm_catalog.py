"""The predefined chat models against the dated snapshot of Together's serverless chat catalog.

tests/fixtures/together_chat_catalog.json holds the facts of Together's catalog as of its date
(ids, context, prices, tools, JSON, vision, reasoning control). Every YAML must be what
`tools/catalog.py --render-chat` makes of it: the facts from the snapshot, the parameter rules
from `models/llm/schema.py`, so rule help text has that one source. tests/unit/test_catalog.py
checks every model YAML generically (SDK entity, file name, position, quoted prices).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from dify_plugin.entities.model import ModelFeature, ModelPropertyKey
from dify_plugin.entities.model.schema import AIModelEntity, ParameterRule, ParameterType

from models.llm.request import CHAT_ONLY_PARAMETERS, SAMPLING_PARAMETERS
from models.llm.trace_keys import DEFAULT_TRACE_KEY, catalog_trace_keys, trace_key
from tools import catalog

ROOT = Path(__file__).resolve().parents[2]
LLM_DIR = ROOT / "models" / "llm"
SNAPSHOT = json.loads(
    (ROOT / "tests" / "fixtures" / "together_chat_catalog.json").read_text(encoding="utf-8")
)
FACTS = {facts["id"]: facts for facts in SNAPSHOT["models"]}
PATHS = sorted(path for path in LLM_DIR.glob("*.yaml") if not path.name.startswith("_"))
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
    "preserved_thinking": ParameterType.BOOLEAN,
}


def raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules(model: AIModelEntity) -> dict[str, ParameterRule]:
    return {rule.name: rule for rule in model.parameter_rules}


ENTITIES = {path: AIModelEntity(**raw(path)) for path in PATHS}
ids = [path.stem for path in PATHS]


def test_the_catalog_is_the_snapshot_in_its_order() -> None:
    assert {entity.model for entity in ENTITIES.values()} == set(FACTS)
    assert yaml.safe_load((LLM_DIR / "_position.yaml").read_text(encoding="utf-8")) == list(FACTS)
    assert SNAPSHOT["as_of"] == "2026-10-07"


def test_the_snapshot_holds_what_together_recommends_and_drops_what_it_retired() -> None:
    for current in (
        "moonshotai/Kimi-K3",
        "zai-org/GLM-5.3",
        "deepseek-ai/DeepSeek-V4-Pro-0813",
        "MiniMaxAI/MiniMax-M3",
    ):
        assert current in FACTS
    for retired in ("moonshotai/Kimi-K2.6", "zai-org/GLM-5", "openai/gpt-oss-20b", "google/gemma-3n-E4B-it"):
        assert retired not in FACTS
    llama = FACTS["meta-llama/Llama-3.3-70B-Instruct-Turbo"]
    assert (llama["price_in"], llama["price_out"]) == ("1.04", "1.04")
    assert not FACTS["Qwen/Qwen3.6-Plus"]["tools"]
    assert {m for m, f in FACTS.items() if f["vision"]} == {
        "Qwen/Qwen3.5-9B",
        "MiniMaxAI/MiniMax-M3",
        "moonshotai/Kimi-K3",
    }


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_each_yaml_is_the_snapshot_rendered_with_the_schema_rules(path: Path) -> None:
    facts = FACTS[raw(path)["model"]]
    header, data = catalog.chat_yaml(facts, SNAPSHOT)
    assert raw(path) == data, (
        "run `python -m tools.catalog --render-chat tests/fixtures/together_chat_catalog.json`"
    )
    assert path.read_text(encoding="utf-8").startswith(header), "the source comment is missing or stale"
    assert SNAPSHOT["as_of"] in header and "models.md" in header


# The keys Together's reasoning reference observed each model's trace on (2026-10-07); every
# other model has none named there and takes Together's documented `reasoning` field.
OBSERVED_TRACE_KEYS = {
    "moonshotai/Kimi-K3": "reasoning_content",
    "deepseek-ai/DeepSeek-V4-Pro-0813": "reasoning_content",
    "zai-org/GLM-5.2": "reasoning_content",
    "MiniMaxAI/MiniMax-M3": "reasoning_content",
    "openai/gpt-oss-120b": "reasoning",
    "Qwen/Qwen3.5-9B": "reasoning",
}


def test_each_model_sends_reasoning_back_under_the_key_togethers_reference_names() -> None:
    for model, facts in FACTS.items():
        observed = model in OBSERVED_TRACE_KEYS
        assert facts["trace_key"] == OBSERVED_TRACE_KEYS.get(model, DEFAULT_TRACE_KEY), model
        assert facts["trace_key_source"] == ("trace_key_observed" if observed else "trace_key_documented")
        assert trace_key(model) == facts["trace_key"], "the plugin reads the key from the model's YAML"
    assert "reasoning-models.md" in SNAPSHOT["sources"]["trace_key_observed"]
    assert "docs.together.ai" in SNAPSHOT["sources"]["trace_key_documented"]
    assert trace_key("acme/fine-tune-7b") == DEFAULT_TRACE_KEY == "reasoning"


def test_rendering_keeps_each_models_trace_key_where_the_plugin_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(SNAPSHOT), encoding="utf-8")
    (tmp_path / "models" / "llm").mkdir(parents=True)

    assert catalog.main(["--render-chat", str(path)], root=tmp_path) == 0

    rendered = catalog_trace_keys(tmp_path / "models" / "llm")
    assert rendered == {model: facts["trace_key"] for model, facts in FACTS.items()}
    assert set(rendered.values()) == {"reasoning", "reasoning_content"}


def test_a_snapshot_with_an_unknown_trace_key_is_refused() -> None:
    facts = {**FACTS["moonshotai/Kimi-K3"], "trace_key": "thinking"}
    with pytest.raises(ValueError, match="trace_key must be one of"):
        catalog.chat_yaml(facts, SNAPSHOT)


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_facts_match_the_snapshot(path: Path) -> None:
    model = ENTITIES[path]
    facts = FACTS[model.model]
    features = set(model.features)
    assert model.model_properties[ModelPropertyKey.CONTEXT_SIZE] == facts["context"]
    assert model.model_properties[ModelPropertyKey.MODE] == "chat"
    assert model.pricing.input == Decimal(facts["price_in"]) and model.pricing.output == Decimal(
        facts["price_out"]
    )
    assert model.pricing.unit == Decimal("0.000001") and model.pricing.currency == "USD"
    tools = {
        ModelFeature.TOOL_CALL,
        ModelFeature.MULTI_TOOL_CALL,
        ModelFeature.STREAM_TOOL_CALL,
        ModelFeature.AGENT_THOUGHT,
    }
    assert (tools <= features) == facts["tools"] and (features & tools == set()) != facts["tools"]
    assert (ModelFeature.VISION in features) == facts["vision"]
    assert (ModelFeature.STRUCTURED_OUTPUT in features) == facts["json"]
    unmapped = {ModelFeature.AUDIO, ModelFeature.VIDEO, ModelFeature.DOCUMENT, ModelFeature.POLLING}
    assert not features & unmapped, "features the LLM code has no mapping for must not be promised"


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_rules_are_what_the_request_builder_reads_and_the_reasoning_kind_allows(path: Path) -> None:
    model = ENTITIES[path]
    facts = FACTS[model.model]
    expected = set(SAMPLING_PARAMETERS)
    if facts["json"]:
        expected |= {"response_format", "json_schema"}
    expected |= {"switch": {"reasoning"}, "effort": {"reasoning_effort"}}.get(facts["reasoning"], set())
    if facts["preserved_thinking"]:
        expected.add("preserved_thinking")
    assert set(rules(model)) == expected
    assert expected <= set(SAMPLING_PARAMETERS) | set(CHAT_ONLY_PARAMETERS)
    for name, rule in rules(model).items():
        assert rule.type == RULE_TYPES[name], name
    if facts["reasoning"] == "switch":
        assert rules(model)["reasoning"].default is True  # Together's hybrid models think by default
    if facts["reasoning"] == "effort":
        assert rules(model)["reasoning_effort"].options == ["low", "medium", "high"]


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_defaults_and_ranges_are_ones_together_accepts(path: Path) -> None:
    rule = rules(ENTITIES[path])
    # The SDK checks values Dify sends against min/max/options, but never the YAML's own defaults.
    for r in rule.values():
        if r.default is not None and r.min is not None:
            assert r.min <= r.default <= r.max, r.name
        if r.default is not None and r.options:
            assert r.default in r.options, r.name
    assert (rule["temperature"].min, rule["temperature"].max) == (0, 2)
    for penalty in ("presence_penalty", "frequency_penalty"):
        assert (rule[penalty].min, rule[penalty].max) == (-2, 2)
    assert rule["repetition_penalty"].default == 1.0
    context = ENTITIES[path].model_properties[ModelPropertyKey.CONTEXT_SIZE]
    assert rule["max_tokens"].min == 1 and rule["max_tokens"].max == context


@pytest.mark.parametrize("path", PATHS, ids=ids)
def test_every_rule_is_labelled_and_explained_in_english_and_chinese(path: Path) -> None:
    for rule in raw(path)["parameter_rules"]:
        if "use_template" in rule:
            continue  # the SDK's template brings label, type and help in both languages
        assert rule["label"].get("en_US") and rule["label"].get("zh_Hans"), rule["name"]
        assert rule["help"].get("en_US") and rule["help"].get("zh_Hans"), rule["name"]


def test_rendering_rewrites_the_folder_and_removes_retired_models(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "llm"
    folder.mkdir(parents=True)
    (folder / "zai-org-GLM-5.yaml").write_text("model: zai-org/GLM-5\n", encoding="utf-8")
    snapshot = {**SNAPSHOT, "models": SNAPSHOT["models"][:2]}
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(snapshot), encoding="utf-8")

    assert catalog.main(["--render-chat", str(path)], root=tmp_path) == 0

    assert sorted(p.name for p in folder.glob("*.yaml")) == [
        "_position.yaml",
        "moonshotai-Kimi-K3.yaml",
        "zai-org-GLM-5.3.yaml",
    ]
    assert yaml.safe_load((folder / "_position.yaml").read_text()) == [
        "moonshotai/Kimi-K3",
        "zai-org/GLM-5.3",
    ]
