"""The embedding requests the plugin sends validate against Together's `EmbeddingsRequest`."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from dify_plugin.entities.model import EmbeddingInputType

from tests.support.fake_together import FakeTogether
from tests.support.text_embedding_fakes import CUSTOM, E5, embedding_model, embeddings_reply

SPEC = Path(__file__).resolve().parents[3] / "shared" / "together-openapi.yaml"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    if not SPEC.is_file():
        pytest.skip(f"the Together OpenAPI spec is not at {SPEC}")
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    # Keep `components` in the root so any `#/components/...` reference resolves.
    schema = {**spec["components"]["schemas"]["EmbeddingsRequest"], "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_every_embedding_request_validates(
    validator: jsonschema.protocols.Validator, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/embeddings", embeddings_reply)
    model = embedding_model()

    model.invoke(E5, credentials, ["a document", "another"], input_type=EmbeddingInputType.DOCUMENT)
    model.invoke(E5, credentials, ["a query"], input_type=EmbeddingInputType.QUERY)
    model.invoke(CUSTOM, {**credentials, "max_chunks": "2", "context_size": "16"}, ["x " * 50, "y", "z"])
    model.validate_credentials(E5, credentials)

    bodies = [request.json() for request in fake_together.requests]
    assert len(bodies) == 5
    for body in bodies:
        validator.validate(body)
        assert isinstance(body["input"], list)  # always an array, never a bare string


def test_the_validator_rejects_what_together_would(validator: jsonschema.protocols.Validator) -> None:
    assert not validator.is_valid({"input": ["no model"]})
    assert not validator.is_valid({"model": E5, "input": [1, 2]})
