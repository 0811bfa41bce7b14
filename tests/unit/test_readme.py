"""README's model table names exactly the catalog's models, with their context sizes; each of its
`make try` examples is a call `make try` can make."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml

try_tool = importlib.import_module("tools.try")  # `try` is a keyword

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


def readme_try_examples() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.startswith("make try ")]


def try_flags() -> dict[str, str]:
    """The Makefile's `try` variables and the `tools.try` option each becomes."""
    recipe = (ROOT / "Makefile").read_text(encoding="utf-8").split("\ntry:", 1)[1].split("\n\n", 1)[0]
    flags = dict(re.findall(r"\$\(if \$\((\w+)\),(--[\w-]+)", recipe))
    assert '--type "$(or $(TYPE),llm)"' in recipe
    return {"TYPE": "--type", **flags}


@pytest.mark.skipif(not (ROOT / "Makefile").is_file(), reason="the Makefile is not packed")
@pytest.mark.parametrize("example", readme_try_examples())
def test_each_make_try_example_names_a_model_and_the_inputs_its_type_needs(example: str) -> None:
    flags = try_flags()
    argv = []
    for word in shlex.split(example.split("#", 1)[0])[2:]:
        name, value = word.split("=", 1)
        argv += [flags[name], value]
    args = try_tool.parser().parse_args(argv)

    # Without MODEL: the type's default, or (without a key) the local llama.cpp server's types.
    if not args.model and args.type not in try_tool.LOCAL_TYPES:
        try_tool.default_model(args.type)
    try_tool.request(args, args.model or "m", {})  # raises when PROMPT, DOCS or FILE is missing


def test_the_readme_has_a_make_try_example_for_every_type() -> None:
    types = {re.search(r"TYPE=([\w-]+)", example)[1] for example in readme_try_examples()}
    assert types == set(try_tool.TYPES)


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
