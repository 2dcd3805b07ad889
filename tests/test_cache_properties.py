"""The cache is sound under any sequence of edits: a property test.

A small project whose modules reach each other the ways the rules follow (a log helper
behind a guarded helper, a helper two calls down, a logger hub and its factory, a logger
type and its base, re-exports, modules that vanish and come back). Hypothesis draws each
module's first text and a sequence of edits (a module takes another text, or is deleted);
after each, a cached run must report what an uncached run reports (`test_cache.run`
compares them). A fact found in a memo or kept from an earlier state without what
finding it read shows here as a finding missing or stale after some edit.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from test_cache import codes, run

ABSENT = None  # the module is deleted

REPORT = [
    "import logging\n\nlogger = logging.getLogger(__name__)\n\n\ndef report(exc):\n    logger.exception('failed')\n",
    "def report(exc):\n    print('failed')\n",
    "from app.log import logger\n\n\ndef report(exc):\n    logger.exception('failed')\n",
    ABSENT,
]
LOG = [
    "import logging\n\nlogger = logging.getLogger('app')\n\n\ndef get_logger(name):\n    return logging.getLogger(name)\n",
    "logger = {}\n\n\ndef get_logger(name):\n    return {'name': name}\n",
    ("import logging\n\nfrom app.base import AppLogger\n\nlogger = AppLogger(logging.getLogger('app'), {})\n\n\n"
    "def get_logger(name):\n    return logger\n"),
    ABSENT,
]
BASE = [
    "import logging\n\n\nclass AppLogger(logging.LoggerAdapter):\n    pass\n",
    "class AppLogger(dict):\n    pass\n",
]
HELPER = [
    ("from payments import charge\n\nfrom app.report import report\n\n\ndef helper(sku):\n    try:\n        charge(sku)\n"
    "    except Exception as exc:\n        report(exc)\n"),
    "from payments import charge\n\n\ndef helper(sku):\n    charge(sku)\n",
    "import time\n\n\ndef helper(sku):\n    time.sleep(1)\n",
    ("from payments import charge\n\nfrom app.log import logger\n\n\ndef helper(sku):\n    try:\n        charge(sku)\n"
    "    except Exception:\n        logger.exception('failed')\n"),
    ABSENT,
    "def helper(sku:\n    return None\n",  # does not parse
]
MIDDLE = [
    "from app.helper import helper\n\n\ndef mid(sku):\n    helper(sku)\n",
    "def mid(sku):\n    return None\n",
    "from app.helper import helper as mid\n",
]
DECORATOR = [
    ("import functools\n\nfrom app.report import report\n\n\ndef guarded(fn):\n    @functools.wraps(fn)\n"
    "    def wrapper(*args, **kwargs):\n        try:\n            return fn(*args, **kwargs)\n"
    "        except Exception as exc:\n            report(exc)\n    return wrapper\n"),
    "def guarded(fn):\n    return fn\n",
]
SERVICE = [
    ("from app.log import get_logger\n\n\nclass Service:\n    def __init__(self):\n"
    "        self.logger = get_logger('service')\n\n    def report(self, message):\n"
    "        self.logger.exception(message)\n"),
    "class Service:\n    def report(self, message):\n        print(message)\n",
]
DATABASE = [
    ("from sqlalchemy.orm import sessionmaker\n\nSessionLocal = sessionmaker()\n\n\ndef get_db():\n"
    "    db = SessionLocal()\n    try:\n        yield db\n    finally:\n        db.close()\n"),
    "def get_db():\n    return {}\n",
]
NOTIFY = [
    ("from fastapi import BackgroundTasks\n\n\ndef send(db):\n    db.query()\n\n\n"
    "def notify(tasks: BackgroundTasks, db):\n    tasks.add_task(send, db)\n"),
    ("from fastapi import BackgroundTasks\n\n\ndef send():\n    return None\n\n\n"
    "def notify(tasks: BackgroundTasks, db):\n    tasks.add_task(send)\n"),
]
CALLBACKS = [
    ("import logging\n\nlogger = logging.getLogger(__name__)\n\n\ndef on_done(task):\n"
     "    if not task.cancelled() and task.exception() is not None:\n"
     "        logger.error('failed', exc_info=task.exception())\n"),
    "def on_done(task):\n    return None\n",
]
CLIENTS = [
    "import httpx\n\n\ndef make_client():\n    return httpx.Client()\n",
    "import requests\n\n\ndef make_client():\n    return requests.get('http://example.com')\n",
]
# two helpers side by side: an edit of one of them must reach the readers of that one only
_TOOLS = ("import time\n\nimport requests\n\n\ndef slow_tool():\n    {slow}\n\n\n"
          "def quiet_tool():\n    {quiet}\n\n\ndef pair():\n    return quiet_tool()\n{extra}")
TOOLS = [
    _TOOLS.format(slow="time.sleep(1)", quiet="return None", extra=""),
    _TOOLS.format(slow="return None", quiet="return None", extra=""),
    _TOOLS.format(slow="time.sleep(1)", quiet="requests.get('http://x')", extra=""),
    _TOOLS.format(slow="time.sleep(1)", quiet="return None", extra="\n\ndef third():\n    time.sleep(1)\n"),
    _TOOLS.format(slow="time.sleep(1)", quiet="return None", extra="\n\nquiet_tool = slow_tool\n"),
    _TOOLS.format(slow="time.sleep(1)", quiet="return None", extra="\n\nimport logging\nlogger = logging.getLogger()\n"),
]
PACKAGE = ["", "from app.helper import helper\n", "from app.middle import mid as helper\n"]
CONFIG = [  # pyproject.toml
    "",
    "[tool.bgtask-lint]\nguard-decorators = ['app.deco.guarded']\n",
    "[tool.bgtask-lint]\nconnect-calls = ['app.clients.make_client']\nignore = ['BGT402']\n",
    "[tool.bgtask-lint]\nblocking-calls = ['app.clients.make_client']\n",
]
_ENDPOINT = """

