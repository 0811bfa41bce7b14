"""Cutting a text into pieces a guard model checks one request at a time."""

from __future__ import annotations


def split_text(text: str, max_chars: int) -> list[str]:
    """`text` in order, as pieces of at most `max_chars` characters, cut at whitespace where possible.

    Each cut falls on the last whitespace within the limit; the whitespace at a cut and around the
    text is dropped, nothing else. A run of `max_chars` characters without whitespace (a URL, CJK
    text) is cut at the limit. Empty or whitespace-only text gives no pieces.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > max_chars:
        # Index max_chars itself may be whitespace: then the first max_chars characters fit exactly.
        cut = next((i for i in range(max_chars, 0, -1) if rest[i].isspace()), max_chars)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces
