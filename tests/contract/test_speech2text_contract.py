"""The transcription upload the plugin sends, checked field by field against Together's OpenAPI spec."""

from __future__ import annotations

import copy
import io
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.fake_together import FakeTogether, Reply
from tests.support.tts_audio import SPEECH_MP3, SPEECH_WAV, multipart_parts, stt_model

SPEC = Path(__file__).resolve().parents[3] / "shared" / "together-openapi.yaml"
WHISPER = "openai/whisper-large-v3"


@cache
def spec() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip(f"Together's OpenAPI spec is not at {SPEC}")
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


def validate(instance: Any, schema: dict[str, Any]) -> None:
    """Validate against `schema`, resolving its `$ref`s inside the spec's components."""
    document = {**schema, "components": spec()["components"]}
    cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    cls(document).validate(instance)


@pytest.mark.parametrize(("audio", "language"), [(SPEECH_WAV, ""), (SPEECH_MP3, "fr")])
def test_the_upload_is_an_audio_transcription_request(
    fake_together: FakeTogether, credentials: dict, audio: bytes, language: str
) -> None:
    answer = {"text": "Hello from Together AI."}
    validate(answer, {"$ref": "#/components/schemas/AudioTranscriptionJsonResponse"})
    fake_together.route("POST", "/audio/transcriptions", Reply.json(answer))

    stt_model().invoke(WHISPER, {**credentials, "language": language}, io.BytesIO(audio))

    [request] = fake_together.requests
    operation = spec()["paths"]["/audio/transcriptions"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = multipart_parts(request)
    form: dict[str, Any] = {name: value.decode() for name, filename, value in parts if filename is None}
    [(file_field, filename, content)] = [(n, f, v) for n, f, v in parts if f is not None]
    assert file_field == "file" and content == audio
    assert filename.rsplit(".", 1)[1] in {"wav", "mp3", "m4a", "webm", "flac"}  # the spec's formats
    form["file"] = content.decode("latin-1")
    # `file` is binary or a URL (oneOf); an upload is the binary branch.
    request_schema = copy.deepcopy(spec()["components"]["schemas"]["AudioTranscriptionRequest"])
    request_schema["properties"]["file"] = {"$ref": "#/components/schemas/AudioFileBinary"}
    request_schema["additionalProperties"] = False
    validate(form, request_schema)
    assert form["language"] == (language or "auto") and form["response_format"] == "json"
