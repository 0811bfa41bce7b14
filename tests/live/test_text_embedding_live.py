"""Text embedding on the real API with multilingual-e5-large-instruct (1024 dimensions). Together
serves embedding models only on dedicated endpoints, so these tests run only when
TOGETHER_EMBEDDING_ENDPOINT is the URL of a running e5 endpoint."""

from __future__ import annotations

import math
import os

import pytest
from dify_plugin.entities.model import EmbeddingInputType

from tests.support.text_embedding_fakes import E5, embedding_model

ENDPOINT = os.environ.get("TOGETHER_EMBEDDING_ENDPOINT", "").strip()
pytestmark = pytest.mark.skipif(
    not ENDPOINT, reason="TOGETHER_EMBEDDING_ENDPOINT is not set: embeddings need a dedicated endpoint"
)


@pytest.fixture
def live_credentials(live_credentials: dict) -> dict:
    return {**live_credentials, "endpoint_url": ENDPOINT, "context_size": "514", "max_chunks": "32"}

LLAMA_FACT = "Llamas are camelids that live in the Andes of South America."
PARIS_FACT = "Paris is the capital and largest city of France."
DIMENSIONS = 1024


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def test_credentials_validate(live_credentials: dict) -> None:
    embedding_model().validate_credentials(E5, live_credentials)


def test_documents_and_a_query_embed_and_the_query_finds_its_document(live_credentials: dict) -> None:
    model = embedding_model()

    documents = model.invoke(
        E5, live_credentials, [LLAMA_FACT, PARIS_FACT], input_type=EmbeddingInputType.DOCUMENT
    )
    queries = model.invoke(
        E5, live_credentials, ["Where do llamas live?", LLAMA_FACT], input_type=EmbeddingInputType.QUERY
    )

    assert [len(vector) for vector in documents.embeddings] == [DIMENSIONS, DIMENSIONS]
    assert [len(vector) for vector in queries.embeddings] == [DIMENSIONS, DIMENSIONS]
    assert documents.usage.tokens > 0 and documents.usage.total_price > 0
    llama, paris = documents.embeddings
    question, fact_as_query = queries.embeddings
    assert cosine(question, llama) > cosine(question, paris)  # vectors come back in input order
    # A query carries e5's retrieval instruction, so the same text embeds differently as a query.
    assert cosine(fact_as_query, llama) < 0.9999
