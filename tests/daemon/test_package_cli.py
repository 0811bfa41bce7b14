"""`make package` without Go (tools/package.py) writes the entries the real `dify plugin package` writes."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tools.package import build

ROOT = Path(__file__).resolve().parents[2]


def entries(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(package) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_fallback_zip_holds_exactly_what_the_cli_packs(package: Path, tmp_path: Path) -> None:
    by_cli = entries(package)
    by_fallback = entries(build(ROOT, tmp_path))

    assert sorted(by_fallback) == sorted(by_cli)
    assert by_fallback == by_cli
    assert not any(name.endswith("/") for name in by_cli)  # directory entries break the daemon's extraction
    assert not any(name.startswith("tests/daemon/") for name in by_cli)
