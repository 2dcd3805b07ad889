"""Safe writes: `fix` killed at any moment leaves every file old or new (never half
written), write failures are reported in one line, concurrent runs do not corrupt."""

from __future__ import annotations

import ast
import errno
import os
import random
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgtask_lint.cli import main

MODULE = '''\
"""Module {n}: a task created and dropped."""
import asyncio


async def handler_{n}(item: int) -> None:
    asyncio.create_task(process(item))
'''
COPIES = 40
RUNS = 30


def _tree(root: Path) -> dict[Path, bytes]:
    (root / "pyproject.toml").write_text("[project]\nname = 'kill'\n")
    package = root / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    files = {}
    for n in range(COPIES):
        path = package / f"mod_{n:02d}.py"
        path.write_text(MODULE.format(n=n))
        files[path] = path.read_bytes()
    return files


def _fix(root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bgtask_lint", "fix", "app"], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_at_random_points_leaves_old_or_new_files(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    old = {p.relative_to(reference): data for p, data in _tree(reference).items()}
    started = time.monotonic()
    proc = _fix(reference)
    _, stderr = proc.communicate(timeout=300)
    duration = time.monotonic() - started
    assert proc.returncode == 0, stderr.decode()
    new = {rel: (reference / rel).read_bytes() for rel in old}
    assert all(new[rel] != old[rel] for rel in old)

    rng = random.Random(20261122)
    outcomes = {"all old": 0, "mixed": 0, "all new": 0}
    leftovers = 0
    work = tmp_path / "work"
    for run in range(RUNS):
        if work.exists():
            for path in sorted(work.rglob("*"), reverse=True):
                path.unlink() if not path.is_dir() else path.rmdir()
        work.mkdir(exist_ok=True)
        _tree(work)
        proc = _fix(work)
        if run % 2:  # anywhere in the run
            time.sleep(rng.uniform(0.0, duration))
        else:  # in the write phase: right after the first temporary file appears, plus a little
            package = work / "app"
            quiet = package.stat().st_mtime_ns
            deadline = time.monotonic() + 5 * duration
            while package.stat().st_mtime_ns == quiet and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.0005)
            time.sleep(rng.uniform(0.0, 0.02))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        states = []
        for rel in old:
            data = (work / rel).read_bytes()
            assert data in (old[rel], new[rel]), f"run {run}: {rel} is neither old nor new after SIGKILL"
            ast.parse(data)
            states.append(data == new[rel])
        outcomes["all new" if all(states) else "mixed" if any(states) else "all old"] += 1
        strays = [p for p in (work / "app").iterdir() if p.relative_to(work) not in old and p.name != "__init__.py"]
        assert all(p.name.endswith(".bgtask-tmp") for p in strays), strays
        leftovers += len(strays)
    # whatever was left behind, the next run finishes the job and checks clean
    proc = _fix(work)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr.decode()
    assert {rel: (work / rel).read_bytes() for rel in old} == new
    print(f"\nSIGKILL x{RUNS} (a full run takes {duration:.1f} s): {outcomes}, "
          f"{leftovers} temporary files left behind by killed runs")


def test_two_fix_runs_at_once(tmp_path: Path) -> None:
    old = _tree(tmp_path)
    first, second = _fix(tmp_path), _fix(tmp_path)
    for proc in (first, second):
        _, stderr = proc.communicate(timeout=300)
        assert b"Traceback" not in stderr and proc.returncode in (0, 2), stderr.decode()
    for path in old:
        data = path.read_bytes()
        ast.parse(data)
        assert b"_background_tasks.add(task)" in data and data.count(b"_background_tasks: set = set()") == 1
    assert not [p for p in tmp_path.rglob("*.bgtask-tmp")]
    again = _fix(tmp_path)
    _, stderr = again.communicate(timeout=300)
    assert again.returncode == 0 and stderr.decode().startswith("Fixed 0 findings"), stderr.decode()


# --- write failures, in-process -----------------------------------------------------------