@app.post("/{name}")
async def endpoint_{name}(sku: str, tasks: BackgroundTasks):
    tasks.add_task({scheduled})
"""
_HEAD = "from fastapi import BackgroundTasks, FastAPI\n\n{imports}\n\napp = FastAPI()\n\n\n"
TASK = [  # (imports, the task's def, what add_task gets)
    ("from app.helper import helper", "def task_{name}(sku):\n    helper(sku)\n", "task_{name}, sku"),
    ("from app.middle import mid", "def task_{name}(sku):\n    mid(sku)\n", "task_{name}, sku"),
    ("from app.helper import helper", "async def task_{name}(sku):\n    helper(sku)\n", "task_{name}, sku"),
    ("from payments import charge\n\nfrom app.log import logger",
     "def task_{name}(sku):\n    try:\n        charge(sku)\n    except Exception:\n        logger.error('failed')\n",
     "task_{name}, sku"),
    ("from payments import charge\n\nfrom app.log import get_logger\n\nlogger = get_logger(__name__)",
     "def task_{name}(sku):\n    try:\n        charge(sku)\n    except Exception:\n        logger.exception('failed')\n",
     "task_{name}, sku"),
    ("from app.middle import mid", "async def task_{name}(sku):\n    mid(sku)\n", "task_{name}(sku)"),
    ("from app.middle import mid", "async def task_{name}(sku):\n    mid(sku)\n", "task_{name}, sku"),
    ("from payments import charge\n\nfrom app.deco import guarded",
     "@guarded\ndef task_{name}(sku):\n    charge(sku)\n", "task_{name}, sku"),
    ("from payments import charge\n\nfrom app.service import Service",
     ("class Job(Service):\n    def run_{name}(self, sku):\n        try:\n            charge(sku)\n"
     "        except Exception:\n            self.report('failed')\n"), "Job().run_{name}, sku"),
    ("from fastapi import Depends\n\nfrom app.db import get_db\nfrom app.notify import notify",
     ("def task_{name}(sku):\n    return None\n\n\n@app.post('/{name}/notify')\n"
     "def create_{name}(tasks: BackgroundTasks, db=Depends(get_db)):\n    notify(tasks, db)\n"), "task_{name}, sku"),
    ("import asyncio\n\nfrom payments import charge\n\nfrom app.callbacks import on_done",
     ("async def task_{name}(sku):\n    charge(sku)\n\n\n_running = set()\n\n\n@app.post('/{name}/later')\n"
      "async def later_{name}(sku: str):\n    job = asyncio.create_task(task_{name}(sku))\n    _running.add(job)\n"
      "    job.add_done_callback(on_done)\n"), "task_{name}, sku"),
    ("from app.clients import make_client", "async def task_{name}(sku):\n    make_client()\n", "task_{name}, sku"),
    ("from app import helper", "def task_{name}(sku):\n    helper(sku)\n", "task_{name}, sku"),
    ("from app.tools import slow_tool", "async def task_{name}(sku):\n    slow_tool()\n", "task_{name}, sku"),
    ("from app.tools import pair", "async def task_{name}(sku):\n    pair()\n", "task_{name}, sku"),
    ("from app import tools", "async def task_{name}(sku):\n    tools.quiet_tool()\n", "task_{name}, sku"),
    ("from app.tools import third", "async def task_{name}(sku):\n    third()\n", "task_{name}, sku"),
]


def _task(variant: int, name: str) -> str:
    imports, body, scheduled = TASK[variant]
    return _HEAD.format(imports=imports) + body.format(name=name) + _ENDPOINT.format(
        name=name, scheduled=scheduled.format(name=name))


# each module's first text is the most connected one: a.py's task calls the helper, b.py's
# calls it two levels down, through middle.py
MODULES = {"report": REPORT, "log": LOG, "base": BASE, "helper": HELPER, "middle": MIDDLE, "deco": DECORATOR,
           "service": SERVICE, "db": DATABASE, "notify": NOTIFY, "callbacks": CALLBACKS, "clients": CLIENTS, "tools": TOOLS,
           "__init__": PACKAGE, "pyproject": CONFIG,
           "a": [_task(i, "a") for i in range(len(TASK))],
           "b": [_task(i, "b") for i in (1, 0, *range(2, len(TASK)))]}
NAMES = sorted(MODULES)


def _variant(name: str) -> st.SearchStrategy[int]:
    """A text of the module, the first (most connected) one at least half the time: the
    cache has most to get right where the modules read each other."""
    return st.one_of(st.just(0), st.integers(0, len(MODULES[name]) - 1))


state = st.fixed_dictionaries({name: _variant(name) for name in NAMES})
edit = st.sampled_from(NAMES).flatmap(lambda name: st.tuples(st.just(name), _variant(name)))


def file_of(root: Path, name: str) -> Path:
    return root / "pyproject.toml" if name == "pyproject" else root / "app" / f"{name}.py"


def _write(root: Path, name: str, variant: int) -> None:
    text = MODULES[name][variant]
    path = file_of(root, name)
    if text is ABSENT:
        path.unlink(missing_ok=True)
    else:
        path.write_text(text)


def layout(root: Path, first: dict[str, int]) -> None:
    (root / "app").mkdir(parents=True)
    for name, variant in first.items():
        _write(root, name, variant)


def property_settings(max_examples: int) -> settings:
    return settings(max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _runs_after_edits(first: dict[str, int], edits: list[tuple[str, int]], jobs: int = 1,
                      extra: dict[str, str] | None = None):
    """A project of `first` (and the `extra` modules), a cached run, then one after each
    edit, each compared with an uncached run (`test_cache.run`): yields (findings, stats)
    after each edit."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "proj"
        layout(root, first)
        for name, text in (extra or {}).items():
            (root / "app" / f"{name}.py").write_text(text)
        run(root, jobs=jobs)
        for name, variant in edits:
            _write(root, name, variant)
            found, stats = run(root, jobs=jobs)
            if stats.get("cut_off"):
                event("an entry held though a module it read changed")
            yield codes(found, root), stats


