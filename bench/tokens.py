"""Measurement 6: `get_num_tokens` on 100,000 characters of prose.

Warm: the call in a process that has counted before (every call but the first), through the LLM's
`get_num_tokens` with the text as one user message, and the text-embedding model's. Cold: the first
count in a fresh process (`python -m bench.tokens`), which also loads the bundled cl100k ranks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

from dify_plugin.entities.model import ModelType
from dify_plugin.entities.model.message import UserPromptMessage

from bench.plugin import model_instance
from bench.report import Row, median, ms

CHARACTERS = 100_000
TARGET = 0.050
WARM_RUNS = 20
LLM_COUNTER = "LLM get_num_tokens (one user message)"

_PROSE = (
    "Dify sends the whole conversation before each call, so the plugin counts its tokens offline. "
    "Prices change (0.88 USD per 1M tokens in 2026); context windows reach 131,072 tokens! "
    "Über-schnelle Antworten, naïve café questions, and code like `for i in range(10): print(i)` "
    "all appear in real prompts.\n\n"
)


def prose() -> str:
    """Exactly `CHARACTERS` characters of mixed English prose, numbers, code and accents."""
    return (_PROSE * (CHARACTERS // len(_PROSE) + 1))[:CHARACTERS]


def _timed(count: Callable[[], object]) -> float:
    started = time.perf_counter()
    count()
    return time.perf_counter() - started


def _counters() -> dict[str, Callable[[], object]]:
    """Each `get_num_tokens` to time, called on `prose()`."""
    text = prose()
    llm = model_instance(ModelType.LLM)
    embedding = model_instance(ModelType.TEXT_EMBEDDING)
    counters: dict[str, Callable[[], object]] = {
        LLM_COUNTER: lambda: llm.get_num_tokens(
            "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            {"api_key": "bench-key"},
            [UserPromptMessage(content=text)],
        ),
        "text-embedding get_num_tokens": lambda: embedding.get_num_tokens(
            "intfloat/multilingual-e5-large-instruct", {"api_key": "bench-key"}, [text]
        ),
    }
    return counters


def measure(runs: int) -> tuple[list[Row], list[str]]:
    rows = []
    for name, count in _counters().items():
        count()
        took = median([_timed(count) for _ in range(WARM_RUNS)])
        rows.append(
            Row(
                f"6. {name}, {CHARACTERS:,} characters, warm, median of {WARM_RUNS}",
                f"**{ms(took)}**",
                f"≤ {TARGET * 1000:.0f} ms",
                took <= TARGET,
            )
        )
    cold = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-m", "bench.tokens"], capture_output=True, text=True, check=True
        )
        cold.append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
    took = median(cold)
    rows.append(
        Row(
            f"6. First count in a fresh process (loads cl100k), median of {runs}",
            f"**{ms(took)}**",
            f"≤ {TARGET * 1000:.0f} ms",
            took <= TARGET,
        )
    )
    return rows, []


def _cold() -> None:
    """The first count in this process, printed as JSON (the plugin modules are imported untimed)."""
    count = _counters()[LLM_COUNTER]
    print(json.dumps({"seconds": _timed(count)}))


if __name__ == "__main__":
    _cold()
