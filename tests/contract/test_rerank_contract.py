"""The rerank requests the plugin sends validate against Together's `RerankRequest`."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.support.fake_together import FakeTogether
from tests.support.rerank_fakes import DOCS, MODEL, QUERY, rerank_model, together_rerank

SPEC = Path(__file__).resolve().parents[3] / "shared" / "together-openapi.yaml"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    if not SPEC.is_file():
        pytest.skip(f"the Together OpenAPI spec is not at {SPEC}")
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    # Keep `components` in the root so any `#/components/...` reference resolves.
    schema = {**spec["components"]["schemas"]["RerankRequest"], "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_every_rerank_request_validates(
    validator: jsonschema.protocols.Validator, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/rerank", together_rerank)
    model = rerank_model()

    model.invoke(MODEL, credentials, QUERY, DOCS, 0.0, 0)  # the daemon's unset values
    model.invoke(MODEL, credentials, QUERY, DOCS, 0.5, 2)
    model.invoke(MODEL, credentials, QUERY, DOCS, None, None)
    model.validate_credentials(MODEL, credentials)

    bodies = [request.json() for request in fake_together.requests]
    assert len(bodies) == 4
    for body in bodies:
        validator.validate(body)  # additionalProperties is false: no `user` or other extras


def test_the_validator_rejects_what_together_would(validator: jsonschema.protocols.Validator) -> None:
    assert not validator.is_valid({"model": MODEL, "query": QUERY, "documents": DOCS, "user": "u1"})
    assert not validator.is_valid({"model": MODEL, "documents": DOCS})
