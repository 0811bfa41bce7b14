"""Rerank against the scripted Together stand-in: mapping by index, raw scores, threshold and top_n."""

from __future__ import annotations

import pytest
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeServerUnavailableError,
)

from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Reply
from tests.support.rerank_fakes import DOCS, MODEL, QUERY, rerank_model, together_rerank


@pytest.fixture
def fake(fake_together: FakeTogether) -> FakeTogether:
    fake_together.route("POST", "/rerank", together_rerank)
    return fake_together


def ranked(fake: FakeTogether, credentials: dict, score_threshold: float | None, top_n: int | None) -> list:
    result = rerank_model().invoke(MODEL, credentials, QUERY, DOCS, score_threshold, top_n)
    assert result.model == MODEL
    return [(doc.index, doc.text, doc.score) for doc in result.docs]


def test_no_documents_makes_no_request(fake_together: FakeTogether, credentials: dict) -> None:
    result = rerank_model().invoke(MODEL, credentials, QUERY, [], 0.5, 3)

    assert result.docs == []
    assert fake_together.requests == []


def test_request_asks_for_every_document_without_their_texts(fake: FakeTogether, credentials: dict) -> None:
    rerank_model().invoke(MODEL, credentials, QUERY, DOCS, None, None)

    [request] = fake.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.json() == {
        "model": MODEL,
        "query": QUERY,
        "documents": DOCS,
        "top_n": len(DOCS),
        "return_documents": False,
    }


def test_daemon_defaults_mean_no_limit_and_scores_stay_raw(fake: FakeTogether, credentials: dict) -> None:
    # The daemon sends top_n 0 and score_threshold 0.0 when the app sets neither.
    assert ranked(fake, credentials, 0.0, 0) == [
        (1, DOCS[1], 0.91),
        (0, DOCS[0], 0.55),  # a tie keeps the original order
        (2, DOCS[2], 0.55),
        (3, DOCS[3], -0.20),  # a negative raw score is kept, not clamped or rescaled
    ]
    assert fake.requests[0].json()["top_n"] == len(DOCS)


def test_threshold_keeps_scores_equal_to_it(fake: FakeTogether, credentials: dict) -> None:
    assert [i for i, _, _ in ranked(fake, credentials, 0.55, None)] == [1, 0, 2]
    assert [i for i, _, _ in ranked(fake, credentials, 0.56, None)] == [1]


def test_top_n_is_sent_and_applied(fake: FakeTogether, credentials: dict) -> None:
    assert [i for i, _, _ in ranked(fake, credentials, None, 2)] == [1, 0]
    assert fake.requests[-1].json()["top_n"] == 2


def test_top_n_beyond_the_documents_is_capped(fake: FakeTogether, credentials: dict) -> None:
    assert len(ranked(fake, credentials, None, 50)) == len(DOCS)
    assert fake.requests[-1].json()["top_n"] == len(DOCS)


def test_threshold_and_top_n_together(fake: FakeTogether, credentials: dict) -> None:
    assert [i for i, _, _ in ranked(fake, credentials, 0.9, 3)] == [1]
    assert [i for i, _, _ in ranked(fake, credentials, 0.5, 2)] == [1, 0]


def test_a_single_document_keeps_its_raw_score(fake_together: FakeTogether, credentials: dict) -> None:
    results = [{"index": 0, "relevance_score": 0.0421, "document": {}}]
    fake_together.route(
        "POST", "/rerank", Reply.json({"object": "rerank", "model": MODEL, "results": results})
    )

    [doc] = rerank_model().invoke(MODEL, credentials, QUERY, ["Llamas live in the Andes."], 0.0, 0).docs

    assert doc.score == 0.0421  # no per-request normalisation (which would make it 0 or 1)


@pytest.mark.parametrize(
    "results",
    [
        [{"index": 4, "relevance_score": 0.5}],
        [{"index": 0, "relevance_score": 0.5}, {"index": 0, "relevance_score": 0.4}],
        [{"index": 0, "relevance_score": "high"}],
        [{"relevance_score": 0.5}],
    ],
    ids=["index-out-of-range", "duplicate-index", "score-not-a-number", "no-index"],
)
def test_results_that_do_not_match_the_documents_are_a_server_error(
    fake_together: FakeTogether, credentials: dict, results: list
) -> None:
    fake_together.route(
        "POST", "/rerank", Reply.json({"object": "rerank", "model": MODEL, "results": results})
    )

    with pytest.raises(InvokeServerUnavailableError):
        rerank_model().invoke(MODEL, credentials, QUERY, DOCS[:2], None, None)


def test_validation_reranks_one_document(fake: FakeTogether, credentials: dict) -> None:
    rerank_model().validate_credentials("acme/my-rerank-endpoint", credentials)

    [request] = fake.requests
    assert request.json()["model"] == "acme/my-rerank-endpoint"
    assert len(request.json()["documents"]) == 1


def test_validation_failure_carries_togethers_message(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route(
        "POST",
        "/rerank",
        Reply.json({"error": {"message": "Model not available", "type": "invalid_request_error"}}, 400),
    )

    with pytest.raises(CredentialsValidateFailedError, match="Model not available"):
        rerank_model().validate_credentials(MODEL, credentials)


def test_no_rerank_model_is_predefined_since_together_serves_none() -> None:
    assert rerank_model().predefined_models() == []


def test_any_model_name_is_a_customizable_rerank_model() -> None:
    schema = rerank_model().get_model_schema("acme/my-rerank-endpoint", {"api_key": API_KEY})

    assert schema is not None and schema.model == "acme/my-rerank-endpoint"
    assert schema.model_type.value == "rerank"
