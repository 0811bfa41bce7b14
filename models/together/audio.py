"""Recognise an audio format from its first bytes, for the two audio model types.

Speech-to-text needs it to name the upload (Together infers the format from the file name's
extension), and text-to-speech to check that what it relays to Dify really is MP3.
"""

from __future__ import annotations

# Enough of a file to recognise every format below, including an MP3 behind an ID3 header's start.
HEADER_BYTES = 64

MIME_TYPES: dict[str, str] = {
    "aac": "audio/aac",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "mp4": "audio/mp4",
    "ogg": "audio/ogg",
    "opus": "audio/opus",
    "wav": "audio/wav",
    "webm": "audio/webm",
}

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # WebM and Matroska


def sniff_audio_format(header: bytes) -> str | None:
    """The format (a key of `MIME_TYPES`) whose signature starts `header`, or None when unrecognised."""
    if header[:4] == b"RIFF" and header[8:12] == b"WAVE":
        return "wav"
    if header.startswith(b"fLaC"):
        return "flac"
    if header.startswith(b"OggS"):
        # An Ogg stream's first page carries its codec's header, 28 bytes in.
        return "opus" if header[28:36] == b"OpusHead" else "ogg"
    if header[4:8] == b"ftyp":
        return "m4a" if header[8:12] == b"M4A " else "mp4"
    if header.startswith(_EBML_MAGIC):
        return "webm"
    if header.startswith(b"ID3") or _is_mpeg_layer3_frame(header):
        return "mp3"
    if _is_adts_frame(header):
        return "aac"
    return None


def _is_mpeg_layer3_frame(header: bytes) -> bool:
    """An MPEG-1/2/2.5 Layer III frame header: 11 sync bits, a valid version, layer bits 01."""
    if len(header) < 2 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return False
    version = (header[1] >> 3) & 0b11  # 0b01 is reserved
    layer = (header[1] >> 1) & 0b11  # 0b01 is Layer III
    return version != 0b01 and layer == 0b01


def _is_adts_frame(header: bytes) -> bool:
    """An AAC ADTS frame header: 12 sync bits and layer bits 00."""
    return len(header) >= 2 and header[0] == 0xFF and header[1] & 0xF6 == 0xF0
