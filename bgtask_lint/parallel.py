"""Checking many modules at once: this process and workers forked after the index is built.

The index pass is cross-module and stays in the parent. Once it is built (and the task
table computed), the targets are split into chunks and checked by the parent and worker
processes forked from it (`map_shared`), so every worker inherits the parsed project
instead of re-parsing or unpickling it, and what the parent analysed stays with it: the
check that `fix` makes after its writes forks from a parent that analysed part of the
project already. Fork is only used on Linux; elsewhere, for few files, or
with one job, the modules are checked one after another in this process. Either way
the findings are the same: each module's findings depend only on that module and the
(read-only) index.
"""

from __future__ import annotations

import gc
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from bgtask_lint.findings import Finding

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Callable, Iterator, Sequence, TypeVar

    from bgtask_lint.index import ModuleInfo
    from bgtask_lint.project import Project

    T = TypeVar("T")
    R = TypeVar("R")

# below this many modules, starting workers costs more than it saves
MIN_PARALLEL_FILES = 32
# ... or fewer where the modules' checks read modules nobody parsed yet (a cached run
# re-checking some: open-webui, 30 re-checked 1.93 s -> 1.39 s with 2 workers). Not for a
# few: each worker parses the modules they share again (litellm, n files named and changed,
# one process vs 2 workers: 3 files 0.38 vs 0.40 s, 8: 0.84 vs 1.0 s, 16: 0.46 vs 0.54 s,
# 20: 0.79 vs 0.66 s, 24: 0.73 vs 0.58 s)
MIN_PARALLEL_LOADING = 20
# a chunk's share of what is left to check, per worker, and the smallest share of the whole:
# chunks shrink as the work runs out (large enough to amortise the IPC, small enough that
# the workers end together)
SHARE_OF_REST = 4
SMALLEST_SHARE = 32

# set by the command line when the process ends with the run: what a run leaves (the
# project's trees are cyclic garbage once it returns: 7.4 million objects on litellm) is
# frozen rather than collected, 2.8 s that would only give memory back to a process that
# is about to exit
garbage_left_to_exit = False

# what forked workers inherit: (project, function, items, the next item to take, the items done)
_STATE: tuple | None = None


def default_jobs() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def can_fork() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while building and checking a project.

    The index keeps every syntax tree alive (millions of objects, nearly all of them
    acyclic, freed by reference counting); with the collector running, parsing the
    standard library spends most of its time in collections that find nothing.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if garbage_left_to_exit:
                gc.freeze()
            gc.enable()


Checked = tuple[list[Finding], int]  # a module's findings, and how many the test-file default hid


def check_modules(project: "Project", modules: Sequence["ModuleInfo"],
                  jobs: int | None = None, min_parallel: int | None = None) -> dict[Path, Checked]:
    """Each module's findings (as `Project.check_counted` gives them), by module path.
    `min_parallel`: the fewest modules worth workers (default MIN_PARALLEL_FILES; fewer
    where each check is costly)."""
    listed = list(modules)
    jobs = default_jobs() if jobs is None else max(1, jobs)
    fewest = MIN_PARALLEL_FILES if min_parallel is None else min_parallel
    if jobs > 1 and len(listed) >= max(2, fewest):
        project.index.task_paths()  # the task table, once, before the workers inherit the index
        chunks = [(listed, indexes) for indexes in _chunks(listed, jobs)]
        done = map_shared(project, _check_chunk, chunks, jobs)
        if done is not None:  # else no fork here, or a worker died (killed, out of memory)
            return {listed[i].path: checked for chunk in done for i, checked in chunk}
    return {module.path: project.check_counted(module) for module in listed}


def _chunks(modules: Sequence["ModuleInfo"], jobs: int) -> list[list[int]]:
    """Indexes into `modules`, biggest files first, in chunks weighed by source size: each
    takes 1/(SHARE_OF_REST * jobs) of the source left, down to 1/(SMALLEST_SHARE * jobs) of
    the whole. (Chunks of as many files each gave litellm's first chunk its 195 biggest
    files, half of its source: one worker checked it for 8.4 s, the other was idle after 5.2 s.)"""
    order = sorted(range(len(modules)), key=lambda i: -len(modules[i].source))
    left = sum(len(module.source) for module in modules)
    smallest = left / (SMALLEST_SHARE * jobs)
    chunks: list[list[int]] = []
    chunk: list[int] = []
    weight = 0
    for i in order:
        chunk.append(i)
        weight += len(modules[i].source)
        if weight and weight >= max(smallest, left / (SHARE_OF_REST * jobs)):  # (empty files: one chunk)
            chunks.append(chunk)
            left -= weight
            chunk, weight = [], 0
    if chunk:
        chunks.append(chunk)
    return chunks


