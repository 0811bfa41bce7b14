"""Rerank on the real API. Together serves rerank models only on dedicated endpoints, so these
tests run only when TOGETHER_RERANK_MODEL names the model of a running endpoint."""

from __future__ import annotations

import os

import pytest

from tests.support.rerank_fakes import DOCS, QUERY, rerank_model

MODEL = os.environ.get("TOGETHER_RERANK_MODEL", "").strip()

pytestmark = pytest.mark.skipif(
    not MODEL,
    reason="TOGETHER_RERANK_MODEL is not set: rerank needs a dedicated endpoint; set it to the endpoint's model",
)


def test_credentials_validate(live_credentials: dict) -> None:
    rerank_model().validate_credentials(MODEL, live_credentials)


def test_the_andes_documents_rank_first_best_first(live_credentials: dict) -> None:
    result = rerank_model().invoke(MODEL, live_credentials, QUERY, DOCS, None, 2)

    assert len(result.docs) == 2
    assert {doc.text for doc in result.docs} == {"Llamas live in the Andes.", "Guanacos roam the Andes."}
    assert all(doc.text == DOCS[doc.index] for doc in result.docs)
    assert result.docs[0].score >= result.docs[1].score
