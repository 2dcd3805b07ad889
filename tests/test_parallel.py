"""Checking in forked worker processes finds exactly what checking in one process finds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bgtask_lint import parallel
from bgtask_lint.config import Settings
from bgtask_lint.runner import check_paths
from markers import FIXTURES

PROJECTS = sorted(p for d in ("projects", "corpus") for p in (FIXTURES / d).iterdir() if p.is_dir())
needs_fork = pytest.mark.skipif(not parallel.can_fork(), reason="workers are forked on Linux only")


def _fields(findings) -> list[tuple]:
    return [(f.path, f.line, f.col, f.code, f.message, f.end_line, f.end_col, f.fix, f.fix_title)
            for f in findings]


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Fork even for a handful of files, and count the forked runs of checks."""
    monkeypatch.setattr(parallel, "MIN_PARALLEL_FILES", 1)
    calls: list[int] = []
    original = parallel.map_shared

    def counting(project, function, items, *args, **kwargs):
        done = original(project, function, items, *args, **kwargs)
        if done is not None:
            calls.append(len(items))
        return done

    monkeypatch.setattr(parallel, "map_shared", counting)
    return calls


@needs_fork
@pytest.mark.parametrize("root", [*PROJECTS, FIXTURES / "rules"], ids=lambda p: p.name)
def test_same_findings_as_serial(root: Path, forked: list[int]) -> None:
    serial = check_paths([root], Settings(), root=root, jobs=1)
    assert not forked
    workers = check_paths([root], Settings(), root=root, jobs=3)
    assert forked, "the workers were not used"
    assert _fields(workers.findings) == _fields(serial.findings)
    assert workers.errors == serial.errors
    assert workers.files_checked == serial.files_checked


@needs_fork
def test_with_the_cache(tmp_path: Path, forked: list[int]) -> None:
    import shutil

    root = tmp_path / "shop"
    shutil.copytree(FIXTURES / "corpus" / "shop_api", root)
    serial = check_paths([root], Settings(), root=root, jobs=1)
    cold = check_paths([root], Settings(), root=root, jobs=2, cache=True)
    warm = check_paths([root], Settings(), root=root, jobs=2, cache=True)
    assert _fields(cold.findings) == _fields(warm.findings) == _fields(serial.findings)
    assert len(forked) == 1  # the warm run checked nothing


def test_few_files_stay_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "map_shared", lambda *args, **kwargs: pytest.fail("forked"))
    root = FIXTURES / "projects" / "crossmod_basic"
    assert check_paths([root], Settings(), root=root, jobs=4).findings


def test_chunks_cover_every_module_once() -> None:
    class M:
        def __init__(self, n: int):
            self.source = "x" * n

    modules = [M(n) for n in (5, 50, 1, 30, 30, 7, 0, 12, 99, 3)]
    chunks = parallel._chunks(modules, jobs=2)  # type: ignore[arg-type]
    flat = [i for chunk in chunks for i in chunk]
    assert sorted(flat) == list(range(len(modules)))
    assert flat[0] == 8  # the biggest first


def test_chunks_share_the_source_not_the_file_count() -> None:
    """A few big modules among many small ones: no chunk of several files takes a quarter
    of the source (chunks of as many files each put all ten big ones in the first)."""

    class M:
        def __init__(self, n: int):
            self.source = "x" * n

    modules = [M(1000) for _ in range(10)] + [M(1) for _ in range(1000)]
    chunks = parallel._chunks(modules, jobs=2)  # type: ignore[arg-type]
    total = sum(len(m.source) for m in modules)
    weights = [sum(len(modules[i].source) for i in chunk) for chunk in chunks]
    assert sorted(i for chunk in chunks for i in chunk) == list(range(len(modules)))
    assert all(weight < total / 4 for chunk, weight in zip(chunks, weights) if len(chunk) > 1)
    assert weights[-1] <= weights[0]  # the small ones last, to even out the workers' ends
    empty = [M(0) for _ in range(100)]  # 100 empty __init__.py files: one chunk, not 100
    assert parallel._chunks(empty, jobs=2) == [list(range(100))]  # type: ignore[arg-type]


