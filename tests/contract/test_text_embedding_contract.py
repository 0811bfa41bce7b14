"""The embedding requests the plugin sends validate against Together's `EmbeddingsRequest`, closed."""

from __future__ import annotations

from dify_plugin.entities.model import EmbeddingInputType

from tests.support.fake_together import FakeTogether
from tests.support.openapi import OpenAPI
from tests.support.text_embedding_fakes import CUSTOM, E5, embedding_model, embeddings_reply


def test_every_embedding_request_validates(
    openapi: OpenAPI, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/embeddings", embeddings_reply)
    model = embedding_model()

    model.invoke(E5, credentials, ["a document", "another"], input_type=EmbeddingInputType.DOCUMENT)
    model.invoke(E5, credentials, ["a query"], input_type=EmbeddingInputType.QUERY)
    model.invoke(CUSTOM, {**credentials, "max_chunks": "2", "context_size": "16"}, ["x " * 50, "y", "z"])
    model.validate_credentials(E5, credentials)

    bodies = [request.json() for request in fake_together.requests]
    assert len(bodies) == 5
    check = openapi.validator("EmbeddingsRequest", closed=True)
    for body in bodies:
        check.validate(body)
        assert isinstance(body["input"], list)  # always an array, never a bare string


def test_the_validator_rejects_what_together_would(openapi: OpenAPI) -> None:
    check = openapi.validator("EmbeddingsRequest", closed=True)
    assert check.is_valid({"model": E5, "input": ["text"]})
    assert not check.is_valid({"input": ["no model"]})
    assert not check.is_valid({"model": E5, "input": [1, 2]})
    assert not check.is_valid({"model": E5, "input": ["text"], "dimensions": 256})  # not a Together field
