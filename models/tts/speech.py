"""Relay Together's `/audio/speech` MP3 to Dify as it arrives, one text segment after another.

Audio is requested whole (non-streaming, `response_format: mp3`, the format Dify plays) and the
response body is passed on chunk by chunk while it downloads, so memory stays flat however long
the audio. Each chunk becomes one stdout line `{"result": "<hex>", ...}` for Dify's daemon, which
drops a plugin whose line exceeds 5 MiB; hex doubles the size, so chunks are kept far below that.

Segments are synthesised one after another: the audio must reach Dify in text order, and
fetching ahead would hold a segment's audio in memory.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from contextlib import closing

from dify_plugin.errors.model import InvokeServerUnavailableError

from models.together.audio import sniff_audio_format
from models.together.client import TogetherClient

AUDIO_FORMAT = "mp3"
CHUNK_BYTES = 64 * 1024  # 128 KiB of hex per stdout line, far under the daemon's 5 MiB


def speech_request(model: str, text: str, voice: str, language: str | None = None) -> dict[str, str]:
    """The `AudioSpeechRequest` body for one segment; `language` (ISO 639-1) only when known."""
    body = {"model": model, "input": text, "voice": voice, "response_format": AUDIO_FORMAT}
    return {**body, "language": language} if language else body


def relay_speech(
    client: TogetherClient, model: str, voice: str, segments: Iterable[str], language: str | None = None
) -> Generator[bytes, None, None]:
    """Yield the MP3 of each segment in order, in chunks of at most `CHUNK_BYTES`, as Together sends them.

    Raises `InvokeServerUnavailableError` when a response is empty or is not MP3, before any of
    that response reaches the caller, and the client's `InvokeError`s for failed requests.
    """
    for segment in segments:
        # closing(): the response is released at once on an error or when Dify stops listening.
        body = speech_request(model, segment, voice, language)
        with closing(client.stream_bytes("/audio/speech", body, CHUNK_BYTES)) as chunks:
            first = next(chunks, b"")
            if not first:
                raise InvokeServerUnavailableError(
                    f"Together AI returned no audio for {model} (voice {voice!r})"
                )
            found = sniff_audio_format(first)
            if found != AUDIO_FORMAT:
                # A JSON or HTML error page sent with status 200, or another format, would play as silence.
                what = found or "data that is not audio"
                # The body is not quoted: an error page may echo the request's headers, key included.
                raise InvokeServerUnavailableError(
                    f"Together AI answered /audio/speech with {what} instead of MP3"
                )
            yield first
            yield from chunks
