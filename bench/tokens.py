"""Measurement 6: `get_num_tokens` on 100,000 characters of prose.

Warm: the call in a process that has counted before (every call but the first), through the LLM's
`get_num_tokens` with the text as one user message, and the text-embedding model's. First request:
a fresh plugin (`python -m main` over stdio) asked `get_llm_num_tokens` two seconds after its
heartbeat, as Dify's first count comes after start-up; the plugin loads the bundled cl100k ranks in
the background meanwhile. Also, for comparison, the first count in a bare process that loads them
on demand (`python -m bench.tokens`).
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
from bench.stdio import StdioPlugin

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
            "acme/dedicated-e5", {"api_key": "bench-key", "context_size": "512"}, [text]
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
    first = median([_first_request() for _ in range(runs)])
    rows.append(
        Row(
            f"6. First get_llm_num_tokens of a fresh plugin over stdio, 2 s after start, median of {runs}",
            f"**{ms(first)}** (round trip)",
            f"≤ {TARGET * 1000:.0f} ms",
            first <= TARGET,
        )
    )
    rows.append(
        Row(
            f"6. First count in a bare process that loads cl100k on demand, median of {runs} (comparison)",
            ms(median(cold)),
        )
    )
    return rows, []


def _first_request() -> float:
    data = {
        "model_type": "llm",
        "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "credentials": {"api_key": "bench-key"},
        "prompt_messages": [{"role": "user", "content": prose(), "name": ""}],
        "tools": [],
    }
    with StdioPlugin() as plugin:
        time.sleep(2)
        started = time.perf_counter()
        list(plugin.request("get_llm_num_tokens", data))
        return time.perf_counter() - started


def _cold() -> None:
    """The first count in this process, printed as JSON (the plugin modules are imported untimed)."""
    count = _counters()[LLM_COUNTER]
    print(json.dumps({"seconds": _timed(count)}))


if __name__ == "__main__":
    _cold()
