"""Offline token counting: deterministic, bundled, warmed off the start-up path."""

from __future__ import annotations

from models.together import tokens


def test_counts_are_cl100k_counts_without_any_download() -> None:
    assert tokens.count_tokens("hello world") == 2
    assert tokens.count_tokens("") == 0
    assert tokens.count_tokens("<|endoftext|>") > 1  # special-token text counts as text


def test_warm_up_loads_the_encoding_in_the_background() -> None:
    tokens.encoding.cache_clear()

    tokens.warm_up_in_background(0).join(10)

    assert tokens.encoding.cache_info().currsize == 1
