"""The Makefile as a new user meets it: `make run` in a fresh clone without `.env`, and the README's
`make try` examples as the Makefile turns them into `tools.try` calls. Not packed: the package
holds no Makefile."""

from __future__ import annotations

import importlib
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
try_tool = importlib.import_module("tools.try")  # `try` is a keyword


def test_make_run_without_dotenv_says_what_to_set_before_installing_anything(tmp_path: Path) -> None:
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path)

    result = subprocess.run(["make", "run"], cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    ours = [line for line in (result.stdout + result.stderr).splitlines() if not line.startswith("make")]
    assert len(ours) == 1, ours
    line = ours[0]
    assert line.startswith("No .env") and "REMOTE_INSTALL_URL" in line and "REMOTE_INSTALL_KEY" in line
    assert not (tmp_path / ".venv").exists()


def readme_try_examples() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.startswith("make try ")]


def try_flags() -> dict[str, str]:
    """The Makefile's `try` variables and the `tools.try` option each becomes."""
    recipe = (ROOT / "Makefile").read_text(encoding="utf-8").split("\ntry:", 1)[1].split("\n\n", 1)[0]
    flags = dict(re.findall(r"\$\(if \$\((\w+)\),(--[\w-]+)", recipe))
    assert '--type "$(or $(TYPE),llm)"' in recipe
    return {"TYPE": "--type", **flags}


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
