"""Text-to-speech under the real SDK runtime, over stdio as Dify's daemon drives it."""

from __future__ import annotations

import binascii

from tests.support.fake_together import FakeTogether, Reply
from tests.support.tts_audio import DAEMON_LINE_LIMIT, is_mp3, mp3_of_size
from tools.stdio_runtime import PluginProcess

KOKORO = "hexgrad/Kokoro-82M"
LIVE_VOICES = {
    "data": [{"model": KOKORO, "voices": [{"id": "k1", "name": "af_heart"}, {"id": "k2", "name": "af_nova"}]}]
}


def test_invoke_tts_streams_hex_chunks_that_decode_to_the_mp3(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    audio = mp3_of_size(3 * 1024 * 1024)  # 6 MiB of hex if it went out as one line
    fake_together.route("GET", "/voices", Reply.json(LIVE_VOICES))
    fake_together.route("POST", "/audio/speech", Reply(200, {"Content-Type": "audio/mpeg"}, audio))

    session = plugin.send(
        "invoke_tts",
        {
            "credentials": credentials,
            "model_type": "tts",
            "model": KOKORO,
            "tenant_id": "tenant-1",
            "content_text": "Hello from Together AI.",
            "voice": "af_nova",
        },
    )
    stream = plugin.collect(session).ok()

    assert len(stream) > 1 and {payload["mime_type"] for payload in stream} == {"audio/mpeg"}
    relayed = b"".join(binascii.unhexlify(payload["result"]) for payload in stream)
    assert relayed == audio and is_mp3(relayed)
    lines = [line for line in plugin.stdout_lines if session.encode() in line]
    assert max(len(line) for line in lines) < DAEMON_LINE_LIMIT
    [speech] = [r.json() for r in fake_together.requests if r.path == "/v1/audio/speech"]
    assert speech == {
        "model": KOKORO,
        "input": "Hello from Together AI.",
        "voice": "af_nova",
        "response_format": "mp3",
        "language": "en",
    }


def test_get_tts_model_voices_answers_the_daemons_empty_language(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("GET", "/voices", Reply.json(LIVE_VOICES))

    stream = plugin.call(
        "get_tts_model_voices",
        {"credentials": credentials, "model_type": "tts", "model": KOKORO, "language": ""},
    ).ok()

    assert stream == [
        {
            "voices": [
                {"name": "Heart (US English, female)", "value": "af_heart"},
                {"name": "Nova (US English, female)", "value": "af_nova"},
            ]
        }
    ]


def test_invoke_tts_with_empty_text_answers_a_bad_request(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    result = plugin.call(
        "invoke_tts",
        {
            "credentials": credentials,
            "model_type": "tts",
            "model": KOKORO,
            "tenant_id": "tenant-1",
            "content_text": "  ",
            "voice": "af_heart",
        },
    )

    assert result.stream == []
    assert result.error["error_type"] == "InvokeBadRequestError"
    assert "empty" in result.error["message"]
    assert fake_together.requests == []


def test_validating_a_customizable_tts_model_really_synthesises(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/audio/speech", Reply(body=mp3_of_size(1000)))
    custom = {**credentials, "default_voice": "narrator", "word_limit": "500"}

    stream = plugin.call(
        "validate_model_credentials",
        {"credentials": custom, "model_type": "tts", "model": "acme/dedicated-tts"},
    ).ok()

    assert stream == [{"result": True, "credentials": custom}]
    [speech] = [r.json() for r in fake_together.requests if r.path == "/v1/audio/speech"]
    assert (speech["model"], speech["voice"]) == ("acme/dedicated-tts", "narrator")
