"""Customizable chat models (schema from the credential form) and model-level credential validation."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from dify_plugin.entities.model import ModelFeature, ModelPropertyKey, ParameterType
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeBadRequestError

respx = pytest.importorskip("respx")

from models.llm.llm import TogetherLargeLanguageModel
from models.llm.request import CHAT_ONLY_PARAMETERS, SAMPLING_PARAMETERS, completion_request
from tests.support.llm_fakes import (
    CHAT_URL,
    COMPLETIONS_URL,
    CREDENTIALS,
    CUSTOM,
    CUSTOM_CREDENTIALS,
    completion_response,
    response,
    sent,
)

ROOT = Path(__file__).resolve().parents[2]
SWITCH_VALUES = {  # the option values schema.py and llm.py read, per credential variable
    "mode": {"chat", "completion"},
    "function_calling_type": {"tool_call", "no_call"},
    "vision_support": {"support", "no_support"},
    "structured_output_support": {"supported", "not_supported"},
    "reasoning_control": {"none", "switch", "effort"},
    "think_tags": {"paired", "close_only"},
}


def schema(**switches: str):
    model = TogetherLargeLanguageModel([])
    found = model.get_model_schema(CUSTOM, {**CREDENTIALS, **switches})
    assert found is not None
    return found


def rule_names(entity) -> set[str]:
    return {rule.name for rule in entity.parameter_rules}


def test_defaults_give_a_plain_chat_model_with_the_sampling_rules() -> None:
    entity = schema()

    assert entity.model_properties == {ModelPropertyKey.MODE: "chat", ModelPropertyKey.CONTEXT_SIZE: 4096}
    assert entity.features == []
    assert rule_names(entity) == set(SAMPLING_PARAMETERS)
    max_tokens = next(rule for rule in entity.parameter_rules if rule.name == "max_tokens")
    assert (max_tokens.min, max_tokens.max, max_tokens.default) == (1, 4096, 4096)
    temperature = next(rule for rule in entity.parameter_rules if rule.name == "temperature")
    assert (temperature.min, temperature.max) == (0, 2)


def test_every_switch_shapes_features_and_rules() -> None:
    entity = schema(**{key: value for key, value in CUSTOM_CREDENTIALS.items() if key != "api_key"})

    assert set(entity.features) == {
        ModelFeature.TOOL_CALL,
        ModelFeature.MULTI_TOOL_CALL,
        ModelFeature.STREAM_TOOL_CALL,
        ModelFeature.AGENT_THOUGHT,
        ModelFeature.VISION,
        ModelFeature.STRUCTURED_OUTPUT,
    }
    assert entity.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 32768
    rules = {rule.name: rule for rule in entity.parameter_rules}
    assert rules["max_tokens"].max == 8192
    assert rules["response_format"].options == ["text", "json_object", "json_schema"]
    assert rules["json_schema"].type == ParameterType.TEXT
    assert rules["reasoning"].type == ParameterType.BOOLEAN
    assert "reasoning_effort" not in rules


def test_reasoning_effort_switch_offers_the_specs_levels() -> None:
    rules = {rule.name: rule for rule in schema(reasoning_control="effort").parameter_rules}
    assert rules["reasoning_effort"].options == ["low", "medium", "high"]
    assert "reasoning" not in rules


def test_completion_mode_declares_nothing_completions_cannot_do() -> None:
    entity = schema(
        mode="completion",
        function_calling_type="tool_call",
        vision_support="support",
        structured_output_support="supported",
        reasoning_control="switch",
    )

    assert entity.model_properties[ModelPropertyKey.MODE] == "completion"
    assert entity.features == []
    assert not rule_names(entity) & set(CHAT_ONLY_PARAMETERS)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mode", "edit", "mode must be chat or completion"),
        ("context_size", "big", "context_size"),
        ("max_tokens_to_sample", "0", "max_tokens_to_sample"),
    ],
)
def test_a_bad_credential_field_is_named(field: str, value: str, message: str) -> None:
    with pytest.raises(InvokeBadRequestError, match=message):
        schema(**{field: value})


def test_completion_requests_refuse_chat_only_parameters() -> None:
    with pytest.raises(InvokeBadRequestError, match="reasoning, reasoning_effort need chat mode"):
        completion_request(CUSTOM, "hi", {"reasoning": True, "reasoning_effort": "low"}, None, False)
    assert "response_format" not in completion_request(CUSTOM, "hi", {"response_format": "text"}, None, False)


def test_the_provider_form_offers_exactly_the_switches_the_code_reads() -> None:
    provider = yaml.safe_load((ROOT / "provider" / "togetherai.yaml").read_text(encoding="utf-8"))
    fields = {
        field["variable"]: field
        for field in provider["model_credential_schema"]["credential_form_schemas"]
        if {"variable": "__model_type", "value": "llm"} in field.get("show_on", [])
    }
    assert set(fields) == set(SWITCH_VALUES) | {"context_size", "max_tokens_to_sample"}
    for name, values in SWITCH_VALUES.items():
        assert {option["value"] for option in fields[name]["options"]} == values, name
        assert fields[name]["default"] in values
    assert schema(**{name: field["default"] for name, field in fields.items()}) == schema()


# --- model-level credential validation -------------------------------------------------------


@respx.mock
def test_validation_makes_one_minimal_chat_call_to_the_model() -> None:
    route = respx.post(CHAT_URL).mock(
        return_value=httpx.Response(200, json=response("po", finish_reason="length"))
    )

    TogetherLargeLanguageModel([]).validate_credentials(CUSTOM, CUSTOM_CREDENTIALS)

    assert sent(route) == {
        "model": CUSTOM,
        "messages": [{"role": "user", "content": "ping"}],
        "max_tokens": 5,
    }


@respx.mock
def test_validation_of_a_completion_model_calls_completions() -> None:
    route = respx.post(COMPLETIONS_URL).mock(
        return_value=httpx.Response(200, json=completion_response("pong"))
    )

    TogetherLargeLanguageModel([]).validate_credentials(CUSTOM, {**CUSTOM_CREDENTIALS, "mode": "completion"})

    assert sent(route) == {"model": CUSTOM, "prompt": "ping", "max_tokens": 5}


@respx.mock
@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "Invalid API key provided."),
        (
            404,
            "Unable to access model acme/fine-tune-7b. Please visit https://api.together.ai/models "
            "to view the list of supported models.",
        ),
    ],
)
def test_validation_failure_carries_togethers_message(status: int, message: str) -> None:
    respx.post(CHAT_URL).mock(
        return_value=httpx.Response(
            status, json={"error": {"message": message, "type": "invalid_request_error"}}
        )
    )

    with pytest.raises(CredentialsValidateFailedError) as caught:
        TogetherLargeLanguageModel([]).validate_credentials(CUSTOM, CUSTOM_CREDENTIALS)
    assert message in str(caught.value)


def test_validation_failure_for_a_bad_form_field_names_it() -> None:
    with respx.mock(assert_all_called=False) as router:
        with pytest.raises(CredentialsValidateFailedError, match="context_size"):
            TogetherLargeLanguageModel([]).validate_credentials(
                CUSTOM, {**CUSTOM_CREDENTIALS, "context_size": "-1"}
            )
        assert not router.calls
