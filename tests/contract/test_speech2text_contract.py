"""The transcription upload the plugin sends, checked field by field against Together's OpenAPI spec."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.support.fake_together import FakeTogether, Reply
from tests.support.openapi import OpenAPI
from tests.support.tts_audio import SPEECH_MP3, SPEECH_WAV, multipart_parts, stt_model

WHISPER = "openai/whisper-large-v3"


@pytest.mark.parametrize(("audio", "language"), [(SPEECH_WAV, ""), (SPEECH_MP3, "fr")])
def test_the_upload_is_an_audio_transcription_request(
    openapi: OpenAPI, fake_together: FakeTogether, credentials: dict, audio: bytes, language: str
) -> None:
    answer = {"text": "Hello from Together AI."}
    openapi.validator("AudioTranscriptionJsonResponse").validate(answer)
    fake_together.route("POST", "/audio/transcriptions", Reply.json(answer))

    stt_model().invoke(WHISPER, {**credentials, "language": language}, io.BytesIO(audio))

    [request] = fake_together.requests
    operation = openapi.paths["/audio/transcriptions"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = multipart_parts(request)
    form: dict[str, Any] = {name: value.decode() for name, filename, value in parts if filename is None}
    [(file_field, filename, content)] = [(n, f, v) for n, f, v in parts if f is not None]
    assert file_field == "file" and content == audio
    assert filename.rsplit(".", 1)[1] in {"wav", "mp3", "m4a", "webm", "flac"}  # the spec's formats
    form["file"] = content.decode("latin-1")
    # `file` is binary or a URL (oneOf); an upload is the binary branch.
    upload = openapi.schema("AudioTranscriptionRequest")
    upload["properties"]["file"] = {"$ref": "#/components/schemas/AudioFileBinary"}
    openapi.validator(upload, closed=True).validate(form)
    assert form["language"] == (language or "auto") and form["response_format"] == "json"
