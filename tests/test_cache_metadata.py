"""Warm runs trust file metadata (size, mtime_ns, inode), and re-hash what is racily clean."""

from __future__ import annotations

import builtins
import os
import time
from pathlib import Path

import pytest

from bgtask_lint import cache
from test_cache import DEEP, codes, make_project, run

pytestmark = pytest.mark.usefixtures("deps_whole_and_delta")

PAST_NS = 100 * 1_000_000_000  # far older than a run (and the racy margin)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def _age(root: Path, seconds_ago_ns: int = PAST_NS) -> None:
    """Every file and directory of the project, as if written long ago."""
    when = time.time_ns() - seconds_ago_ns
    for path in [root, *root.rglob("*")]:
        if cache.CACHE_DIR not in path.parts:
            os.utime(path, ns=(when, when))


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch, project: Path) -> list[str]:
    """The project's source files opened for reading (not the cache's own files)."""
    seen: list[str] = []
    real_open, real_read_bytes, real_os_open = builtins.open, Path.read_bytes, os.open

    def note(name: str) -> None:
        if name.endswith(".py") and str(project.resolve()) in name:
            seen.append(name)

    def spy(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and "r" in mode:
            note(os.fspath(file))
        return real_open(file, mode, *args, **kwargs)

    def spy_bytes(self: Path) -> bytes:
        note(str(self))
        return real_read_bytes(self)

    def spy_os_open(file, flags, *args, **kwargs):  # files.read_file_bytes opens this way
        if isinstance(file, (str, os.PathLike)) and not flags & (os.O_WRONLY | os.O_RDWR):
            note(os.fspath(file))
        return real_os_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(Path, "read_bytes", spy_bytes)
    monkeypatch.setattr(os, "open", spy_os_open)
    return seen


def _prime(root: Path) -> None:
    """Two runs on files (and directories) written long ago: the first creates the cache
    directory (the root's stat changes; its listing does not)."""
    run(root)
    _age(root)
    run(root)


def test_unchanged_metadata_is_not_read(project: Path, opened: list[str]) -> None:
    _prime(project)
    opened.clear()
    _, stats = run(project)  # run() also checks without the cache: look at the cached half only
    assert stats["fast"] and stats["hashed"] == 0 and not stats["relisted"]
    assert stats["hits"] == 5 and stats["checked"] == 0


def test_cached_run_reads_no_source(project: Path, opened: list[str]) -> None:
    from bgtask_lint.config import load_settings
    from bgtask_lint.runner import check_paths

    _prime(project)
    settings = load_settings(None, project)
    opened.clear()
    check_paths([project], settings, root=project, cache=True)
    assert opened == []
    tasks = project / "app" / "tasks.py"
    tasks.write_text(tasks.read_text() + "\n# edited\n")
    opened.clear()
    check_paths([project], settings, root=project, cache=True)
    assert str(tasks.resolve()) in opened  # the spy sees the reads it must see


def test_touched_but_unchanged_is_rehashed_and_still_a_hit(project: Path) -> None:
    _prime(project)
    tasks = project / "app" / "tasks.py"
    later = time.time_ns() - PAST_NS // 2
    os.utime(tasks, ns=(later, later))  # mtime changes, content does not
    _, stats = run(project)
    assert stats["hashed"] == 1 and stats["rehashed_same"] == 1
    assert stats["hits"] == 5 and stats["checked"] == 0
    _, stats = run(project)  # its new metadata was stored: trusted again
    assert stats["hashed"] == 0


def test_changed_in_the_same_tick_with_the_same_size(project: Path) -> None:
    """A change that leaves size, mtime and inode as they were (a coarse timestamp) is
    seen because the file was written too close to the run that stored it."""
    deep = project / "app" / "deep.py"
    found, _ = run(project)
    assert ("app/main.py", "BGT302") in codes(found, project)
    before = os.stat(deep)
    changed = DEEP.replace("time.sleep(1)", "time.ctime(1)")
    assert len(changed) == len(DEEP)
    with open(deep, "r+", encoding="utf-8") as handle:  # in place: same inode
        handle.write(changed)
    os.utime(deep, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(deep)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    found, stats = run(project)  # run() compares with an uncached run
    assert ("app/main.py", "BGT302") not in codes(found, project)
    assert stats["checked"] >= 1


def test_racily_clean_files_are_rehashed_every_time(project: Path) -> None:
    run(project)  # every file was written just now: too close to that run to trust its metadata
    _, stats = run(project)
    assert stats["hashed"] == stats["files"] == 5 and stats["checked"] == 0
    _age(project)  # now they are old: the next run stores their metadata, the one after trusts it
    run(project)
    _, stats = run(project)
    assert stats["hashed"] == 0


def test_a_warm_run_saves_only_what_the_next_run_can_use(project: Path) -> None:
    """A file rewritten just now is re-hashed by every run until it is old enough; a save
    that records only a new stamp (the file still too new) would be wasted time."""
    _prime(project)
    tasks = project / "app" / "tasks.py"
    tasks.write_bytes(tasks.read_bytes())  # same content, new mtime: racily clean
    _, stats = run(project)
    assert stats["fast"] and stats["rehashed_same"] == 1 and stats["wrote"]  # its new metadata
    pack = sorted((project / cache.CACHE_DIR).glob("*.json"))
    before = [(path.read_bytes(), path.stat().st_mtime_ns) for path in pack]
    _, stats = run(project)
    assert stats["fast"] and stats["rehashed_same"] == 1 and not stats["wrote"]
    assert [(path.read_bytes(), path.stat().st_mtime_ns) for path in pack] == before
    _age(project)
    _, stats = run(project)
    assert stats["wrote"]  # old enough now: trusted from this run's stamp
    _, stats = run(project)
    assert stats["hashed"] == 0 and not stats["wrote"]


def test_a_new_directory_entry_is_listed(project: Path) -> None:
    _prime(project)
    (project / "app" / "extra.py").write_text("import time\n\n\nasync def f():\n    time.sleep(1)\n")
    found, stats = run(project)
    assert stats["relisted"] and ("app/extra.py", "BGT301") in codes(found, project)
    assert stats["hits"] == 5 and stats["checked"] == 1  # nothing imports it: the others hold


def test_a_directory_every_walk_skips_costs_no_walk(project: Path) -> None:
    """The cache directory the first run makes in the root, and the `__pycache__` a test run
    leaves beside the modules, change their directory's entries but not what a walk finds
    (`fix` checks again right after its first check made the cache: on letta that second
    walk was a fifth of the check after the writes)."""
    _age(project)
    assert not (project / cache.CACHE_DIR).exists()
    run(project)
    _, stats = run(project)
    assert not stats["relisted"]
    (project / "app" / "__pycache__").mkdir()
    (project / "app" / "__pycache__" / "jobs.cpython-311.pyc").write_bytes(b"")
    _, stats = run(project)
    assert not stats["relisted"] and stats["hits"] == 5 and stats["checked"] == 0
    (project / "app" / "build").mkdir()  # ...as any directory a default exclude names
    _, stats = run(project)
    assert not stats["relisted"]


def test_a_broken_link_is_reported_as_without_the_cache(project: Path) -> None:
    (project / "app" / "gone.py").symlink_to(project / "app" / "nowhere.py")
    for _ in range(2):  # run() compares the errors with an uncached run's
        run(project)
    (project / "app" / "nowhere.py").write_text("VALUE = 1\n")  # the link now leads somewhere
    _, stats = run(project)
    assert stats["relisted"]


def test_named_files_recompute_no_import_name(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pre-commit case: a listing of named files is new on every commit but walks no
    directory, so the import names of the project's files are taken from the pack."""
    import bgtask_lint.index as index_module

    for n in range(30):
        (project / "app" / f"extra{n}.py").write_text(f"VALUE = {n}\n")
    _prime(project)
    asked: list[str] = []
    real = index_module.module_name
    monkeypatch.setattr(index_module, "module_name", lambda path, root: asked.append(str(path)) or real(path, root))
    main = project / "app" / "main.py"
    main.write_text(main.read_text() + "# edited\n")
    run(project, paths=[main, project / "app" / "extra3.py"])
    scanned_names = [p for p in asked if "extra" in p and not p.endswith("extra3.py")]
    assert not scanned_names, scanned_names


def test_named_files_see_a_new_package(project: Path) -> None:
    """A directory that becomes a package changes the names below it: a run on named files
    (whose own listing walks no directory) still sees it through the project's listing."""
    sub = project / "app" / "sub"
    sub.mkdir()
    (sub / "jobs.py").write_text("import asyncio\n\nasync def job():\n    await asyncio.sleep(0)\n")
    _prime(project)
    (sub / "__init__.py").write_text("")
    main = project / "app" / "main.py"
    main.write_text("import asyncio\nfrom app.sub.jobs import job\n\nasync def go():\n    asyncio.create_task(job())\n")
    run(project, paths=[main, sub / "jobs.py"])  # compares with an uncached run
