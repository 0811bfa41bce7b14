"""Request bodies for Together's chat and completion endpoints: what is refused, in the words Dify shows."""

from __future__ import annotations

from typing import Any

import pytest
from dify_plugin.errors.model import InvokeBadRequestError

from models.llm.request import chat_request, completion_request

MODEL = "acme/fine-tune-7b"
MESSAGES = [{"role": "user", "content": "Weather?"}]


def chat_body(parameters: dict[str, Any]) -> dict[str, Any]:
    return chat_request(MODEL, MESSAGES, parameters, None, None, False)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"temperature": True, "top_p": False}, "temperature, top_p must be a number, not true or false"),
        ({"response_format": "xml"}, "response_format must be text, json_object or json_schema, got 'xml'"),
        (
            {"response_format": "json_schema"},
            "response_format json_schema needs a JSON schema in the json_schema parameter",
        ),
        ({"json_schema": "[1]"}, "json_schema must be a JSON object, got list"),
        (
            {"json_schema": '{"type": ["string", 1]}'},
            "json_schema 'type' must be a string or a list of strings, got ['string', 1]",
        ),
        (
            {"json_schema": '{"properties": []}'},
            "json_schema 'properties' must be an object mapping names to schemas",
        ),
        ({"json_schema": '{"required": "city"}'}, "json_schema 'required' must be a list of property names"),
    ],
    ids=["booleans", "format", "no schema", "not an object", "type", "properties", "required"],
)
def test_a_bad_parameter_is_refused_in_one_sentence(parameters: dict[str, Any], message: str) -> None:
    with pytest.raises(InvokeBadRequestError) as refused:
        chat_body(parameters)

    assert str(refused.value) == message


def test_a_bare_schema_keeps_the_default_name_even_with_a_name_property_at_its_top() -> None:
    schema = '{"type": "object", "name": "weather"}'

    body = chat_body({"json_schema": schema})

    assert body["response_format"]["json_schema"] == {
        "name": "output",
        "schema": {"type": "object", "name": "weather"},
    }


def test_completion_mode_refuses_a_json_format_and_ignores_chat_settings_left_empty() -> None:
    with pytest.raises(InvokeBadRequestError) as refused:
        completion_request(MODEL, "Weather?", {"response_format": "json_object"}, None, False)
    assert str(refused.value) == (
        "response_format need chat mode; Together's /completions endpoint has no such field"
    )

    body = completion_request(
        MODEL, "Weather?", {"response_format": "text", "json_schema": "", "reasoning_effort": None}, None, False
    )

    assert body == {"model": MODEL, "prompt": "Weather?"}
