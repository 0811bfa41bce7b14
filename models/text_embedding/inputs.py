"""The text sent to Together for each text Dify asks to embed.

`prepare_texts` applies three rules, in this order:

1. **Empty text.** A text that is empty or only whitespace fails the whole call with
   `InvokeBadRequestError` naming its position, before any request. It has nothing to embed:
   Together would reject it or return a vector that matches every query alike, and Dify's
   splitter drops empty chunks, so one arriving here is a caller's error worth seeing.
2. **Query instruction.** Models whose card documents an instruction format (the e5 instruct
   family) get queries as `"Instruct: <task>\\nQuery: <text>"`; documents, and every text of
   other models, are sent unchanged.
3. **Length.** A text longer than the model's context is truncated to its first tokens, so that
   instruction plus text fit in `context_size`. Tokens are counted offline with cl100k (the
   plugin's one counter), an estimate of the model's own tokenizer; for e5, Together truncates any
   remainder itself. Truncation, not splitting and averaging: it is what Together does for e5
   anyway, keeps one request text per Dify text (predictable cost and batches), and an average of
   piece vectors is not the model's embedding of any text. Truncations are logged once per call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dify_plugin.entities.model import EmbeddingInputType
from dify_plugin.errors.model import InvokeBadRequestError

from models.together.tokens import count_tokens, encoding

logger = logging.getLogger(__name__)

# intfloat's model cards: queries carry a one-sentence task description, passages none.
E5_RETRIEVAL_TASK = "Given a web search query, retrieve relevant passages that answer the query"
INSTRUCTED_QUERY_MODELS = frozenset(
    {"intfloat/multilingual-e5-large-instruct", "intfloat/e5-mistral-7b-instruct"}
)


def query_prefix(model: str, input_type: EmbeddingInputType) -> str:
    """What goes before each text of this model and input type; empty when nothing does."""
    if input_type == EmbeddingInputType.QUERY and model.lower() in INSTRUCTED_QUERY_MODELS:
        return f"Instruct: {E5_RETRIEVAL_TASK}\nQuery: "
    return ""


def prepare_texts(
    model: str, texts: Sequence[str], input_type: EmbeddingInputType, context_size: int
) -> list[str]:
    """The texts to send, one per input text, under the rules in this module's docstring."""
    for position, text in enumerate(texts):
        if not text.strip():
            raise InvokeBadRequestError(
                f"Text {position + 1} of {len(texts)} is empty; Together cannot embed an empty text"
            )
    prefix = query_prefix(model, input_type)
    budget = context_size - count_tokens(prefix)
    if budget < 1:
        raise InvokeBadRequestError(
            f"context_size {context_size} leaves no room for text after {model}'s query instruction"
        )
    bodies = [truncate(text, budget) for text in texts]
    if cut := sum(len(body) < len(text) for body, text in zip(bodies, texts, strict=True)):
        logger.warning("%d of %d embedding inputs were truncated to %d tokens", cut, len(texts), budget)
    return [prefix + body for body in bodies]


def truncate(text: str, max_tokens: int) -> str:
    """`text` cut to its first `max_tokens` tokens (cl100k), never splitting a character."""
    tokens = encoding().encode_ordinary(text)
    if len(tokens) <= max_tokens:
        return text
    # A token can end inside a multi-byte character; the incomplete character is dropped.
    return encoding().decode_bytes(tokens[:max_tokens]).decode("utf-8", "ignore")
