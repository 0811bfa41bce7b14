"""Speech-to-text against the scripted Together stand-in: real wav and mp3 uploads, limits, formats."""

from __future__ import annotations

import io
import tempfile

import pytest
from dify_plugin.entities.model import ModelPropertyKey
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeServerUnavailableError,
)

from models.together.audio import sniff_audio_format
from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Recorded, Reply
from tests.support.tts_audio import SPEECH_MP3, SPEECH_OGG, SPEECH_WAV, multipart_parts, stt_model

WHISPER = "openai/whisper-large-v3"
CUSTOM = "acme/dedicated-whisper"
TRANSCRIPT = {"text": "Hello from Together AI."}


def transcribe(credentials: dict, audio: bytes, model: str = WHISPER) -> str:
    """Transcribe `audio` the way the SDK's executor hands it over: a named temporary file."""
    with tempfile.NamedTemporaryFile(suffix=".mp3", mode="w+b") as temp:  # the SDK's guess for unknown bytes
        temp.write(audio)
        temp.flush()
        temp.seek(0)
        return stt_model().invoke(model, credentials, temp.file)


def uploads(fake: FakeTogether) -> list[Recorded]:
    return [r for r in fake.requests if r.path == "/v1/audio/transcriptions"]


@pytest.mark.parametrize(
    ("audio", "filename", "content_type"),
    [(SPEECH_WAV, "audio.wav", "audio/wav"), (SPEECH_MP3, "audio.mp3", "audio/mpeg")],
)
def test_real_audio_is_uploaded_model_first_with_its_extension(
    fake_together: FakeTogether, credentials: dict, audio: bytes, filename: str, content_type: str
) -> None:
    fake_together.route("POST", "/audio/transcriptions", Reply.json(TRANSCRIPT))

    text = transcribe(credentials, audio)

    assert text == "Hello from Together AI."
    [request] = uploads(fake_together)
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"].startswith("multipart/form-data")
    parts = multipart_parts(request)
    assert [(name, file) for name, file, _ in parts] == [
        ("model", None),
        ("language", None),
        ("response_format", None),
        ("file", filename),
    ]
    assert {name: value.decode() for name, file, value in parts if file is None} == {
        "model": WHISPER,
        "language": "auto",
        "response_format": "json",
    }
    assert parts[-1][2] == audio
    assert f'filename="{filename}"' in request.body.decode("latin-1")
    assert f"Content-Type: {content_type}" in request.body.decode("latin-1")


def test_a_configured_language_is_sent(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/audio/transcriptions", Reply.json(TRANSCRIPT))

    transcribe({**credentials, "language": " DE "}, SPEECH_WAV, model=CUSTOM)

    fields = {
        name: value.decode() for name, file, value in multipart_parts(uploads(fake_together)[0]) if not file
    }
    assert fields["language"] == "de"


def test_a_file_over_the_limit_is_refused_before_upload(
    fake_together: FakeTogether, credentials: dict
) -> None:
    big_wav = SPEECH_WAV + bytes(2 * 1024 * 1024)  # a real header, then 2 MB of silence

    with pytest.raises(InvokeBadRequestError, match=r"2\.1 MB; this model accepts at most 1 MB"):
        transcribe({**credentials, "file_upload_limit": "1"}, big_wav, model=CUSTOM)

    assert fake_together.requests == []


def test_the_predefined_limit_is_togethers_80_mb(credentials: dict) -> None:
    schema = stt_model().get_model_schema(WHISPER, credentials)

    assert schema.model_properties[ModelPropertyKey.FILE_UPLOAD_LIMIT] == 80
    assert set(schema.model_properties[ModelPropertyKey.SUPPORTED_FILE_EXTENSIONS].split(",")) >= {
        "wav",
        "mp3",
        "m4a",
        "webm",
        "flac",
        "ogg",
        "opus",
        "aac",
    }


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (b"", "empty"),
        (b"%PDF-1.7 this is a document, not a recording", "not audio"),
    ],
)
def test_empty_or_unsupported_audio_is_refused_before_upload(
    fake_together: FakeTogether, credentials: dict, audio: bytes, message: str
) -> None:
    with pytest.raises(InvokeBadRequestError, match=message):
        transcribe(credentials, audio)

    assert fake_together.requests == []


