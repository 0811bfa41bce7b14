"""Test helpers for rerank: the model class as the SDK builds it and a Together-like `/rerank`."""

from __future__ import annotations

from pathlib import Path

import yaml
from dify_plugin.entities.model.schema import AIModelEntity

from models.rerank.rerank import TogetherRerankModel
from tests.support.fake_together import Recorded, Reply

ROOT = Path(__file__).resolve().parents[2]
MODEL = "acme/dedicated-mxbai-rerank"  # a customizable model: Together serves none serverless
QUERY = "Which animals live in the Andes?"
DOCS = [
    "Pandas live in China.",
    "Llamas live in the Andes.",
    "Guanacos roam the Andes.",
    "Camels cross deserts.",
]
SCORES = {0: 0.55, 1: 0.91, 2: 0.55, 3: -0.20}  # raw relevance per document index


def rerank_model() -> TogetherRerankModel:
    """The model class with the predefined schemas from `models/rerank/*.yaml`."""
    folder = ROOT / "models" / "rerank"
    schemas = [
        AIModelEntity(**yaml.safe_load(p.read_text())) for p in folder.glob("*.yaml") if p.name[0] != "_"
    ]
    return TogetherRerankModel(schemas)


def together_rerank(request: Recorded) -> Reply:
    """Together's behaviour: results best first, cut to `top_n`, no document texts."""
    body = request.json()
    scored = sorted((i for i in SCORES if i < len(body["documents"])), key=lambda i: (-SCORES[i], i))
    results = [{"index": i, "relevance_score": SCORES[i], "document": {"text": None}} for i in scored]
    results = results[: body.get("top_n", len(results))]
    return Reply.json({"object": "rerank", "id": "rr-1", "model": body["model"], "results": results})
