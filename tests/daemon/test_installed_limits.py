"""Errors, limits and load through the real daemon: what Dify's API receives when things go wrong.

Dify maps a plugin error back to its own exception by `error_type` (`api/core/plugin/impl/base.py`):
only the Invoke* errors and CredentialsValidateFailedError are known; anything else is a raw
PluginInvokeError. The daemon kills a plugin whose stdout line passes 5 MiB, with every session on it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import API_KEY
from tests.daemon.dify_api import DifyApi, Dispatched
from tests.daemon.services import Daemon
from tests.support.fake_together import FakeTogether, Recorded, Reply
from tests.support.llm_fakes import chunk, usage
from tests.support.sse import sse_frames
from tests.support.text_embedding_fakes import embeddings_reply
from tests.support.tts_audio import SPEECH_WAV
from tools.llama_server import free_port

pytestmark = pytest.mark.usefixtures("installed")

LLAMA = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
KOKORO = "hexgrad/Kokoro-82M"
WHISPER = "openai/whisper-large-v3"
STREAMS = 20


def together_error(message: str, status: int, **headers: str) -> Reply:
    return Reply.json({"error": {"message": message, "type": "invalid_request_error"}}, status, headers)


def user(content: str) -> dict:
    return {"role": "user", "content": content, "name": None}


def call(dify: DifyApi, model_type: str, credentials: dict) -> Dispatched:
    """One call of `model_type` as Dify makes it."""
    if model_type == "llm":
        fields = {
            "prompt_messages": [user("Hi")],
            "model_parameters": {},
            "tools": [],
            "stop": [],
            "stream": True,
        }
        return dify.model("llm/invoke", "llm", LLAMA, credentials, **fields)
    if model_type == "text-embedding":
        custom = {**credentials, "context_size": "512", "max_chunks": "8"}
        return dify.model(
            "text_embedding/invoke", model_type, "acme/embedder", custom, texts=["a"], input_type="query"
        )
    if model_type == "rerank":
        return dify.model(
            "rerank/invoke",
            model_type,
            "acme/reranker",
            credentials,
            query="q",
            docs=["d"],
            score_threshold=0.0,
            top_n=1,
        )
    if model_type == "tts":
        fields = {"tenant_id": dify.tenant, "content_text": "Hello.", "voice": "af_heart"}
        return dify.model("tts/invoke", model_type, KOKORO, credentials, **fields)
    if model_type == "speech2text":
        return dify.model("speech2text/invoke", model_type, WHISPER, credentials, file=SPEECH_WAV.hex())
    return dify.model("moderation/invoke", model_type, "acme/llama-guard", credentials, text="hello")


# (model type, path Together is asked on, Together's reply or None for an unreachable server, error_type)
# A 429 that asks for a longer wait than the client's, and a 503 that says not to retry, fail at once.
RATE_LIMITED = together_error(f"Rate limit reached for {LLAMA}.", 429, **{"Retry-After": "60"})
OVERLOADED = together_error("The server is overloaded.", 503, **{"x-should-retry": "false"})
ERRORS = [
    ("llm", "/chat/completions", RATE_LIMITED, "InvokeRateLimitError"),
    (
        "text-embedding",
        "/embeddings",
        together_error("Invalid API key provided.", 401),
        "InvokeAuthorizationError",
    ),
    (
        "rerank",
        "/rerank",
        together_error("Unable to access model acme/reranker", 400),
        "InvokeBadRequestError",
    ),
    ("tts", "/audio/speech", OVERLOADED, "InvokeServerUnavailableError"),
    ("speech2text", "/audio/transcriptions", None, "InvokeConnectionError"),
    (
        "moderation",
        "/chat/completions",
        together_error("Credit limit exceeded.", 402),
        "InvokeAuthorizationError",
    ),
]


@pytest.mark.parametrize(("model_type", "path", "reply", "error_type"), ERRORS, ids=[e[0] for e in ERRORS])
def test_a_together_error_arrives_with_the_error_type_dify_maps(
    dify: DifyApi,
    fake_together: FakeTogether,
    credentials: dict,
    model_type: str,
    path: str,
    reply: Reply | None,
    error_type: str,
) -> None:
    fake_together.route("GET", "/voices", Reply.json({"data": []}))
    if reply is None:
        credentials = {**credentials, "endpoint_url": f"http://127.0.0.1:{free_port()}/v1"}
    else:
        fake_together.route("POST", path, reply)

    result = call(dify, model_type, credentials)

    assert result.error is not None, result.stream
    assert result.error["error_type"] == error_type
    if reply is not None:
        assert json.loads(reply.body)["error"]["message"] in result.error["message"]
    else:
        assert "127.0.0.1" in result.error["message"]
    assert API_KEY not in result.raw
    assert not any(isinstance(p, dict) and p.get("delta", {}).get("finish_reason") for p in result.stream)


def test_an_embedding_reply_over_the_line_limit_is_refused_and_the_plugin_lives_on(
    dify: DifyApi, fake_together: FakeTogether, credentials: dict
) -> None:
    def wide_vectors(request: Recorded) -> Reply:
        texts = request.json()["input"]
        data = [{"index": i, "embedding": [-0.0123456789012345] * 2048} for i in range(len(texts))]
        return Reply.json({"object": "list", "model": request.json()["model"], "data": data})

    fake_together.route("POST", "/embeddings", wide_vectors)
    custom = {**credentials, "context_size": "512", "max_chunks": "150"}
    texts = [f"text {i}" for i in range(150)]  # 150 × 2048 floats: about 6 MiB of JSON

    refused = dify.model(
        "text_embedding/invoke", "text-embedding", "acme/embedder", custom, texts=texts, input_type="document"
    )
    fake_together.route("POST", "/embeddings", embeddings_reply)
    after = dify.model(
        "text_embedding/invoke",
        "text-embedding",
        "acme/embedder",
        custom,
        texts=["still here"],
        input_type="document",
    )

    assert refused.error is not None and refused.error["error_type"] == "InvokeBadRequestError"
    assert "lower max_chunks" in refused.error["message"]
    [result] = after.ok()
    assert len(result["embeddings"]) == 1


class HeldStreams:
    """Streams each request's marker back word by word, but only once all STREAMS requests are in."""

    def __init__(self) -> None:
        self.all_in = threading.Barrier(STREAMS, timeout=120)

    def __call__(self, request: Recorded) -> Reply:
        marker = request.json()["messages"][-1]["content"]
        return Reply(200, {"Content-Type": "text/event-stream"}, chunks=self._chunks(marker))

    def _chunks(self, marker: str) -> Iterator[bytes]:
        yield sse_frames([chunk({"content": f"{marker}:0 "}, model=LLAMA)], done=False)[0]
        self.all_in.wait()  # a broken barrier ends this stream short, and the test sees it
        for n in range(1, 5):
            yield sse_frames([chunk({"content": f"{marker}:{n} "}, model=LLAMA)], done=False)[0]
        yield sse_frames([chunk({"content": ""}, "stop", usage(3, 5), model=LLAMA)])[0]