@pytest.mark.parametrize("model", ["openai/whisper-large-v3", "nvidia/parakeet-tdt-0.6b-v3"])
def test_opus_goes_out_under_its_own_extension_to_both_models(
    fake_together: FakeTogether, credentials: dict, model: str
) -> None:
    fake_together.route("POST", "/audio/transcriptions", Reply.json(TRANSCRIPT))

    transcribe(credentials, SPEECH_OGG, model)

    parts = multipart_parts(uploads(fake_together)[0])
    assert (parts[0][0], parts[0][2]) == ("model", model.encode())
    assert parts[-1][1] == "audio.opus"


def test_mp4_audio_goes_out_as_m4a(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/audio/transcriptions", Reply.json(TRANSCRIPT))
    safari_recording = b"\x00\x00\x00\x1cftypisom\x00\x00\x02\x00isomiso2mp41" + bytes(200)

    transcribe(credentials, safari_recording)

    assert multipart_parts(uploads(fake_together)[0])[-1][1] == "audio.m4a"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (SPEECH_WAV, "wav"),
        (SPEECH_MP3, "mp3"),
        (SPEECH_OGG, "opus"),
        (b"OggS" + bytes(24) + b"\x01vorbis", "ogg"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + SPEECH_MP3, "mp3"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "m4a"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", "webm"),
        (b"\xff\xf1\x50\x80", "aac"),
        (b"\xff\xfd\x90\x00", None),  # MPEG Layer II is not MP3
        (b'{"error": "nope"}', None),
        (b"", None),
    ],
)
def test_formats_are_recognised_from_their_first_bytes(header: bytes, expected: str | None) -> None:
    assert sniff_audio_format(header) == expected


def test_a_retried_upload_sends_the_whole_file_again(fake_together: FakeTogether, credentials: dict) -> None:
    replies = iter([Reply.json({"error": {"message": "overloaded"}}, 503), Reply.json(TRANSCRIPT)])
    fake_together.route("POST", "/audio/transcriptions", lambda _request: next(replies))

    assert transcribe(credentials, SPEECH_WAV) == TRANSCRIPT["text"]

    assert [multipart_parts(r)[-1][2] for r in uploads(fake_together)] == [SPEECH_WAV, SPEECH_WAV]


def test_an_answer_without_text_is_an_error(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/audio/transcriptions", Reply.json({"transcript": "elsewhere"}))

    with pytest.raises(InvokeServerUnavailableError, match="without a `text`"):
        transcribe(credentials, SPEECH_MP3)


def test_silence_transcribes_to_empty_text(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/audio/transcriptions", Reply.json({"text": ""}))

    assert transcribe(credentials, SPEECH_WAV) == ""


def test_validation_uploads_a_real_recording(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/audio/transcriptions", Reply.json(TRANSCRIPT))

    stt_model().validate_credentials(WHISPER, credentials)

    [request] = uploads(fake_together)
    name, filename, audio = multipart_parts(request)[-1]
    assert (name, filename) == ("file", "audio.mp3") and len(audio) > 1000


def test_validation_fails_with_togethers_message(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route(
        "POST", "/audio/transcriptions", Reply.json({"error": {"message": "Invalid API key provided."}}, 401)
    )

    with pytest.raises(CredentialsValidateFailedError, match="Invalid API key provided"):
        stt_model().validate_credentials(WHISPER, credentials)


@pytest.mark.parametrize("limit", ["0", "81", "ten", "2.5"])
def test_a_bad_upload_limit_fails_validation(credentials: dict, limit: str) -> None:
    with pytest.raises(CredentialsValidateFailedError, match="file_upload_limit"):
        stt_model().validate_credentials(CUSTOM, {**credentials, "file_upload_limit": limit})


def test_a_plain_file_object_works_too(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/audio/transcriptions", Reply.json(TRANSCRIPT))

    assert stt_model().invoke(WHISPER, credentials, io.BytesIO(SPEECH_WAV)) == TRANSCRIPT["text"]


def test_a_format_the_model_does_not_declare_is_refused_before_upload(
    fake_together: FakeTogether, credentials: dict
) -> None:
    model = stt_model()
    [whisper] = [schema for schema in model.model_schemas if schema.model == WHISPER]
    whisper.model_properties[ModelPropertyKey.SUPPORTED_FILE_EXTENSIONS] = "wav,flac"

    with pytest.raises(InvokeBadRequestError, match="cannot transcribe mp3 audio; use one of: wav, flac"):
        model.invoke(WHISPER, credentials, io.BytesIO(SPEECH_MP3))

    assert fake_together.requests == []
