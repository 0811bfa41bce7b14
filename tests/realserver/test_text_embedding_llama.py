"""Embeddings from a real OpenAI-compatible server (llama.cpp serving SmolLM2-135M) through the plugin.

llama.cpp's vectors for a text can shift when other texts share its decode batch (several texts
in one request, or concurrent requests), so exact comparisons here use the same request shape.
"""

from __future__ import annotations

import pytest

from models.text_embedding.inputs import truncate
from tests.support.text_embedding_fakes import embedding_model
from tools.llama_server import LlamaServer

MODEL = "smollm2"  # llama.cpp serves one model whatever the name; it is a customizable model here
DIMENSIONS = 576  # SmolLM2-135M's hidden size
TEXTS = ["Llamas live in the Andes.", "Pandas eat bamboo.", "Camels cross deserts.", "Ok"]


@pytest.fixture
def credentials(llama: LlamaServer) -> dict[str, str]:
    return {
        "api_key": "local-llama-key",
        "endpoint_url": llama.base_url,
        "context_size": "256",
        "max_chunks": "8",
    }


def test_vectors_have_the_served_dimension_and_usage(credentials: dict) -> None:
    result = embedding_model().invoke(MODEL, credentials, TEXTS)

    assert len(result.embeddings) == len(TEXTS)
    assert all(len(vector) == DIMENSIONS for vector in result.embeddings)
    assert len({tuple(vector) for vector in result.embeddings}) == len(TEXTS)
    assert result.usage.tokens > 0  # llama.cpp reports usage, which the plugin keeps


def test_identical_input_gives_identical_vectors(credentials: dict) -> None:
    model = embedding_model()

    assert (
        model.invoke(MODEL, credentials, TEXTS).embeddings
        == model.invoke(MODEL, credentials, TEXTS).embeddings
    )
    assert (
        model.invoke(MODEL, credentials, ["Ok"]).embeddings
        == model.invoke(MODEL, credentials, ["Ok"]).embeddings
    )


def test_several_batches_return_one_vector_per_text(credentials: dict) -> None:
    result = embedding_model().invoke(MODEL, {**credentials, "max_chunks": "1"}, TEXTS * 3)

    assert len(result.embeddings) == 3 * len(TEXTS)
    assert all(len(vector) == DIMENSIONS for vector in result.embeddings)


def test_an_over_long_text_is_truncated_instead_of_rejected(credentials: dict) -> None:
    # 700 tokens overflow llama.cpp's 512-token batch (it answers an error); the plugin sends the first 256.
    long_text = "word " * 700
    model = embedding_model()

    [vector] = model.invoke(MODEL, credentials, [long_text]).embeddings

    assert vector == model.invoke(MODEL, credentials, [truncate(long_text, 256)]).embeddings[0]
