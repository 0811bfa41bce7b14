"""Start-up: `main` makes the SDK read YAML with libyaml's safe loader, which must read every file
the SDK reads exactly as PyYAML's pure-Python safe loader does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
YAMLS = sorted([ROOT / "manifest.yaml", *ROOT.glob("provider/*.yaml"), *ROOT.glob("models/*/*.yaml")])


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
@pytest.mark.parametrize("path", YAMLS, ids=lambda path: str(path.relative_to(ROOT)))
def test_libyaml_reads_each_yaml_as_the_pure_python_loader_does(path: Path) -> None:
    text = path.read_text(encoding="utf-8")

    assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.load(text, Loader=yaml.SafeLoader)
