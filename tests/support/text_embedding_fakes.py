"""Test helpers for text embedding: the model class as the SDK builds it and Together-like replies."""

from __future__ import annotations

from pathlib import Path

import yaml
from dify_plugin.entities.model.schema import AIModelEntity

from models.text_embedding.text_embedding import TogetherTextEmbeddingModel
from tests.support.fake_together import Recorded, Reply

ROOT = Path(__file__).resolve().parents[2]
E5 = "intfloat/multilingual-e5-large-instruct"
CUSTOM = "acme/custom-embedder"


def embedding_model() -> TogetherTextEmbeddingModel:
    """The model class with the predefined schemas from `models/text_embedding/*.yaml`."""
    folder = ROOT / "models" / "text_embedding"
    schemas = [
        AIModelEntity(**yaml.safe_load(p.read_text())) for p in folder.glob("*.yaml") if p.name[0] != "_"
    ]
    return TogetherTextEmbeddingModel(schemas)


def vector_for(text: str) -> list[float]:
    """A distinct, recognisable vector per text, so order mistakes show."""
    return [float(len(text)), float(sum(map(ord, text)) % 997), 0.5]


def embeddings_reply(request: Recorded, usage: bool = True) -> Reply:
    """Together's `EmbeddingsResponse` for the request's texts; `usage` is 10 tokens per text."""
    body = request.json()
    texts = body["input"]
    reply: dict = {
        "object": "list",
        "model": body["model"],
        "data": [
            {"object": "embedding", "index": i, "embedding": vector_for(t)} for i, t in enumerate(texts)
        ],
    }
    if usage:
        reply["usage"] = {
            "prompt_tokens": 10 * len(texts),
            "completion_tokens": 0,
            "total_tokens": 10 * len(texts),
        }
    return Reply.json(reply)
