"""`make bench` (`python -m bench`): the plugin's own cost, measured against local servers.

Prints one Markdown table (each figure a median of several runs, each comparison a ratio of runs
made side by side) with the machine it ran on, and writes it to `bench/results/latest.md`.
Nothing here reaches the internet; see each module for what it measures and how.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bench.plugin  # noqa: F401  - dify_plugin's gevent patching first, as in the running plugin
from bench import embeddings, startup, streaming, tokens, tts
from bench.report import Row, markdown
from bench.servers import LocalTogether

MEASUREMENTS = ("streaming", "startup", "embeddings", "tts", "tokens")
RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=7, help="runs per figure for the fast measurements (default 7)"
    )
    parser.add_argument("--slow-runs", type=int, default=3, help="runs for embeddings and TTS (default 3)")
    parser.add_argument(
        "--only", choices=MEASUREMENTS, action="append", help="measure only these (repeatable); not written to results"
    )
    args = parser.parse_args()
    chosen = args.only or MEASUREMENTS

    rows: list[Row] = []
    notes: list[str] = []

    def add(measured: tuple[list[Row], list[str]]) -> None:
        rows.extend(measured[0])
        notes.extend(measured[1])
        print(
            "\n".join(f"  {row.measurement}: {row.result}" for row in measured[0]),
            file=sys.stderr,
            flush=True,
        )

    with LocalTogether() as server:
        if "streaming" in chosen:
            add(streaming.measure(server.base_url, args.runs))
        if "startup" in chosen:
            add(startup.measure(args.runs))
        if "embeddings" in chosen:
            add(embeddings.measure(server.base_url, args.slow_runs))
        if "tts" in chosen:
            add(tts.measure(server.base_url, args.slow_runs))
    if "tokens" in chosen:
        add(tokens.measure(args.slow_runs))

    table = markdown(rows, notes)
    print(table)
    if not args.only:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(table, encoding="utf-8")
        print(f"(written to {RESULTS})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
