"""The guard-model requests moderation sends validate against Together's `ChatCompletionRequest`,
closed so that a misspelt or invented field fails."""

from __future__ import annotations

from tests.support.fake_together import FakeTogether
from tests.support.moderation_fakes import MODEL, UNSAFE_WORD, guard, moderation_model
from tests.support.openapi import OpenAPI


def test_every_moderation_request_validates(
    openapi: OpenAPI, fake_together: FakeTogether, credentials: dict
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
    check = openapi.validator("ChatCompletionRequest", closed=True)
    for body in bodies:
        check.validate(body)


def test_the_validator_rejects_what_together_would(openapi: OpenAPI) -> None:
    check = openapi.validator("ChatCompletionRequest", closed=True)
    message = [{"role": "user", "content": "hi"}]
    assert not check.is_valid({"model": MODEL})
    assert not check.is_valid({"model": MODEL, "messages": [{"role": "moderator", "content": "hi"}]})
    assert not check.is_valid({"model": MODEL, "messages": message, "user": "u1"})
    assert not check.is_valid({"model": MODEL, "messages": message, "max_tokens": "20"})
