"""Server-sent-event decoding for Together's streamed responses.

Only what Together sends matters: `data:` fields (several lines join with a newline), comments
starting with `:` and blank lines ending an event. Event names, ids and retry hints are ignored.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator

from dify_plugin.errors.model import InvokeServerUnavailableError

# No event Together sends comes near this; a stream without line breaks must not grow memory forever.
MAX_EVENT_BYTES = 16 * 1024 * 1024
# Chunks read ahead of the consumer, and bytes joined into one item, at most: the first event of a
# burst never waits for more than these to be read and parsed.
MAX_CHUNKS_AHEAD = 64
MAX_JOINED_BYTES = 64 * 1024
# A chunk handed over sooner than this after it was asked for had arrived already; reads that
# waited longer, this many in a row, mean chunks are spaced out again.
ARRIVED_SECONDS = 0.00025
WAITS_TO_READ_DIRECTLY = 3


def iter_arrived(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks, each item joining those that arrived while the one before was handled.

    Chunks spaced out at a model's pace are read and handed on one by one. Once one had arrived
    before it was asked for, a burst is coming: a reader thread (a greenlet, under the SDK's gevent
    patching) takes chunks as they come and each item joins those read meanwhile (up to
    `MAX_JOINED_BYTES`), until `WAITS_TO_READ_DIRECTLY` reads in a row wait. Timing decides only the
    grouping, never what is yielded or when. An exception from `chunks` is raised after the chunks
    before it; closing this generator stops a reader after its current chunk.
    """
    iterator = iter(chunks)
    while True:
        asked = time.perf_counter()
        chunk = next(iterator, None)
        if chunk is None:
            return
        arrived = time.perf_counter() - asked < ARRIVED_SECONDS
        yield chunk
        if arrived:
            yield from _read_ahead(iterator)


def _read_ahead(iterator: Iterator[bytes]) -> Iterator[bytes]:
    """Joined chunks from a reader thread, until the iterator ends or its chunks are spaced out."""
    ahead: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=MAX_CHUNKS_AHEAD)
    stopped = threading.Event()

    def read() -> None:
        waits = 0
        try:
            while waits < WAITS_TO_READ_DIRECTLY and not stopped.is_set():
                asked = time.perf_counter()
                chunk = next(iterator, None)
                waits = 0 if time.perf_counter() - asked < ARRIVED_SECONDS else waits + 1
                if chunk is None:
                    break
                ahead.put(chunk)  # waiting here for a slow consumer is not a wait for the network
            ahead.put(None)  # the iterator is free again
        except BaseException as exc:  # noqa: BLE001 - raised in the consumer
            ahead.put(exc)

    threading.Thread(target=read, name="together-stream-reader", daemon=True).start()
    try:
        while True:
            items, size = [ahead.get()], 0
            while isinstance(items[-1], bytes) and (size := size + len(items[-1])) < MAX_JOINED_BYTES:
                if ahead.empty() or len(items) > MAX_CHUNKS_AHEAD:
                    break
                items.append(ahead.get_nowait())
            end = items.pop() if not isinstance(items[-1], bytes) else b""  # None, or the reader's error
            if items:
                yield items[0] if len(items) == 1 else b"".join(items)  # type: ignore[arg-type]
            if end is None:
                return
            if end:
                raise end
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
    pending = b""
    data_lines: list[str] = []  # the data lines of an event whose blank line has not come yet
    open_bytes = 0  # the size of that event so far (approximately: characters after a decode)
    for chunk in chunks:
        if not chunk:
            continue
        buffer = pending + chunk if pending else chunk
        end = buffer.rfind(b"\n") + 1
        pending = buffer[end:]
        open_bytes += len(chunk)
        if not end:
            _check_size(open_bytes)
            continue
        # One decode and one split per chunk, and a fast path for the usual one-line event, keep
        # the cost of a burst of small events close to that of reading it.
        text, error = _whole_lines(buffer[:end])
        *events, rest = text.split("\n\n")
        if events:
            open_bytes = len(rest) + len(pending)
        _check_size(open_bytes)
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


def _check_size(open_bytes: int) -> None:
    if open_bytes > MAX_EVENT_BYTES:
        raise InvokeServerUnavailableError(
            f"Together AI sent a stream event larger than {MAX_EVENT_BYTES // (1024 * 1024)} MiB"
        )


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
