"""README's model table names exactly the catalog's models, with their context sizes; it names the
live tests' variables, and PRIVACY.md what an http endpoint means."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def readme_rows() -> dict[tuple[str, str], str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("<!-- models:start", 1)[1].split("<!-- models:end", 1)[0]
    rows = {}
    for line in table.splitlines():
        match = re.match(r"\|\s*([a-z0-9-]+)\s*\|\s*`([^`]+)`\s*\|\s*([\d,]+|—)\s*\|", line)
        if match:
            model_type, model, context = match.groups()
            rows[(model_type, model)] = context.replace(",", "")
    return rows


def catalog_rows() -> dict[tuple[str, str], str]:
    rows = {}
    for path in sorted((ROOT / "models").glob("*/*.yaml")):
        if path.name.startswith("_"):
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        context = data["model_properties"].get("context_size")
        rows[(data["model_type"], data["model"])] = str(context) if context else "—"
    return rows


def test_model_table_matches_the_yaml_catalog() -> None:
    assert readme_rows() == catalog_rows()


def test_readme_shows_the_two_commands_first() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.index("make run") < text.index("## Models")
    assert text.index("make test") < text.index("## Models")


def test_the_readme_names_every_variable_the_live_tests_read() -> None:
    source = "".join(path.read_text(encoding="utf-8") for path in (ROOT / "tests" / "live").glob("*.py"))
    variables = set(re.findall(r"os\.environ(?:\.get\(|\[)\"(\w+)\"", source))
    text = (ROOT / "README.md").read_text(encoding="utf-8")

    assert {"TOGETHER_API_KEY", "TOGETHER_RERANK_MODEL"} <= variables
    assert [name for name in sorted(variables) if f"`{name}`" not in text and f"{name}=" not in text] == []


def test_privacy_says_what_an_http_endpoint_means_since_one_is_accepted() -> None:
    from models.together.client import normalize_endpoint_url

    privacy = " ".join((ROOT / "PRIVACY.md").read_text(encoding="utf-8").split())

    assert normalize_endpoint_url("http://gateway.internal:8000").startswith("http://")
    assert "`http://`" in privacy and "unencrypted" in privacy
    assert "Every request goes over HTTPS" not in privacy
