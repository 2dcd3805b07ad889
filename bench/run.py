#!/usr/bin/env python
"""bgtask-lint's benchmark: `python bench/run.py [--quick] [--reps N]`.

Builds its corpora reproducibly in a cache directory (default
~/.cache/bgtask-lint-bench, or $BGTASK_BENCH_CACHE, or --cache-dir):

* stdlib    the running interpreter's standard library (its .py files, without site-packages)
* packages  fastapi, sqlalchemy, pydantic, starlette, httpx and their dependencies, from a
            throw-away venv with every distribution pinned (bench/requirements.txt); the same
            venv holds the tools compared with: ruff, flake8 + flake8-async
* app-N     a generated FastAPI application of N modules (routers, tasks, services, models,
            schemas; a fixed seed, so the same bytes every time; nearly every file relevant,
            some with bugs), with a pyproject.toml and, as most apps have, a uv.lock (~0.5 MB)

and measures, interleaved (A B A B ...), the median wall time and the peak RSS of each
command (GNU time's %M, else os.wait4's rusage: the largest single process of the run's
tree, not the sum over worker processes). It prints a
table of medians with ratios to ruff and to flake8 and writes it as JSON to
bench/results.json. `--quick` uses tiny corpora and one repetition.

The bgtask-lint and `flake8 --select BGT` runs use this interpreter (where bgtask-lint is
installed); ruff and `flake8 --select ASYNC` (flake8-async) run from the bench venv.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "bench" / "requirements.txt"
RESULTS = REPO / "bench" / "results.json"
CORPUS_PACKAGES = ("fastapi", "sqlalchemy", "pydantic", "starlette", "httpx")
SEED = 20240601
PY = sys.executable


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Sample:
    wall: float  # seconds
    rss_kb: int  # peak resident set size of the largest process of the run, KiB
    returncode: int
    lines: int  # lines printed on stdout (findings, diff lines...)
    stderr_tail: str = ""


TIME = Path("/usr/bin/time")


def measure(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Sample:
    """Run `cmd` once: wall time, peak RSS, output lines.

    The peak RSS comes from /usr/bin/time (GNU time's %M) where it exists, else from
    os.wait4's rusage of the child, which on Linux also counts the pages the child shared
    with this process before it exec'd (about this script's own RSS, a floor of ~20 MB).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        use_time = TIME.exists() and sys.platform.startswith("linux")
        full = [str(TIME), "-f", "%M", "-o", rss_file.name, *cmd] if use_time else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(full, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = sum(1 for _ in out)
        err.seek(0)
        tail = err.read()[-600:].decode("utf-8", "replace")
        rss = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss
        if use_time:
            reported = rss_file.read().split()
            if reported and reported[-1].isdigit():
                rss = int(reported[-1])
    return Sample(wall=wall, rss_kb=rss, returncode=proc.returncode, lines=lines, stderr_tail=tail)


@dataclass
class Case:
    name: str
    cmd: list[str]
    cwd: Path | None = None
    prime: bool = False  # one unmeasured run first (fills the tool's cache)
    settle: bool = False  # an unmeasured run before each measured one (its cache matches the tree)
    before: Callable[[int], None] | None = None  # called before each measured run
    ok_codes: tuple[int, ...] = (0, 1, 2)  # 2: bgtask-lint also reports files that do not parse
    vs_ruff: str | None = None  # the case of the same group this one is compared with
    vs_flake8: str | None = None
    env: dict[str, str] | None = None
    samples: list[Sample] = field(default_factory=list)

    @property
    def median_wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def median_rss_mb(self) -> float:
        return statistics.median(s.rss_kb for s in self.samples) / 1024


@dataclass
class Group:
    name: str
    note: str
    cases: list[Case]
    files: int = 0


def run_group(group: Group, reps: int, log: Callable[[str], None] = print) -> Group:
    """A B C, A B C, ...: every case once per round, so drifting load hits all of them."""
    for case in group.cases:
        if case.prime:
            measure(case.cmd, case.cwd, case.env)
    for rep in range(reps):
        for case in group.cases:
            if case.settle:  # other cases edit files: "warm" means warm for this tree
                measure(case.cmd, case.cwd, case.env)
            if case.before is not None:
                case.before(rep)
            sample = measure(case.cmd, case.cwd, case.env)
            if sample.returncode not in case.ok_codes:
                log(f"  ! {case.name}: exit {sample.returncode}: {sample.stderr_tail.strip()[-300:]}")
            case.samples.append(sample)
            log(f"  {group.name:<22} {case.name:<34} {sample.wall:8.2f} s {sample.rss_kb / 1024:8.0f} MB")
    return group


def ratio(case: Case, group: Group, other: str | None) -> float | None:
    ref = next((c for c in group.cases if c.name == other), None) if other else None
    if ref is None or not ref.samples or not case.samples or ref.median_wall == 0:
        return None
    return case.median_wall / ref.median_wall


def table(groups: list[Group]) -> str:
    rows = [("group", "case", "median s", "peak MB", "x ruff", "x flake8")]
    for group in groups:
        for case in group.cases:
            if not case.samples:
                continue
            r, f = ratio(case, group, case.vs_ruff), ratio(case, group, case.vs_flake8)
            rows.append((f"{group.name} ({group.files})", case.name, f"{case.median_wall:.3f}",
                         f"{case.median_rss_mb:.0f}", f"{r:.2f}" if r else "", f"{f:.2f}" if f else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def to_json(groups: list[Group], meta: dict) -> dict:
    out = {"meta": meta, "groups": []}
    for group in groups:
        cases = []
        for case in group.cases:
            if not case.samples:
                continue
            cases.append({
                "name": case.name, "cmd": case.cmd, "cwd": str(case.cwd) if case.cwd else None,
                "median_wall_s": case.median_wall, "median_peak_rss_mb": case.median_rss_mb,
                "ratio_to_ruff": ratio(case, group, case.vs_ruff),
                "ratio_to_flake8": ratio(case, group, case.vs_flake8),
                "samples": [asdict(s) | {"stderr_tail": s.stderr_tail[-200:]} for s in case.samples],
            })
        out["groups"].append({"name": group.name, "note": group.note, "files": group.files, "cases": cases})
    return out


# --- the generated FastAPI application -------------------------------------------------------

HEADER = '"""{doc}"""\n\nfrom __future__ import annotations\n\n'


def _router(d: int, n: int, rng: random.Random) -> str:
    other = rng.randrange(n)
    lines = [HEADER.format(doc=f"Endpoints of domain {d}."),
             "import asyncio\nimport time\n\nimport requests\n",
             "from fastapi import APIRouter, BackgroundTasks, Depends, UploadFile\n",
             "from sqlalchemy.ext.asyncio import AsyncSession\nfrom sqlalchemy.orm import Session\n\n",
             "from app.core.db import get_db, get_sync_db\n",
             f"from app.models.m{d:04d} import Item{d}\n",
             f"from app.schemas.s{d:04d} import Item{d}In, Item{d}Out\n",
             f"from app.services.svc{d:04d} import load_item, save_item, summarize\n",
             f"from app.tasks.t{d:04d} import archive, notify, reindex, sync_remote\n",
             f"from app.tasks.t{other:04d} import notify as notify_other\n\n",
             f'router = APIRouter(prefix="/d{d}", tags=["d{d}"])\n']
    for e in range(rng.randint(3, 7)):
        bug = rng.random()
        body = []
        params = "background_tasks: BackgroundTasks, db: AsyncSession = Depends(get_db)"
        if bug < 0.04:
            body.append("    background_tasks.add_task(notify(item.id))  # BGT101\n")
        elif bug < 0.08:
            params += ", sync_db: Session = Depends(get_sync_db)"
            body.append("    background_tasks.add_task(reindex, sync_db, item.id)  # BGT201\n")
        elif bug < 0.11:
            body.append("    background_tasks.add_task(sync_remote, item)  # BGT202\n")
        elif bug < 0.14:
            params = "upload: UploadFile, " + params
            body.append("    background_tasks.add_task(archive, upload)  # BGT203\n")
        elif bug < 0.18:
            body.append("    time.sleep(0.1)  # BGT301\n    background_tasks.add_task(notify, item.id)\n")
        elif bug < 0.20:
            body.append('    requests.get("https://example.com/hook")  # BGT301\n')
        elif bug < 0.23:
            body.append("    asyncio.create_task(summarize(item.id))  # BGT103\n")
        elif bug < 0.30:
            body.append("    background_tasks.add_task(notify_other, item.id)\n")
        else:
            body.append(f"    background_tasks.add_task({rng.choice(['notify', 'reindex', 'archive'])}, item.id)\n")
        verb = rng.choice(["get", "post", "put", "delete"])
        lines.append(f'\n\n@router.{verb}("/items{e}/{{item_id}}", response_model=Item{d}Out)\n'
                     f"async def endpoint_{e}(item_id: int, {params}):\n"
                     f"    item = await load_item(db, item_id)\n"
                     f"    if item is None:\n        return None\n"
                     + "".join(body)
                     + f"    return Item{d}Out.model_validate(item)\n")
    lines.append(f'\n\n@router.post("/items", response_model=Item{d}Out)\n'
                 f"async def create(payload: Item{d}In, background_tasks: BackgroundTasks, "
                 f"db: AsyncSession = Depends(get_db)):\n"
                 f"    item = await save_item(db, Item{d}(**payload.model_dump()))\n"
                 f"    background_tasks.add_task(notify, item.id)\n"
                 f"    return Item{d}Out.model_validate(item)\n")
    return "".join(lines)


def _tasks(d: int, rng: random.Random) -> str:
    guarded = rng.random() > 0.15
    out = [HEADER.format(doc=f"Background tasks of domain {d}."),
           "import asyncio\nimport logging\n\nimport asyncpg\nimport httpx\n\n",
           f"from app.services.svc{d:04d} import summarize\n\n",
           "logger = logging.getLogger(__name__)\n",
           '_background: set[asyncio.Task] = set()\nDSN = "postgresql://app@db/app"\n']
    for name in ("notify", "reindex", "archive", "sync_remote"):
        connect = ("await asyncpg.connect(DSN)" if rng.random() < 0.1
                   else "await asyncio.wait_for(asyncpg.connect(DSN), timeout=10)")
        work = (f"        conn = {connect}\n"
                f"        try:\n            await conn.execute(\"select {d}\", payload)\n"
                f"        finally:\n            await conn.close()\n"
                f"        async with httpx.AsyncClient(timeout=5) as client:\n"
                f'            await client.post("https://example.com/{name}", json={{"id": str(payload)}})\n'
                f"        task = asyncio.create_task(summarize(payload))\n"
                f"        _background.add(task)\n        task.add_done_callback(_background.discard)\n")
        if guarded or name != "notify":
            if rng.random() < 0.05:
                handler = "    except Exception:\n        pass  # BGT402\n"
            else:
                handler = f'    except Exception:\n        logger.exception("{name} failed")\n        raise\n'
            out.append(f"\n\nasync def {name}(payload):\n    try:\n{work}{handler}")
        else:
            out.append(f"\n\nasync def {name}(payload):  # BGT401\n" + work.replace("        ", "    "))
    return "".join(out)


def _service(d: int, n: int, rng: random.Random) -> str:
    blocking = rng.random() < 0.06
    guarded = rng.random() > 0.05
    helper = ("    time.sleep(0.01)  # makes summarize block: BGT302 where an async def calls it\n"
              if blocking else "    return None\n")
    work = ("    _flush_stats()\n" if blocking else "") + "    await asyncio.sleep(0)\n    return {\"id\": item_id}\n"
    if guarded:
        work = ("    try:\n" + work.replace("    ", "        ")
                + '    except Exception:\n        logger.exception("summarize failed")\n        raise\n')
    return (HEADER.format(doc=f"Services of domain {d}.")
            + "import asyncio\nimport logging\nimport time\n\nfrom sqlalchemy import select\n"
            + "from sqlalchemy.ext.asyncio import AsyncSession\n\n"
            + f"from app.models.m{d:04d} import Item{d}\n\nlogger = logging.getLogger(__name__)\n\n\n"
            + f"async def load_item(db: AsyncSession, item_id: int) -> Item{d} | None:\n"
            + f"    result = await db.execute(select(Item{d}).where(Item{d}.id == item_id))\n"
            + "    return result.scalar_one_or_none()\n\n\n"
            + f"async def save_item(db: AsyncSession, item: Item{d}) -> Item{d}:\n"
            + "    db.add(item)\n    await db.commit()\n    await db.refresh(item)\n    return item\n\n\n"
            + f"def _flush_stats():\n{helper}\n\n"
            + "async def summarize(item_id: int) -> dict:\n" + work + "\n\n"
            + "async def refresh_all(ids: list[int]) -> list[dict]:\n"
            + "    return await asyncio.gather(*(summarize(i) for i in ids))\n")


def _model(d: int) -> str:
    return (HEADER.format(doc=f"ORM models of domain {d}.")
            + "from sqlalchemy import ForeignKey, String\n"
            + "from sqlalchemy.orm import Mapped, mapped_column\n\n"
            + "from app.core.db import Base\n\n\n"
            + f"class Item{d}(Base):\n"
            + f'    __tablename__ = "items_{d}"\n\n'
            + "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            + "    name: Mapped[str] = mapped_column(String(200))\n"
            + "    owner_id: Mapped[int] = mapped_column(ForeignKey(\"users.id\"))\n\n"
            + "    async def refresh_remote(self, client) -> None:\n"
            + '        await client.get(f"https://example.com/items/{self.id}")\n')


def _schema(d: int) -> str:
    return (HEADER.format(doc=f"API schemas of domain {d}.")
            + "import asyncio\n\nfrom pydantic import BaseModel, ConfigDict\n\n\n"
            + f"class Item{d}In(BaseModel):\n    name: str\n    owner_id: int\n\n\n"
            + f"class Item{d}Out(BaseModel):\n    model_config = ConfigDict(from_attributes=True)\n\n"
            + "    id: int\n    name: str\n\n\n"
            + "async def validate_remote(payload) -> bool:\n"
            + "    await asyncio.sleep(0)\n    return bool(payload)\n")


CORE = {
    "app/__init__.py": "",
    "app/core/__init__.py": "",
    "app/core/db.py": ('"""Database sessions."""\n\nfrom sqlalchemy import create_engine\n'
                       "from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine\n"
                       "from sqlalchemy.orm import DeclarativeBase, sessionmaker\n\n"
                       'engine = create_async_engine("sqlite+aiosqlite:///app.db")\n'
                       "SessionLocal = async_sessionmaker(engine)\n"
                       'SyncSessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))\n\n\n'
                       "class Base(DeclarativeBase):\n    pass\n\n\n"
                       "async def get_db():\n    async with SessionLocal() as db:\n        yield db\n\n\n"
                       "def get_sync_db():\n    db = SyncSessionLocal()\n    try:\n        yield db\n"
                       "    finally:\n        db.close()\n"),
}


def _lock_file(rng: random.Random, packages: int = 250) -> str:
    """A uv.lock of `packages` packages (~0.5 MB), shaped like uv's: names, versions,
    dependencies, an sdist and eight wheels each, with hashes and sizes."""
    def digest() -> str:
        return "%064x" % rng.getrandbits(256)

    lines = ["version = 1", 'requires-python = ">=3.10"', ""]
    for i in range(packages):
        lines += ["[[package]]", f'name = "pkg-{i}"', f'version = "1.{i}.0"',
                  'source = { registry = "https://pypi.org/simple" }', "dependencies = [",
                  *[f'    {{ name = "pkg-{j}" }},' for j in rng.sample(range(packages), 4)], "]",
                  f'sdist = {{ url = "https://files.pythonhosted.org/packages/pkg_{i}-1.{i}.0.tar.gz", '
                  f'hash = "sha256:{digest()}", size = {rng.randint(1000, 999999)} }}', "wheels = [",
                  *[f'    {{ url = "https://files.pythonhosted.org/packages/pkg_{i}-1.{i}.0-cp3{k}-none-any.whl", '
                    f'hash = "sha256:{digest()}", size = {rng.randint(1000, 999999)} }},' for k in range(8)],
                  "]", ""]
    return "\n".join(lines)


def generate_app_corpus(dest: Path, modules: int, seed: int = SEED) -> Path:
    """A FastAPI app of about `modules` modules (five per domain), the same bytes for the same
    arguments. Returns `dest`."""
    rng = random.Random(f"{seed}-{modules}")
    domains = max(1, (modules - len(CORE) - 7) // 5)
    files: dict[str, str] = dict(CORE)
    files["pyproject.toml"] = '[project]\nname = "bench-app"\nversion = "0"\n'
    files["uv.lock"] = _lock_file(rng)  # as most apps have: a warm run must not parse it
    for package in ("routers", "tasks", "services", "models", "schemas"):
        files[f"app/{package}/__init__.py"] = ""
    for d in range(domains):
        files[f"app/routers/r{d:04d}.py"] = _router(d, domains, rng)
        files[f"app/tasks/t{d:04d}.py"] = _tasks(d, rng)
        files[f"app/services/svc{d:04d}.py"] = _service(d, domains, rng)
        files[f"app/models/m{d:04d}.py"] = _model(d)
        files[f"app/schemas/s{d:04d}.py"] = _schema(d)
    files["app/main.py"] = ('"""The application."""\n\nfrom fastapi import FastAPI\n\n'
                            + "".join(f"from app.routers.r{d:04d} import router as router_{d}\n" for d in range(domains))
                            + "\napp = FastAPI()\n"
                            + "".join(f"app.include_router(router_{d})\n" for d in range(domains)))
    if dest.exists():
        shutil.rmtree(dest)
    for rel, text in sorted(files.items()):
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return dest


def generate_single_module(dest: Path, seed: int = SEED) -> Path:
    """One ~300-line module (a router with its tasks and services), alone in its project."""
    rng = random.Random(f"{seed}-single")
    parts = [_router(0, 1, rng).replace("from app.tasks.t0000 import notify as notify_other\n", ""),
             _tasks(0, rng).split("\n\n", 2)[2], _service(0, 1, rng).split("\n\n", 2)[2]]
    text = "\n\n".join(parts)
    while len(text.splitlines()) < 290:
        d = len(text)
        text += (f"\n\nasync def extra_{d}(background_tasks: BackgroundTasks, item_id: int):\n"
                 f"    background_tasks.add_task(notify, item_id)\n    return {{\"queued\": item_id}}\n")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / "pyproject.toml").write_text('[project]\nname = "bench-single"\nversion = "0"\n')
    path = dest / "router_module.py"
    path.write_text(text, encoding="utf-8")
    return path


# --- the other corpora -------------------------------------------------------------------------


def _copy_py_tree(src: Path, dest: Path, skip_dirs: set[str], limit_to: list[str] | None = None) -> int:
    if dest.exists():
        shutil.rmtree(dest)
    count = 0
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs)
        rel_dir = Path(dirpath).relative_to(src)
        if limit_to is not None and rel_dir.parts and rel_dir.parts[0] not in limit_to:
            continue
        for filename in sorted(filenames):
            if not filename.endswith(".py"):
                continue
            if limit_to is not None and not rel_dir.parts and filename[:-3] not in limit_to:
                continue
            target = dest / rel_dir / filename
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(dirpath) / filename, target)
            count += 1
    (dest / "pyproject.toml").write_text('[project]\nname = "bench-corpus"\nversion = "0"\n')
    return count


def build_stdlib(dest: Path, quick: bool) -> Path:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    limit = ["asyncio", "json", "email", "concurrent", "wave", "textwrap"] if quick else None
    stamp = dest / ".bench-source"
    wanted = f"{stdlib} {sys.version} {limit}"
    if not (stamp.exists() and stamp.read_text() == wanted):
        _copy_py_tree(stdlib, dest, {"site-packages", "__pycache__", "dist-packages"}, limit)
        stamp.write_text(wanted)
    return dest


def copy_corpus(source: Path, dest: Path) -> Path:
    """A copy of a directory of Python code (the cache and edits stay out of the original)."""
    stamp = dest.parent / f".{dest.name}.bench-source"
    if not (dest.is_dir() and stamp.exists() and stamp.read_text() == str(source)):
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".bgtask_lint_cache", "__pycache__", ".ruff_cache"))
        stamp.write_text(str(source))
    return dest


