"""Speech-to-text under the real SDK runtime, over stdio as Dify's daemon drives it (files travel as hex)."""

from __future__ import annotations

import pytest

from tests.support.fake_together import FakeTogether, Reply
from tests.support.tts_audio import SPEECH_MP3, SPEECH_OGG, SPEECH_WAV, multipart_parts
from tools.stdio_runtime import PluginProcess

WHISPER = "openai/whisper-large-v3"


def transcribe(plugin: PluginProcess, credentials: dict, audio: bytes):
    return plugin.call(
        "invoke_speech2text",
        {"credentials": credentials, "model_type": "speech2text", "model": WHISPER, "file": audio.hex()},
    )


@pytest.mark.parametrize(("audio", "filename"), [(SPEECH_WAV, "audio.wav"), (SPEECH_MP3, "audio.mp3")])
def test_invoke_speech2text_turns_a_hex_file_into_text(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict, audio: bytes, filename: str
) -> None:
    fake_together.route("POST", "/audio/transcriptions", Reply.json({"text": "Hello from Together AI."}))

    stream = transcribe(plugin, credentials, audio).ok()

    assert stream == [{"result": "Hello from Together AI."}]
    [request] = fake_together.requests
    parts = multipart_parts(request)
    assert parts[0] == ("model", None, WHISPER.encode())
    assert parts[-1] == ("file", filename, audio)


def test_invoke_speech2text_refuses_what_is_not_audio_before_upload(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    result = transcribe(plugin, credentials, b"%PDF-1.7 a document, not a recording")

    assert result.stream == []
    assert result.error["error_type"] == "InvokeBadRequestError"
    assert "not audio" in result.error["message"]
    assert fake_together.requests == []


def test_invoke_speech2text_uploads_opus_as_opus(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/audio/transcriptions", Reply.json({"text": "hello"}))

    result = transcribe(plugin, credentials, SPEECH_OGG)

    assert result.stream == [{"result": "hello"}]
    [upload] = fake_together.requests
    assert multipart_parts(upload)[-1][1] == "audio.opus"