def test_concurrent_streams_each_get_their_own_whole_answer(
    dify: DifyApi, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/chat/completions", HeldStreams())
    markers = [f"s{n:02d}" for n in range(STREAMS)]
    fields = {"model_parameters": {}, "tools": [], "stop": [], "stream": True}

    def one(marker: str) -> str:
        stream = dify.model(
            "llm/invoke", "llm", LLAMA, credentials, prompt_messages=[user(marker)], **fields
        ).ok()
        assert stream[-1]["delta"]["finish_reason"] == "stop"
        return "".join(p["delta"]["message"]["content"] for p in stream)

    with ThreadPoolExecutor(STREAMS) as pool:
        answers = list(pool.map(one, markers))

    assert answers == ["".join(f"{m}:{n} " for n in range(5)) for m in markers]


def test_the_key_is_in_no_daemon_log_line(
    dify: DifyApi, daemon: Daemon, fake_together: FakeTogether, credentials: dict
) -> None:
    # Calls of every type, failing ones too, then the daemon's whole log (plugin output included).
    fake_together.route("POST", "/chat/completions", together_error("Invalid API key provided.", 401))
    for model_type in ("llm", "text-embedding", "rerank", "tts", "speech2text", "moderation"):
        assert call(dify, model_type, credentials).error is not None

    log = daemon.log_text()
    assert "togetherai" in log  # the log is the daemon's, with the plugin's lines
    assert API_KEY not in log
    assert API_KEY.removeprefix("tgp_v1_") not in log
