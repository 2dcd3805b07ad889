#!/usr/bin/env python
"""What Python itself costs on a tree: `python bench/floor.py DIR [--ruff RUFF] [--reps N]`.

Issue 13 asks for a cold check within 5x ruff's and at most 400 MB. Whatever bgtask-lint
does, a check in Python parses every file with `ast` (the rules need the trees) and, as
long as the index holds every module's tree, keeps them all. This measures those floors
on DIR (each in a fresh interpreter, medians of interleaved runs):

* ruff        `ruff check --select ASYNC --no-cache` (the comparison of bench/run.py)
* start       the interpreter started and `bgtask_lint.engine` imported, nothing checked
* parse       `ast.parse` of every file, one process (files read first, not timed)
* parse xN    the same split over N forked processes (N: the CPUs), each parsing its share
* trees       the peak RSS of one process holding every file's tree (and its text)
* check       `bgtask-lint check --no-cache` (wall time and peak RSS)

and prints each time as a multiple of ruff's. A target below `start + parse xN` cannot be
met by any design that parses with `ast`; a memory target below `trees` needs one that
does not hold every tree at once. `--json FILE` writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RUFF = Path.home() / ".cache" / "bgtask-lint-bench" / "venv" / "bin" / "ruff"

# run in a fresh interpreter: argv[1] a file listing the paths, argv[2] the processes to use
PARSE = r"""
import ast, gc, os, resource, sys, time, warnings
gc.disable()  # as a check does: millions of tree nodes, no cycles to collect
warnings.simplefilter("ignore")
paths = open(sys.argv[1], encoding="utf-8").read().split("\n")
processes, keep = int(sys.argv[2]), sys.argv[3] == "keep"
texts = []
for path in paths:
    try:
        texts.append(open(path, encoding="utf-8", errors="replace").read())
    except OSError:
        pass
kept = []
def parse(share):
    for text in share:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        if keep:
            kept.append(tree)
start = time.perf_counter()
if processes == 1:
    parse(texts)
else:
    children = []
    for i in range(processes):
        pid = os.fork()
        if pid == 0:
            parse(texts[i::processes])
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
elapsed = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(elapsed, rss // 1024 if sys.platform == "darwin" else rss)
"""


def python_files(root: Path) -> list[Path]:
    """The files `check` would look at (its default excludes)."""
    sys.path.insert(0, str(REPO))
    from bgtask_lint.files import DEFAULT_EXCLUDES, iter_python_files

    return sorted(iter_python_files([root], DEFAULT_EXCLUDES, root, problems=[]))


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Wall time, peak RSS (KiB, of the largest process) and stdout: GNU time's %M where
    there is one, else os.wait4's rusage of the child (as bench/run.py measures)."""
    gnu_time = shutil.which("time") if sys.platform.startswith("linux") else None
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        full = [gnu_time, "-f", "%M", "-o", rss_file.name, *cmd] if gnu_time else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        rss = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss
        reported = rss_file.read().split() if gnu_time else []
        if reported and reported[-1].isdigit():
            rss = int(reported[-1])
        out.seek(0)
        return wall, rss, out.read().decode("utf-8", "replace")


def measure(root: Path, ruff: Path | None, reps: int, jobs: int) -> dict[str, object]:
    files = python_files(root)
    listing = Path(tempfile.mkstemp(suffix=".txt")[1])
    listing.write_text("\n".join(map(str, files)), encoding="utf-8")
    py = sys.executable
    cases = {
        "ruff": [str(ruff), "check", "--select", "ASYNC", "--no-cache", "--exit-zero", "-q", str(root)]
        if ruff else None,
        "start": [py, "-c", "import bgtask_lint.engine"],
        "parse": [py, "-c", PARSE, str(listing), "1", "drop"],
        f"parse x{jobs}": [py, "-c", PARSE, str(listing), str(jobs), "drop"],
        "trees": [py, "-c", PARSE, str(listing), "1", "keep"],
        "check": [py, "-m", "bgtask_lint", "check", "--no-cache", "--exit-zero", "-q", str(root)],
    }
    samples: dict[str, list[tuple[float, int]]] = {name: [] for name, cmd in cases.items() if cmd}
    try:
        for _ in range(reps):  # interleaved: a slow moment of the machine hits every case alike
            for name in samples:
                wall, rss, out = timed(cases[name])  # type: ignore[arg-type]
                if name.startswith(("parse", "trees")):  # the parse itself, timed inside
                    wall = float(out.split()[0])
                samples[name].append((wall, rss))
    finally:
        listing.unlink()
    result: dict[str, object] = {"root": str(root), "files": len(files),
                                 "source_mb": round(sum(p.stat().st_size for p in files) / 1e6, 1)}
    for name, runs in samples.items():
        result[name] = {"seconds": round(statistics.median(w for w, _ in runs), 4),
                        "peak_mb": round(statistics.median(r for _, r in runs) / 1024)}
    return result


def report(result: dict[str, object]) -> str:
    ruff = result.get("ruff")
    base = ruff["seconds"] if isinstance(ruff, dict) and ruff["seconds"] else None  # type: ignore[index]
    lines = [f"{result['root']}: {result['files']} files, {result['source_mb']} MB of source",
             f"{'case':<10} {'seconds':>8} {'x ruff':>7} {'peak MB':>8}"]
    for name, value in result.items():
        if not isinstance(value, dict):
            continue
        ratio = f"{value['seconds'] / base:.1f}" if base else "-"
        lines.append(f"{name:<10} {value['seconds']:>8.3f} {ratio:>7} {value['peak_mb']:>8}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--ruff", default=str(DEFAULT_RUFF) if DEFAULT_RUFF.exists() else "",
                        help="the ruff executable ('': none; default: the bench venv's, see bench/run.py)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                        else (os.cpu_count() or 1))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        parser.error(f"{args.root}: not a directory")
    ruff = Path(args.ruff) if args.ruff else None
    result = measure(args.root.resolve(), ruff, max(1, args.reps), max(1, args.jobs))
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