@needs_fork
def test_incremental_run_in_workers(tmp_path: Path, forked: list[int]) -> None:
    import shutil

    root = tmp_path / "media"
    shutil.copytree(FIXTURES / "corpus" / "media_service", root)
    check_paths([root], Settings(), root=root, jobs=2, cache=True)
    for path in sorted(root.rglob("*.py")):
        path.write_text(path.read_text() + "\n# edited\n")
    edited = check_paths([root], Settings(), root=root, jobs=2, cache=True)
    serial = check_paths([root], Settings(), root=root, jobs=1)
    assert _fields(edited.findings) == _fields(serial.findings)
    assert len(forked) == 2


@needs_fork
@pytest.mark.parametrize(("fewest", "forks"), [(2, True), (1000, False)])
def test_an_incremental_run_forks_from_its_own_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        fewest: int, forks: bool) -> None:
    """A cached run re-checking some files has parsed only what it read: each check may
    parse many modules, so fewer files are worth the workers than in a cold run (which
    waits for MIN_PARALLEL_FILES); below MIN_PARALLEL_LOADING it stays in one process
    (each worker would parse the modules they share again). Same findings either way."""
    import shutil

    assert parallel.MIN_PARALLEL_LOADING < parallel.MIN_PARALLEL_FILES
    root = tmp_path / "media"
    shutil.copytree(FIXTURES / "corpus" / "media_service", root)
    check_paths([root], Settings(), root=root, jobs=2, cache=True)
    forked: list[int] = []
    original = parallel.map_shared

    def counting(project, function, items, *args, **kwargs):
        done = original(project, function, items, *args, **kwargs)
        forked.append(len(items) if done is not None else 0)
        return done

    monkeypatch.setattr(parallel, "map_shared", counting)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_LOADING", fewest)
    changed = sorted(p for p in root.rglob("*.py") if p.name != "__init__.py")[:2]
    for path in changed:
        path.write_text(path.read_text() + "\n# edited\n")
    edited = check_paths([root], Settings(), root=root, jobs=2, cache=True)
    assert bool(forked and forked[0] > 0) is forks
    serial = check_paths([root], Settings(), root=root, jobs=1)
    assert _fields(edited.findings) == _fields(serial.findings)


