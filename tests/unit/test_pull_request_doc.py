"""docs/pull-request.md meets the official pre-PR check: the template's sections and real Release Notes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "pull-request.md"
# The section headings of langgenius/dify-official-plugins' pull-request template, in order.
TEMPLATE_SECTIONS = [
    "Summary",
    "Release Notes",
    "Change Type",
    "Screenshots / Videos",
    "LLM Plugin Checklist",
    "Version",
    "Testing",
]


def sections() -> dict[str, str]:
    body = re.sub(r"<!--.*?-->", "", DOC.read_text(encoding="utf-8"), flags=re.S)
    parts = re.split(r"^## (.+)$", body, flags=re.M)
    return {title.strip(): text for title, text in zip(parts[1::2], parts[2::2], strict=True)}


def test_the_description_has_the_templates_sections_in_order() -> None:
    assert list(sections()) == TEMPLATE_SECTIONS


def test_release_notes_are_present_in_english_and_have_no_placeholders() -> None:
    notes = sections()["Release Notes"]
    assert len(notes.split()) > 50
    assert "TODO" not in notes, "the Marketplace publishes this section verbatim"
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", notes)


def test_the_llm_plugin_box_is_ticked() -> None:
    assert "- [x] LLM plugin" in sections()["Change Type"]


# What a count of tests or a package size looks like: "892 passed", "1,087 tests", "162 files", "1,069 KiB".
FIGURE = re.compile(r"\b\d[\d,]*\s+(?:passed|skipped|failed|tests?|files|KiB)\b")
LAYERS = ["unit", "contract", "realserver", "runtime", "faults", "live"]


def test_no_figure_that_changes_with_every_commit_is_written_down() -> None:
    assert FIGURE.findall(DOC.read_text(encoding="utf-8")) == []


def test_the_testing_section_says_how_to_get_every_count() -> None:
    testing = sections()["Testing"]
    assert "pytest -s tests/runtime/test_official_ci.py" in testing
    assert 'make test PYTEST_ARGS="-q tests/<layer>"' in testing
    rows = re.findall(r"^\| (\w+) \|", testing, flags=re.M)
    assert [row for row in rows if row != "Layer"] == LAYERS
    assert all((ROOT / "tests" / layer).is_dir() for layer in LAYERS)


def test_the_version_section_says_to_run_make_lock_before_opening_the_pr() -> None:
    assert "make lock" in sections()["Version"], "without uv.lock the pre-PR check skips the dev-group tests"
