"""The pre-commit hooks of `.pre-commit-hooks.yaml`, run by a real `pre-commit try-repo`.

try-repo installs the hooks from this repository (its HEAD, plus any uncommitted changes
to tracked files, through a temporary commit) into a fresh virtualenv with pip, then runs
them in a throwaway git repo the way a commit would: with only the files it is given.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
    pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the hooks repo as a git checkout"),
]

TASKS = """\
def process_csv(path: str):
    rows = open(path).read().splitlines()
    print(len(rows))
"""
MAIN = """\
from fastapi import BackgroundTasks, FastAPI

from tasks import process_csv

app = FastAPI()


@app.post("/upload")
def upload(background_tasks: BackgroundTasks, path: str):
    background_tasks.add_task(process_csv, path)
    return {"ok": True}
"""
GUARDED_TASKS = """\
import logging

logger = logging.getLogger(__name__)


def process_csv(path: str):
    try:
        rows = open(path).read().splitlines()
        print(len(rows))
    except Exception:
        logger.exception("process_csv failed")
        raise
"""


def _env(pre_commit_home: Path | None = None) -> dict[str, str]:
    # no GIT_DIR/GIT_INDEX_FILE/... leaking in (e.g. when the suite runs inside a git hook)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.pop("PRE_COMMIT", None)
    if pre_commit_home is not None:
        env["PRE_COMMIT_HOME"] = str(pre_commit_home)
    return env


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=_env())


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.name", "bgtask-lint tests")
    _git(repo, "config", "user.email", "tests@example.invalid")
    _git(repo, "config", "commit.gpgsign", "false")
    (repo / "pyproject.toml").write_text("[project]\nname = 'project'\n")
    (repo / "tasks.py").write_text(TASKS)
    (repo / "main.py").write_text(MAIN)
    return repo


def _commit(repo: Path) -> None:
    _git(repo, "add", "pyproject.toml", "tasks.py", "main.py")
    _git(repo, "commit", "-q", "-m", "project")


def try_repo(repo: Path, hook: str, *files: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--files", *files],
        cwd=repo, capture_output=True, text=True, env=_env(repo.parent / "pre-commit-home"), timeout=600,
    )
    print(result.stdout, result.stderr)  # shown by pytest when an assertion fails
    return result


def test_check_hook_fails_and_names_the_finding(repo: Path) -> None:
    _commit(repo)
    result = try_repo(repo, "bgtask-lint", "main.py", "tasks.py")
    assert result.returncode == 1
    assert "bgtask-lint" in result.stdout and "Failed" in result.stdout
    assert ("tasks.py:1:1: BGT401 background task 'process_csv' (scheduled from main.py:10) has no try/except"
            in result.stdout)


def test_check_hook_on_the_task_module_alone_knows_it_is_scheduled(repo: Path) -> None:
    # pre-commit passes only tasks.py: the task is scheduled in the unchanged main.py
    _commit(repo)
    result = try_repo(repo, "bgtask-lint", "tasks.py")
    assert result.returncode == 1
    assert "tasks.py:1:1: BGT401 background task 'process_csv' (scheduled from main.py:10)" in result.stdout
    assert not any(line.startswith("main.py:") for line in result.stdout.splitlines())


def test_fix_hook_rewrites_the_file(repo: Path) -> None:
    _commit(repo)
    result = try_repo(repo, "bgtask-lint-fix", "tasks.py")
    assert result.returncode == 1
    assert "files were modified by this hook" in result.stdout
    assert "Fixed 1 finding (BGT401: 1) in 1 file." in result.stdout
    fixed = (repo / "tasks.py").read_text()
    assert "except Exception:" in fixed and "logger.exception(" in fixed
    assert (repo / "main.py").read_text() == MAIN
    # and then the check hook is happy
    after = try_repo(repo, "bgtask-lint", "main.py", "tasks.py")
    assert after.returncode == 0 and "Passed" in after.stdout


def test_clean_repo_passes_both_hooks(repo: Path) -> None:
    (repo / "tasks.py").write_text(GUARDED_TASKS)
    _commit(repo)
    for hook in ("bgtask-lint", "bgtask-lint-fix"):
        result = try_repo(repo, hook, "main.py", "tasks.py")
        assert result.returncode == 0, hook
        assert "Passed" in result.stdout
    assert (repo / "tasks.py").read_text() == GUARDED_TASKS
    assert (repo / "main.py").read_text() == MAIN
