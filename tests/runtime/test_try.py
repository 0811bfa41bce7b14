"""`make try` end to end: each call starts the plugin under the SDK runtime and prints its answer."""

from __future__ import annotations

import importlib
import io
from pathlib import Path

import pytest
import yaml

from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Recorded, Reply
from tests.support.llm_fakes import chunk
from tools.stdio_runtime import PLUGIN_ROOT

try_tool = importlib.import_module("tools.try")

AUDIO = PLUGIN_ROOT / "tests" / "fixtures" / "audio"  # real speech, made by espeak-ng and ffmpeg
SPEECH_MP3 = (AUDIO / "speech.mp3").read_bytes()
SPEECH_WAV = (AUDIO / "speech.wav").read_bytes()
INVALID_KEY = {"error": {"message": "Invalid API key provided", "type": "invalid_request_error"}}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = try_tool.main(list(argv), out, err)
    return status, out.getvalue(), err.getvalue()


def run_embedding(fake_together: FakeTogether) -> tuple[int, str, str]:
    """Embed "hi" with the dedicated model at the fake endpoint."""
    url = fake_together.base_url
    return run("--type", "text-embedding", "--model", DEDICATED, "--prompt", "hi", "--endpoint-url", url)


@pytest.fixture
def with_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", API_KEY)


DEDICATED = "acme/dedicated-endpoint-model"  # Together serves no embedding, rerank or guard model


@pytest.fixture
def without_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)


def test_without_a_key_embeddings_come_from_the_local_llama_server(
    without_key: None, llama_installed: None
) -> None:
    status, out, err = run("--type", "text-embedding", "--prompt", "Llamas live in the Andes.")

    assert status == 0, err
    assert "No TOGETHER_API_KEY: llama.cpp (SmolLM2-135M)" in err
    assert out.startswith("576 dimensions: [")  # SmolLM2's width, so llama.cpp really answered
    assert out.splitlines()[-1].endswith(f" tokens, {try_tool.LOCAL_PRICE}")


def test_with_a_key_embeddings_go_to_the_endpoint(with_key: None, fake_together: FakeTogether) -> None:
    def embeddings(request: Recorded) -> Reply:
        return Reply.json(
            {
                "object": "list",
                "model": request.json()["model"],
                "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 1.0]}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 0, "total_tokens": 7},
            }
        )

    fake_together.route("POST", "/embeddings", embeddings)

    status, out, err = run_embedding(fake_together)

    assert status == 0, err
    assert out.splitlines()[0] == "3 dimensions: [0.2500, -0.5000, 1.0000, ...]"
    assert out.splitlines()[1].startswith("-- 7 tokens, ")
    [request] = fake_together.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.json()["model"] == DEDICATED


def test_an_error_from_together_is_printed_with_its_type(with_key: None, fake_together: FakeTogether) -> None:
    fake_together.route("POST", "/embeddings", Reply.json(INVALID_KEY, 401))

    status, _out, err = run_embedding(fake_together)

    assert status == 1
    assert "InvokeAuthorizationError" in err and API_KEY not in err


def test_rerank_prints_each_document_with_its_score(with_key: None, fake_together: FakeTogether) -> None:
    fake_together.route(
        "POST",
        "/rerank",
        Reply.json(
            {
                "object": "rerank",
                "id": "r1",
                "model": "m",
                "results": [
                    {"index": 1, "relevance_score": 0.9, "document": {"text": None}},
                    {"index": 0, "relevance_score": 0.2, "document": {"text": None}},
                ],
            }
        ),
    )

    status, out, err = run(
        "--type",
        "rerank",
        "--model",
        DEDICATED,
        "--prompt",
        "Where do llamas live?",
        "--docs",
        "Pandas live in China.|Llamas live in the Andes.",
        "--endpoint-url",
        fake_together.base_url,
    )

    assert status == 0, err
    assert out.splitlines() == ["0.9000  #1  Llamas live in the Andes.", "0.2000  #0  Pandas live in China."]


