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


def test_invoke_speech2text_refuses_an_unsupported_format_before_upload(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    result = transcribe(plugin, credentials, SPEECH_OGG)

    assert result.stream == []
    assert result.error["error_type"] == "InvokeBadRequestError"
    assert "cannot transcribe ogg audio" in result.error["message"]
    assert fake_together.requests == []
