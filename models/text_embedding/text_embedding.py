"""Together's `/embeddings` as Dify text-embedding models: any model id the user adds (a fine-tune or
a dedicated endpoint's model) and any predefined one.

Contract of `invoke`:
- An empty list returns no vectors and makes no request.
- Texts become request texts by the rules of `inputs.prepare_texts` (an empty text fails the call,
  e5-instruct queries get their instruction, texts beyond `context_size` are truncated by tokens).
- Requests carry at most `max_chunks` texts, never more than `MAX_TEXTS_PER_REQUEST`, one after
  another; vectors come back in input order. One failed request fails the call with its mapped
  `InvokeError`; there is never a partial result, nor a reply too long for Dify's daemon (that is
  an `InvokeBadRequestError` asking for a lower `max_chunks`).
- Usage counts Together's reported tokens, else the offline count; cost comes from the YAML pricing.

`context_size` and `max_chunks` come from the model YAML, or for customizable models from the
credentials of the same names (defaults: the form's 512 and 32).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from dify_plugin import TextEmbeddingModel
from dify_plugin.entities.model import AIModelEntity, EmbeddingInputType, ModelPropertyKey, PriceType
from dify_plugin.entities.model.text_embedding import EmbeddingUsage, TextEmbeddingResult
from dify_plugin.errors.model import InvokeServerUnavailableError

from models.text_embedding.inputs import prepare_texts
from models.together.client import TogetherClient
from models.together.credentials import whole_number
from models.together.model_mixin import TogetherModelMixin
from models.together.tokens import count_tokens

DEFAULT_CONTEXT_SIZE = 512
DEFAULT_MAX_CHUNKS = 32
MAX_TEXTS_PER_REQUEST = 100  # Together's guidance for one /embeddings request
VALIDATION_TEXTS = ["ping"]


class TogetherTextEmbeddingModel(TogetherModelMixin, TextEmbeddingModel):
    """Text embeddings from Together; see the module docstring for the contract."""

    def _invoke(
        self,
        model: str,
        credentials: dict,
        texts: list[str],
        user: str | None = None,
        input_type: EmbeddingInputType = EmbeddingInputType.DOCUMENT,
    ) -> TextEmbeddingResult:
        # `user` is not sent: Together's EmbeddingsRequest has no such field.
        if not texts:
            return TextEmbeddingResult(model=model, embeddings=[], usage=self._usage(model, credentials, 0))
        request_texts = prepare_texts(model, texts, input_type, self._get_context_size(model, credentials))
        client = TogetherClient(credentials)
        size = min(self._get_max_chunks(model, credentials), MAX_TEXTS_PER_REQUEST)
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(request_texts), size):
            batch = request_texts[start : start + size]
            # `input` is always an array, even for one text: some OpenAI-style servers reject a bare
            # string, and the reply has one entry per text.
            payload = client.post_json("/embeddings", {"model": model, "input": batch})
            vectors += _vectors(payload, len(batch))
            reported = _reported_tokens(payload)
            tokens += sum(map(count_tokens, batch)) if reported is None else reported
        usage = self._usage(model, credentials, tokens)
        result = TextEmbeddingResult(model=model, embeddings=vectors, usage=usage)
        self.ensure_fits_one_reply(result, "max_chunks", floats="embeddings")
        return result

    def get_num_tokens(self, model: str, credentials: dict, texts: list[str]) -> list[int]:
        """Each text's tokens, counted offline with the same counter as the chat models."""
        return [count_tokens(text) for text in texts]

    def validate_credentials(self, model: str, credentials: Mapping) -> None:
        """Embed one word (sent as an array); any failure becomes `CredentialsValidateFailedError`."""
        with self.validating_credentials(credentials):
            self._invoke(model, dict(credentials), VALIDATION_TEXTS)

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """A customizable model's schema from its `context_size` and `max_chunks` credentials."""
        context_size = whole_number(credentials, "context_size", DEFAULT_CONTEXT_SIZE)
        max_chunks = whole_number(credentials, "max_chunks", DEFAULT_MAX_CHUNKS)
        return self.customizable_entity(
            model, {ModelPropertyKey.CONTEXT_SIZE: context_size, ModelPropertyKey.MAX_CHUNKS: max_chunks}
        )

    def _usage(self, model: str, credentials: dict, tokens: int) -> EmbeddingUsage:
        price = self.get_price(model, credentials, PriceType.INPUT, tokens)
        return EmbeddingUsage(
            tokens=tokens,
            total_tokens=tokens,
            unit_price=price.unit_price,
            price_unit=price.unit,
            total_price=price.total_amount,
            currency=price.currency,
            latency=time.perf_counter() - self.started_at,
        )


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
