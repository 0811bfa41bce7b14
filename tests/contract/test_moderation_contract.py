"""The guard-model requests moderation sends validate against Together's `ChatCompletionRequest`."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.support.fake_together import FakeTogether
from tests.support.moderation_fakes import MODEL, UNSAFE_WORD, guard, moderation_model

SPEC = Path(__file__).resolve().parents[3] / "shared" / "together-openapi.yaml"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    if not SPEC.is_file():
        pytest.skip(f"the Together OpenAPI spec is not at {SPEC}")
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    request = spec["components"]["schemas"]["ChatCompletionRequest"]
    # The spec leaves extra fields open; closing them here catches a misspelt or invented field.
    schema = {**request, "additionalProperties": False, "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_every_moderation_request_validates(
    validator: jsonschema.protocols.Validator, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/chat/completions", guard())
    model = moderation_model()

    model.invoke(MODEL, credentials, "A short, harmless question.", user="u1")
    model.invoke(MODEL, credentials, " ".join(["word"] * 2000) + f" {UNSAFE_WORD}")  # several pieces
    custom = {**credentials, "max_characters_per_chunk": "50", "max_chunks": "4"}
    model.invoke("my-org/guard", custom, "x " * 80)
    model.validate_credentials(MODEL, credentials)

    bodies = [request.json() for request in fake_together.requests]
    assert len(bodies) == 1 + 3 + 4 + 1
    for body in bodies:
        validator.validate(body)


def test_the_validator_rejects_what_together_would(validator: jsonschema.protocols.Validator) -> None:
    message = [{"role": "user", "content": "hi"}]
    assert not validator.is_valid({"model": MODEL})
    assert not validator.is_valid({"model": MODEL, "messages": [{"role": "moderator", "content": "hi"}]})
    assert not validator.is_valid({"model": MODEL, "messages": message, "user": "u1"})
    assert not validator.is_valid({"model": MODEL, "messages": message, "max_tokens": "20"})
