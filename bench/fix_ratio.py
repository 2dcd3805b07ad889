#!/usr/bin/env python
"""`fix` against `check` on the same trees: `python bench/fix_ratio.py DIR... [--reps N]`.

Issue 11 asks for `bgtask-lint fix` within 1.5x the time of `bgtask-lint check` on the
same tree. For each DIR this times, on a fresh copy each time (so both runs start cold,
with no cache, and `fix` has its findings to fix), the two commands as a user types them:

* check       `bgtask-lint check COPY` (the default: the cache is written)
* fix         `bgtask-lint fix COPY` (the findings fixed, written, and checked again)

The package's bytecode is written first: with PYTHONDONTWRITEBYTECODE set (as here), a
module edited since its last compile is compiled again by every run, which weighs on the
small trees (10-20 ms for `index.py` or `fix_run.py` against a 0.2 s check).

check and fix alternate, `--reps` times (the fastest of each is kept: the noise of a busy
machine only adds), and it prints each tree's ratio, their median and how many trees
are within 1.5x. The copies' files keep their modification times (`copy2`), as a working
tree does. `--json FILE` writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.5


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    """Wall seconds of one run, and its last line of stderr (the fix's summary)."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    lines = done.stderr.strip().splitlines()
    return seconds, lines[-1] if lines else ""


def byte_compile(python: str) -> list[Path]:
    """Write the bytecode of the package `python` runs (its own and its fixes' modules);
    returns their folders."""
    found = subprocess.run(
        [python, "-c", "import bgtask_lint, bgtask_lint.codemods as c; print(bgtask_lint.__path__[0]); "
                       "print(c.__path__[0])"], capture_output=True, text=True, check=True)
    folders = [Path(line) for line in found.stdout.splitlines() if line]
    subprocess.run([python, "-m", "compileall", "-q", *map(str, folders)], check=True, stdout=subprocess.DEVNULL)
    return folders


def measure_tree(root: Path, python: str, reps: int, scratch: Path) -> dict[str, object]:
    best = {"check": float("inf"), "fix": float("inf")}
    summary = ""
    for _ in range(reps):
        for command in ("check", "fix"):
            # a folder of its own each time: a package's copy is rooted at the folder that
            # holds it, and so is its cache, which would make the next run warm
            run_dir = Path(tempfile.mkdtemp(dir=scratch))
            copy = run_dir / root.name
            shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".bgtask_lint_cache"))
            seconds, last = timed([python, "-m", "bgtask_lint", command, str(copy)], cwd=run_dir)
            shutil.rmtree(run_dir)
            best[command] = min(best[command], seconds)
            if command == "fix":
                summary = last
    return {"tree": str(root), "check": best["check"], "fix": best["fix"], "ratio": best["fix"] / best["check"],
            "summary": summary}


def measure(roots: list[Path], python: str, reps: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bgtask-lint-fix-ratio-") as scratch:
        trees = [measure_tree(root, python, reps, Path(scratch)) for root in roots]
    ratios = [float(tree["ratio"]) for tree in trees]
    return {"trees": trees, "median": statistics.median(ratios), "within": sum(r <= TARGET for r in ratios),
            "target": TARGET, "reps": reps}


def report(result: dict[str, object]) -> str:
    rows = [f"{'tree':<40} {'check':>8} {'fix':>8} {'ratio':>6}  fixed"]
    for tree in result["trees"]:  # type: ignore[union-attr]
        rows.append(f"{Path(tree['tree']).name:<40} {tree['check']:>7.2f}s {tree['fix']:>7.2f}s "
                    f"{tree['ratio']:>5.2f}x  {tree['summary'][:70]}")
    trees = len(result["trees"])  # type: ignore[arg-type]
    rows.append(f"median {result['median']:.2f}x; {result['within']} of {trees} trees within {TARGET}x")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", type=Path, nargs="+", metavar="DIR")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs bgtask-lint")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    missing = [str(root) for root in args.roots if not root.is_dir()]
    if missing:
        parser.error(f"not a directory: {', '.join(missing)}")
    byte_compile(args.python)
    result = measure([root.resolve() for root in args.roots], args.python, max(1, args.reps))
    print(report(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
