"""Together's server-sent events for tests: the one encoder, and a flat reader of the client's stream."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.together.client import TogetherClient


def sse_frames(events: Iterable[Any], done: bool = True) -> list[bytes]:
    """Each event as its own `data:` frame (a string as it is, anything else as JSON), then
    `data: [DONE]` unless `done` is False."""
    frames = [f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n".encode() for event in events]
    if done:
        frames.append(b"data: [DONE]\n\n")
    return frames


def sse_body(events: Iterable[Any], done: bool = True) -> bytes:
    """The frames of `sse_frames` as one body."""
    return b"".join(sse_frames(events, done))


def streamed_events(client: TogetherClient, path: str, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every event of `client.stream_event_batches`, one at a time."""
    for batch in client.stream_event_batches(path, body):
        yield from batch
