"""Offline token counting, the same for every model type.

Together serves many tokenizers; Dify needs a deterministic estimate that never touches the
network. cl100k_base ships with the plugin (`data/`), checked by its published SHA-256.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

import tiktoken
from tiktoken.load import load_tiktoken_bpe

_CL100K_FILE = Path(__file__).with_name("data") / "cl100k_base.tiktoken"
_CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)


@cache
def encoding() -> tiktoken.Encoding:
    """The cl100k_base encoding, loaded once from the bundled file."""
    return tiktoken.Encoding(
        name="cl100k_base",
        pat_str=_CL100K_PATTERN,
        mergeable_ranks=load_tiktoken_bpe(str(_CL100K_FILE), expected_hash=_CL100K_SHA256),
        special_tokens={"<|endoftext|>": 100257},
    )


def warm_up_in_background(delay: float = 1.0) -> threading.Timer:
    """Load the encoding `delay` seconds from now, off the start-up path; returns the started timer.

    Loading takes about 150 ms; done once the plugin has announced itself, the first count Dify
    asks for does not pay it.
    """
    timer = threading.Timer(delay, encoding)
    timer.daemon = True
    timer.start()
    return timer


def count_tokens(text: str) -> int:
    """The number of tokens in `text`; special-token text counts as ordinary text."""
    if not text:
        return 0
    return len(encoding().encode_ordinary(text))
