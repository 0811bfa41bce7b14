"""Measurement 3: start-up, from launching `python -m main` (INSTALL_METHOD=local) to its first heartbeat.

The first heartbeat is what tells Dify's daemon the plugin is ready. The figure includes the
interpreter, the SDK's imports (most of it), reading manifest and YAMLs (with libyaml, see
`main.py`) and importing the model modules.
"""

from __future__ import annotations

from bench.report import Row, median, ms
from bench.stdio import StdioPlugin

TARGET = 1.0


def measure(runs: int) -> tuple[list[Row], list[str]]:
    seconds = []
    for _ in range(runs + 1):
        with StdioPlugin() as plugin:
            seconds.append(plugin.seconds_to_heartbeat)
    seconds = seconds[1:]  # the first launch also fills the OS file cache and writes bytecode
    took = median(seconds)
    return [
        Row(
            f"3. Start-up to first heartbeat, median of {runs}",
            f"**{ms(took)}** (range {ms(min(seconds))}–{ms(max(seconds))})",
            f"≤ {TARGET} s",
            took <= TARGET,
        )
    ], []
