"""Many texts as several `/embeddings` requests running at once, with vectors in input order.

`embed_in_batches` is the whole batching policy and the entry point for measuring it: it splits
the texts into requests of at most `batch_size`, runs up to `concurrency` of them at a time and
returns the vectors in input order with the tokens used. One failed request fails the call with
its `InvokeError`; the requests still queued or in flight are stopped and nothing partial is
returned.

Concurrency uses gevent greenlets: importing `dify_plugin` monkey-patches sockets and threads
(the plugin's `main.py` and the tests both import it before this module), so each greenlet
blocks only itself while it waits for Together and the bound is enforced by a semaphore.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gevent
from dify_plugin.errors.model import InvokeServerUnavailableError
from gevent.lock import Semaphore

from models.together.client import TogetherClient
from models.together.tokens import count_tokens

# Dify itself sends at most `max_chunks` texts per call, so this only widens calls with more; eight
# in flight overlap the network waits (`make bench`: over 4× sequential), and the client's retries
# absorb the 429 or 503 a burst may meet.
MAX_CONCURRENT_REQUESTS = 8


@dataclass(frozen=True)
class EmbeddedTexts:
    """Vectors in the order of the texts (of a call or of one batch), and the input tokens they cost."""

    vectors: list[list[float]]
    tokens: int


def embed_in_batches(
    client: TogetherClient,
    model: str,
    texts: Sequence[str],
    *,
    batch_size: int,
    concurrency: int = MAX_CONCURRENT_REQUESTS,
) -> EmbeddedTexts:
    """Embed `texts` exactly as given, `batch_size` texts per request, `concurrency` requests at once.

    Each batch's tokens are Together's `usage` when the response has one, else the offline count
    of that batch's texts. Raises the `InvokeError` of the first request that fails.
    """
    if batch_size < 1 or concurrency < 1:
        raise ValueError("batch_size and concurrency must be at least 1")
    batches = [list(texts[start : start + batch_size]) for start in range(0, len(texts), batch_size)]
    results = map_in_order(lambda batch: _embed_batch(client, model, batch), batches, concurrency)
    return EmbeddedTexts(
        vectors=[vector for result in results for vector in result.vectors],
        tokens=sum(result.tokens for result in results),
    )


def map_in_order[T, R](function: Callable[[T], R], items: Sequence[T], concurrency: int) -> list[R]:
    """`function` over `items` with at most `concurrency` calls running; results in input order.

    The first call to fail (in time, not in order) has its exception re-raised once every other
    call has been stopped.
    """
    if concurrency <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    gate = Semaphore(concurrency)

    def attempt(item: T) -> tuple[R | None, Exception | None]:
        with gate:
            try:
                return function(item), None
            except Exception as exc:  # returned, not raised: gevent would report a raised one as a crash
                return None, exc

    greenlets = [gevent.spawn(attempt, item) for item in items]
    try:
        for finished in gevent.iwait(greenlets):
            error = finished.value[1]
            if error is not None:
                raise error
    finally:
        # A no-op once all have finished; after a failure it stops the batches still queued or in flight.
        gevent.killall(greenlets)
    return [greenlet.value[0] for greenlet in greenlets]


def _embed_batch(client: TogetherClient, model: str, texts: list[str]) -> EmbeddedTexts:
    # `input` is always an array, even for one text: some OpenAI-style servers reject a bare string
    # (a known failure of other Dify plugins' validation), and the reply has one entry per text.
    payload = client.post_json("/embeddings", {"model": model, "input": texts})
    vectors = _vectors(payload, len(texts))
    tokens = _reported_tokens(payload)
    if tokens is None:
        tokens = sum(count_tokens(text) for text in texts)
    return EmbeddedTexts(vectors, tokens)


def _vectors(payload: Any, expected: int) -> list[list[float]]:
    """The vectors of an `EmbeddingsResponse`, placed by their `index`; one per input text."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(data, list) or len(data) != expected:
        count = len(data) if isinstance(data, list) else "no"
        raise InvokeServerUnavailableError(f"Together AI returned {count} embeddings for {expected} texts")
    vectors: list[list[float] | None] = [None] * expected
    for position, item in enumerate(data):
        if not isinstance(item, Mapping) or not isinstance(item.get("embedding"), list):
            raise InvokeServerUnavailableError("Together AI returned an embedding without a vector")
        index = item.get("index", position)
        if not isinstance(index, int) or not 0 <= index < expected or vectors[index] is not None:
            raise InvokeServerUnavailableError(
                f"Together AI returned an embedding with a bad index: {index!r}"
            )
        vectors[index] = item["embedding"]
    return vectors  # type: ignore[return-value]  # every slot was filled: `expected` distinct indices


def _reported_tokens(payload: Mapping[str, Any]) -> int | None:
    usage = payload.get("usage")
    if not isinstance(usage, Mapping):
        return None
    for key in ("prompt_tokens", "total_tokens"):
        value = usage.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None
