"""Shared by the TTS and STT tests: real audio (tests/fixtures/audio, made by espeak-ng and ffmpeg),
audio checks, a multipart reader, and the model classes built as the SDK builds them."""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

import pytest
import yaml
from dify_plugin.entities.model.schema import AIModelEntity

from models.speech2text.speech2text import TogetherSpeech2TextModel
from models.tts import tts as tts_module
from models.tts.tts import TogetherTTSModel
from models.tts.voices import LiveVoiceCache
from tests.support.fake_together import Recorded

ROOT = Path(__file__).resolve().parents[2]
AUDIO_DIR = ROOT / "tests" / "fixtures" / "audio"
SPEECH_WAV = (AUDIO_DIR / "speech.wav").read_bytes()
SPEECH_MP3 = (AUDIO_DIR / "speech.mp3").read_bytes()
SPEECH_OGG = (AUDIO_DIR / "speech.ogg").read_bytes()

DAEMON_LINE_LIMIT = 5 * 1024 * 1024  # the daemon's stdout scanner drops a plugin whose line is longer


def mp3_of_size(size: int) -> bytes:
    """At least `size` bytes of real MP3: the fixture's frames repeated (concatenated MP3 still plays)."""
    return SPEECH_MP3 * (size // len(SPEECH_MP3) + 1)


def is_mp3(data: bytes) -> bool:
    """Starts with an ID3 tag or an MPEG audio Layer III frame sync."""
    return data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE6 == 0xE2)


def is_wav(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def multipart_parts(request: Recorded) -> list[tuple[str, str | None, bytes]]:
    """A multipart/form-data request as `(field name, file name or None, content)`, in body order."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    return [
        (
            part.get_param("name", header="content-disposition"),
            part.get_filename(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    ]


def predefined_schemas(model_type_folder: str) -> list[AIModelEntity]:
    folder = ROOT / "models" / model_type_folder
    return [AIModelEntity(**yaml.safe_load(p.read_text())) for p in folder.glob("*.yaml") if p.name[0] != "_"]


def tts_model() -> TogetherTTSModel:
    """The TTS model class with the predefined schemas, as the SDK builds it."""
    return TogetherTTSModel(predefined_schemas("tts"))


def stt_model() -> TogetherSpeech2TextModel:
    """The speech-to-text model class with the predefined schemas, as the SDK builds it."""
    return TogetherSpeech2TextModel(predefined_schemas("speech2text"))


@pytest.fixture
def fresh_voice_cache(monkeypatch: pytest.MonkeyPatch) -> LiveVoiceCache:
    """A new process-wide voice cache, so no test sees another's voices (use it autouse)."""
    cache = LiveVoiceCache()
    monkeypatch.setattr(tts_module, "live_voice_cache", cache)
    return cache
