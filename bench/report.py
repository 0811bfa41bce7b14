"""The benchmark's table: rows, medians, the machine description and the Markdown output."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Row:
    """One line of the table. `met` is None for rows that only explain another row."""

    measurement: str
    result: str
    target: str = ""
    met: bool | None = None


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.2f} s"


def machine() -> str:
    """CPU, cores, memory, OS, Python and the versions that shape the figures."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        memory = "RAM unknown"
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("dify_plugin", "httpx", "gevent", "tiktoken")
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; {versions}"
    )


def markdown(rows: Sequence[Row], notes: Sequence[str]) -> str:
    """The table with its machine line and notes, as Markdown."""
    lines = [
        f"Machine: {machine()}  ",
        f"Run: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        "",
        "| Measurement | Result | Target | Met |",
        "|---|---|---|---|",
    ]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(f"| {row.measurement} | {row.result} | {row.target} | {met} |")
    if notes:
        lines.append("")
        lines.extend(f"- {note}" for note in notes)
    return "\n".join(lines) + "\n"
