"""`make try` pieces that need no plugin process: request shapes and how each reply is shown."""

from __future__ import annotations

import importlib
import io
from pathlib import Path
from typing import Any

import pytest

try_tool = importlib.import_module("tools.try")  # `try` is a keyword, so no `import` statement

CREDENTIALS = {"api_key": "k"}


def args(*argv: str) -> Any:
    return try_tool.parser().parse_args(list(argv))


def chunk(
    content: str, usage: dict | None = None, finish: str | None = None, tool_calls: list | None = None
) -> dict:
    message = {"role": "assistant", "content": content, "tool_calls": tool_calls or []}
    return {
        "type": "stream",
        "data": {"delta": {"index": 0, "message": message, "usage": usage, "finish_reason": finish}},
    }


class RecordingOut(io.StringIO):
    """Remembers what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def test_llm_tokens_are_written_and_flushed_as_each_chunk_arrives() -> None:
    usage = {
        "prompt_tokens": 5,
        "completion_tokens": 2,
        "total_price": "0.0000012",
        "currency": "USD",
        "latency": 0.25,
    }
    out, err = RecordingOut(), io.StringIO()
    seen_before_second: list[str] = []

    def messages():
        yield chunk("Hel")
        seen_before_second.append(out.getvalue())
        yield chunk("lo", usage=usage, finish="stop")

    try_tool.print_llm(messages(), out, err)

    assert seen_before_second == ["Hel"]
    assert out.flushed[:2] == ["Hel", "Hello"]
    assert out.getvalue() == "Hello\n"
    assert err.getvalue() == "-- 5 prompt + 2 completion tokens, 0.0000012 USD, 0.25 s, finish: stop\n"


def test_an_answer_from_the_local_server_shows_no_price() -> None:
    usage = {
        "prompt_tokens": 5,
        "completion_tokens": 2,
        "total_price": "4E-5",  # what the plugin prices the predefined model at
        "currency": "USD",
        "latency": 1.0,
    }
    err = io.StringIO()

    try_tool.print_llm([chunk("Hi", usage=usage, finish="stop")], io.StringIO(), err, local=True)

    assert err.getvalue() == (
        "-- 5 prompt + 2 completion tokens, no cost (answered by the local llama.cpp server, not Together),"
        " 1.00 s, finish: stop\n"
    )


def test_local_embeddings_show_no_price() -> None:
    usage = {"tokens": 3, "total_price": "0.1", "currency": "USD"}
    reply = {"type": "stream", "data": {"embeddings": [[0.5]], "usage": usage}}
    out = io.StringIO()

    try_tool.print_embedding([reply], out, local=True)

    assert out.getvalue().splitlines()[-1] == f"-- 3 tokens, {try_tool.LOCAL_PRICE}"
    assert "not Together" in try_tool.LOCAL_PRICE


def test_llm_tool_calls_are_shown() -> None:
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    out = io.StringIO()
    try_tool.print_llm([chunk("", tool_calls=[call], finish="tool_calls")], out, io.StringIO())
    assert '[tool call get_weather({"city":"Paris"})]' in out.getvalue()


def test_a_plugin_error_stops_the_output_with_its_type_and_message() -> None:
    error = {"type": "error", "data": {"error_type": "InvokeRateLimitError", "message": "slow down"}}
    out = io.StringIO()
    with pytest.raises(try_tool.PluginError, match="InvokeRateLimitError: slow down"):
        try_tool.print_llm([chunk("partial"), error], out, io.StringIO())


def test_llm_request_is_shaped_as_the_daemon_sends_it() -> None:
    action, data = try_tool.request(
        args("--type", "llm", "--prompt", "Hi", "--max-tokens", "9"), "m", CREDENTIALS
    )
    assert action == "invoke_llm"
    assert data == {
        "model_type": "llm",
        "model": "m",
        "credentials": CREDENTIALS,
        "prompt_messages": [{"role": "user", "content": "Hi", "name": ""}],
        "model_parameters": {"max_tokens": 9},
        "stop": None,
        "tools": None,
        "stream": True,
    }


def test_rerank_sends_the_documents_and_the_daemons_unset_values() -> None:
    action, data = try_tool.request(
        args("--type", "rerank", "--prompt", "q", "--docs", "a | b|"), "m", CREDENTIALS
    )
    assert action == "invoke_rerank"
    assert (data["query"], data["docs"], data["score_threshold"], data["top_n"]) == ("q", ["a", "b"], 0.0, 0)


def test_speech2text_sends_the_file_as_hex(tmp_path: Path) -> None:
    audio = tmp_path / "a.mp3"
    audio.write_bytes(b"ID3\x00")
    action, data = try_tool.request(args("--type", "speech2text", "--file", str(audio)), "m", CREDENTIALS)
    assert (action, data["file"]) == ("invoke_speech2text", "49443300")


@pytest.mark.parametrize(
    ("argv", "needs"),
    [
        (["--type", "llm"], "PROMPT"),
        (["--type", "rerank", "--prompt", "q"], "DOCS"),
        (["--type", "speech2text"], "FILE"),
    ],
)
def test_a_missing_input_is_named(argv: list[str], needs: str) -> None:
    with pytest.raises(try_tool.TryError, match=needs):
        try_tool.request(args(*argv), "m", CREDENTIALS)


def test_audio_chunks_are_joined_into_one_file_named_by_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    messages = [
        {"type": "stream", "data": {"result": part.hex(), "mime_type": "audio/mpeg"}}
        for part in (b"ID3", b"..")
    ]
    out = io.StringIO()

    path = try_tool.write_audio(messages, None, out)

    assert path == Path("try-tts.mp3")
    assert (tmp_path / path).read_bytes() == b"ID3.."
    assert out.getvalue() == "wrote 5 bytes of audio/mpeg to try-tts.mp3\n"


def test_moderation_says_whether_the_text_is_flagged() -> None:
    out = io.StringIO()
    try_tool.print_result([{"type": "stream", "data": {"result": True}}], "moderation", out)
    try_tool.print_result([{"type": "stream", "data": {"result": False}}], "moderation", out)
    assert out.getvalue() == "flagged: unsafe\nnot flagged: safe\n"


def test_the_default_model_is_the_first_of_its_position_file(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "text_embedding"
    folder.mkdir(parents=True)
    (folder / "_position.yaml").write_text("- first/model\n- second/model\n")
    assert try_tool.default_model("text-embedding", tmp_path) == "first/model"
    (folder / "_position.yaml").write_text("[]\n")
    with pytest.raises(try_tool.TryError, match="no default: pass MODEL= the model your dedicated endpoint"):
        try_tool.default_model("text-embedding", tmp_path)


def test_without_a_key_types_llama_cpp_cannot_serve_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    err = io.StringIO()

    status = try_tool.main(["--type", "tts", "--model", "m", "--prompt", "Hello"], io.StringIO(), err)

    assert status == 2
    assert "TYPE=tts needs Together: set TOGETHER_API_KEY" in err.getvalue()


def test_a_customizable_model_gets_the_credential_forms_defaults_for_its_type() -> None:
    assert try_tool.form_defaults("text-embedding") == {"context_size": "512", "max_chunks": "32"}
    assert try_tool.form_defaults("moderation") == {"max_characters_per_chunk": "4000", "max_chunks": "32"}
    assert try_tool.form_defaults("rerank") == {}
