"""Safe means safe for the scheduling fixes (BGT101, BGT103; V2.9): arguments never land on
the scheduler's own parameters, none are dropped or reordered, and the BGT103 callback
keeps the task's exception. Each "wrong today" item of issue 11 is a test that fails on
the old codemods; the behaviour tests run the code before and after the fix (FastAPI's
TestClient, the tasks called directly, captured log records) and compare."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bgtask_lint.config import Settings
from bgtask_lint.project import Project

# every fix here must be the same whether a command sees the whole module or its skeleton
pytestmark = pytest.mark.usefixtures("whole_and_cut_modules")

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402


def fixed(tmp_path: Path, text: str, name: str = "app_module.py", select: tuple[str, ...] = ("BGT",),
          unsafe: bool = False):
    """(findings before, fixed text) of `text` as `name` in a project at tmp_path."""
    path = tmp_path / name
    path.write_text(text)
    project = Project.load([tmp_path], Settings().with_overrides(select=select))
    findings = project.check(project.module(path))
    result = project.fix_text(path, text, unsafe=unsafe)
    assert result.error is None, result.error
    return findings, result.new_text


_loaded = 0


def load(tmp_path: Path, text: str, stem: str = "mod"):
    """Import `text` as a fresh module (its own name, so loggers are its own)."""
    global _loaded
    _loaded += 1
    name = f"{stem}_{_loaded}"
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def only(findings, code):
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, findings
    return found[0]


# --- BGT101: wrong today ---------------------------------------------------------------------

FUNC_KEYWORD = '''\
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
CALLS = []


def job(func=None, mode="fast"):
    CALLS.append((func, mode))


@app.post("/run")
def run(background_tasks: BackgroundTasks):
    background_tasks.add_task(job(func="x", mode="slow"))
    return {"ok": True}
'''


def test_a_task_keyword_named_func_stays_the_tasks(tmp_path: Path) -> None:
    findings, after = fixed(tmp_path, FUNC_KEYWORD)
    assert only(findings, "BGT101").fix == "safe"
    assert 'add_task(job, func="x"' not in after  # add_task would take func= as the task
    assert 'background_tasks.add_task(functools.partial(job, func="x", mode="slow"))' in after
    assert "import functools" in after
    # behaviour: the same call of job, now after the response instead of during the request
    for text, expected_status in ((FUNC_KEYWORD, 500), (after, 200)):
        module = load(tmp_path, text)
        client = TestClient(module.app, raise_server_exceptions=False)
        response = client.post("/run")
        # before: job ran in the request, then starlette called its result (None) and failed
        assert response.status_code in (200, expected_status)
        assert module.CALLS == [("x", "slow")]


def test_background_task_class_with_a_func_keyword(tmp_path: Path) -> None:
    text = (
        "from starlette.background import BackgroundTask\n"
        "from starlette.responses import JSONResponse\n\n"
        "def job(func=None):\n    print(func)\n\n"
        "def endpoint():\n"
        "    return JSONResponse({}, background=BackgroundTask(job(func='x')))\n"
    )
    findings, after = fixed(tmp_path, text)
    assert only(findings, "BGT101").fix == "safe"
    assert "BackgroundTask(functools.partial(job, func='x'))" in after


NIGHTLY = '''\
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()


def nightly(kind, extra=None):
    return None


@app.post("/nightly")
def schedule(background_tasks: BackgroundTasks):
    background_tasks.add_task(nightly("a"), "extra")
    return {"ok": True}
'''


def test_other_arguments_of_the_scheduler_mean_no_fix(tmp_path: Path) -> None:
    findings, after = fixed(tmp_path, NIGHTLY)
    finding = only(findings, "BGT101")
    assert finding.fix is None
    assert "no automatic fix" in finding.message and "go to the result of nightly()" in finding.message
    assert after == NIGHTLY  # not `add_task(nightly, "a", "extra")`


def test_the_run_summary_says_the_finding_remains(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "app.py").write_text(NIGHTLY)
    proc = subprocess.run([sys.executable, "-m", "bgtask_lint", "fix", "--no-cache", "app.py"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert "No findings remain" not in proc.stderr
    assert "1 remaining" in proc.stderr and "BGT101: 1" in proc.stderr, proc.stderr
    assert "no automatic fix" in proc.stdout
    assert (tmp_path / "app.py").read_text() == NIGHTLY


def test_asyncio_run_with_its_own_arguments_has_no_fix(tmp_path: Path) -> None:
    text = (
        "import asyncio\nfrom fastapi import BackgroundTasks\n\n"
        "async def notify(user_id):\n    pass\n\n"
        "def endpoint(background_tasks: BackgroundTasks):\n"
        "    background_tasks.add_task(asyncio.run, notify(1), debug=True)\n"
    )
    findings, after = fixed(tmp_path, text)
    assert only(findings, "BGT101").fix is None
    assert after == text  # debug= is asyncio.run's, not notify's


def test_start_soon_keywords_stay_the_tasks(tmp_path: Path) -> None:
    text = (
        "import anyio\n\n"
        "async def fetch(url, retries=1):\n    pass\n\n"
        "async def main():\n"
        "    async with anyio.create_task_group() as tg:\n"
        "        tg.start_soon(fetch('u', retries=5), name='fetcher')\n"
    )
    findings, after = fixed(tmp_path, text)
    assert only(findings, "BGT101").fix == "safe"
    assert "tg.start_soon(functools.partial(fetch, 'u', retries=5), name='fetcher')" in after


# --- BGT101: behaviour of the fixes that stay -------------------------------------------------

RUN_IN_LOOP = '''\
import asyncio

from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
CALLS = []


async def notify(user_id, channel="mail"):
    CALLS.append((user_id, channel))


@app.post("/notify/{user_id}")
def endpoint(user_id: int, background_tasks: BackgroundTasks):
    background_tasks.add_task(asyncio.run, notify(user_id, channel="sms"))
    return {"queued": user_id}
'''


def test_asyncio_run_becomes_the_coroutine_function(tmp_path: Path) -> None:
    findings, after = fixed(tmp_path, RUN_IN_LOOP)
    assert only(findings, "BGT101").fix == "safe"
    assert 'background_tasks.add_task(notify, user_id, channel="sms")' in after
    for text in (RUN_IN_LOOP, after):
        module = load(tmp_path, text)
        response = TestClient(module.app).post("/notify/7")
        assert response.json() == {"queued": 7}
        assert module.CALLS == [(7, "sms")]


# --- BGT103: wrong today: the exception is logged ---------------------------------------------

DROPPED = '''\
import asyncio
import logging

log = logging.getLogger("jobs")


async def work(n):
    await asyncio.sleep(0)
    if n < 0:
        raise ValueError(f"bad {n}")
    if n == 0:
        await asyncio.sleep(3600)
    return n


async def spawn(n):
    asyncio.create_task(work(n))
'''


def _run_spawns(module, values) -> None:
    async def main():
        for n in values:
            await module.spawn(n)
        for _ in range(5):
            await asyncio.sleep(0)
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()
        await asyncio.sleep(0)
    asyncio.run(main())
    gc.collect()


@pytest.mark.parametrize("creation", [
    "asyncio.create_task(work(n))",
    "asyncio.ensure_future(work(n))",
    "asyncio.get_running_loop().create_task(work(n))",
])
def test_dropped_task_exception_is_logged_with_its_traceback(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                            creation: str) -> None:
    findings, after = fixed(tmp_path, DROPPED.replace("asyncio.create_task(work(n))", creation))
    assert only(findings, "BGT103").fix == "safe"
    assert "log.error(\"background task %r failed\", task, exc_info=task.exception())" in after
    assert "logger = " not in after  # the module's own logger is reused
    module = load(tmp_path, after)
    with caplog.at_level(logging.DEBUG):
        _run_spawns(module, [3, -1, 0])  # one succeeds, one fails, one is cancelled
    ours = [r for r in caplog.records if r.name == "jobs"]
    assert len(ours) == 1, [r.getMessage() for r in caplog.records]
    record = ours[0]
    assert record.levelno == logging.ERROR and "background task" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)
    assert module._background_tasks == set()  # every finished task left the registry
    # the loop itself no longer complains: the exception was retrieved
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


def test_before_the_fix_the_exception_is_lost(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    module = load(tmp_path, DROPPED)
    with caplog.at_level(logging.DEBUG):
        _run_spawns(module, [-1])
    assert not [r for r in caplog.records if r.name == "jobs"]


def test_no_logger_in_the_module_gets_one_when_the_name_is_free(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    text = DROPPED.replace('import logging\n\nlog = logging.getLogger("jobs")\n', "")
    _, after = fixed(tmp_path, text)
    assert "import logging" in after and "logger = logging.getLogger(__name__)" in after
    module = load(tmp_path, after)
    with caplog.at_level(logging.DEBUG):
        _run_spawns(module, [-2])
    records = [r for r in caplog.records if r.name == module.__name__]
    assert len(records) == 1 and records[0].exc_info is not None


def test_a_logger_name_bound_to_none_gets_no_second_binding(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    text = DROPPED.replace('log = logging.getLogger("jobs")', "logger = None  # set at start-up")
    _, after = fixed(tmp_path, text)
    assert after.count("logger = ") == 1  # no dead `logger = ...` line
    assert "logging.getLogger(__name__).error(" in after
    module = load(tmp_path, after)
    with caplog.at_level(logging.DEBUG):
        _run_spawns(module, [-3])
    assert len([r for r in caplog.records if r.name == module.__name__ and r.exc_info]) == 1


def test_math_log_is_not_used_as_the_logger(tmp_path: Path) -> None:
    text = DROPPED.replace('import logging\n\nlog = logging.getLogger("jobs")\n', "from math import log\n")
    _, after = fixed(tmp_path, text)
    assert "log.error" not in after and "logger.error(" in after


def test_loguru_logger_gets_the_loguru_idiom(tmp_path: Path) -> None:
    loguru = pytest.importorskip("loguru")
    text = DROPPED.replace('import logging\n\nlog = logging.getLogger("jobs")\n', "from loguru import logger\n")
    _, after = fixed(tmp_path, text)
    assert 'logger.opt(exception=task.exception()).error("background task {!r} failed", task)' in after
    assert "%r" not in after
    module = load(tmp_path, after)
    messages: list = []
    sink = loguru.logger.add(lambda message: messages.append(message), level="DEBUG")
    try:
        _run_spawns(module, [-4])
    finally:
        loguru.logger.remove(sink)
    assert len(messages) == 1
    record = messages[0].record
    assert record["level"].name == "ERROR" and "background task" in record["message"]
    assert record["exception"] is not None and isinstance(record["exception"].value, ValueError)


def test_second_fix_changes_nothing_and_reuses_the_callback(tmp_path: Path) -> None:
    _, after = fixed(tmp_path, DROPPED)
    again = after.replace("    asyncio.create_task(work(n))\n", "") + (
        "\n\nasync def spawn_more(n):\n    asyncio.create_task(work(n))\n")
    _, twice = fixed(tmp_path, again)
    assert twice.count("def _background_task_done") == 1
    assert twice.count("_background_tasks: set = set()") == 1
    assert "task.add_done_callback(_background_task_done)" in twice


# --- BGT103: the registry and the callback are the module's own names ------------------------

NAMES_TAKEN = '''\
import asyncio
import logging

log = logging.getLogger("jobs")
_background_tasks = []  # the names of the jobs started


async def work(n):
    await asyncio.sleep(0)
    if n < 0:
        raise ValueError(f"bad {n}")
    return n


async def spawn(n):
    _background_tasks.append(n)
    asyncio.create_task(work(n))
'''


@pytest.mark.parametrize("variant", ["list", "parameter", "callback parameter", "imported"])
def test_a_name_the_module_uses_otherwise_is_not_taken_for_the_registry(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, variant: str) -> None:
    """The fix's `_background_tasks.add(task)` and `add_done_callback(_background_task_done)`
    must reach the set and the def it writes: not the module's list of that name (an
    AttributeError when a task starts), a parameter of the def around the task, or a
    registry imported from elsewhere (which the fix would shadow)."""
    text = NAMES_TAKEN
    if variant == "parameter":
        text = text.replace("async def spawn(n):\n    _background_tasks.append(n)\n",
                            "async def spawn(n, _background_tasks=None):\n")
        text = text.replace("_background_tasks = []  # the names of the jobs started\n", "")
    elif variant == "callback parameter":
        text = text.replace("async def spawn(n):", "async def spawn(n, _background_task_done=print):")
    elif variant == "imported":
        (tmp_path / "registry.py").write_text("_background_tasks = []\n")
        text = text.replace("_background_tasks = []  # the names of the jobs started\n",
                            "from registry import _background_tasks\n")
    findings, after = fixed(tmp_path, text)
    assert only(findings, "BGT103").fix == "safe"
    sys.path.insert(0, str(tmp_path))
    try:
        module = load(tmp_path, after)
        with caplog.at_level(logging.DEBUG):
            _run_spawns(module, [3, -1])
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("registry", None)
    failures = [r for r in caplog.records if r.name == "jobs"]
    assert len(failures) == 1 and isinstance(failures[0].exc_info[1], ValueError)
    if variant != "parameter":
        assert module._background_tasks == [3, -1]  # the module's own list, as before the fix
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


def test_the_modules_own_set_registry_is_reused(tmp_path: Path) -> None:
    text = DROPPED.replace('log = logging.getLogger("jobs")\n',
                           'log = logging.getLogger("jobs")\n_background_tasks: set[asyncio.Task] = set()\n')
    _, after = fixed(tmp_path, text)
    assert after.count("_background_tasks") == 3  # its binding, the callback's discard, the add
    assert "_background_tasks_1" not in after and "_background_tasks: set = set()" not in after


# --- BGT101: a call whose result may be the task is not moved -----------------------------

CALLABLE_RESULTS = '''\
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
CALLS = []


class Job:
    def __init__(self, user):
        self.user = user

    def __call__(self):
        CALLS.append(("job", self.user))


def greet(user="anyone"):
    CALLS.append(("greet", user))


HANDLERS = {"ann": greet}


def handler_for(user):
    return HANDLERS[user]


class Jobs:
    def make(self, user):
        def run():
            CALLS.append(("made", user))
        return run


@app.post("/run/{user}")
def run(user: str, background_tasks: BackgroundTasks):
    background_tasks.add_task(Job(user))
    background_tasks.add_task(handler_for(user), user)
    background_tasks.add_task(handler_for(user))
    background_tasks.add_task(Jobs().make(user))
    return {"ok": True}
'''


def test_a_call_that_returns_the_task_is_not_moved_into_the_scheduler(tmp_path: Path) -> None:
    """`add_task(Job(user))` with `Job.__call__`, a registry lookup and a factory method all
    hand the scheduler the callable it needs: moving their arguments into `add_task` would
    run the constructor or the lookup in the background and drop what it returns."""
    findings, after = fixed(tmp_path, CALLABLE_RESULTS)
    lines = {f.line: f for f in findings if f.code == "BGT101"}
    assert sorted(lines) == [36, 37]  # Job(...) and Jobs().make(...) are the callables themselves
    assert lines[37].fix == "unsafe" and "what handler_for() returns is not known here" in lines[37].message
    assert lines[36].fix is None  # (its other argument goes to the result: no fix at all)
    assert after == CALLABLE_RESULTS
    module = load(tmp_path, after)
    assert TestClient(module.app).post("/run/ann").json() == {"ok": True}
    assert module.CALLS == [("job", "ann"), ("greet", "ann"), ("greet", "anyone"), ("made", "ann")]


def test_a_task_function_that_returns_nothing_keeps_its_safe_fix(tmp_path: Path) -> None:
    text = CALLABLE_RESULTS.replace("    background_tasks.add_task(Job(user))\n", "    background_tasks.add_task(greet(user))\n")
    findings, after = fixed(tmp_path, text)
    assert only([f for f in findings if f.line == 35], "BGT101").fix == "safe"
    assert "background_tasks.add_task(greet, user)\n" in after


def test_a_partial_fix_needs_functools_to_be_the_library(tmp_path: Path) -> None:
    """`add_task(job(**options))` keeps the options in functools.partial: not with a module
    whose `functools` is something else."""
    text = ("from fastapi import BackgroundTasks\n\nfunctools = None  # set at start-up\n\n\n"
            "async def job(**options):\n    pass\n\n\n"
            "def endpoint(background_tasks: BackgroundTasks, options: dict):\n"
            "    background_tasks.add_task(job(**options))\n")
    findings, after = fixed(tmp_path, text)
    finding = only(findings, "BGT101")
    assert finding.fix is None and "`functools` is bound to something else here" in finding.message
    assert after == text
    _, plain = fixed(tmp_path, text.replace("functools = None  # set at start-up\n\n\n", "\n"))
    assert "background_tasks.add_task(functools.partial(job, **options))" in plain


DECORATED = '''\
import functools

from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
CALLS = []


def as_task(func):
    def make(*args):
        return lambda: func(*args)
    return make


def traced(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        CALLS.append(("traced", func.__name__))
        return func(*args, **kwargs)
    return wrapper


def other(func):
    def wrapper(*args, **kwargs):
        func(*args, **kwargs)
        return CALLS.append
    return wrapper


@as_task
def deferred(user):
    CALLS.append(("deferred", user))


@traced
def logged(user):
    CALLS.append(("logged", user))


@other
def opaque(user):
    CALLS.append(("opaque", user))


@app.post("/run/{user}")
def run(user: str, background_tasks: BackgroundTasks):
    background_tasks.add_task(deferred(user))
    background_tasks.add_task(logged(user))
    background_tasks.add_task(opaque(user), ("late", user))
    return {"ok": True}
'''


def _line_of(text: str, part: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1) if part in line)


def test_a_decorator_decides_what_calling_the_task_gives(tmp_path: Path) -> None:
    """`@as_task` makes `deferred(user)` return the callable: correct code, not flagged
    (the old fix moved `user` into add_task, and the decorator's lambda was made after the
    response and dropped: the work never ran). A decorator that hands back the task's own
    result (`@traced`) keeps the safe fix; one whose wrapper returns something else
    (`@other`) makes it unsafe."""
    findings, after = fixed(tmp_path, DECORATED)
    lines = {f.line: f for f in findings if f.code == "BGT101"}
    logged, opaque = _line_of(DECORATED, "add_task(logged"), _line_of(DECORATED, "add_task(opaque")
    assert sorted(lines) == [logged, opaque]
    assert lines[logged].fix == "safe"
    assert lines[opaque].fix is None  # (its other argument goes to the result: no fix at all)
    assert "background_tasks.add_task(deferred(user))\n" in after
    assert "background_tasks.add_task(logged, user)\n" in after
    before_calls = load(tmp_path, DECORATED)
    # before: `add_task(logged(user))` ran `logged` in the request, then failed as a task (None)
    TestClient(before_calls.app, raise_server_exceptions=False).post("/run/ann")
    assert ("deferred", "ann") in before_calls.CALLS  # the decorator's lambda ran as the task
    fixed_module = load(tmp_path, after)
    TestClient(fixed_module.app).post("/run/ann")  # after: every task runs, none fails
    assert fixed_module.CALLS == [("opaque", "ann"),  # (called in the request: it makes the task)
                                  ("deferred", "ann"), ("traced", "logged"), ("logged", "ann"), ("late", "ann")]


def test_an_opaque_decorator_makes_the_fix_unsafe(tmp_path: Path) -> None:
    text = DECORATED.replace("    background_tasks.add_task(opaque(user), (\"late\", user))\n",
                             "    background_tasks.add_task(opaque(user))\n")
    findings, after = fixed(tmp_path, text)
    (finding,) = [f for f in findings if f.code == "BGT101" and f.line == _line_of(text, "add_task(opaque")]
    assert finding.fix == "unsafe" and "what opaque() returns is not known here" in finding.message
    assert "background_tasks.add_task(opaque(user))\n" in after


def test_the_callback_never_logs_through_a_logger_bound_on_some_paths(tmp_path: Path) -> None:
    """The done-callback would raise NameError (reported by the loop as an error in the
    callback, the task's own exception lost with it) where `logger` was never bound."""
    text = ("import asyncio\nimport logging\nimport os\n\nif os.environ.get('BGT_VERBOSE'):\n"
            "    logger = logging.getLogger('bgt.test')\n\n\nasync def work():\n    raise ValueError('boom')\n\n\n"
            "async def go():\n    asyncio.create_task(work())\n    await asyncio.sleep(0.01)\n")
    after = fixed(tmp_path, text, select=("BGT103",))[1]
    assert "task.add_done_callback(" in after
    assert "\n        logger." not in after  # the callback logs through logging.getLogger(__name__)
    assert "logging.getLogger(__name__)" in after.split("def _background_task_done")[1]


ASYNC_DECORATED = '''\
import functools

from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
CALLS = []


def traced(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


def awaited(func):
    @functools.wraps(func)
    async def wrapper(*args, **kwargs):
        return await func(*args, **kwargs)
    return wrapper


@traced
async def in_a_plain_wrapper(user):
    CALLS.append(("plain", user))


@awaited
async def in_an_async_wrapper(user):
    CALLS.append(("async", user))


@app.post("/run/{user}")
def run(user: str, background_tasks: BackgroundTasks):
    background_tasks.add_task(in_a_plain_wrapper(user))
    background_tasks.add_task(in_an_async_wrapper(user))
    return {"ok": True}
'''


def test_an_async_task_in_a_plain_wrapper_gets_only_an_unsafe_fix(tmp_path: Path) -> None:
    """`add_task(in_a_plain_wrapper, user)`: Starlette sees a plain callable, runs it in a
    thread, and the coroutine it returns is never awaited (the work silently never runs,
    where before the fix the task at least failed loudly). An async wrapper that awaits
    the function keeps the safe fix."""
    findings, after = fixed(tmp_path, ASYNC_DECORATED)
    lines = {f.line: f for f in findings if f.code == "BGT101"}
    plain, awaited = _line_of(ASYNC_DECORATED, "add_task(in_a_plain"), _line_of(ASYNC_DECORATED, "add_task(in_an_async")
    assert lines[plain].fix == "unsafe" and lines[awaited].fix == "safe"
    assert "add_task(in_a_plain_wrapper(user))" in after
    assert "add_task(in_an_async_wrapper, user)" in after
    module = load(tmp_path, after.replace("    background_tasks.add_task(in_a_plain_wrapper(user))\n", ""))
    TestClient(module.app).post("/run/ann")
    assert module.CALLS == [("async", "ann")]
    unsafe = load(tmp_path, fixed(tmp_path, ASYNC_DECORATED, unsafe=True)[1])
    with pytest.warns(RuntimeWarning, match="never awaited"):
        TestClient(unsafe.app).post("/run/ann")
        gc.collect()
    assert ("plain", "ann") not in unsafe.CALLS  # why it is unsafe


NESTED_GENERATOR = '''\
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
CALLS = []


def handler_for(user):
    def progress():
        yield "started"
    handlers = {"ann": lambda: CALLS.append(("greet", user))}
    return handlers[user]


def factory(user):
    def run():
        CALLS.append(("made", user))
        return len(CALLS)
    return run


@app.post("/run/{user}")
def run(user: str, background_tasks: BackgroundTasks):
    background_tasks.add_task(handler_for(user))
    background_tasks.add_task(factory(user))
    return {"ok": True}
'''


def test_a_nested_def_says_nothing_of_what_its_function_returns(tmp_path: Path) -> None:
    """A `yield` in a nested def made `handler_for` pass for a generator, so the fix was safe:
    `add_task(handler_for, user)` built the lambda after the response and dropped it. And the
    `return` of a factory's inner def hid that the factory returns a function."""
    findings, after = fixed(tmp_path, NESTED_GENERATOR)
    lines = {f.line: f for f in findings if f.code == "BGT101"}
    assert list(lines) == [_line_of(NESTED_GENERATOR, "add_task(handler_for")]  # factory(user) is the callable
    assert next(iter(lines.values())).fix == "unsafe"
    assert after == NESTED_GENERATOR
    module = load(tmp_path, after)
    TestClient(module.app).post("/run/ann")
    assert module.CALLS == [("greet", "ann"), ("made", "ann")]
