#!/usr/bin/env python
"""One big module with every kind of fixable finding, to time `fix` against `check`.

`python bench/big_module.py DEST [--size BYTES]` writes DEST/pyproject.toml and
DEST/big.py (about BYTES of code, default 1 MB, a fixed seed: the same bytes every
time), then runs `bgtask-lint check`, `bgtask-lint fix --diff` (with the cache, as a user
runs it) and `fix --diff --no-cache` on it and prints the wall time and peak RSS of each
(`--no-run` only writes). One function in four has a
finding: a call result passed to add_task (BGT101), a dropped task (BGT103),
`time.sleep` and `with open` in an async def (BGT301), a request without a timeout
(BGT501), a swallowed exception (BGT402), an unguarded task body (BGT401).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

HEADER = '''"""A generated module: {n} handlers."""

import asyncio
import logging
import time

import requests
from fastapi import BackgroundTasks, FastAPI

logger = logging.getLogger(__name__)
app = FastAPI()


'''

KINDS = {
    "plain": '''async def handler_{n}(path: str) -> dict:
    """Handler {n}: nothing to fix here, just some text to make the module bigger."""
    data = {{"n": {n}, "path": path, "label": "handler {n}"}}
    await asyncio.sleep(0)
    return data


''',
    "bgt101": '''def job_{n}(item_id: int, mode: str = "fast") -> None:
    try:
        print(item_id, mode)
    except Exception:
        logger.exception("job {n} failed")
        raise


@app.post("/items_{n}/{{item_id}}")
def endpoint_{n}(item_id: int, background_tasks: BackgroundTasks):
    background_tasks.add_task(job_{n}(item_id, mode="slow"))
    return {{"queued": item_id}}


''',
    "bgt103": '''async def work_{n}(data: dict) -> None:
    try:
        await asyncio.sleep(0)
    except Exception:
        logger.exception("work {n} failed")
        raise


async def spawn_{n}(path: str) -> None:
    data = {{"n": {n}, "path": path}}
    asyncio.create_task(work_{n}(data))


''',
    "bgt301": '''async def save_{n}(path: str, content: str) -> str:
    time.sleep(0.01)
    with open(path, "w") as handle:
        handle.write(content)
    return path


''',
    "bgt501": '''def fetch_{n}(url: str) -> int:
    response = requests.get(url, params={{"n": {n}}})
    return response.status_code


''',
    "bgt402": '''def cleanup_{n}(item_id: int) -> None:
    try:
        print("cleaning", item_id)
        registry_{n}.pop(item_id)
    except Exception as exc:
        logger.error("cleanup {n} failed: %s", exc)


registry_{n}: dict = {{}}


@app.delete("/items_{n}/{{item_id}}")
def remove_{n}(item_id: int, background_tasks: BackgroundTasks):
    background_tasks.add_task(cleanup_{n}, item_id)
    return {{"removed": item_id}}


''',
    "bgt401": '''def audit_{n}(item_id: int) -> None:
    print("audit", item_id)
    print("done", item_id)


@app.put("/items_{n}/{{item_id}}")
def touch_{n}(item_id: int, background_tasks: BackgroundTasks):
    background_tasks.add_task(audit_{n}, item_id)
    return {{"touched": item_id}}


''',
}
FIXABLE = [kind for kind in KINDS if kind != "plain"]


def generate(size: int, seed: int = 20240601) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    n = 0
    while total < size:
        kind = rng.choice(FIXABLE) if n % 4 == 0 else "plain"
        parts.append(KINDS[kind].format(n=n))
        total += len(parts[-1])
        n += 1
    return HEADER.format(n=n) + "".join(parts)


def write(dest: Path, size: int) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "pyproject.toml").write_text('[project]\nname = "bench-big"\nversion = "0"\n'
                                         'dependencies = ["fastapi", "requests", "aiofiles"]\n')
    path = dest / "big.py"
    path.write_text(generate(size), encoding="utf-8")
    return path


def timed(cmd: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in MB, exit code) of one run."""
    timer = Path("/usr/bin/time")
    full = [str(timer), "-f", "%M", *cmd] if timer.exists() else cmd
    start = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True)
    wall = time.perf_counter() - start
    tail = proc.stderr.strip().splitlines()
    rss = int(tail[-1]) // 1024 if timer.exists() and tail and tail[-1].isdigit() else -1
    return wall, rss, proc.returncode


LOOP = "import time\nstart = time.perf_counter()\nx = 0\nfor i in range(10_000_000):\n    x += i\nprint(time.perf_counter() - start)"


def machine_speed() -> float:
    """Seconds a plain Python loop takes here, in a process of its own: this machine's
    speed swings by 2x over hours (0.76-2.1 s), and a timing means little without it."""
    done = subprocess.run([sys.executable, "-c", LOOP], capture_output=True, text=True, check=True)
    return float(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--no-run", action="store_true")
    parser.add_argument("--unsafe-fixes", action="store_true")
    args = parser.parse_args(argv)
    path = write(args.dest, args.size)
    print(f"{path}: {path.stat().st_size} bytes, {len(path.read_text().splitlines())} lines")
    if args.no_run:
        return 0
    print(f"machine      {machine_speed():7.2f} s for a 10-million-step Python loop (the timings scale with it)")
    tool = [sys.executable, "-m", "bgtask_lint"]
    unsafe = ["--unsafe-fixes"] if args.unsafe_fixes else []
    # `fix --diff` runs as a user runs it: the cache on (and empty: the check wrote none);
    # without the cache as well, so that a cost of the cached path alone shows (a cached
    # run once resolved every site of the module once per task: 3-4 s more here)
    for name, cmd in (("check", [*tool, "check", "--no-cache", "--exit-zero", str(path)]),
                      ("fix --diff", [*tool, "fix", "--diff", *unsafe, str(path)]),
                      ("  no cache", [*tool, "fix", "--diff", "--no-cache", *unsafe, str(path)])):
        wall, rss, code = timed(cmd)
        print(f"{name:<12} {wall:7.2f} s {rss:6d} MB  exit {code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
