"""Measurement 4: embedding 10,000 short texts against a server that takes 50 ms per request.

The SDK's `TextEmbeddingModel.invoke` through the plugin's class (in-process), called as a
knowledge-base import calls it: `BATCH` texts (the model's `max_chunks`) per call, one call after
another; wall time and the requests the server saw. The server answers with 1024-dimensional
vectors, as an e5-large endpoint does, so the figure includes decoding them.
"""

from __future__ import annotations

import time

import httpx
from dify_plugin.entities.model import EmbeddingInputType, ModelType

from bench.plugin import credentials, model_instance
from bench.report import Row, median, ms

MODEL = "acme/dedicated-e5"  # a customizable model: Together serves no embedding model itself
TEXTS = 10_000
BATCH = 100  # the model's max_chunks: Dify sends no more texts per call


def _texts() -> list[str]:
    return [
        f"Passage {i}: a short paragraph about topic {i % 97} from a knowledge base." for i in range(TEXTS)
    ]


def _requests_seen(base_url: str) -> int:
    return int(httpx.get(base_url + "/_stats").json().get("/embeddings", 0))


def measure(base_url: str, runs: int) -> tuple[list[Row], list[str]]:
    texts = _texts()
    httpx.post(base_url + "/_reset")
    plugin_seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        vectors = 0
        for start in range(0, TEXTS, BATCH):
            result = model_instance(ModelType.TEXT_EMBEDDING).invoke(
                MODEL,
                credentials(base_url, context_size="512", max_chunks=str(BATCH)),
                texts[start : start + BATCH],
                user="bench",
                input_type=EmbeddingInputType.DOCUMENT,
            )
            vectors += len(result.embeddings)
        plugin_seconds.append(time.perf_counter() - started)
        if vectors != TEXTS:
            raise AssertionError(f"{vectors} vectors for {TEXTS} texts")
    requests = _requests_seen(base_url) // runs
    rows = [
        Row(
            f"4. Embed {TEXTS:,} short texts, 50 ms server: plugin invoke per {BATCH} texts, "
            f"1024-d vectors, median of {runs}",
            f"{ms(median(plugin_seconds))}, {requests} requests",
        )
    ]
    return rows, [f"Embeddings: {requests} requests of {BATCH} texts, one call after another, as Dify sends them."]
