"""Speech-to-text: Dify's audio file translated to a multipart upload to `/audio/transcriptions`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO

from dify_plugin import Speech2TextModel
from dify_plugin.entities.model import ModelPropertyKey
from dify_plugin.entities.model.schema import AIModelEntity
from dify_plugin.errors.model import InvokeServerUnavailableError

from models.speech2text.upload import prepare_upload
from models.together.client import TogetherClient
from models.together.credentials import whole_number
from models.together.model_mixin import TogetherModelMixin

# Together's cap on a direct upload (larger files get HTTP 413).
DEFAULT_UPLOAD_LIMIT_MB = 80
# What Together's SDK 3.1.1 lists (.wav .mp3 .m4a .webm .flac .ogg .opus .aac), plus MP4 audio,
# uploaded as .m4a.
DEFAULT_EXTENSIONS = "aac,flac,m4a,mp3,mp4,ogg,opus,wav,webm"


def transcription_fields(model: str, language: str) -> dict[str, str]:
    """The form fields before the file, `model` first as Together asks (an `AudioTranscriptionRequest`).

    `language` is an ISO-639-1 code or `auto`; Together's own default is English, which would
    garble every other language, so callers pass `auto` unless the user set one.
    """
    return {"model": model, "language": language, "response_format": "json"}


class TogetherSpeech2TextModel(TogetherModelMixin, Speech2TextModel):
    """Together's transcription models (Whisper large v3, Parakeet TDT 0.6B v3 and customizable ones)."""

    def _invoke(self, model: str, credentials: dict, file: IO[bytes], user: str | None = None) -> str:
        """The text spoken in `file`.

        Raises `InvokeBadRequestError` before uploading when the file is empty, over the model's
        `file_upload_limit` (MB) or not in one of its `supported_file_extensions`.
        """
        properties = self._properties(model, credentials)
        supported = str(properties.get(ModelPropertyKey.SUPPORTED_FILE_EXTENSIONS) or DEFAULT_EXTENSIONS)
        upload = prepare_upload(
            file,
            float(properties.get(ModelPropertyKey.FILE_UPLOAD_LIMIT) or DEFAULT_UPLOAD_LIMIT_MB),
            [extension.strip().lower() for extension in supported.split(",") if extension.strip()],
        )
        language = str(credentials.get("language") or "").strip().lower() or "auto"
        payload = TogetherClient(credentials).post_multipart(
            "/audio/transcriptions",
            data=transcription_fields(model, language),
            files={"file": (upload.filename, file, upload.content_type)},
        )
        text = payload.get("text") if isinstance(payload, Mapping) else None
        if not isinstance(text, str):
            raise InvokeServerUnavailableError(
                "Together AI answered the transcription without a `text` field"
            )
        return text

    def validate_credentials(self, model: str, credentials: Mapping) -> None:
        """Transcribe the SDK's short demo recording, a real upload that costs seconds of audio."""
        with self.validating_credentials(credentials), open(self._get_demo_file_path(), "rb") as demo:
            self._invoke(model, dict(credentials), demo)

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """The schema of a transcription model the user added; `file_upload_limit` (MB) is optional."""
        return self.customizable_entity(
            model,
            {
                ModelPropertyKey.FILE_UPLOAD_LIMIT: whole_number(
                    credentials, "file_upload_limit", DEFAULT_UPLOAD_LIMIT_MB, DEFAULT_UPLOAD_LIMIT_MB
                ),
                ModelPropertyKey.SUPPORTED_FILE_EXTENSIONS: DEFAULT_EXTENSIONS,
            },
        )

    def _properties(self, model: str, credentials: dict) -> Mapping:
        schema = self.get_model_schema(model, credentials)
        return schema.model_properties if schema else {}
