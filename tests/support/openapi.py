"""Together's OpenAPI spec read as JSON Schema, for tests that check what the plugin sends and parses.

The spec is a trimmed copy under tests/fixtures/together-openapi/ (with its MIT licence), so the
contract tests run in any clone and from the package; `tests/contract/conftest.py` loads it once.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

SPEC_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "together-openapi" / "openapi.yaml"


class OpenAPI:
    """The spec's component schemas as JSON Schema validators.

    Two readings make the spec usable as JSON Schema: every validator's root carries the spec's
    `components`, so `#/components/...` references resolve; and OpenAPI 3.0's `nullable: true`,
    which the spec still uses although it declares 3.1 (where JSON Schema would ignore it), is
    read as "or null", as Together means it.
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.paths: Mapping[str, Any] = document["paths"]
        self._components = nullable_as_null(document["components"])

    @classmethod
    def load(cls, path: Path = SPEC_PATH) -> OpenAPI:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    def schema(self, name: str) -> dict[str, Any]:
        """A copy of component schema `name` (nullable already read), to adapt for one test."""
        return copy.deepcopy(self._components["schemas"][name])

    def validator(self, schema: str | Mapping[str, Any], *, closed: bool = False) -> Draft202012Validator:
        """A validator for the component named `schema`, or for a schema adapted from `schema()`.

        `closed` forbids top-level properties the schema does not declare. The spec leaves most
        request bodies open, so without it a misspelt or invented field would pass.
        """
        root = dict(self._components["schemas"][schema] if isinstance(schema, str) else schema)
        if closed:
            root["additionalProperties"] = False
        return Draft202012Validator({**root, "components": self._components})


def nullable_as_null(node: Any) -> Any:
    """`node` with each `nullable: true` schema turned into `anyOf: [null, schema]`."""
    if isinstance(node, list):
        return [nullable_as_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    members = node.get("allOf", [])
    if {"nullable": True} in members:  # allOf [X, {nullable: true}] means "X or null"
        others = [member for member in members if member != {"nullable": True}]
        rest = {key: value for key, value in node.items() if key != "allOf"}
        return {"anyOf": [{"type": "null"}, nullable_as_null({**rest, "allOf": others})]}
    node = {key: nullable_as_null(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [{"type": "null"}, node]}
    return node
