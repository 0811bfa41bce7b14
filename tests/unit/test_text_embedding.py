"""Text embedding against the scripted Together stand-in: batches, order, reply size, length, usage."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from dify_plugin.core.server.stdio.response_writer import StdioResponseWriter
from dify_plugin.entities.model import EmbeddingInputType
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeServerUnavailableError,
)

from models.text_embedding.inputs import E5_RETRIEVAL_TASK
from models.together import model_mixin
from models.together.model_mixin import MAX_REPLY_LINE_BYTES, TogetherModelMixin
from models.together.tokens import count_tokens, encoding
from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Recorded, Reply
from tests.support.text_embedding_fakes import CUSTOM, E5, embedding_model, embeddings_reply, vector_for

E5_QUERY_PREFIX = f"Instruct: {E5_RETRIEVAL_TASK}\nQuery: "


def sent_inputs(fake: FakeTogether) -> list[list[str]]:
    return [r.json()["input"] for r in fake.requests if r.path == "/v1/embeddings"]


@pytest.fixture
def custom_credentials(credentials: dict[str, str]) -> dict[str, str]:
    return {**credentials, "context_size": "512", "max_chunks": "3"}


def test_empty_list_makes_no_request(fake_together: FakeTogether, credentials: dict) -> None:
    result = embedding_model().invoke(E5, credentials, [])

    assert result.embeddings == []
    assert result.usage.tokens == 0
    assert fake_together.requests == []


def test_a_dedicated_endpoints_model_sends_an_array_and_reports_usage(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/embeddings", embeddings_reply)

    result = embedding_model().invoke(E5, {**credentials, "context_size": "514"}, ["alpha", "beta"])

    [request] = fake_together.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.json() == {"model": E5, "input": ["alpha", "beta"]}
    assert result.model == E5
    assert result.embeddings == [vector_for("alpha"), vector_for("beta")]
    assert result.usage.tokens == result.usage.total_tokens == 20  # Together's count, not ours
    assert result.usage.total_price == 0  # a dedicated endpoint is billed by the hour, not per token
    assert result.usage.currency == "USD"


def test_usage_is_counted_locally_when_together_reports_none(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/embeddings", lambda r: embeddings_reply(r, usage=False))
    texts = ["The quick brown fox", "jumps over the lazy dog"]

    result = embedding_model().invoke(E5, credentials, texts)

    assert result.usage.tokens == sum(count_tokens(t) for t in texts)


def test_batches_hold_at_most_max_chunks_and_vectors_keep_input_order(
    fake_together: FakeTogether, custom_credentials: dict
) -> None:
    fake_together.route("POST", "/embeddings", embeddings_reply)
    texts = [f"text number {i}" for i in range(7)]

    result = embedding_model().invoke(CUSTOM, custom_credentials, texts)

    assert sent_inputs(fake_together) == [texts[0:3], texts[3:6], texts[6:7]]
    assert result.embeddings == [vector_for(t) for t in texts]
    assert result.usage.tokens == 70


def test_one_failing_batch_fails_the_whole_call_and_stops_the_rest(
    fake_together: FakeTogether, custom_credentials: dict
) -> None:
    def handler(request: Recorded) -> Reply:
        if "poison" in request.json()["input"]:
            return Reply.json({"error": {"message": "batch rejected", "type": "invalid_request_error"}}, 400)
        return embeddings_reply(request)

    fake_together.route("POST", "/embeddings", handler)
    texts = ["a", "b", "c", "poison", "d", "e", "f", "g", "h"]

    with pytest.raises(InvokeBadRequestError, match="batch rejected"):
        embedding_model().invoke(CUSTOM, custom_credentials, texts)

    assert sent_inputs(fake_together) == [["a", "b", "c"], ["poison", "d", "e"]]


def test_requests_stay_within_togethers_batch_limit_whatever_max_chunks_says(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/embeddings", embeddings_reply)
    texts = [f"t{i}" for i in range(250)]

    result = embedding_model().invoke(CUSTOM, {**credentials, "max_chunks": "1000"}, texts)

    assert [len(batch) for batch in sent_inputs(fake_together)] == [100, 100, 50]
    assert result.embeddings == [vector_for(t) for t in texts]


def _wide_vectors(
    dimensions: int, values: tuple[float, ...] = (-0.123456789,)
) -> Callable[[Recorded], Reply]:
    def handler(request: Recorded) -> Reply:
        count = len(request.json()["input"])
        vector = [values[n % len(values)] for n in range(dimensions)]
        data = [{"index": i, "embedding": vector} for i in range(count)]
        return Reply.json({"object": "list", "data": data})

    return handler


def test_vectors_beyond_one_daemon_reply_are_refused_naming_max_chunks(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/embeddings", _wide_vectors(4096))
    texts = [f"t{i}" for i in range(100)]  # 100 × 4096 floats: about 6 MB as one line

    with pytest.raises(InvokeBadRequestError, match="lower max_chunks") as raised:
        embedding_model().invoke(CUSTOM, {**credentials, "max_chunks": "100"}, texts)

    assert f"{MAX_REPLY_LINE_BYTES:,} bytes" in str(raised.value)


def test_the_reply_limit_is_measured_on_the_line_the_sdk_writes(
    fake_together: FakeTogether,
    credentials: dict,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Whole numbers, tiny and huge values: each is written as the SDK writes it, not as Together sent it.
    fake_together.route("POST", "/embeddings", _wide_vectors(64, (1, -1.2345e-7, 0.1, 3e20, -0.0, 0.00001)))
    result = embedding_model().invoke(CUSTOM, credentials, ["a", "b", "c"])
    writer = StdioResponseWriter()
    writer.session_message(str(uuid.uuid4()), writer.stream_object(result))
    written = len(capsys.readouterr().out.split("\n")[0].encode())

    monkeypatch.setattr(model_mixin, "MAX_REPLY_LINE_BYTES", written)
    TogetherModelMixin.ensure_fits_one_reply(
        result, "max_chunks", floats="embeddings"
    )  # exactly at the limit: allowed
    monkeypatch.setattr(model_mixin, "MAX_REPLY_LINE_BYTES", written - 1)
    with pytest.raises(InvokeBadRequestError, match="lower max_chunks"):
        TogetherModelMixin.ensure_fits_one_reply(result, "max_chunks", floats="embeddings")


def test_malformed_response_is_a_server_error(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/embeddings", Reply.json({"object": "list", "model": E5, "data": []}))

    with pytest.raises(InvokeServerUnavailableError, match="0 embeddings for 2 texts"):
        embedding_model().invoke(E5, credentials, ["a", "b"])


def test_vectors_are_placed_by_index_not_position(fake_together: FakeTogether, credentials: dict) -> None:
    data = [
        {"object": "embedding", "index": 1, "embedding": [1.0]},
        {"object": "embedding", "index": 0, "embedding": [0.0]},
    ]
    fake_together.route("POST", "/embeddings", Reply.json({"object": "list", "model": E5, "data": data}))

    result = embedding_model().invoke(E5, credentials, ["first", "second"])

    assert result.embeddings == [[0.0], [1.0]]


def test_texts_longer_than_the_context_are_truncated_by_tokens(
    fake_together: FakeTogether, credentials: dict, caplog: pytest.LogCaptureFixture
) -> None:
    fake_together.route("POST", "/embeddings", embeddings_reply)
    long_text = "Knowledge bases embed documents in bulk and rerank retrieved chunks quickly. " * 5
    cjk_text = "知识库批量嵌入文档并对检索到的片段重新排序。" * 5

    embedding_model().invoke(CUSTOM, {**credentials, "context_size": "8"}, [long_text, "short", cjk_text])

    [[sent_long, sent_short, sent_cjk]] = sent_inputs(fake_together)
    assert sent_long == encoding().decode(encoding().encode_ordinary(long_text)[:8])
    assert long_text.startswith(sent_long)
    assert sent_short == "short"
    assert cjk_text.startswith(sent_cjk) and "\ufffd" not in sent_cjk  # never half a character
    assert 0 < count_tokens(sent_cjk) <= 8
    assert "2 of 3 embedding inputs were truncated to 8 tokens" in caplog.text


def test_e5_queries_get_the_instruction_and_documents_stay_plain(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/embeddings", embeddings_reply)
    model = embedding_model()

    model.invoke(E5, credentials, ["how do llamas live?"], input_type=EmbeddingInputType.QUERY)
    model.invoke(E5, credentials, ["Llamas live in herds."], input_type=EmbeddingInputType.DOCUMENT)
    model.invoke(CUSTOM, credentials, ["how do llamas live?"], input_type=EmbeddingInputType.QUERY)

    assert sent_inputs(fake_together) == [
        [E5_QUERY_PREFIX + "how do llamas live?"],
        ["Llamas live in herds."],
        ["how do llamas live?"],  # no documented convention for an arbitrary model: sent as is
    ]


def test_the_query_instruction_counts_against_the_context(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/embeddings", embeddings_reply)

    embedding_model().invoke(E5, credentials, ["word " * 2000], input_type=EmbeddingInputType.QUERY)

    [[sent]] = sent_inputs(fake_together)
    assert sent.startswith(E5_QUERY_PREFIX)
    assert count_tokens(sent) <= 514


@pytest.mark.parametrize("blank", ["", "   \n\t"])
def test_an_empty_text_fails_the_call_before_any_request(
    fake_together: FakeTogether, credentials: dict, blank: str
) -> None:
    with pytest.raises(InvokeBadRequestError, match="Text 2 of 3 is empty"):
        embedding_model().invoke(E5, credentials, ["a", blank, "c"])
    assert fake_together.requests == []


def test_num_tokens_are_counted_offline_with_the_shared_counter(
    fake_together: FakeTogether, credentials: dict
) -> None:
    texts = ["hello world", "", "知识库"]

    assert embedding_model().get_num_tokens(E5, credentials, texts) == [count_tokens(t) for t in texts]
    assert fake_together.requests == []


def test_validation_embeds_one_text_sent_as_an_array(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/embeddings", embeddings_reply)

    embedding_model().validate_credentials(E5, credentials)

    [request] = fake_together.requests
    assert request.json() == {"model": E5, "input": ["ping"]}


def test_validation_failure_carries_togethers_message(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route(
        "POST",
        "/embeddings",
        Reply.json(
            {
                "error": {
                    "message": "Unable to access model acme/custom-embedder",
                    "type": "invalid_request_error",
                }
            },
            404,
        ),
    )

    with pytest.raises(CredentialsValidateFailedError, match="Unable to access model acme/custom-embedder"):
        embedding_model().validate_credentials(CUSTOM, credentials)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("context_size", "0"),
        ("max_chunks", "many"),
        ("max_chunks", "-3"),
        ("max_chunks", True),
        ("context_size", 12.5),
        ("max_chunks", ["3"]),
    ],
)
def test_bad_customizable_settings_fail_validation_without_a_request(
    fake_together: FakeTogether, credentials: dict, name: str, value: object
) -> None:
    with pytest.raises(CredentialsValidateFailedError, match=f"{name} must be a whole number"):
        embedding_model().validate_credentials(CUSTOM, {**credentials, name: value})
    assert fake_together.requests == []


def test_customizable_schema_reads_context_size_and_max_chunks() -> None:
    model = embedding_model()
    credentials = {"api_key": API_KEY, "context_size": "8192", "max_chunks": "16"}

    assert model._get_context_size(CUSTOM, credentials) == 8192
    assert model._get_max_chunks(CUSTOM, credentials) == 16


def test_no_embedding_model_is_predefined_since_together_serves_none() -> None:
    assert embedding_model().predefined_models() == []
