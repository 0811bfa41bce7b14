"""Text to speech on the real API with Kokoro: MP3 for a short sentence, and the live voice list."""

from __future__ import annotations

from tests.support.tts_audio import is_mp3, tts_model

KOKORO = "hexgrad/Kokoro-82M"


def test_credentials_validate(live_credentials: dict) -> None:
    tts_model().validate_credentials(KOKORO, live_credentials)


def test_a_sentence_becomes_mp3(live_credentials: dict) -> None:
    audio = b"".join(tts_model().invoke(KOKORO, "tenant", live_credentials, "Hello from Dify.", "af_heart"))

    assert is_mp3(audio), audio[:64]
    assert len(audio) > 2_000  # about a second of speech, not an empty frame


def test_the_voice_list_is_togethers_and_labelled(live_credentials: dict) -> None:
    voices = tts_model().get_tts_model_voices(KOKORO, live_credentials)

    assert voices and all(voice["name"] and voice["value"] for voice in voices)
    assert {"name": "Heart (US English, female)", "value": "af_heart"} in voices
