"""Build Dify's plugin daemon (`server`) and the `dify` CLI from their Go source, once per source.

No package registry serves dify-plugin-daemon, so the source is a tarball of its 0.6.10 tag or a
checkout of it: `$DIFY_PLUGIN_DAEMON_SRC` when set, else `shared/vendor/` beside this checkout (or
beside a folder above it). The binaries are cached under `~/.cache` by the source's sha256, so a
second build of the same source is a lookup. The CLI's version is set to the tag: the SDK refuses a
`dify` whose `dify version` is not semantic.

Usage: python -m tools.dify_daemon   (prints the folder holding `server` and `dify`)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = "0.6.10"
SOURCE_ENV = "DIFY_PLUGIN_DAEMON_SRC"
VENDORED = Path("shared") / "vendor" / f"dify-plugin-daemon-{VERSION}.tar.gz"
MODULE = "github.com/langgenius/dify-plugin-daemon"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "togetherai" / "dify-plugin-daemon"
GO_FALLBACK = Path("/usr/local/go/bin/go")


class BuildUnavailable(Exception):
    """Go or the daemon's source is missing; the message names what is needed."""


@dataclass(frozen=True)
class Binaries:
    server: Path
    dify: Path


def find_source() -> Path:
    """`$DIFY_PLUGIN_DAEMON_SRC`, else the vendored tarball. Raises `BuildUnavailable` without either."""
    configured = os.environ.get(SOURCE_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not path.exists():
            raise BuildUnavailable(f"its source at {SOURCE_ENV}={configured}, which does not exist")
        return path
    for folder in ROOT.parents:
        if (folder / VENDORED).is_file():
            return folder / VENDORED
    raise BuildUnavailable(
        f"its {VERSION} source: set {SOURCE_ENV} to a tarball or a checkout of the {VERSION} tag "
        f"of dify-plugin-daemon, or put ../{VENDORED} beside this checkout"
    )


def find_go() -> Path:
    """`go` from PATH, else the official installer's place. Raises `BuildUnavailable`."""
    found = shutil.which("go")
    if found:
        return Path(found)
    if GO_FALLBACK.is_file():
        return GO_FALLBACK
    raise BuildUnavailable("Go (https://go.dev/dl/) on PATH or in /usr/local/go, to build it")


def source_digest(source: Path) -> str:
    """sha256 of a tarball's bytes, or of a checkout's files (paths and contents, `.git` left out)."""
    digest = hashlib.sha256()
    if source.is_file():
        with source.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    for path in sorted(
        p for p in source.rglob("*") if p.is_file() and ".git" not in p.relative_to(source).parts
    ):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _module_root(folder: Path) -> Path:
    """The folder holding go.mod: the folder itself, or the one folder a tarball unpacks into."""
    if (folder / "go.mod").is_file():
        return folder
    candidates = [child for child in folder.iterdir() if (child / "go.mod").is_file()]
    if len(candidates) != 1:
        raise BuildUnavailable(f"a go.mod of {MODULE} at the top of {folder}")
    return candidates[0]


def _go_build(go: Path, module: Path, target: Path, package: str, ldflags: str) -> None:
    # GOTOOLCHAIN=local: an older Go must fail here with its own message, not fetch a toolchain.
    # -trimpath: each build unpacks into a new folder; without it Go's build cache would miss every time.
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"}
    result = subprocess.run(
        [str(go), "build", "-trimpath", "-ldflags", ldflags, "-o", str(target), package],
        cwd=module,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"go build {package} failed:\n{result.stderr[-4000:]}")


def build(source: Path | None = None) -> Binaries:
    """The cached binaries for `source` (default `find_source()`), building them first if needed."""
    source = source or find_source()
    folder = CACHE / source_digest(source)
    binaries = Binaries(folder / "server", folder / "dify")
    if binaries.server.is_file() and binaries.dify.is_file():
        return binaries
    go = find_go()
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="build-") as scratch:
        work = Path(scratch)
        if source.is_file():
            with tarfile.open(source) as archive:
                archive.extractall(work / "src", filter="data")
            module = _module_root(work / "src")
        else:
            module = _module_root(source)
        out = work / "bin"
        version = f"-X main.VersionX={VERSION}"
        _go_build(
            go,
            module,
            out / "server",
            "./cmd/server",
            f"{version} -X {MODULE}/pkg/manifest.VersionX={VERSION}",
        )
        _go_build(go, module, out / "dify", "./cmd/commandline", version)
        # Renamed whole into place, so a build cut short never looks like a finished one.
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        out.rename(folder)
    return binaries


if __name__ == "__main__":
    try:
        print(build().dify.parent)
    except BuildUnavailable as missing:
        sys.exit(f"dify-plugin-daemon cannot be built here: it needs {missing}")
