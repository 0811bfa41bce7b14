"""The plugin passes langgenius/dify-official-plugins' pre-PR check, step by step.

That check (`.github/workflows/pre-pr-check-per-plugin.yaml`, with the marketplace toolkit's
`validator/test-plugin-install.py`) requires a `## Release Notes` section in the pull-request body,
`author: langgenius` in the manifest, a `pyproject.toml` and no `.venv*`/`venv*` directory in the
plugin folder; it starts the plugin serverless (`python3 -m main` with `INSTALL_METHOD=serverless`),
waits up to 20 s for "Serving Flask app" on stdout and wants 200 or 404 from its port. It then
unzips the package, makes a venv inside the unpacked folder and runs pytest there, in one of two ways:

(a) no `uv.lock`: `uv venv .ci-test-venv --python 3.12`, `uv pip install -r requirements.txt`,
    `uv pip install pytest`, then `.ci-test-venv/bin/python -m pytest`;
(b) with `uv.lock` (what `make lock` writes for the pull request):
    `uv sync --all-groups --frozen --python 3.12` and `uv run --frozen --with pytest pytest`, both
    with `UV_PROJECT_ENVIRONMENT=.ci-test-uv-venv`.

Both run here on a fresh `make package` (by the real `dify plugin package` under `make test`), with
this machine's Python 3.12 and no interpreter downloads, in the environment the check gives:
`PLUGIN_FILE_PATH` names the package, and neither TOGETHER_API_KEY nor `make test`'s
TOGETHERAI_REQUIRE_* settings are set. uv resolves and installs from
the package index, as in the check. This file is not packed: it packs and runs the packaged suite.
"""

from __future__ import annotations

import fnmatch
import os
import queue
import re
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
import yaml

uv = pytest.importorskip("uv")

from tools.stdio_runtime import PLUGIN_ROOT

DEV_LIBRARIES = {
    re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0]
    for requirement in tomllib.loads((PLUGIN_ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
}
LLAMA_MISSING = "llama.cpp is not available"  # the model file is in no dependency group
SKIP_LINE = re.compile(r"^SKIPPED \[\d+\] (?P<where>\S+): (?P<reason>.*)$", re.M)
MISSING_LIBRARY = re.compile(r"could not import '(?P<name>[\w.]+)': .*")  # pytest.importorskip's reason
VENV_DIRECTORIES = (".venv*", "venv*")  # the check's `find -maxdepth 1 -type d -name …`
INSTALL_CHECK_WAIT = 20.0  # the toolkit's install check gives the plugin this long, then fails it


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)


def check(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.args, result.stdout[-6000:], result.stderr[-3000:])
    return result.stdout


@pytest.fixture(scope="module")
def ci_env() -> dict[str, str]:
    """The check's environment: this machine's Python 3.12 found first on PATH, nothing downloaded."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"TOGETHER_API_KEY", "VIRTUAL_ENV", "PYTEST_ADDOPTS"}
        and not key.startswith(("UV_", "TOGETHERAI_REQUIRE_"))
    }
    env["PATH"] = os.pathsep.join([sysconfig.get_config_var("BINDIR"), env.get("PATH", "")])
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory, ci_env: dict[str, str]) -> Path:
    """A fresh `make package`: by the real `dify plugin package` wherever `make test` can build it."""
    out = tmp_path_factory.mktemp("dist")
    report = check(run([sys.executable, "-m", "tools.package", "--out-dir", str(out)], PLUGIN_ROOT, ci_env))
    if os.environ.get("TOGETHERAI_REQUIRE_DAEMON"):
        assert "built with dify plugin package" in report, report
    [built] = out.glob("*.difypkg")
    return built


def unpack(package: Path, where: Path) -> Path:
    folder = where / "unpacked"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(folder)
    assert (folder / "tests").is_dir(), "the check runs tests only when the package holds tests/"
    return folder


def summary(output: str) -> str:
    """pytest's last line (counts and time), shown with `-s` or `-rP`."""
    return output.strip().splitlines()[-1]


def unexplained_skips(output: str) -> list[tuple[str, str]]:
    """Skips other than the live tests (no credentials in the check) and llama.cpp."""
    return [
        (skip["where"], skip["reason"])
        for skip in SKIP_LINE.finditer(output)
        if not skip["where"].startswith("tests/live/") and not skip["reason"].startswith(LLAMA_MISSING)
    ]


def test_the_pull_request_body_has_release_notes() -> None:
    doc = (PLUGIN_ROOT / "docs" / "pull-request.md").read_text(encoding="utf-8")
    body = re.sub(r"<!--.*?-->", "", doc.split("\n---\n", 1)[1], flags=re.S)  # what is pasted, as counted

    notes = re.search(r"^## Release Notes\s*$(?P<text>.*?)(?=^## |\Z)", body, flags=re.M | re.S)

    assert notes and notes["text"].strip(), "the check fails a pull request without Release Notes"


