"""A finding in a task body says where the task is scheduled when that is another module
(issue 12): "background task 'send' (scheduled from app/main.py:7) ...". Through the real
program (subprocess, warm cache) and a real flake8."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from projects import write_app

TASKS = """\
def send(user_id):
    notify(user_id)


def clean(user_id):
    try:
        notify(user_id)
    except Exception:
        pass


def local(user_id):
    notify(user_id)


def endpoint_here(background_tasks):
    background_tasks.add_task(local, 1)
"""
MAIN = """\
from fastapi import BackgroundTasks

from app.tasks import clean, send


def endpoint(background_tasks: BackgroundTasks):
    background_tasks.add_task(clean, 1)
    background_tasks.add_task(send, 1)
"""
# a second scheduler, later by path: the first site by path, then line, is named
WORKER = """\
from app.tasks import send


def later(background_tasks):
    background_tasks.add_task(send, 2)
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    write_app(tmp_path, {"tasks": TASKS, "main": MAIN, "worker": WORKER})
    return tmp_path


def check(root: Path, *args: str) -> dict[tuple[str, int], str]:
    """(path, line) -> message for the findings in app/tasks.py."""
    done = subprocess.run([sys.executable, "-m", "bgtask_lint", "check", *args, "."], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    found = {}
    for row in done.stdout.splitlines():
        if row.startswith("app/tasks.py:"):
            path, line, _col, message = row.split(":", 3)
            found[(path, int(line))] = message.strip()
    return found


def test_cross_module_findings_name_the_scheduling_site(project: Path) -> None:
    found = check(project, "--no-cache")
    assert found[("app/tasks.py", 1)] == (
        "BGT401 background task 'send' (scheduled from app/main.py:8) has no try/except that "
        "logs the traceback: its failures go unseen")
    assert found[("app/tasks.py", 8)].startswith(
        "BGT402 broad except in background task 'clean' (scheduled from app/main.py:7) swallows the error")
    # scheduled from its own module: nothing to point at
    assert found[("app/tasks.py", 12)] == (
        "BGT401 background task 'local' has no try/except that logs the traceback: its failures go unseen")


def test_the_cache_follows_the_scheduling_site(project: Path) -> None:
    assert "app/main.py:8)" in check(project)[("app/tasks.py", 1)]
    main = project / "app" / "main.py"
    main.write_text("# a line on top\n" + MAIN)
    warm = check(project)
    assert "(scheduled from app/main.py:9)" in warm[("app/tasks.py", 1)]
    assert warm == check(project, "--no-cache")
    main.write_text(MAIN.replace("    background_tasks.add_task(send, 1)\n", ""))
    assert "(scheduled from app/worker.py:5)" in check(project)[("app/tasks.py", 1)]


def test_flake8_reports_the_same_message(project: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select", "BGT",
                           "--format", "%(path)s:%(row)d: %(code)s %(text)s", "app/tasks.py"],
                          cwd=project, capture_output=True, text=True)
    rows = {row.split(":", 2)[1]: row.split(":", 2)[2].strip() for row in done.stdout.splitlines()}
    assert rows["1"] == check(project, "--no-cache")[("app/tasks.py", 1)]
    assert "(scheduled from app/main.py:8)" in rows["1"]