DANGLING = "import asyncio\n\n\nasync def handler():\n    asyncio.create_task(work())\n"


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "a.py").write_text(DANGLING)
    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "b.py").write_text(DANGLING)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _refuse_in(directory: str, monkeypatch: pytest.MonkeyPatch, target: str, exc: OSError) -> None:
    real = getattr(tempfile, "mkstemp") if target == "mkstemp" else getattr(os, target)

    def refusing(*args, **kwargs):
        where = str(kwargs.get("dir") or (args[0] if args else ""))
        if f"/{directory}" in where:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile if target == "mkstemp" else os, target, refusing)


@pytest.mark.parametrize("target, exc, message", [
    ("mkstemp", PermissionError(errno.EACCES, "Permission denied"), "cannot write: Permission denied"),
    ("mkstemp", OSError(errno.EROFS, "Read-only file system"), "cannot write: Read-only file system"),
    ("replace", PermissionError(errno.EPERM, "Operation not permitted"), "cannot write: Operation not permitted"),
    ("fsync", OSError(errno.ENOSPC, "No space left on device"), "cannot write: No space left on device"),
])
def test_a_file_that_cannot_be_written(project: Path, monkeypatch: pytest.MonkeyPatch,
                                       target: str, exc: OSError, message: str) -> None:
    if target == "fsync":  # fsync gets a descriptor: fail it for the locked directory's temp file
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            if "/locked/" in os.readlink(f"/proc/self/fd/{fd}"):
                raise exc
            real_fsync(fd)

        if not Path("/proc/self/fd").exists():
            pytest.skip("needs /proc")
        monkeypatch.setattr(os, "fsync", fsync)
    else:
        _refuse_in("locked", monkeypatch, target, exc)
    result = CliRunner().invoke(main, ["fix", "."])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert errors == [f"locked/a.py: error: {message}"], result.stderr
    assert (project / "locked" / "a.py").read_text() == DANGLING
    assert "task = asyncio.create_task(work())" in (project / "open" / "b.py").read_text()
    assert sorted(p.name for p in (project / "locked").iterdir()) == ["a.py"]  # no temp file left
    # what is left is what is on disk: the finding of the file that was not written
    assert result.stdout.startswith("locked/a.py:5:5: BGT103"), result.stdout
    assert result.stderr.splitlines()[-1] == (
        "Fixed 1 finding (BGT103: 1) in 1 file. 1 remaining (1 not fixed: see the errors above): BGT103: 1.")


def test_read_only_file_keeps_its_mode_and_symlinks_stay_links(project: Path) -> None:
    path = project / "open" / "b.py"
    os.chmod(path, 0o444)
    link = project / "link.py"
    link.symlink_to(project / "locked" / "a.py")
    result = CliRunner().invoke(main, ["fix", "open", "link.py"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert "task = asyncio.create_task(work())" in path.read_text()
    assert link.is_symlink() and "task = asyncio.create_task(work())" in (project / "locked" / "a.py").read_text()


def test_a_file_saved_while_fix_runs_is_not_overwritten(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An editor saves the file after fix read it: writing the fix of the old text would
    lose that edit, so the file is left as the editor saved it, and that is reported."""
    from bgtask_lint.project import Project

    real_fix_text = Project.fix_text
    saved = DANGLING + "\n\nasync def added_in_the_editor():\n    pass\n"

    def fix_text_while_editing(self, path, text, *args, **kwargs):
        result = real_fix_text(self, path, text, *args, **kwargs)
        if path.name == "a.py":
            path.write_text(saved)
        return result

    monkeypatch.setattr(Project, "fix_text", fix_text_while_editing)
    result = CliRunner().invoke(main, ["fix", "."])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert errors == ["locked/a.py: error: cannot write: the file changed while it was being fixed"], result.stderr
    assert (project / "locked" / "a.py").read_text() == saved
    assert "task = asyncio.create_task(work())" in (project / "open" / "b.py").read_text()
