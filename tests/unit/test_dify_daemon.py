"""Building the daemon and CLI: which source, which cache folder, and no Go once the cache holds them."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from tools import dify_daemon
from tools.dify_daemon import Binaries, BuildUnavailable


def checkout(root: Path, main_go: str = "package main\n") -> Path:
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "go.mod").write_text("module github.com/langgenius/dify-plugin-daemon\n")
    (root / "cmd").mkdir()
    (root / "cmd" / "main.go").write_text(main_go)
    return root


def test_a_checkouts_digest_follows_its_files_but_not_git(tmp_path: Path) -> None:
    first = dify_daemon.source_digest(checkout(tmp_path / "a"))
    (tmp_path / "a" / ".git" / "HEAD").write_text("ref: refs/heads/other\n")
    same = dify_daemon.source_digest(tmp_path / "a")
    changed = dify_daemon.source_digest(checkout(tmp_path / "b", "package main // edited\n"))

    assert first == same != changed


def test_a_tarballs_digest_is_the_sha256_of_its_bytes(tmp_path: Path) -> None:
    tarball = tmp_path / "src.tar.gz"
    tarball.write_bytes(b"not really a tarball")

    assert dify_daemon.source_digest(tarball) == hashlib.sha256(b"not really a tarball").hexdigest()


def test_the_configured_source_wins_and_a_missing_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dify_daemon.SOURCE_ENV, str(tmp_path))
    assert dify_daemon.find_source() == tmp_path

    monkeypatch.setenv(dify_daemon.SOURCE_ENV, str(tmp_path / "gone"))
    with pytest.raises(BuildUnavailable, match=f"{dify_daemon.SOURCE_ENV}=.*gone, which does not exist"):
        dify_daemon.find_source()


def test_cached_binaries_are_used_without_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = checkout(tmp_path / "src")
    folder = tmp_path / "cache" / dify_daemon.source_digest(source)
    folder.mkdir(parents=True)
    for name in ("server", "dify"):
        (folder / name).write_text("#!/bin/sh\n")
    monkeypatch.setattr(dify_daemon, "CACHE", tmp_path / "cache")

    def no_go() -> Path:
        raise BuildUnavailable("Go")

    monkeypatch.setattr(dify_daemon, "find_go", no_go)

    assert dify_daemon.build(source) == Binaries(folder / "server", folder / "dify")


def test_without_go_an_uncached_source_says_go_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dify_daemon, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(dify_daemon.shutil, "which", lambda _name: None)
    monkeypatch.setattr(dify_daemon, "GO_FALLBACK", tmp_path / "no-go")

    with pytest.raises(BuildUnavailable, match="Go"):
        dify_daemon.build(checkout(tmp_path / "src"))
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_a_tarball_unpacks_into_the_one_folder_holding_go_mod(tmp_path: Path) -> None:
    tarball = tmp_path / "src.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        data = b"module github.com/langgenius/dify-plugin-daemon\n"
        info = tarfile.TarInfo("dify-plugin-daemon-0.6.10/go.mod")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    with tarfile.open(tarball) as archive:
        archive.extractall(tmp_path / "out", filter="data")

    assert dify_daemon._module_root(tmp_path / "out") == tmp_path / "out" / "dify-plugin-daemon-0.6.10"
