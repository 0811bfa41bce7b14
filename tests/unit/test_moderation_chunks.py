"""Cutting text into pieces for the guard model: at whitespace, within the limit, nothing lost."""

from __future__ import annotations

import pytest

from models.moderation.chunks import split_text


def test_short_text_is_one_piece_without_outer_whitespace() -> None:
    assert split_text("  hello world \n", 20) == ["hello world"]


def test_blank_text_has_no_pieces() -> None:
    assert split_text("", 10) == []
    assert split_text(" \n\t", 10) == []


def test_cuts_fall_on_the_last_whitespace_within_the_limit() -> None:
    assert split_text("aaa bbb ccc ddd", 7) == ["aaa bbb", "ccc ddd"]
    assert split_text("aaa bbb ccc ddd", 8) == ["aaa bbb", "ccc ddd"]
    assert split_text("aa bb\n\n  cc", 5) == ["aa bb", "cc"]


def test_a_run_without_whitespace_is_cut_at_the_limit() -> None:
    assert split_text("abcdefghij klm", 4) == ["abcd", "efgh", "ij", "klm"]
    assert split_text("天地玄黄宇宙洪荒", 3) == ["天地玄", "黄宇宙", "洪荒"]


@pytest.mark.parametrize("limit", [1, 2, 5, 13, 100])
def test_pieces_respect_the_limit_and_keep_every_word(limit: int) -> None:
    text = "The quick  brown fox\njumps over the lazy dog; supercalifragilistic words too."
    pieces = split_text(text, limit)

    assert all(0 < len(piece) <= limit for piece in pieces)
    assert "".join("".join(piece.split()) for piece in pieces) == "".join(text.split())


def test_a_limit_below_one_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        split_text("text", 0)