def virtualenv_directories(folder: Path) -> list[str]:
    return [
        path.name
        for path in folder.iterdir()
        if path.is_dir() and not path.is_symlink()  # `find -type d` does not follow links
        and any(fnmatch.fnmatch(path.name, pattern) for pattern in VENV_DIRECTORIES)
    ]


def test_the_plugin_folder_passes_the_checks_before_packaging(package: Path, tmp_path: Path) -> None:
    folder = unpack(package, tmp_path)
    tracked = check(run(["git", "ls-files"], PLUGIN_ROOT, dict(os.environ))).splitlines()

    assert "langgenius" in str(yaml.safe_load((folder / "manifest.yaml").read_text())["author"])
    assert (folder / "pyproject.toml").is_file(), "pyproject.toml is required for all plugins"
    assert virtualenv_directories(folder) == []
    top_level = {name.split("/", 1)[0] for name in tracked if "/" in name}  # what the check's checkout holds
    assert [name for name in top_level if any(fnmatch.fnmatch(name, p) for p in VENV_DIRECTORIES)] == []


@pytest.fixture(scope="module")
def requirements_only(
    package: Path, tmp_path_factory: pytest.TempPathFactory, ci_env: dict[str, str]
) -> Path:
    """The unpacked package with `.ci-test-venv`: requirements.txt and pytest, nothing else."""
    folder = unpack(package, tmp_path_factory.mktemp("requirements-only"))
    (folder / "uv.lock").unlink(missing_ok=True)  # the check takes this way only without a lock
    uv_bin = uv.find_uv_bin()
    python = ".ci-test-venv/bin/python"
    check(run([uv_bin, "venv", ".ci-test-venv", "--python", "3.12"], folder, ci_env))
    check(run([uv_bin, "pip", "install", "--python", python, "-r", "requirements.txt"], folder, ci_env))
    check(run([uv_bin, "pip", "install", "--python", python, "pytest"], folder, ci_env))
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_install_check_finds_flask_serving_and_its_port_answering(
    requirements_only: Path, ci_env: dict[str, str]
) -> None:
    port = free_port()
    env = {**ci_env, "INSTALL_METHOD": "serverless", "SERVERLESS_HOST": "127.0.0.1"}
    env["SERVERLESS_PORT"] = str(port)
    python = str(requirements_only / ".ci-test-venv" / "bin" / "python")
    process = subprocess.Popen(
        [python, "-m", "main"],
        cwd=requirements_only,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    deadline = time.monotonic() + INSTALL_CHECK_WAIT
    try:
        seen = []
        while not any("Serving Flask app" in line for line in seen):
            try:
                seen.append(lines.get(timeout=max(deadline - time.monotonic(), 0.01)))
            except queue.Empty:
                pytest.fail(f"no 'Serving Flask app' on stdout within the check's 20 s: {seen}")
        status = None
        while status is None:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(10)

    assert status in (200, 404)


def test_mode_a_requirements_and_pytest_only(
    package: Path, requirements_only: Path, ci_env: dict[str, str]
) -> None:
    folder = requirements_only
    env = {**ci_env, "PLUGIN_FILE_PATH": str(package)}
    python = ".ci-test-venv/bin/python"

    output = check(run([python, "-m", "pytest"], folder, env))
    print("requirements.txt + pytest:", summary(output))

    skips = unexplained_skips(output)
    causes = [MISSING_LIBRARY.fullmatch(reason) for _, reason in skips]
    assert causes and all(causes), f"only a missing dev-group library may skip a test: {skips}"
    assert {cause["name"] for cause in causes} <= DEV_LIBRARIES, skips


def test_mode_b_all_locked_groups(package: Path, tmp_path: Path, ci_env: dict[str, str]) -> None:
    folder = unpack(package, tmp_path)
    env = {**ci_env, "PLUGIN_FILE_PATH": str(package), "UV_PROJECT_ENVIRONMENT": ".ci-test-uv-venv"}
    uv_bin = uv.find_uv_bin()
    if not (folder / "uv.lock").is_file():  # packed only once `make lock` has run
        check(run([uv_bin, "lock", "--python", "3.12"], folder, env))
    check(run([uv_bin, "sync", "--all-groups", "--frozen", "--python", "3.12"], folder, env))

    output = check(run([uv_bin, "run", "--frozen", "--with", "pytest", "pytest"], folder, env))
    print("uv.lock, all groups:", summary(output))

    skips = unexplained_skips(output)
    assert not skips, f"with every group installed, only the live and llama.cpp tests may skip: {skips}"
