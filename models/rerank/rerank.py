"""Together's `/rerank` as Dify rerank models.

Together serves no rerank model serverless, so none is predefined: the user adds the model of
their own dedicated endpoint, or of a gateway speaking the same API, as a customizable model.

Contract of `invoke`:
- No documents: an empty result, no request.
- One request `{model, query, documents, top_n, return_documents: false}`. `top_n` is the
  caller's limit, or every document when there is none.
- Each result is mapped by its `index` to the caller's document; `relevance_score` is kept raw
  (no rescaling per request, so a threshold means the same thing on every call).
- `score_threshold` keeps documents with `score >= threshold`; then `top_n` keeps the best ones.
  The daemon sends `top_n` 0 and `score_threshold` 0.0 when they are unset: 0 or less (or None)
  means no limit, 0.0 (or None) no threshold.
- Output sorted by score, highest first (ties by original position).
- A response that does not match the documents sent raises `InvokeServerUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dify_plugin import RerankModel
from dify_plugin.entities.model import AIModelEntity
from dify_plugin.entities.model.rerank import RerankDocument, RerankResult
from dify_plugin.errors.model import InvokeServerUnavailableError

from models.together.client import TogetherClient
from models.together.model_mixin import TogetherModelMixin

VALIDATION_QUERY = "What is the capital of France?"
VALIDATION_DOCS = ["Paris is the capital of France."]


class TogetherRerankModel(TogetherModelMixin, RerankModel):
    """Reranking on Together; see the module docstring for the contract."""

    def _invoke(
        self,
        model: str,
        credentials: dict,
        query: str,
        docs: list[str],
        score_threshold: float | None = None,
        top_n: int | None = None,
        user: str | None = None,
    ) -> RerankResult:
        # `user` is not sent: RerankRequest allows no properties beyond its own.
        if not docs:
            return RerankResult(model=model, docs=[])
        limit = top_n if top_n is not None and top_n > 0 else None
        body = {
            "model": model,
            "query": query,
            "documents": list(docs),
            "top_n": min(limit or len(docs), len(docs)),
            "return_documents": False,  # the texts are ours already; don't pay to receive them back
        }
        ranked = ranked_documents(TogetherClient(credentials).post_json("/rerank", body), docs)
        if score_threshold:
            ranked = [doc for doc in ranked if doc.score >= score_threshold]
        result = RerankResult(model=model, docs=ranked[:limit])
        self.ensure_fits_one_reply(result, "Top K (top_n), or the size of the documents")
        return result

    def validate_credentials(self, model: str, credentials: Mapping) -> None:
        """Rerank one document; any failure becomes `CredentialsValidateFailedError`."""
        with self.validating_credentials(credentials):
            self._invoke(model, dict(credentials), VALIDATION_QUERY, VALIDATION_DOCS)

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """Any model name is a rerank model; it needs no properties of its own."""
        return self.customizable_entity(model, {})


def ranked_documents(payload: Any, docs: Sequence[str]) -> list[RerankDocument]:
    """The documents of a `RerankResponse`, mapped by `index`, with raw scores, best first."""
    results = payload.get("results") if isinstance(payload, Mapping) else None
    if not isinstance(results, list):
        raise InvokeServerUnavailableError("Together AI answered the rerank request without results")
    ranked: dict[int, RerankDocument] = {}
    for result in results:
        index = result.get("index") if isinstance(result, Mapping) else None
        score = result.get("relevance_score") if isinstance(result, Mapping) else None
        if not isinstance(index, int) or not 0 <= index < len(docs) or index in ranked:
            raise InvokeServerUnavailableError(
                f"Together AI returned a rerank result for document {index!r} of {len(docs)}"
            )
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise InvokeServerUnavailableError(
                f"Together AI returned no relevance score for document {index}"
            )
        ranked[index] = RerankDocument(index=index, text=docs[index], score=float(score))
    return sorted(ranked.values(), key=lambda doc: (-doc.score, doc.index))
