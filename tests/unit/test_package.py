"""`make package` without the dify CLI: what `.difyignore` allows, sorted, reproducible, under the limit."""

from __future__ import annotations

import shutil
import stat
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from dify_plugin.core.entities.plugin.setup import PluginConfiguration

pytest.importorskip("pathspec")

from tools import dify_daemon, package
from tools.package import PackageError, build

ROOT = Path(__file__).resolve().parents[2]


def write(root: Path, path: str, content: str | bytes = "x") -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content.encode() if isinstance(content, str) else content)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small plugin tree with this repository's `.difyignore` and one of everything it must drop."""
    root = tmp_path / "plugin"
    root.mkdir()
    shutil.copy(ROOT / ".difyignore", root / ".difyignore")
    write(
        root,
        "manifest.yaml",
        yaml.safe_dump(
            {
                "name": "demo",
                "version": "1.2.3",
                "icon": "icon.svg",
                "plugins": {"models": ["provider/demo.yaml"]},
            }
        ),
    )
    write(root, "provider/demo.yaml", yaml.safe_dump({"icon_small": {"en_US": "icon.svg"}}))
    for kept in (
        "_assets/icon.svg",
        "main.py",
        ".env.example",
        "PRIVACY.md",
        "models/llm/llm.py",
        "tests/unit/test_x.py",
        "tests/fixtures/models.json",
        "tools/stdio_runtime.py",
        "uv.lock",
    ):
        write(root, kept)
    for dropped in (
        ".env",
        "models/.env",
        ".venv/lib/site.py",
        "venv/bin/python",
        ".ci-test-venv/bin/python",
        ".ci-test-uv-venv/lib/python3.12/site-packages/big.so",
        "models/__pycache__/llm.cpython-312.pyc",
        "main.pyc",
        ".pytest_cache/v/cache",
        ".ruff_cache/x",
        ".hypothesis/examples/x",
        ".mypy_cache/x",
        ".git/HEAD",
        ".ci/run",
        "dist/demo-1.2.2.difypkg",
        "old.difypkg",
        "bench/results/run.json",
        "Makefile",
        "docs/pull-request.md",
        "tests/unit/test_pull_request_doc.py",
        "tests/runtime/test_official_ci.py",
        "tests/daemon/test_installed_llm.py",
    ):
        write(root, dropped)
    return root


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_the_package_holds_exactly_what_difyignore_allows(tree: Path, tmp_path: Path) -> None:
    target = build(tree, tmp_path / "out")

    assert target.name == "demo-1.2.3.difypkg"
    assert names(target) == [
        ".difyignore",
        ".env.example",
        "PRIVACY.md",
        "_assets/icon.svg",
        "main.py",
        "manifest.yaml",
        "models/llm/llm.py",
        "provider/demo.yaml",
        "tests/fixtures/models.json",
        "tests/unit/test_x.py",
        "tools/stdio_runtime.py",
        "uv.lock",
    ]


def test_building_twice_gives_the_same_bytes(tree: Path, tmp_path: Path) -> None:
    first = build(tree, tmp_path / "a").read_bytes()
    second = build(tree, tmp_path / "b").read_bytes()
    assert first == second


def test_too_large_a_tree_is_refused_naming_the_five_largest_files(tree: Path, tmp_path: Path) -> None:
    for i in range(1, 7):
        write(tree, f"models/blob{i}.bin", b"0" * (1000 * i))

    with pytest.raises(PackageError) as refused:
        build(tree, tmp_path / "out", max_bytes=20_000)

    message = str(refused.value)
    assert "over the 20000-byte limit" in message
    listed = [line.split(":")[0].split(". ")[1] for line in message.splitlines() if line.startswith("  ")]
    assert listed == [f"models/blob{i}.bin" for i in (6, 5, 4, 3, 2)]
    assert not (tmp_path / "out").exists()


def test_an_icon_that_would_not_be_packed_is_refused(tree: Path, tmp_path: Path) -> None:
    (tree / "_assets" / "icon.svg").unlink()
    with pytest.raises(PackageError, match="icon.svg"):
        build(tree, tmp_path / "out")


def test_this_repository_packs_its_runtime_files_and_tests_but_no_local_state(tmp_path: Path) -> None:
    target = build(ROOT, tmp_path)
    packed = names(target)

    for required in (
        "manifest.yaml",
        "main.py",
        "PRIVACY.md",
        "README.md",
        "requirements.txt",
        "pyproject.toml",
        "provider/togetherai.yaml",
        "provider/togetherai.py",
        "_assets/icon_s_en.svg",
        "_assets/icon_l_en.svg",
        "tests/conftest.py",
        "models/together/client.py",
        "models/together/data/cl100k_base.tiktoken",
    ):
        assert required in packed, required
    for path in packed:
        parts = path.split("/")
        assert parts[0] not in {".venv", ".git", ".ci", "dist", ".pytest_cache", ".env", "docs"}, path
        assert not parts[0].startswith(".ci-test-") and path != "Makefile", path
        assert "__pycache__" not in parts and not path.endswith((".pyc", ".difypkg")), path
        assert parts[:2] != ["tests", "daemon"], path  # needs Go, Postgres and Redis: never in the package
    assert packed == sorted(packed)
    assert sum(info.file_size for info in zipfile.ZipFile(target).infolist()) < package.MAX_BYTES


def test_the_packed_manifest_is_valid_and_names_the_file(tmp_path: Path) -> None:
    target = build(ROOT, tmp_path)
    with zipfile.ZipFile(target) as archive:
        raw = yaml.safe_load(archive.read("manifest.yaml"))
        manifest = PluginConfiguration(**raw)
        assert archive.read(raw["privacy"]).strip(), "the privacy file the manifest names must not be empty"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (
        target.name
        == f"{manifest.name}-{manifest.version}.difypkg"
        == f"togetherai-{project['version']}.difypkg"
    )


def test_without_the_cli_make_package_writes_the_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(package, "find_cli", lambda: None)

    assert package.main(["--out-dir", str(tmp_path)]) == 0

    assert "no dify CLI on PATH, and no Go to build one" in capsys.readouterr().out
    assert zipfile.is_zipfile(tmp_path / package.package_name(ROOT))


def test_with_the_cli_make_package_hands_over_to_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "args"
    cli = tmp_path / "dify"
    cli.write_text(f'#!/bin/sh\necho "$@" > {log}\nfor last; do :; done\necho zip > "$last"\n')
    cli.chmod(cli.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(package, "find_cli", lambda: str(cli))

    assert package.main(["--out-dir", str(tmp_path / "dist")]) == 0

    target = tmp_path / "dist" / package.package_name(ROOT)
    assert log.read_text().split() == ["plugin", "package", str(ROOT), "-o", str(target)]
    assert target.is_file()


def test_the_cli_on_path_comes_first_then_one_built_from_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = dify_daemon.Binaries(tmp_path / "server", tmp_path / "dify")
    monkeypatch.setattr(package.dify_daemon, "build", lambda: built)

    monkeypatch.setattr(package.shutil, "which", lambda name: f"/opt/bin/{name}")
    assert package.find_cli() == "/opt/bin/dify"
    monkeypatch.setattr(package.shutil, "which", lambda _name: None)
    assert package.find_cli() == str(tmp_path / "dify")


def test_without_go_or_the_source_make_package_falls_back_to_the_zip(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> dify_daemon.Binaries:
        raise dify_daemon.BuildUnavailable("Go")

    monkeypatch.setattr(package.shutil, "which", lambda _name: None)
    monkeypatch.setattr(package.dify_daemon, "build", unavailable)
    assert package.find_cli() is None
