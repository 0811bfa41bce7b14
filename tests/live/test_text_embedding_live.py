"""Text embedding on the real API with multilingual-e5-large-instruct (1024 dimensions)."""

from __future__ import annotations

import math

from dify_plugin.entities.model import EmbeddingInputType

from tests.support.text_embedding_fakes import E5, embedding_model

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