@needs_fork
def test_a_file_changed_under_a_worker_keeps_the_pack_unwritten(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that reads a file whose bytes are no longer those the run hashed says so:
    the run's pack is not written (as when the run itself reads it)."""
    from bgtask_lint.cache import LAST_RUN
    from bgtask_lint.cache import check as cache_check
    from projects import write_app

    helper = "def work(path):\n    with open(path) as f:\n        return f.read()\n"
    caller = "from app.helpers import work\n\nasync def handler_{n}(p):\n    return work(p)\n"
    app = write_app(tmp_path, {"helpers": helper, "a": caller.format(n=1), "b": caller.format(n=2)})
    check_paths([tmp_path], Settings(), root=tmp_path, jobs=2, cache=True)
    for name in ("a", "b"):
        (app / f"{name}.py").write_text((app / f"{name}.py").read_text() + "# edited\n")
    original = cache_check.read_verified

    def changed_meanwhile(state):
        return None if state.path.endswith("helpers.py") else original(state)

    monkeypatch.setattr(cache_check, "read_verified", changed_meanwhile)
    # the chain of `work` kept from the first run would answer without reading helpers.py
    monkeypatch.setattr(cache_check._Changed, "_keep_memo", lambda self, *args, **kwargs: None)
    forked: list[int] = []
    counting = parallel.map_shared

    def recording(project, function, items, *args, **kwargs):
        done = counting(project, function, items, *args, **kwargs)
        forked.append(0 if done is None else len(items))
        return done

    monkeypatch.setattr(parallel, "map_shared", recording)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_LOADING", 2)  # two files are worth the workers here
    check_paths([tmp_path], Settings(), root=tmp_path, jobs=2, cache=True)
    assert forked and forked[0] == 2, "the two edited files were not checked in workers"
    assert LAST_RUN.get("raced") is True and LAST_RUN.get("wrote") is False, dict(LAST_RUN)


def test_a_run_the_process_ends_with_leaves_its_garbage_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the command line says the process ends with the run, the garbage a run leaves
    (cyclic: a project's trees) is frozen, not collected; otherwise it is collectable."""
    import gc

    def run_leaving_a_cycle() -> bool:
        before = gc.get_freeze_count()
        with parallel.paused_gc():
            cycle: list = []
            cycle.append(cycle)
            del cycle
        frozen = gc.get_freeze_count() > before
        gc.unfreeze()
        return frozen

    assert gc.isenabled()
    monkeypatch.setattr(parallel, "garbage_left_to_exit", False)
    assert not run_leaving_a_cycle()
    monkeypatch.setattr(parallel, "garbage_left_to_exit", True)
    assert run_leaving_a_cycle()
    assert gc.isenabled()


def test_the_command_line_leaves_garbage_to_the_exit_but_not_the_language_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gc
    import sys

    from bgtask_lint import launch
    from bgtask_lint.lsp import server

    seen: list[bool] = []
    monkeypatch.setattr(parallel, "garbage_left_to_exit", False)
    monkeypatch.setattr(server, "load_pygls", lambda: None)
    monkeypatch.setattr(server, "serve", lambda: seen.append(parallel.garbage_left_to_exit))
    monkeypatch.setattr(gc, "freeze", lambda: None)  # (the test process lives on)
    monkeypatch.setattr(sys, "argv", ["bgtask-lint", "rules"])
    with pytest.raises(SystemExit):
        launch.run()
    assert parallel.garbage_left_to_exit is True
    monkeypatch.setattr(sys, "argv", ["bgtask-lint", "lsp"])
    with pytest.raises(SystemExit):
        launch.run()
    assert seen == [False]


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited (its new parent may never reap it)


@needs_fork
def test_workers_die_with_a_run_that_is_killed(tmp_path: Path) -> None:
    """A run killed by a timeout (pre-commit's, CI's) must not leave its workers behind:
    they would wait on their queue forever, each holding the forked project. (Three jobs:
    this process and two workers.)"""
    import signal
    import subprocess
    import sys
    import time

    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for n in range(300):
        (package / f"mod_{n}.py").write_text(
            "import asyncio\nimport time\n\n\n" + "".join(
                f"async def handler_{k}():\n    time.sleep(1)\n    asyncio.create_task(handler_{k}())\n\n\n"
                for k in range(20)))
    proc = subprocess.Popen([sys.executable, "-m", "bgtask_lint", "check", "--no-cache", "--jobs", "3", "app"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while len(workers) < 2 and proc.poll() is None and time.monotonic() < deadline:
        workers |= _children(proc.pid)
        time.sleep(0.002)
    assert len(workers) == 2, "the run ended before its workers were seen"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in workers if _running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "workers outlived the run"


def _double(project, item: int) -> int:
    return 2 * item


def _until(ready, what: str) -> None:
    """Wait (in whichever process) until `ready()`; the tests below order the processes
    this way rather than by sleeping, which a busy machine can outlast."""
    import time

    deadline = time.monotonic() + 60
    while not ready():
        assert time.monotonic() < deadline, what
        time.sleep(0.001)


def _shared_counts() -> tuple:
    """map_shared's shared counts (the next item to take, the items done), as inherited."""
    assert parallel._STATE is not None
    return parallel._STATE[3], parallel._STATE[4]


def _pid(project, item: int) -> int:
    return os.getpid()


@needs_fork
def test_meanwhile_work_is_done_here_while_the_workers_take_items() -> None:
    """`meanwhile` work is done by this process, in the calling thread, once the workers
    are forked and before it takes items: they take items while it works. It is done
    once, and not without workers."""
    import multiprocessing
    import threading

    items = list(range(5))
    ran: list[tuple[str, int, int]] = []

    def work() -> None:
        ran.append((threading.current_thread().name, os.getpid(), len(multiprocessing.active_children())))
        _, finished = _shared_counts()
        _until(lambda: finished.value == len(items), "the worker did not take every item")

    with parallel.meanwhile(work):
        assert parallel.map_shared(None, _double, [1, 2, 3], jobs=1) is None  # no workers
        assert ran == []
        done = parallel.map_shared(None, _pid, items, jobs=2)
        assert ran == [(threading.current_thread().name, os.getpid(), 1)]  # here, the worker forked
        assert done is not None and os.getpid() not in done  # the worker took them all meanwhile
        assert parallel.map_shared(None, _double, [1, 2], jobs=2) == [2, 4]
        assert len(ran) == 1  # once
    with parallel.meanwhile(work):
        pass
    assert parallel.map_shared(None, _double, [1, 2], jobs=2) == [2, 4]
    assert len(ran) == 1  # not outside its block


def _noted(project: dict, item: int) -> tuple[int, int]:
    taken, _ = _shared_counts()
    # each process's first item waits until another has taken one too: both take some
    _until(lambda: taken.value >= 2, "a process took no item")
    project[item] = os.getpid()
    return item * 2, os.getpid()


@needs_fork
def test_a_shared_map_keeps_what_this_process_computed() -> None:
    """`map_shared`: this process takes items in turn with its workers, the results come
    in the items' order, and what this process computed stays with it (the next workers
    it forks inherit it: a `fix` re-checks on what its first check analysed here)."""
    noted: dict[int, int] = {}
    items = list(range(12))
    done = parallel.map_shared(noted, _noted, items, jobs=2)
    assert done is not None and [value for value, _ in done] == [2 * item for item in items]
    here = {item for item, (_, pid) in zip(items, done) if pid == os.getpid()}
    assert here and len(here) < len(items)  # this process and the worker both took some
    assert set(noted) == here  # the worker's changes stayed in the worker
    assert parallel.map_shared(noted, _noted, items, jobs=1) is None  # one job: the caller's
    told: list[int] = []
    assert parallel.map_shared({}, _noted, items, jobs=2, each=told.append) is not None
    # after each item of its own, this process is told how many all have done
    assert told == sorted(told) and len(told) < len(items) and told[-1] <= len(items)


@needs_fork
def test_a_fix_imports_libcst_while_its_check_runs(tmp_path: Path) -> None:
    """`fix` imports LibCST (a tenth of a second) during its first check's workers, when
    there is something to fix; `check` never imports it."""
    import subprocess
    import sys

    for number in range(40):
        (tmp_path / f"mod{number}.py").write_text(f"def helper{number}():\n    return {number}\n")
    (tmp_path / "app.py").write_text("import asyncio\n\n\nasync def job():\n    pass\n\n\n"
                                     "async def go():\n    asyncio.create_task(job())\n")
    probe = ("import sys\n"
             "from bgtask_lint import runner\n"
             "original = runner.check_paths\n"
             "def probed(*args, **kwargs):\n"
             "    done = original(*args, **kwargs)\n"
             "    print('libcst after the check:', 'libcst' in sys.modules, file=sys.stderr)\n"
             "    return done\n"
             "runner.check_paths = probed\n"
             "sys.argv = ['bgtask-lint', *sys.argv[1:]]\n"
             "from bgtask_lint.launch import run\nrun()\n")
    for command, imported in (("check", "False"), ("fix", "True")):  # (the check leaves no cache)
        done = subprocess.run([sys.executable, "-c", probe, command, "--jobs", "2", "."] + (
                              ["--no-cache"] if command == "check" else []), cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        lines = [line for line in done.stderr.splitlines() if line.startswith("libcst after")]
        assert lines and lines[0] == f"libcst after the check: {imported}", (command, done.stderr)
    assert "add_done_callback" in (tmp_path / "app.py").read_text()
