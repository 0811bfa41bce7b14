"""Together's `/embeddings` as Dify text-embedding models: the predefined serverless models and any
customizable model id (a fine-tune or a dedicated endpoint's model).

Contract of `invoke`:
- An empty list returns no vectors and makes no request.
- Texts become request texts by the rules of `inputs.prepare_texts`: an empty or whitespace-only
  text fails the call (`InvokeBadRequestError`); e5-instruct queries get their instruction; texts
  longer than `context_size` are truncated by tokens.
- Requests carry at most `max_chunks` texts and run concurrently (`batching.embed_in_batches`);
  vectors come back in input order, exactly as Together returned them. One failed request fails
  the call with its mapped `InvokeError`; there is never a partial result. A reply too large for
  Dify's plugin daemon fails with `InvokeBadRequestError` naming the `max_chunks` that fits.
- Usage counts Together's reported tokens, else the offline count; cost comes from the model's
  YAML pricing (zero for customizable models).

`context_size` and `max_chunks` come from the model YAML, or for customizable models from the
credentials of the same names (defaults: the form's 512 and 32).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from dify_plugin import TextEmbeddingModel
from dify_plugin.entities.model import (
    AIModelEntity,
    EmbeddingInputType,
    ModelPropertyKey,
    PriceType,
)
from dify_plugin.entities.model.text_embedding import EmbeddingUsage, TextEmbeddingResult

from models.text_embedding.batching import embed_in_batches
from models.text_embedding.inputs import prepare_texts
from models.together.credentials import whole_number
from models.together.model_mixin import TogetherModelMixin
from models.together.tokens import count_tokens

DEFAULT_CONTEXT_SIZE = 512
DEFAULT_MAX_CHUNKS = 32
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
        embedded = embed_in_batches(
            self.client(credentials),
            model,
            request_texts,
            batch_size=self._get_max_chunks(model, credentials),
        )
        result = TextEmbeddingResult(
            model=model, embeddings=embedded.vectors, usage=self._usage(model, credentials, embedded.tokens)
        )
        dimensions = len(embedded.vectors[0])
        return self.fitting_reply(result, len(texts), f"vectors of {dimensions} dimensions", "max_chunks")

    def get_num_tokens(self, model: str, credentials: dict, texts: list[str]) -> list[int]:
        """Each text's tokens, counted offline with the same counter as the chat models."""
        return [count_tokens(text) for text in texts]

    def validate_credentials(self, model: str, credentials: Mapping) -> None:
        """Embed one word (sent as an array); any failure becomes `CredentialsValidateFailedError`."""
        with self.validating_credentials():
            self._invoke(model, dict(credentials), VALIDATION_TEXTS)

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """A customizable model's schema from its `context_size` and `max_chunks` credentials."""
        return self.customizable_entity(
            model,
            {
                ModelPropertyKey.CONTEXT_SIZE: whole_number(
                    credentials, "context_size", DEFAULT_CONTEXT_SIZE
                ),
                ModelPropertyKey.MAX_CHUNKS: whole_number(credentials, "max_chunks", DEFAULT_MAX_CHUNKS),
            },
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
