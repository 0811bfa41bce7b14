"""Rerank under the real SDK runtime over stdio, as Dify's daemon drives it."""

from __future__ import annotations

from tests.support.fake_together import FakeTogether, Reply
from tests.support.rerank_fakes import DOCS, MODEL, QUERY, SCORES, together_rerank
from tools.stdio_runtime import PluginProcess


def rerank_request(credentials: dict, score_threshold: float, top_n: int) -> dict:
    return {
        "credentials": credentials,
        "model_type": "rerank",
        "model": MODEL,
        "query": QUERY,
        "docs": DOCS,
        "score_threshold": score_threshold,
        "top_n": top_n,
    }


def test_daemon_defaults_return_every_document_best_first(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/rerank", together_rerank)

    [result] = plugin.call(
        "invoke_rerank", rerank_request(credentials, 0.0, 0)
    ).ok()  # what the daemon sends when unset

    assert result["model"] == MODEL
    assert [(d["index"], d["text"], d["score"]) for d in result["docs"]] == [
        (i, DOCS[i], SCORES[i]) for i in sorted(SCORES, key=lambda i: (-SCORES[i], i))
    ]
    [request] = fake_together.requests
    assert request.json()["top_n"] == len(DOCS)
    assert request.json()["return_documents"] is False


def test_threshold_and_top_n_are_applied(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/rerank", together_rerank)

    [result] = plugin.call("invoke_rerank", rerank_request(credentials, 0.55, 2)).ok()

    assert [d["index"] for d in result["docs"]] == [1, 0]


def test_an_error_reply_reaches_dify_as_the_mapped_error(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    message = "Unable to access non-serverless model mixedbread-ai/Mxbai-Rerank-Large-V2"
    fake_together.route(
        "POST", "/rerank", Reply.json({"error": {"message": message, "type": "invalid_request_error"}}, 400)
    )

    result = plugin.call("invoke_rerank", rerank_request(credentials, 0.0, 0))

    assert result.stream == []
    assert result.error["error_type"] == "InvokeBadRequestError"
    assert message in result.error["message"]
