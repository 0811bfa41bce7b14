"""Text embedding under the real SDK runtime over stdio, as Dify's daemon drives it."""

from __future__ import annotations


from models.text_embedding.inputs import E5_RETRIEVAL_TASK
from models.together.tokens import count_tokens
from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Reply
from tests.support.text_embedding_fakes import CUSTOM, E5, embeddings_reply, vector_for
from tools.stdio_runtime import PluginProcess


def embedding_request(credentials: dict, model: str, texts: list[str], input_type: str = "document") -> dict:
    return {
        "credentials": credentials,
        "model_type": "text-embedding",
        "model": model,
        "texts": texts,
        "input_type": input_type,
    }


def test_invoke_text_embedding_returns_vectors_in_order_with_usage(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/embeddings", embeddings_reply)
    texts = [f"chunk {i} of a knowledge base" for i in range(5)]

    [result] = plugin.call(
        "invoke_text_embedding", embedding_request({**credentials, "max_chunks": "2"}, CUSTOM, texts)
    ).ok()

    assert result["model"] == CUSTOM
    assert result["embeddings"] == [vector_for(t) for t in texts]
    assert sorted(len(r.json()["input"]) for r in fake_together.requests) == [1, 2, 2]
    assert result["usage"]["tokens"] == 50


def test_a_query_reaches_a_dedicated_e5_with_its_instruction(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/embeddings", embeddings_reply)

    [result] = plugin.call(
        "invoke_text_embedding", embedding_request(credentials, E5, ["llamas?"], "query")
    ).ok()

    [request] = fake_together.requests
    assert request.json()["input"] == [f"Instruct: {E5_RETRIEVAL_TASK}\nQuery: llamas?"]
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert result["usage"]["tokens"] == 10  # priced at 0: a dedicated endpoint is billed by the hour


def test_get_text_embedding_num_tokens_is_offline(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    texts = ["hello world", "知识库"]

    stream = plugin.call(
        "get_text_embedding_num_tokens",
        {"credentials": credentials, "model_type": "text-embedding", "model": E5, "texts": texts},
    ).ok()

    assert stream == [{"num_tokens": [count_tokens(t) for t in texts]}]
    assert fake_together.requests == []


def test_an_error_reply_reaches_dify_as_the_mapped_error(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    invalid_key = {
        "error": {
            "message": "Invalid API key provided.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }
    fake_together.route("POST", "/embeddings", Reply.json(invalid_key, 401, {"x-request-id": "req-emb-401"}))

    result = plugin.call("invoke_text_embedding", embedding_request(credentials, E5, ["a", "b"]))

    assert result.stream == []
    assert result.error["error_type"] == "InvokeAuthorizationError"
    assert "Invalid API key provided." in result.error["message"]
    assert "req-emb-401" in result.error["message"]
    assert API_KEY not in str(result.error)
