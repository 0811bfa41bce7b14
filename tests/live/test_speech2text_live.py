"""Speech to text on the real API with Whisper large v3."""

from __future__ import annotations

from tests.support.tts_audio import AUDIO_DIR, stt_model

WHISPER = "openai/whisper-large-v3"


def test_credentials_validate(live_credentials: dict) -> None:
    stt_model().validate_credentials(WHISPER, live_credentials)  # uploads the SDK's demo recording


def test_the_fixture_recording_is_transcribed(live_credentials: dict) -> None:
    with (AUDIO_DIR / "speech.mp3").open("rb") as recording:  # "Hello from Together AI."
        text = stt_model().invoke(WHISPER, live_credentials, recording)

    assert "together" in text.lower()
