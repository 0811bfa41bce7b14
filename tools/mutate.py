"""Mutation score of one module against the fast test layers (unit, faults, contract), with mutmut.

The run happens in a scratch copy of the tracked tree, so the checkout gets no `mutants/` folder and
two modules can be scored at once. It prints mutmut's list of surviving mutants (each can be read with
`mutmut show NAME` inside the scratch copy, whose path is printed) and one line with the score:
mutants caught (killed, or timed out) / mutants tested; a mutant no test reaches counts as surviving.

Usage: python -m tools.mutate models/llm/reply.py [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_LAYERS = ("tests/unit", "tests/faults", "tests/contract")
# An infinite loop a mutant makes must not cost minutes; three times a clean run is ample.
TIMEOUT_MULTIPLIER = 3.0


def tracked_files(root: Path) -> list[str]:
    """The files git tracks, plus those added but not yet committed."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root, check=True, capture_output=True, text=True,
    )
    return [line for line in listed.stdout.splitlines() if (root / line).is_file()]


def mutmut_config(module: str, top_level: list[str]) -> str:
    """A `setup.cfg` [mutmut] section mutating `module` only; the tests read every other top-level entry."""
    also_copy = "".join(f"\n    {name}" for name in top_level if name not in ("models", "tests"))
    selection = "".join(f"\n    {layer}" for layer in TEST_LAYERS)
    return (
        "[mutmut]\n"
        "source_paths = models\n"
        f"only_mutate = {module}\n"
        f"also_copy ={also_copy}\n"
        f"pytest_add_cli_args_test_selection ={selection}\n"
        "pytest_add_cli_args = -p no:cacheprovider\n"
        f"timeout_multiplier = {TIMEOUT_MULTIPLIER}\n"
    )


# What mutmut calls a mutant the tests caught; "skipped" ones count neither way, and every other
# status ("survived", "no tests", "suspicious", "not checked") is a mutant the tests let through.
CAUGHT = frozenset({"killed", "timeout", "segfault", "caught by type check"})


def mutant_statuses(results: str) -> dict[str, str]:
    """Mutant name → status, from `mutmut results --all true` (one `name: status` line per mutant)."""
    pairs = (line.rsplit(":", 1) for line in results.splitlines() if ":" in line)
    return {name.strip(): status.strip() for name, status in pairs if status.strip() != "skipped"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", help="a path under models/, e.g. models/llm/reply.py")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy for `mutmut show`")
    args = parser.parse_args(argv)
    if not (args.module.startswith("models/") and (ROOT / args.module).is_file()):
        parser.error(f"{args.module!r} is not a file under models/")

    scratch = Path(tempfile.mkdtemp(prefix="togetherai-mutate-"))
    files = tracked_files(ROOT)
    for name in files:
        (scratch / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, scratch / name)
    top_level = sorted({name.split("/", 1)[0] for name in files})
    (scratch / "setup.cfg").write_text(mutmut_config(args.module, top_level), encoding="utf-8")

    mutmut = Path(sys.executable).with_name("mutmut")
    try:
        subprocess.run([str(mutmut), "run", "--max-children", "2"], cwd=scratch, check=False)
        results = subprocess.run(
            [str(mutmut), "results", "--all", "true"], cwd=scratch, capture_output=True, text=True, check=True
        ).stdout
        statuses = mutant_statuses(results)
        for name, status in statuses.items():
            if status not in CAUGHT:
                print(f"{name}: {status}")
        killed, total = sum(status in CAUGHT for status in statuses.values()), len(statuses)
        print(f"{args.module}: {killed} of {total} mutants killed ({100 * killed / max(total, 1):.1f} %)")
        if args.keep:
            print(f"scratch copy kept: {scratch}")
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
