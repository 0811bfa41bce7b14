"""Server-sent-event decoding for Together's streamed responses.

Only what Together sends matters: `data:` fields (several lines join with a newline), comments
starting with `:` and blank lines ending an event. Event names, ids and retry hints are ignored.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

from dify_plugin.errors.model import InvokeServerUnavailableError

# No event Together sends comes near this; a stream without line breaks must not grow memory forever.
MAX_EVENT_BYTES = 16 * 1024 * 1024
# Chunks read ahead of the consumer, and bytes joined into one item, at most: the first event of a
# burst never waits for more than these to be read and parsed.
MAX_CHUNKS_AHEAD = 64
MAX_JOINED_BYTES = 64 * 1024


def iter_arrived(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks, each item joining those that arrived since the previous item (up to about
    `MAX_JOINED_BYTES`).

    Together sends every event as its own HTTP chunk, and what the runtime does per message
    costs as much as reading an event: a reader thread takes the chunks from the network as
    they come, and each item is what it has read so far, so a burst becomes one item while a
    lone chunk is handed on at once. An exception from `chunks` is raised after the chunks
    before it. Closing this generator stops the reader after the chunk it is waiting for.
    """
    ahead: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=MAX_CHUNKS_AHEAD)
    stopped = threading.Event()

    def read() -> None:
        try:
            for chunk in chunks:
                ahead.put(chunk)
                if stopped.is_set():
                    return
        except BaseException as exc:  # noqa: BLE001 - raised in the consumer
            ahead.put(exc)
        else:
            ahead.put(None)

    threading.Thread(target=read, name="together-stream-reader", daemon=True).start()
    try:
        while True:
            item = ahead.get()
            joined: list[bytes] = []
            size = 0
            while isinstance(item, bytes):
                joined.append(item)
                size += len(item)
                if size >= MAX_JOINED_BYTES or ahead.empty():
                    break
                item = ahead.get_nowait()
            else:  # the end of the stream, or the reader's exception
                if joined:
                    yield b"".join(joined)
                if item is None:
                    return
                raise item
            yield joined[0] if len(joined) == 1 else b"".join(joined)
    finally:
        stopped.set()
        while not ahead.empty():  # a reader waiting for room takes its chunk and sees the stop
            ahead.get_nowait()


def iter_sse_batches(chunks: Iterable[bytes]) -> Iterator[list[str]]:
    """The data of each complete event in a byte stream; the events completed by one chunk come
    together, as one list, yielded at once and never empty.

    A final event whose lines are complete but which lacks the closing blank line is still
    yielded; a trailing partial line is dropped (the caller decides whether the stream was whole).
    Raises `InvokeServerUnavailableError` when a line is not UTF-8 (after the events before it) or
    when one event grows past `MAX_EVENT_BYTES`.
    """
    event = _OpenEvent()
    pending = b""
    for chunk in chunks:
        if not chunk:
            continue
        buffer = pending + chunk if pending else chunk
        end = buffer.rfind(b"\n") + 1
        pending = buffer[end:]
        if not end:
            event.check(len(pending))
            continue
        # One decode and one split per chunk, and a fast path for the usual one-line event, keep
        # the cost of a burst of small events close to that of reading it.
        text, error = _whole_lines(buffer[:end])
        *events, rest = text.split("\n\n")
        batch: list[str] = []
        for block in events:
            if not event.lines and block.startswith("data: ") and "\n" not in block:
                batch.append(block[6:])
                continue
            for line in block.split("\n"):
                event.take(line, batch)
            event.take("", batch)
        for line in rest.split("\n")[:-1]:  # an event still open; the last piece is after the final LF
            event.take(line, batch)
        event.check(len(pending))
        if batch:
            yield batch
        if error:
            raise error
    if event.lines:
        yield ["\n".join(event.lines)]


class _OpenEvent:
    """The data lines of the event whose blank line has not come yet, and their size."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.size = 0

    def take(self, line: str, batch: list[str]) -> None:
        """Apply one line: a blank one moves the event's data to `batch`."""
        if not line:
            if self.lines:
                batch.append(self.lines[0] if len(self.lines) == 1 else "\n".join(self.lines))
                self.lines, self.size = [], 0
            return
        if line.startswith("data:"):
            data = line[6:] if line.startswith(" ", 5) else line[5:]
        elif line == "data":
            data = ""
        else:
            return
        self.lines.append(data)
        self.size += len(data) + 1
        self.check(0)

    def check(self, partial_line: int) -> None:
        """Raise once the event, with the part of a line still arriving, exceeds `MAX_EVENT_BYTES`."""
        if self.size + partial_line > MAX_EVENT_BYTES:
            raise InvokeServerUnavailableError(
                f"Together AI sent a stream event larger than {MAX_EVENT_BYTES // (1024 * 1024)} MiB"
            )


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
