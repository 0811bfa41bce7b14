"""The rerank requests the plugin sends validate against Together's `RerankRequest`."""

from __future__ import annotations

from tests.support.fake_together import FakeTogether
from tests.support.openapi import OpenAPI
from tests.support.rerank_fakes import DOCS, MODEL, QUERY, rerank_model, together_rerank


def test_every_rerank_request_validates(
    openapi: OpenAPI, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/rerank", together_rerank)
    model = rerank_model()

    model.invoke(MODEL, credentials, QUERY, DOCS, 0.0, 0)  # the daemon's unset values
    model.invoke(MODEL, credentials, QUERY, DOCS, 0.5, 2)
    model.invoke(MODEL, credentials, QUERY, DOCS, None, None)
    model.validate_credentials(MODEL, credentials)

    bodies = [request.json() for request in fake_together.requests]
    assert len(bodies) == 4
    check = openapi.validator("RerankRequest")  # the spec closes it: no `user` or other extras
    for body in bodies:
        check.validate(body)


def test_the_validator_rejects_what_together_would(openapi: OpenAPI) -> None:
    check = openapi.validator("RerankRequest")
    assert not check.is_valid({"model": MODEL, "query": QUERY, "documents": DOCS, "user": "u1"})
    assert not check.is_valid({"model": MODEL, "documents": DOCS})