def build_venv(venv: Path, log: Callable[[str], None] = print) -> Path:
    """The bench venv with bench/requirements.txt installed (rebuilt when the pins change)."""
    stamp = venv / "bench-requirements.txt"
    pins = REQUIREMENTS.read_text()
    if stamp.exists() and stamp.read_text() == pins:
        return venv
    log(f"building the bench venv in {venv} ...")
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([PY, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv_python(venv)), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(pins)
    return venv


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_tool(venv: Path, name: str) -> str:
    return str(venv / ("Scripts" if os.name == "nt" else "bin") / name)


LIST_FILES = r"""
import json, re, sys
from importlib import metadata
todo, seen, files = list(sys.argv[1:]), set(), []
while todo:
    name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if name in seen:
        continue
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        continue  # a dependency for another platform or Python
    seen.add(name)
    for req in dist.requires or []:
        if "extra ==" not in req:
            todo.append(re.match(r"[A-Za-z0-9._-]+", req).group(0))
    files += [str(f) for f in dist.files or [] if str(f).endswith(".py") and ".." not in str(f)]
print(json.dumps({"dists": sorted(seen), "files": sorted(set(files)), "root": str(dist.locate_file(""))}))
"""


def build_packages(venv: Path, dest: Path, quick: bool) -> Path:
    stamp = dest / ".bench-source"
    wanted = REQUIREMENTS.read_text() + f"\nquick={quick}"
    if stamp.exists() and stamp.read_text() == wanted:
        return dest
    packages = ["httpx"] if quick else list(CORPUS_PACKAGES)
    found = json.loads(subprocess.run([str(venv_python(venv)), "-c", LIST_FILES, *packages], check=True,
                                      capture_output=True, text=True).stdout)
    if dest.exists():
        shutil.rmtree(dest)
    site = Path(found["root"])
    for rel in found["files"]:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(site / rel, target)
    (dest / "pyproject.toml").write_text('[project]\nname = "bench-packages"\nversion = "0"\n')
    stamp.write_text(wanted)
    return dest


def python_files(root: Path) -> list[Path]:
    """What bgtask-lint checks there (its default excludes), for counts and slices."""
    from bgtask_lint.files import DEFAULT_EXCLUDES, iter_python_files

    return list(iter_python_files([root], DEFAULT_EXCLUDES, root))


# --- the measurements -------------------------------------------------------------------------


def bgtask(*args: str) -> list[str]:
    return [PY, "-m", "bgtask_lint", *args]


class Toucher:
    """Before each run: append a different comment to each of these files (a real change)."""

    def __init__(self, *paths: Path):
        self.originals = {path: path.read_bytes() for path in paths}

    def __call__(self, rep: int) -> None:
        for path, original in self.originals.items():
            path.write_bytes(original + f"\n# bench edit {rep} {time.time_ns()}\n".encode())

    def restore(self) -> None:
        for path, original in self.originals.items():
            path.write_bytes(original)


class PycacheOfATestRun:
    """Before each run: a `__pycache__` directory beside every module, or none (in turns), as
    a test run leaves them. No module changes; each directory's stat does."""

    def __init__(self, root: Path):
        self.directories = sorted({path.parent / "__pycache__" for path in python_files(root)})

    def __call__(self, rep: int) -> None:
        if rep % 2 == 0:
            for directory in self.directories:
                directory.mkdir(exist_ok=True)
        else:
            self.restore()

    def restore(self) -> None:
        for directory in self.directories:
            shutil.rmtree(directory, ignore_errors=True)


def spread(root: Path, count: int) -> list[Path]:
    """`count` files spread evenly over the corpus (the pre-commit case: a few changed files)."""
    files = python_files(root)
    return [files[len(files) * (k + 1) // (count + 1)] for k in range(count)]


def check_group(name: str, root: Path, touch: Path, venv: Path | None, flake8_full: bool = True,
                baseline: tuple[str, Path] | None = None, ruff: str | None = None,
                cold: bool = True) -> tuple[Group, list[Toucher]]:
    toucher = Toucher(touch)
    three = Toucher(*spread(root, 3))
    leftovers = PycacheOfATestRun(root)
    root_s = str(root)
    cases = []
    if baseline is not None:  # the same commands with an older checkout of bgtask-lint
        rev, tree = baseline
        env = os.environ | {"PYTHONPATH": str(tree)}
        if cold:
            cases.append(Case(f"bgtask-lint @{rev[:10]} cold", bgtask("check", "--no-cache", "--exit-zero", root_s),
                              cwd=tree, env=env, vs_ruff="ruff cold", vs_flake8="flake8 --select BGT"))
        cases += [
            Case(f"bgtask-lint @{rev[:10]} warm", bgtask("check", "--exit-zero", root_s), cwd=tree, env=env,
                 prime=True, settle=True, vs_ruff="ruff cached", vs_flake8="flake8 --select BGT"),
            Case(f"bgtask-lint @{rev[:10]} 3 files changed", bgtask("check", "--exit-zero", root_s), cwd=tree,
                 env=env, prime=True, settle=True, before=three, vs_ruff="ruff cached", vs_flake8="flake8 --select BGT"),
        ]
    if cold:
        cases += [
            Case("bgtask-lint cold", bgtask("check", "--no-cache", "--exit-zero", root_s),
                 vs_ruff="ruff cold", vs_flake8="flake8 --select BGT"),
            Case("bgtask-lint cold -j1", bgtask("check", "--no-cache", "--jobs", "1", "--exit-zero", root_s),
                 vs_ruff="ruff cold", vs_flake8="flake8 --select BGT"),
        ]
    cases += [
        Case("bgtask-lint warm", bgtask("check", "--exit-zero", root_s), prime=True, settle=True,
             vs_ruff="ruff cached", vs_flake8="flake8 --select BGT"),
        Case("bgtask-lint one file touched", bgtask("check", "--exit-zero", root_s), prime=True, settle=True,
             before=toucher, vs_ruff="ruff cached", vs_flake8="flake8 --select BGT"),
        Case("bgtask-lint 3 files changed", bgtask("check", "--exit-zero", root_s), prime=True, settle=True,
             before=three, vs_ruff="ruff cached", vs_flake8="flake8 --select BGT"),
        # nothing changed but the __pycache__ directories a test run makes (or removes)
        Case("bgtask-lint warm after a test run", bgtask("check", "--exit-zero", root_s), prime=True, settle=True,
             before=leftovers, vs_ruff="ruff cached", vs_flake8="flake8 --select BGT"),
        # what pre-commit runs: only the changed files named (the project is still indexed)
        Case("bgtask-lint pre-commit (3 changed, named)", bgtask("check", "--exit-zero", *map(str, three.originals)),
             prime=True, settle=True, before=three, vs_ruff="ruff cached", vs_flake8="flake8 --select BGT"),
    ]
    if flake8_full:
        cases.append(Case("flake8 --select BGT", [PY, "-m", "flake8", "--select", "BGT", "--exit-zero", root_s]))
    ruff = ruff or (venv_tool(venv, "ruff") if venv is not None else None)
    if ruff is not None:
        cases += [
            Case("ruff cold", [ruff, "check", "--select", "ASYNC", "--no-cache", "--exit-zero", root_s], cwd=root),
            Case("ruff cached", [ruff, "check", "--select", "ASYNC", "--exit-zero", root_s], cwd=root, prime=True,
                 settle=True),
        ]
    changed = ", ".join(str(p.relative_to(root)) for p in three.originals)
    note = f"the whole corpus; the touched file is {touch.relative_to(root)}; the 3 changed files: {changed}"
    return Group(name, note, cases, files=len(python_files(root))), [toucher, three, leftovers]


def slice_group(name: str, root: Path, venv: Path | None, size: int) -> Group:
    files = python_files(root)
    step = max(1, len(files) // size)
    chosen = [str(p) for p in files[::step][:size]]
    cases = [
        Case("bgtask-lint cold", bgtask("check", "--no-cache", "--exit-zero", *chosen),
             vs_ruff="ruff cold", vs_flake8="flake8 --select BGT"),
        Case("flake8 --select BGT", [PY, "-m", "flake8", "--select", "BGT", "--exit-zero", *chosen]),
    ]
    if venv is not None:
        cases += [
            Case("flake8 --select ASYNC", [str(venv_python(venv)), "-m", "flake8", "--select", "ASYNC",
                                           "--exit-zero", *chosen], vs_ruff="ruff cold", vs_flake8="flake8 --select BGT"),
            Case("ruff cold", [venv_tool(venv, "ruff"), "check", "--select", "ASYNC", "--no-cache",
                               "--exit-zero", *chosen], cwd=root),
        ]
    return Group(name, f"every {step}th file of the corpus (the index still covers the whole project)",
                 cases, files=len(chosen))


def fix_group(root: Path, scratch: Path) -> Group:
    """bgtask-lint fix --diff against LibCST's codemod runner with the same BGT103 codemod."""

    def fresh_copy(_rep: int) -> None:  # the codemod writes in place
        if scratch.exists():
            shutil.rmtree(scratch)
        shutil.copytree(root, scratch)

    fresh_copy(0)
    cases = [
        Case("bgtask-lint fix --diff", bgtask("fix", "--diff", str(root)), ok_codes=(0, 1)),
        Case("bgtask-lint fix --diff --select BGT103", bgtask("fix", "--diff", "--select", "BGT103", str(root)),
             ok_codes=(0, 1)),
        Case("libcst.tool codemod dangling_task", [PY, "-m", "libcst.tool", "codemod", "--no-format",
                                                    "--hide-progress", "dangling_task.DanglingTaskCommand",
                                                    str(scratch)], cwd=REPO, before=fresh_copy, ok_codes=(0, 1)),
    ]
    return Group("fix", "bgtask-lint fix --diff writes nothing; the codemod rewrites a fresh copy each run",
                 cases, files=len(python_files(root)))


def single_group(single: Path, in_project: Path, venv: Path | None) -> Group:
    cases = [
        Case("bgtask-lint check FILE", bgtask("check", "--no-cache", "--exit-zero", str(single)),
             vs_ruff="ruff check FILE", vs_flake8="flake8 FILE"),
        Case("bgtask-lint check FILE (cached)", bgtask("check", "--exit-zero", str(single)), prime=True,
             vs_ruff="ruff check FILE", vs_flake8="flake8 FILE"),
        Case("bgtask-lint check FILE in app", bgtask("check", "--no-cache", "--exit-zero", str(in_project)),
             vs_ruff="ruff check FILE", vs_flake8="flake8 FILE"),
        Case("bgtask-lint check FILE in app (cached)", bgtask("check", "--exit-zero", str(in_project)), prime=True,
             vs_ruff="ruff check FILE", vs_flake8="flake8 FILE"),
        Case("flake8 FILE", [PY, "-m", "flake8", "--exit-zero", str(single)]),
        Case("python -c 'import click'", [PY, "-c", "import click"], vs_ruff="ruff check FILE",
             vs_flake8="flake8 FILE"),
    ]
    if venv is not None:
        cases.append(Case("ruff check FILE", [venv_tool(venv, "ruff"), "check", "--no-cache", "--exit-zero",
                                              str(single)], cwd=single.parent))
    lines = len(single.read_text().splitlines())
    return Group("single file", f"one {lines}-line module; 'in app': a module of the largest app corpus",
                 cases, files=1)


def scaling_group(roots: list[Path], venv: Path | None) -> Group:
    cases = []
    for root in roots:
        n = len(python_files(root))
        cases.append(Case(f"bgtask-lint cold {n} files", bgtask("check", "--no-cache", "--exit-zero", str(root)),
                          vs_ruff=f"ruff cold {n} files"))
        cases.append(Case(f"bgtask-lint warm {n} files", bgtask("check", "--exit-zero", str(root)), prime=True,
                          vs_ruff=f"ruff cold {n} files"))
        if venv is not None:
            cases.append(Case(f"ruff cold {n} files", [venv_tool(venv, "ruff"), "check", "--select", "ASYNC",
                                                       "--no-cache", "--exit-zero", str(root)], cwd=root))
    return Group("scaling (app)", "the generated app at 1/4, 1/2 and all of its modules", cases,
                 files=len(python_files(roots[-1])))


def checkout(rev: str, dest: Path) -> tuple[str, Path]:
    """A clean export of bgtask-lint at `rev` (importable with PYTHONPATH)."""
    full = subprocess.run(["git", "rev-parse", rev], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()
    tree = dest / full
    if not (tree / "bgtask_lint").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", full, "bgtask_lint"], cwd=REPO, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    byte_compile(tree / "bgtask_lint")
    return full, tree


def byte_compile(package: Path) -> None:
    """Write the package's bytecode before timing: with PYTHONDONTWRITEBYTECODE set, an
    uncompiled tree compiles every module on every run (a warm check: 0.071 -> 0.094 s)."""
    subprocess.run([PY, "-m", "compileall", "-q", str(package)], check=True, stdout=subprocess.DEVNULL)


def _meta(args: argparse.Namespace) -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {
        "python": sys.version, "platform": platform.platform(), "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "reps": args.reps, "quick": args.quick, "commit": commit,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pins": [line for line in REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny corpora, one repetition")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3; 1 with --quick)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="where corpora and the venv live")
    parser.add_argument("--no-venv", action="store_true", help="skip the venv (no ruff, flake8-async, packages)")
    parser.add_argument("--only", default=None,
                        help="comma-separated groups: stdlib,packages,app,corpus,slices,fix,single,scaling")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--baseline", metavar="REV", default=None,
                        help="also time bgtask-lint as of git revision REV (cold, warm, 3 files changed; "
                             "stdlib, app and --corpus groups)")
    parser.add_argument("--corpus", type=Path, action="append", default=[], metavar="DIR",
                        help="also measure this directory (e.g. a development-corpus app), copied into the "
                             "bench cache; its group is named after the directory")
    parser.add_argument("--no-cold", action="store_true",
                        help="skip the cold cases (and the full flake8 run) of the stdlib, packages, app and --corpus groups")
    parser.add_argument("--ruff", default=None, help="the ruff executable to compare with (default: the bench venv's)")
    args = parser.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 3)
    cache = args.cache_dir or Path(os.environ.get("BGTASK_BENCH_CACHE")
                                   or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                                   / "bgtask-lint-bench")
    cache = cache.resolve()
    corpora = cache / ("corpora-quick" if args.quick else "corpora")
    corpora.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None

    def wanted(name: str) -> bool:
        return only is None or name in only

    venv = None if args.no_venv else build_venv(cache / "venv")
    baseline = checkout(args.baseline, cache / "baseline") if args.baseline else None
    byte_compile(REPO / "bgtask_lint")
    stdlib = build_stdlib(corpora / "stdlib", args.quick)
    packages = build_packages(venv, corpora / "packages", args.quick) if venv is not None else None
    size = 40 if args.quick else 2000
    apps = []
    for n in (size // 4, size // 2, size):
        root = corpora / f"app-{n}"
        stamp = root / ".bench-source"
        wanted_stamp = f"{SEED} {n} {hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}"
        if not (stamp.exists() and stamp.read_text() == wanted_stamp):
            generate_app_corpus(root, n)
            stamp.write_text(wanted_stamp)
        apps.append(root)
    app = apps[-1]
    single = generate_single_module(corpora / "single")
    slice_size = 10 if args.quick else 100

    groups: list[Group] = []
    touchers: list[Toucher] = []
    plan: list[tuple[str, Callable[[], Group]]] = []
    touch_targets = {"stdlib": stdlib / "wave.py", "app": sorted((app / "app" / "services").glob("svc*.py"))[
        len(list((app / "app" / "services").glob("svc*.py"))) // 2]}
    if packages is not None:
        touch_targets["packages"] = packages / "httpx" / "_urlparse.py"
    for name, root in (("stdlib", stdlib), ("packages", packages), ("app", app)):
        if root is None or not wanted(name):
            continue

        def make(name=name, root=root) -> Group:
            group, made = check_group(name, root, touch_targets[name], venv, flake8_full=not args.no_cold,
                                      baseline=baseline if name in ("stdlib", "app") else None, ruff=args.ruff,
                                      cold=not args.no_cold)
            touchers.extend(made)
            return group
        plan.append((name, make))
    for source in args.corpus if wanted("corpus") else []:
        copy = copy_corpus(source.resolve(), corpora / "external" / source.resolve().name)

        def make_external(root=copy) -> Group:
            group, made = check_group(root.name, root, spread(root, 1)[0], venv, flake8_full=False,
                                      baseline=baseline, ruff=args.ruff, cold=not args.no_cold)
            touchers.extend(made)
            return group
        plan.append((copy.name, make_external))
    if wanted("slices"):
        for name, root in (("stdlib", stdlib), ("app", app)):
            plan.append((f"slice {name}", lambda name=name, root=root: slice_group(f"{name} slice", root, venv,
                                                                                   slice_size)))
    if wanted("fix"):
        plan.append(("fix", lambda: fix_group(app, corpora / "fix-scratch")))
    if wanted("single"):
        in_app = sorted((app / "app" / "routers").glob("r*.py"))[0]
        plan.append(("single", lambda: single_group(single, in_app, venv)))
    if wanted("scaling"):
        plan.append(("scaling", lambda: scaling_group(apps, venv)))

    meta = _meta(args)
    meta["baseline"] = baseline[0] if baseline else None
    try:
        for label, make in plan:
            print(f"== {label}", flush=True)
            group = make()
            groups.append(group)
            run_group(group, args.reps, log=lambda s: print(s, flush=True))
            for toucher in touchers:
                toucher.restore()
    finally:
        for toucher in touchers:
            toucher.restore()
    meta["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    text = table(groups)
    print()
    print(text)
    args.output.write_text(json.dumps(to_json(groups, meta) | {"table": text.splitlines()}, indent=1) + "\n")
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