def _check_chunk(project: "Project", chunk: tuple[list["ModuleInfo"], list[int]]) -> list[tuple[int, Checked]]:
    modules, indexes = chunk
    return [(i, project.check_counted(modules[i])) for i in indexes]


# work for this process while its next workers start on their items (`meanwhile`), once
_MEANWHILE: "list[Callable[[], None]]" = []


@contextmanager
def meanwhile(work: "Callable[[], None]") -> "Iterator[None]":
    """Within the block, the next `map_shared` does `work` first, once its workers are
    forked, and takes its share of the items after it: the workers check while this
    process works; without workers, `work` is not done. For `fix`: LibCST's import
    (0.1 s). (Done in a thread beside this process's own checks, the import held the same
    lock as them: hayhooks' first check took 0.08 s longer in `fix` than in `check`.)"""
    _MEANWHILE[:] = [work]
    try:
        yield
    finally:
        _MEANWHILE.clear()


def _do_meanwhile() -> None:
    """The `meanwhile` work, if there is some."""
    if not _MEANWHILE:
        return
    work = _MEANWHILE.pop()
    try:
        work()
    except Exception:  # noqa: BLE001 - only a head start: whoever needs it does it again, and says why
        pass


@contextmanager
def _inherited(state: tuple) -> "Iterator[None]":
    """What the next forked workers inherit (`_STATE`), with the collector kept from
    touching (copying) the inherited pages in them."""
    global _STATE
    frozen = gc.isenabled()
    if frozen:
        gc.freeze()
    _STATE = state
    try:
        yield
    finally:
        _STATE = None
        if frozen:
            gc.unfreeze()


def map_shared(project: "Project", function: "Callable[[Project, T], R]", items: Sequence["T"],
               jobs: int | None, each: "Callable[[int], None] | None" = None) -> list["R"] | None:
    """`[function(project, item) for item in items]`, this process taking items in turn
    with `jobs - 1` forked workers (each takes the next item left when it is free), so
    what this process computes stays with it, and what a worker changes stays there;
    None when not possible (one job, no fork, a worker died): the caller does it here.
    `each`: told, after each item this process does, how many all have done (a progress
    bar)."""
    jobs = min(default_jobs() if jobs is None else max(1, jobs), len(items))
    if jobs < 2 or not can_fork():
        return None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("fork")
    try:
        counts = (context.Value("l", 0), context.Value("l", 0))  # the next item to take, the items done
        with _inherited((project, function, list(items), *counts)), ProcessPoolExecutor(
                max_workers=jobs - 1, mp_context=context, initializer=_die_with_parent,
                initargs=(os.getpid(),)) as pool:
            workers = [pool.submit(_take_items) for _ in range(jobs - 1)]  # every worker forked by now
            _do_meanwhile()
            done = _take_items(each)
            for worker in workers:
                done.extend(worker.result())
        done.sort(key=lambda pair: pair[0])
        return [result for _, result in done]
    except (BrokenProcessPool, OSError):
        return None


def _take_items(each: "Callable[[int], None] | None" = None) -> list[tuple[int, object]]:
    """The items this process takes, in turn with the others, each with its result."""
    assert _STATE is not None
    project, function, items, taken, finished = _STATE
    done = []
    while True:
        with taken.get_lock():
            i = taken.value
            taken.value = i + 1
        if i >= len(items):
            return done
        done.append((i, function(project, items[i])))
        with finished.get_lock():
            finished.value += 1
            so_far = finished.value
        if each is not None:
            each(so_far)


def _die_with_parent(parent: int) -> None:
    """A worker's first act: ask Linux to kill it when the run that forked it dies. A run
    killed by a timeout (pre-commit's, CI's) would otherwise leave its workers waiting on
    their queue forever, each holding the forked project."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):  # not Linux's libc: the run's own end still stops them
        return
    if os.getppid() != parent:  # it died before the worker asked
        os._exit(1)
