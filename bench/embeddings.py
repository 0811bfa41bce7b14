"""Measurement 4: embedding 10,000 short texts against a server that takes 50 ms per request.

- plugin: the SDK's `TextEmbeddingModel.invoke` through the plugin's class (in-process), as a
  knowledge-base import calls it: wall time and the requests the server saw;
- sequential against concurrent: `batching.embed_in_batches` with the same batches, one request at a
  time against the plugin's concurrency, run alternately; the speed-up is the median of the paired
  ratios. Also, for comparison, a wider bound, and 8-dimensional vectors (waiting without decoding).

The server answers with 1024-dimensional vectors, as Together's e5 model does, so the main figures
include decoding them (about 150 MB of JSON per call).
"""

from __future__ import annotations

import time

import httpx
from dify_plugin.entities.model import EmbeddingInputType, ModelType

from bench.plugin import credentials, model_instance
from bench.report import Row, median, ms
from bench.servers import LocalTogether
from models.text_embedding.batching import MAX_CONCURRENT_REQUESTS, embed_in_batches
from models.together.client import TogetherClient

MODEL = "intfloat/multilingual-e5-large-instruct"
TEXTS = 10_000
BATCH = 100  # the model's max_chunks
TARGET = 4.0
WIDER = 16  # a larger bound, to show what the concurrency limit costs
SMALL_DIMENSIONS = 8


def _texts() -> list[str]:
    return [
        f"Passage {i}: a short paragraph about topic {i % 97} from a knowledge base." for i in range(TEXTS)
    ]


def _requests_seen(base_url: str) -> int:
    return int(httpx.get(base_url + "/_stats").json().get("/embeddings", 0))


def _speedups(
    client: TogetherClient, texts: list[str], concurrency: int, runs: int
) -> tuple[float, float, float]:
    """Median seconds sequential, median seconds at `concurrency`, median of the paired speed-ups."""
    sequential, concurrent, speedups = [], [], []
    for run in range(runs):
        seconds = {}
        for level in (1, concurrency) if run % 2 else (concurrency, 1):  # alternate who goes first
            started = time.perf_counter()
            embed_in_batches(client, MODEL, texts, batch_size=BATCH, concurrency=level)
            seconds[level] = time.perf_counter() - started
        sequential.append(seconds[1])
        concurrent.append(seconds[concurrency])
        speedups.append(seconds[1] / seconds[concurrency])
    return median(sequential), median(concurrent), median(speedups)


def measure(base_url: str, runs: int) -> tuple[list[Row], list[str]]:
    texts = _texts()
    httpx.post(base_url + "/_reset")
    plugin_seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        result = model_instance(ModelType.TEXT_EMBEDDING).invoke(
            MODEL, credentials(base_url), texts, user="bench", input_type=EmbeddingInputType.DOCUMENT
        )
        plugin_seconds.append(time.perf_counter() - started)
        if len(result.embeddings) != TEXTS:
            raise AssertionError(f"{len(result.embeddings)} vectors for {TEXTS} texts")
    requests = _requests_seen(base_url) // runs

    label = f"4. Embed {TEXTS:,} short texts, 50 ms server"
    client = TogetherClient(credentials(base_url))
    sequential, concurrent, speedup = _speedups(client, texts, MAX_CONCURRENT_REQUESTS, runs)
    rows = [
        Row(
            f"{label}: plugin invoke, 1024-d vectors, median of {runs}",
            f"{ms(median(plugin_seconds))}, {requests} requests",
        ),
        Row(
            f"{label}: {MAX_CONCURRENT_REQUESTS} in flight vs sequential, 1024-d vectors",
            f"{ms(concurrent)} vs {ms(sequential)} = **{speedup:.2f}× speed-up**",
            f"≥ {TARGET:.0f}×",
            speedup >= TARGET,
        ),
    ]
    _, wider, wider_speedup = _speedups(client, texts, WIDER, runs)
    rows.append(
        Row(
            f"{label}: {WIDER} in flight vs sequential, 1024-d vectors (for comparison)",
            f"{ms(wider)} = {wider_speedup:.2f}× speed-up",
        )
    )
    with LocalTogether(dimensions=SMALL_DIMENSIONS) as small:
        small_client = TogetherClient(credentials(small.base_url))
        for level in (MAX_CONCURRENT_REQUESTS, WIDER):
            sequential, concurrent, small_speedup = _speedups(small_client, texts, level, runs)
            rows.append(
                Row(
                    f"{label}: {level} in flight vs sequential, {SMALL_DIMENSIONS}-d vectors (waiting only)",
                    f"{ms(concurrent)} vs {ms(sequential)} = {small_speedup:.2f}× speed-up",
                )
            )
    notes = [
        (
            f"Embeddings: {requests} requests of {BATCH} texts; at {MAX_CONCURRENT_REQUESTS} in flight the "
            f"speed-up cannot exceed {MAX_CONCURRENT_REQUESTS}×, and with 1024-d vectors decoding the JSON "
            "(one core) bounds it further."
        )
    ]
    return rows, notes
