"""Build `dist/<name>-<version>.difypkg`, the file Dify installs.

This runs the real `dify plugin package`: the `dify` on PATH, else the one `tools.dify_daemon` builds
from the daemon's source (cached) when Go and the source are here. A contributor with neither gets
the same entries from this module, written as the CLI writes them (dify-plugin-daemon
`pkg/plugin_packager`): a plain zip of every file `.difyignore` allows (gitignore syntax; excluded
folders are not entered), entries sorted by path, refused when the uncompressed total passes
50 MiB, with the five largest files named so the fix is obvious.
Entries carry a fixed timestamp, so the same tree always gives the same bytes.

Usage: python -m tools.package [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pathspec
import yaml

from tools import dify_daemon

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 50 * 1024 * 1024  # the CLI's default --max-size and the daemon's install limit
IGNORE_FILE = ".difyignore"
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say; keeps builds reproducible


class PackageError(Exception):
    """The tree cannot be packaged; the message says why and what to change."""


@dataclass(frozen=True)
class PackedFile:
    path: str  # relative, with forward slashes, as stored in the zip
    size: int


def package_name(root: Path) -> str:
    """`<name>-<version>.difypkg` from the manifest."""
    manifest = yaml.safe_load((root / "manifest.yaml").read_text(encoding="utf-8"))
    return f"{manifest['name']}-{manifest['version']}.difypkg"


def ignore_spec(root: Path) -> pathspec.PathSpec:
    """The rules of `.difyignore` (the CLI falls back to `.gitignore`, and with neither packs everything)."""
    for name in (IGNORE_FILE, ".gitignore"):
        path = root / name
        if path.is_file():
            return pathspec.GitIgnoreSpec.from_lines(path.read_text(encoding="utf-8").splitlines())
    return pathspec.GitIgnoreSpec.from_lines([])


def package_files(root: Path) -> list[PackedFile]:
    """Every file the package holds, sorted by path."""
    spec = ignore_spec(root)
    files: list[PackedFile] = []
    for folder, dirnames, filenames in os.walk(root):
        relative = Path(folder).relative_to(root)
        # Like git and the CLI, an excluded folder is not entered, so nothing below it can come back.
        dirnames[:] = [d for d in dirnames if not spec.match_file(f"{(relative / d).as_posix()}/")]
        for filename in filenames:
            path = (relative / filename).as_posix()
            if not spec.match_file(path):
                files.append(PackedFile(path, (root / path).stat().st_size))
    return sorted(files, key=lambda f: f.path)


def check_size(files: list[PackedFile], max_bytes: int) -> None:
    """Raise `PackageError` naming the five largest files when the total passes `max_bytes`."""
    total = sum(f.size for f in files)
    if total <= max_bytes:
        return
    largest = sorted(files, key=lambda f: f.size, reverse=True)[:5]
    listing = "\n".join(f"  {i}. {f.path}: {f.size} bytes" for i, f in enumerate(largest, 1))
    raise PackageError(
        f"The package would hold {total} bytes uncompressed, over the {max_bytes}-byte limit Dify installs.\n"
        f"Largest files:\n{listing}\nExclude what the plugin does not need at run time in {IGNORE_FILE}."
    )


def check_assets(root: Path, files: list[PackedFile]) -> None:
    """The icons the manifest and provider name must be packed, as the CLI checks before packing."""
    packed = {f.path for f in files}
    manifest = yaml.safe_load((root / "manifest.yaml").read_text(encoding="utf-8"))
    icons = [manifest["icon"]]
    for provider_path in manifest.get("plugins", {}).get("models", []):
        provider = yaml.safe_load((root / provider_path).read_text(encoding="utf-8"))
        icons += [provider[key]["en_US"] for key in ("icon_small", "icon_large") if key in provider]
    missing = [icon for icon in icons if f"_assets/{icon}" not in packed]
    if missing:
        raise PackageError(f"Icons named in the manifest or provider are not packed from _assets/: {missing}")


def build(root: Path, out_dir: Path, max_bytes: int = MAX_BYTES) -> Path:
    """Zip `root` as the CLI would into `out_dir`; returns the package path. Raises `PackageError`."""
    files = package_files(root)
    check_size(files, max_bytes)
    check_assets(root, files)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / package_name(root)
    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for f in files:
            info = zipfile.ZipInfo(f.path, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (root / f.path).read_bytes())
    partial.replace(target)
    return target


def build_with_cli(cli: str, root: Path, out_dir: Path) -> Path:
    """Run `dify plugin package`; its own checks and messages apply."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / package_name(root)
    target.unlink(missing_ok=True)
    subprocess.run([cli, "plugin", "package", str(root), "-o", str(target)], check=True)
    return target


def find_cli() -> str | None:
    """The `dify` CLI: on PATH, else built from the daemon's source; None when neither can be had."""
    on_path = shutil.which("dify")
    if on_path:
        return on_path
    try:
        return str(dify_daemon.build().dify)
    except dify_daemon.BuildUnavailable:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make package", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "dist", help="where the .difypkg goes (dist/)")
    args = parser.parse_args(argv)
    cli = find_cli()
    try:
        if cli:
            target = build_with_cli(cli, ROOT, args.out_dir)
        else:
            target = build(ROOT, args.out_dir)
    except PackageError as error:
        print(f"make package: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(
            f"make package: `dify plugin package` failed with exit code {error.returncode}", file=sys.stderr
        )
        return 1
    how = (
        "dify plugin package" if cli else f"{IGNORE_FILE} rules (no dify CLI on PATH, and no Go to build one)"
    )
    print(f"{target} ({target.stat().st_size} bytes, built with {how})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