def test_tts_writes_the_audio_with_the_models_default_voice(
    with_key: None, fake_together: FakeTogether, tmp_path: Path
) -> None:
    fake_together.route("POST", "/audio/speech", Reply(200, {"Content-Type": "audio/mpeg"}, SPEECH_MP3))
    target = tmp_path / "hello.mp3"

    status, out, err = run(
        "--type",
        "tts",
        "--model",
        "hexgrad/Kokoro-82M",
        "--prompt",
        "Hello there.",
        "--out",
        str(target),
        "--endpoint-url",
        fake_together.base_url,
    )

    assert status == 0, err
    assert target.read_bytes() == SPEECH_MP3
    assert out == f"wrote {len(SPEECH_MP3)} bytes of audio/mpeg to {target}\n"
    [speech] = [r for r in fake_together.requests if r.path.endswith("/audio/speech")]
    default_voice = yaml.safe_load((PLUGIN_ROOT / "models/tts/hexgrad-Kokoro-82M.yaml").read_text())[
        "model_properties"
    ]["default_voice"]
    assert (speech.json()["input"], speech.json()["voice"]) == ("Hello there.", default_voice)


def test_speech2text_prints_the_transcript(
    with_key: None, fake_together: FakeTogether, tmp_path: Path
) -> None:
    fake_together.route("POST", "/audio/transcriptions", Reply.json({"text": "Hello from the fixture."}))
    audio = tmp_path / "speech.wav"
    audio.write_bytes(SPEECH_WAV)

    status, out, err = run(
        "--type", "speech2text", "--file", str(audio), "--endpoint-url", fake_together.base_url
    )

    assert status == 0, err
    assert out == "Hello from the fixture.\n"
    [upload] = fake_together.requests
    assert SPEECH_WAV in upload.body


@pytest.mark.parametrize(
    ("verdict", "shown"), [("safe", "not flagged: safe"), ("unsafe\nS1", "flagged: unsafe")]
)
def test_moderation_prints_the_verdict(
    with_key: None, fake_together: FakeTogether, verdict: str, shown: str
) -> None:
    fake_together.route(
        "POST",
        "/chat/completions",
        Reply.json(
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 1,
                "model": DEDICATED,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": verdict},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23},
            }
        ),
    )

    status, out, err = run(
        "--type",
        "moderation",
        "--model",
        DEDICATED,
        "--prompt",
        "some text",
        "--endpoint-url",
        fake_together.base_url,
    )

    assert status == 0, err
    assert out == f"{shown}\n"


def test_llm_streams_togethers_tokens(with_key: None, fake_together: FakeTogether) -> None:
    usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    fake_together.route(
        "POST",
        "/chat/completions",
        Reply.sse(
            [
                chunk({"content": "Hello"}),
                chunk({"content": ", "}),
                chunk({"content": "llama"}, "stop"),
                chunk(None, usage=usage),
            ]
        ),
    )

    status, out, err = run(
        "--type",
        "llm",
        "--model",
        "openai/gpt-oss-20b",
        "--prompt",
        "Say hello",
        "--endpoint-url",
        fake_together.base_url,
    )

    assert status == 0, err
    assert out == "Hello, llama\n"
    assert "-- 9 prompt + 3 completion tokens" in err
    [call] = fake_together.requests
    body = call.json()
    assert body["stream"] is True and body["messages"][-1]["content"] == "Say hello"


def test_without_a_key_the_local_llama_server_answers_the_prompt(
    without_key: None, llama_installed: None
) -> None:
    status, out, err = run("--type", "llm", "--prompt", "Say hello.", "--max-tokens", "16")

    assert status == 0, err
    assert out.strip(), "SmolLM2 wrote something"
    assert "completion tokens, no cost (answered by the local llama.cpp server" in err
    assert "USD" not in err  # a price would be Together's for a model that did not answer
