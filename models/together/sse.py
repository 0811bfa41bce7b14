"""Server-sent-event decoding for Together's streamed responses.

Only what Together sends matters: `data:` fields (several lines join with a newline), comments
starting with `:` and blank lines ending an event. Event names, ids and retry hints are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dify_plugin.errors.model import InvokeServerUnavailableError


def iter_sse_data(chunks: Iterable[bytes]) -> Iterator[str]:
    """Yield the data of each complete event in a byte stream, as soon as its blank line arrives.

    Events that arrive in one chunk are decoded together, so a burst costs one split per chunk.
    A final event whose lines are complete but which lacks the closing blank line is still
    yielded; a trailing partial line is dropped (the caller decides whether the stream was whole).
    Raises `InvokeServerUnavailableError` when a line is not UTF-8.
    """
    pending = b""
    data_lines: list[str] = []
    for chunk in chunks:
        if not chunk:
            continue
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for raw in lines:
            line = _decode(raw[:-1] if raw.endswith(b"\r") else raw)
            if not line:
                if data_lines:
                    yield "\n".join(data_lines)
                    data_lines = []
            elif line.startswith("data:"):
                value = line[5:]
                data_lines.append(value[1:] if value.startswith(" ") else value)
            elif line == "data":
                data_lines.append("")
    if data_lines:
        yield "\n".join(data_lines)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvokeServerUnavailableError(
            f"Together AI sent a stream line that is not UTF-8 (byte {exc.start})"
        ) from None
