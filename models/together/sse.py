"""Server-sent-event decoding for Together's streamed responses.

Only what Together sends matters: `data:` fields (several lines join with a newline), comments
starting with `:` and blank lines ending an event. Event names, ids and retry hints are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dify_plugin.errors.model import InvokeServerUnavailableError

# No event Together sends comes near this; a stream without line breaks must not grow memory forever.
MAX_LINE_BYTES = 16 * 1024 * 1024


def iter_sse_data(chunks: Iterable[bytes]) -> Iterator[str]:
    """Yield the data of each complete event in a byte stream, as soon as its blank line arrives.

    A final event whose lines are complete but which lacks the closing blank line is still
    yielded; a trailing partial line is dropped (the caller decides whether the stream was whole).
    Raises `InvokeServerUnavailableError` when a line is not UTF-8 (after the events before it) or
    grows past `MAX_LINE_BYTES`.
    """
    for batch in iter_sse_batches(chunks):
        yield from batch


def iter_sse_batches(chunks: Iterable[bytes]) -> Iterator[list[str]]:
    """Like `iter_sse_data`, but the events completed by one chunk come together, as one list.

    Each list holds the events whose blank line is in that chunk; it is yielded at once and is
    never empty. Events that arrived together can thus be handled together, and none waits for
    a later chunk.
    """
    pending = b""
    data_lines: list[str] = []  # the data lines of an event whose blank line has not come yet
    for chunk in chunks:
        if not chunk:
            continue
        buffer = pending + chunk if pending else chunk
        end = buffer.rfind(b"\n") + 1
        pending = buffer[end:]
        if len(pending) > MAX_LINE_BYTES:
            raise InvokeServerUnavailableError(
                f"Together AI sent a stream line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB"
            )
        if not end:
            continue
        # One decode and one split per chunk, and a fast path for the usual one-line event, keep
        # the cost of a burst of small events close to that of reading it.
        text, error = _whole_lines(buffer[:end])
        *events, rest = text.split("\n\n")
        batch: list[str] = []
        for event in events:
            if not data_lines and event.startswith("data: ") and "\n" not in event:
                batch.append(event[6:])
                continue
            for line in event.split("\n"):
                data_lines = _take_line(line, data_lines, batch)
            data_lines = _take_line("", data_lines, batch)
        for line in rest.split("\n")[:-1]:  # an event still open; the last piece is after the final LF
            data_lines = _take_line(line, data_lines, batch)
        if batch:
            yield batch
        if error:
            raise error
    if data_lines:
        yield ["\n".join(data_lines)]


def _take_line(line: str, data_lines: list[str], batch: list[str]) -> list[str]:
    """Apply one line: a blank one moves the open event's data to `batch`. Returns the open data lines."""
    if not line:
        if data_lines:
            batch.append(data_lines[0] if len(data_lines) == 1 else "\n".join(data_lines))
        return []
    if line.startswith("data:"):
        data_lines.append(line[6:] if line.startswith(" ", 5) else line[5:])
    elif line == "data":
        data_lines.append("")
    return data_lines


def _whole_lines(block: bytes) -> tuple[str, InvokeServerUnavailableError | None]:
    """The text of `block` (whole lines, each ending in LF), CRLF turned into LF.

    When a line is not UTF-8: the text of the lines before it, and the error to raise after them.
    """
    try:
        text, error = block.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        start = block.rfind(b"\n", 0, exc.start) + 1
        text = block[:start].decode("utf-8")
        error = InvokeServerUnavailableError(
            f"Together AI sent a stream line that is not UTF-8 (byte {exc.start - start})"
        )
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text, error
