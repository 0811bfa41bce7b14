"""Print the fault matrix (rows: faults, columns: model types) at the end of a run that included it."""

from __future__ import annotations

import pytest

from tests.faults.adapters import ADAPTERS
from tests.faults.faults import FAULTS, RESULTS


def render_matrix() -> str:
    """The matrix as a fixed-width table: pass, FAIL, n/a (does not apply) or — (not run)."""
    columns = [adapter.column for adapter in ADAPTERS]
    rows = []
    for fault in FAULTS:
        cells = []
        for adapter in ADAPTERS:
            if not fault.applies(adapter):
                cells.append("n/a")
            else:
                cells.append(RESULTS.get((fault.name, adapter.column), "—").split(":")[0])
        rows.append([fault.name, *cells])
    widths = [max(len(str(row[i])) for row in [["fault", *columns], *rows]) for i in range(len(columns) + 1)]
    lines = [
        " | ".join(text.ljust(width) for text, width in zip(row, widths, strict=True))
        for row in [["fault", *columns], *rows]
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    failures = [f"  {fault} × {column}: {why}" for (fault, column), why in RESULTS.items() if why != "pass"]
    return "\n".join(lines + (["", "failures:", *failures] if failures else []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS:
        terminalreporter.section("fault matrix")
        terminalreporter.write_line(render_matrix())