@property_settings(max_examples=150)
@given(first=state, edits=st.lists(edit, min_size=1, max_size=5))
def test_a_cached_run_reports_what_an_uncached_one_does_after_any_edits(first: dict[str, int],
                                                                      edits: list[tuple[str, int]]) -> None:
    for found, _ in _runs_after_edits(first, edits):
        for path, code in sorted(found):
            event(f"{code} in {path} after an edit")  # (what the runs covered: --hypothesis-show-statistics)


@property_settings(max_examples=60)
@given(first=state, steps=st.lists(st.tuples(edit, st.sets(st.sampled_from(NAMES), max_size=3)), min_size=1,
                                   max_size=5))
def test_a_cached_run_over_some_files_reports_what_an_uncached_one_does(
        first: dict[str, int], steps: list[tuple[tuple[str, int], set[str]]]) -> None:
    """As pre-commit runs it: after each edit, a check of a few files named (the whole tree
    when none of those drawn exists). Facts computed over the targets (the session flows)
    and the entries of the files not named must still hold for the next run."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "proj"
        layout(root, first)
        run(root)
        for (name, variant), named in steps:
            _write(root, name, variant)
            paths = [file_of(root, n) for n in sorted(named) if n != "pyproject" and file_of(root, n).exists()]
            run(root, paths=paths or None)


_TOOL_TASKS = [len(TASK) - 4, len(TASK) - 3, len(TASK) - 2, len(TASK) - 1]  # the tasks that call the tools
_TOOL_TASKS_OF_B = [(1, 0, *range(2, len(TASK))).index(i) for i in _TOOL_TASKS]
tool_edit = st.one_of(
    st.tuples(st.just("tools"), st.integers(0, len(TOOLS) - 1)),
    st.tuples(st.just("a"), st.sampled_from(_TOOL_TASKS)),
    st.tuples(st.just("b"), st.sampled_from(_TOOL_TASKS_OF_B)))


@property_settings(max_examples=60)
@given(first=state, a=st.sampled_from(_TOOL_TASKS), b=st.sampled_from(_TOOL_TASKS_OF_B),
       edits=st.lists(tool_edit, min_size=1, max_size=6))
def test_an_edit_of_one_helper_reaches_its_readers_only(first: dict[str, int], a: int, b: int,
                                                        edits: list[tuple[str, int]]) -> None:
    """Edits of tools.py, whose helpers the tasks of a.py and b.py call (or not): an entry
    kept because its file does not reach what changed (cache/cutoff.py) is what an
    uncached run reports."""
    for _ in _runs_after_edits({**first, "a": a, "b": b}, edits):
        pass


# modules enough for worker processes (parallel.MIN_PARALLEL_FILES), each a task that
# calls the helpers the edits change: the workers judge them in memos of their own
FILLERS = {f"fill_{i}": _task((0, 1, 4, 7)[i % 4], f"fill_{i}") for i in range(30)}


@property_settings(max_examples=25)
@given(first=state, edits=st.lists(edit, min_size=1, max_size=4))
def test_a_cached_run_with_workers_reports_what_an_uncached_one_does(first: dict[str, int],
                                                                   edits: list[tuple[str, int]]) -> None:
    for _ in _runs_after_edits(first, edits, jobs=2, extra=FILLERS):
        pass


def _edited_twice(scratch: Path, first: dict[str, int], edits: list[tuple[str, int]]) -> list[Path]:
    """Two copies of the project with the same edits: the first checked (with the cache)
    after each, the second never (for a run without the cache)."""
    roots = [scratch / "cached" / "proj", scratch / "uncached" / "proj"]
    for root in roots:
        layout(root, first)
    run(roots[0])
    for name, variant in edits:
        for root in roots:
            _write(root, name, variant)
        run(roots[0])
    return roots


def _report(result, root: Path) -> tuple:
    return result.exit_code, result.stdout.replace(str(root), "ROOT"), result.stderr.replace(str(root), "ROOT")


@property_settings(max_examples=40)
@given(first=state, edits=st.lists(edit, max_size=4))
def test_a_cached_fix_writes_what_an_uncached_one_does_after_any_edits(first: dict[str, int],
                                                                     edits: list[tuple[str, int]]) -> None:
    """`fix` fixes on the index of the cached check it starts with (fix_run._project_on),
    whose entries the edits before it left: the files it writes and what it reports are
    those of `fix --no-cache` on the same texts."""
    from click.testing import CliRunner

    from bgtask_lint.cli import main

    with tempfile.TemporaryDirectory() as scratch:
        roots = _edited_twice(Path(scratch), first, edits)
        results = [CliRunner().invoke(main, ["fix", str(roots[0])]),
                   CliRunner().invoke(main, ["fix", "--no-cache", str(roots[1])])]
        texts = [{path.relative_to(root).as_posix(): path.read_text() for path in sorted(root.rglob("*.py"))
                  if ".bgtask_lint_cache" not in path.parts} for root in roots]
        assert texts[0] == texts[1]
        assert _report(results[0], roots[0]) == _report(results[1], roots[1])
        event("fixed nothing" if "Fixed 0 findings" in results[1].stderr else "fixed something")


@property_settings(max_examples=40)
@given(first=state, edits=st.lists(edit, max_size=4))
def test_a_cached_fix_diff_prints_what_an_uncached_one_does_after_any_edits(first: dict[str, int],
                                                                          edits: list[tuple[str, int]]) -> None:
    """`fix --diff` fixes on the cached check's index as `fix` does, with the fixed texts
    standing for the files in the checks after each round (nothing written or stored): its
    diff and report are those of `fix --diff --no-cache` on the same texts, and the files
    and the cache's answers stay those of the texts on disk."""
    from click.testing import CliRunner

    from bgtask_lint.cli import main

    with tempfile.TemporaryDirectory() as scratch:
        roots = _edited_twice(Path(scratch), first, edits)
        before = {path: path.read_bytes() for path in roots[0].rglob("*.py")}
        checked_before = CliRunner().invoke(main, ["check", "--exit-zero", str(roots[0])]).stdout
        results = [CliRunner().invoke(main, ["fix", "--diff", str(roots[0])]),
                   CliRunner().invoke(main, ["fix", "--diff", "--no-cache", str(roots[1])])]
        assert _report(results[0], roots[0]) == _report(results[1], roots[1])
        assert {path: path.read_bytes() for path in roots[0].rglob("*.py")} == before
        assert CliRunner().invoke(main, ["check", "--exit-zero", str(roots[0])]).stdout == checked_before
        event("a diff" if results[1].stdout else "no diff")
