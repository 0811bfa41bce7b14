"""Check an audio file before it is uploaded to `/audio/transcriptions`, and name it for Together.

Together infers the format from the upload's file name. The suffix of the temporary file Dify's
SDK hands over is its own guess from the same bytes, and it says `.mp3` for anything it does not
recognise, so the format is read from the file's first bytes here; every format Together accepts
has a signature. Everything here fails before a byte is sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO

from dify_plugin.errors.model import InvokeBadRequestError

from models.together.audio import HEADER_BYTES, MIME_TYPES, sniff_audio_format

BYTES_PER_MB = 1024 * 1024
# MP4 audio is the M4A container; Together lists only the .m4a extension (Safari records MP4).
UPLOAD_EXTENSIONS = {"mp4": "m4a"}


@dataclass(frozen=True)
class Upload:
    """How the audio goes out: its multipart file name and content type."""

    filename: str
    content_type: str


def prepare_upload(file: IO[bytes], limit_mb: float, supported: list[str]) -> Upload:
    """Name `file` for upload after checking its size and format; leaves it rewound.

    Raises `InvokeBadRequestError` for an empty file, one larger than `limit_mb`
    megabytes, and a format outside `supported` (extensions such as "mp3") or not recognised.
    """
    size = file.seek(0, os.SEEK_END)
    file.seek(0)
    if size == 0:
        raise InvokeBadRequestError("The audio file is empty: there is nothing to transcribe")
    if size > limit_mb * BYTES_PER_MB:
        raise InvokeBadRequestError(
            f"The audio file is {size / BYTES_PER_MB:.1f} MB; this model accepts at most {limit_mb:g} MB"
        )
    header = file.read(HEADER_BYTES)
    file.seek(0)
    found = sniff_audio_format(header)
    allowed = ", ".join(supported)
    if found is None:
        raise InvokeBadRequestError(
            f"The file is not audio in a format Together AI can transcribe ({allowed})"
        )
    if found not in supported:
        raise InvokeBadRequestError(f"Together AI cannot transcribe {found} audio; use one of: {allowed}")
    extension = UPLOAD_EXTENSIONS.get(found, found)
    return Upload(f"audio.{extension}", MIME_TYPES.get(found, "application/octet-stream"))
