"""Dify's model parameters, tools and stop words as the body of Together's chat or completion request.

Parameter names are a contract with the model YAMLs (their `parameter_rules`) and the customizable
schema (`schema.py`): the SDK drops any parameter a model does not declare, and this module reads
exactly these:
- sampling, sent as-is when present: temperature, top_p, top_k, min_p, repetition_penalty,
  presence_penalty, frequency_penalty, max_tokens, seed;
- response_format: "text" (nothing sent), "json_object", or "json_schema" with json_schema (a
  JSON string, as its text rule makes the SDK require: a bare schema, or
  `{"name", "schema", "description"?, "strict"?}`);
- reasoning: boolean → `{"reasoning": {"enabled": …}}`;
- reasoning_effort: "low" | "medium" | "high" → `reasoning_effort`;
- preserved_thinking: true → `chat_template_kwargs: {"clear_thinking": false}` (GLM's switch).
`/completions` takes the sampling fields only; structured output and reasoning there raise
`InvokeBadRequestError` rather than being dropped, as does a boolean given for a number (Python
counts `True` as the integer 1, so the SDK's type check lets it through).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from dify_plugin.entities.model.message import PromptMessageTool
from dify_plugin.errors.model import InvokeBadRequestError

SAMPLING_PARAMETERS = (
    "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty",
    "max_tokens", "seed",
)  # fmt: skip
CHAT_ONLY_PARAMETERS = (
    "response_format", "json_schema", "reasoning", "reasoning_effort", "preserved_thinking",
)  # fmt: skip
DEFAULT_SCHEMA_NAME = "output"
_SCHEMA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def chat_request(
    model: str,
    messages: list[dict[str, Any]],
    parameters: Mapping[str, Any],
    tools: Sequence[PromptMessageTool] | None,
    stop: Sequence[str] | None,
    stream: bool,
) -> dict[str, Any]:
    """The `ChatCompletionRequest` body."""
    body: dict[str, Any] = {"model": model, "messages": messages, **_common(parameters, stop, stream)}
    if response_format := _response_format(parameters):
        body["response_format"] = response_format
    if isinstance(parameters.get("reasoning"), bool):
        body["reasoning"] = {"enabled": parameters["reasoning"]}
    if parameters.get("reasoning_effort"):
        body["reasoning_effort"] = parameters["reasoning_effort"]
    if parameters.get("preserved_thinking") is True:
        body["chat_template_kwargs"] = {"clear_thinking": False}
    if tools:
        fields = {"name", "description", "parameters"}  # the spec's FunctionDefinition
        body["tools"] = [{"type": "function", "function": tool.model_dump(include=fields)} for tool in tools]
        body["tool_choice"] = "auto"
    return body


def completion_request(
    model: str, prompt: str, parameters: Mapping[str, Any], stop: Sequence[str] | None, stream: bool
) -> dict[str, Any]:
    """The `CompletionRequest` body; raises `InvokeBadRequestError` for chat-only parameters."""
    chat_only = [
        name
        for name in CHAT_ONLY_PARAMETERS
        if parameters.get(name) not in (None, "")
        and not (name == "response_format" and parameters[name] == "text")
    ]
    if chat_only:
        raise InvokeBadRequestError(
            f"{', '.join(chat_only)} need chat mode; Together's /completions endpoint has no such field"
        )
    return {"model": model, "prompt": prompt, **_common(parameters, stop, stream)}


def _common(parameters: Mapping[str, Any], stop: Sequence[str] | None, stream: bool) -> dict[str, Any]:
    """The fields both endpoints share: sampling, stop words and streaming."""
    body = {name: parameters[name] for name in SAMPLING_PARAMETERS if parameters.get(name) is not None}
    if booleans := [name for name, value in body.items() if isinstance(value, bool)]:
        raise InvokeBadRequestError(f"{', '.join(booleans)} must be a number, not true or false")
    if stops := [word for word in stop or [] if word]:
        body["stop"] = stops
    if stream:
        # Some Together models report streamed usage only when asked to.
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _response_format(parameters: Mapping[str, Any]) -> dict[str, Any] | None:
    """Together's `response_format`, or None for plain text.

    A `json_schema` given without `response_format` asks for it; an explicit `text` or
    `json_object` wins over a leftover schema.
    """
    kind = parameters.get("response_format") or ("json_schema" if parameters.get("json_schema") else "text")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        return {"type": "json_schema", "json_schema": json_schema_format(parameters.get("json_schema"))}
    raise InvokeBadRequestError(f"response_format must be text, json_object or json_schema, got {kind!r}")


def json_schema_format(text: str | None) -> dict[str, Any]:
    """The spec's `ResponseFormatJsonSchema.json_schema` object from Dify's `json_schema` parameter.

    `text` is JSON (the SDK refuses anything but a string for a text rule): either the schema
    itself (named "output") or a wrapper `{"name", "schema", "description"?, "strict"?}` as Dify's
    structured output sends it. Raises `InvokeBadRequestError` saying what is wrong otherwise.
    """
    if not text or not text.strip():
        raise InvokeBadRequestError(
            "response_format json_schema needs a JSON schema in the json_schema parameter"
        )
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvokeBadRequestError(f"json_schema is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvokeBadRequestError(f"json_schema must be a JSON object, got {type(value).__name__}")
    wrapped = isinstance(value.get("schema"), dict)
    schema = value["schema"] if wrapped else value
    _check_schema(schema)
    name = value.get("name") if wrapped and value.get("name") else DEFAULT_SCHEMA_NAME
    if not isinstance(name, str) or not _SCHEMA_NAME.fullmatch(name):
        raise InvokeBadRequestError(
            f"json_schema name must be 1-64 letters, digits, underscores or dashes, got {name!r}"
        )
    result: dict[str, Any] = {"name": name, "schema": schema}
    if wrapped and isinstance(value.get("description"), str):
        result["description"] = value["description"]
    if wrapped and isinstance(value.get("strict"), bool):
        result["strict"] = value["strict"]
    return result


def _check_schema(schema: dict[str, Any]) -> None:
    """Refuse what cannot be a JSON Schema object; Together checks the rest and answers 400."""
    kind = schema.get("type")
    if kind is not None and not (
        isinstance(kind, str) or (isinstance(kind, list) and all(isinstance(k, str) for k in kind))
    ):
        raise InvokeBadRequestError(f"json_schema 'type' must be a string or a list of strings, got {kind!r}")
    if "properties" in schema and not isinstance(schema["properties"], dict):
        raise InvokeBadRequestError("json_schema 'properties' must be an object mapping names to schemas")
    if "required" in schema and not (
        isinstance(schema["required"], list) and all(isinstance(name, str) for name in schema["required"])
    ):
        raise InvokeBadRequestError("json_schema 'required' must be a list of property names")
