"""A property over generated task bodies: the safe fix never changes the result or the
exception of a run that did not hit the named failure (V2.9).

Each body is a few statements drawn from what the BGT101, BGT103 and BGT301 fixes touch
(`time.sleep`, `with open(...)` reads and writes and iteration, a dropped
`asyncio.create_task`, `add_task(job(...))` on a recording stand-in for BackgroundTasks)
mixed with plain computation and conditional raises. The module runs before and after
`fix_text`; the task's return value (or its exception's type and arguments), the file it
wrote and the calls the scheduled job received must be equal.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bgtask_lint.config import Settings
from bgtask_lint.project import Project

pytest.importorskip("aiofiles")

HEADER = '''\
import asyncio
import time

from fastapi import BackgroundTasks

CALLS = []
SIDE = []


def job(n, label="x"):
    CALLS.append((n, label))


async def side(n):
    SIDE.append(n)


async def task(path, background_tasks: BackgroundTasks):
    x = 1
    out = []
{body}
    return x, out
'''

STATEMENTS = [
    "x = x + {k}",
    "x = x * {k} % 97",
    "out.append(x)",
    "time.sleep(0)",
    "with open(path, 'a') as handle:\n    handle.write(str(x) + '\\n')",
    "with open(path, 'a') as handle:\n    handle.write('a')\n    handle.flush()",
    "with open(path) as handle:\n    out.append(handle.read())",
    "with open(path) as handle:\n    out.extend(line.strip() for line in handle)",
    "asyncio.create_task(side(x))",
    "background_tasks.add_task(job(x, label='l{k}'))",
    "background_tasks.add_task(job(x))",
    "if x % {k} == 0:\n    raise ValueError(x, out)",
    "if x > {k} * 10:\n    x = x - {k}",
    "for i in range({k}):\n    x = x + i",
]

statement = st.builds(lambda template, k: template.format(k=k), st.sampled_from(STATEMENTS),
                      st.integers(min_value=2, max_value=9))
bodies = st.lists(statement, min_size=1, max_size=8)


class Recorder:
    """A stand-in for BackgroundTasks: runs the tasks after the "response", as starlette does."""

    def __init__(self) -> None:
        self.tasks = []

    def add_task(self, func, *args, **kwargs) -> None:
        self.tasks.append((func, args, kwargs))

    def run(self) -> None:
        for func, args, kwargs in self.tasks:
            if callable(func):  # before the fix, add_task got job's result (None): the named failure
                func(*args, **kwargs)


def indented(lines: list[str]) -> str:
    return "\n".join("    " + line for stmt in lines for line in stmt.split("\n"))


_counter = itertools.count()


def run(directory: Path, source: str) -> tuple:
    name = f"generated_task_{next(_counter)}"
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    data = directory / f"{name}.txt"
    data.write_text("start\n")
    recorder = Recorder()

    async def main():
        try:
            outcome = ("returned", await module.task(data, recorder))
        except Exception as exc:  # the task's own exception is part of what must not change
            outcome = ("raised", type(exc).__name__, exc.args)
        await asyncio.sleep(0)  # let dropped tasks run
        await asyncio.sleep(0)
        return outcome

    outcome = asyncio.run(main())
    recorder.run()
    return outcome, data.read_text(), module.CALLS, sorted(module.SIDE)


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("properties")
    (root / "pyproject.toml").write_text('[project]\nname = "p"\ndependencies = ["aiofiles", "fastapi"]\n')
    return root


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_safe_fix_keeps_results_and_exceptions(project_dir: Path, body: list[str]) -> None:
    source = HEADER.format(body=indented(body))
    path = project_dir / "tasks_module.py"
    path.write_text(source)
    project = Project.load([path], Settings(), root=project_dir)
    result = project.fix_text(path.resolve(), source)
    assert result.error is None, result.error
    after = result.new_text
    compile(after, "after", "exec")
    assert run(project_dir, source) == run(project_dir, after), after


def test_the_generated_bodies_are_fixed(project_dir: Path) -> None:
    """The property is not vacuous: a body with every kind of statement is rewritten by all
    three fixes."""
    body = [s.format(k=3) for s in STATEMENTS]
    source = HEADER.format(body=indented(body))
    path = project_dir / "every_statement.py"
    path.write_text(source)
    project = Project.load([path], Settings(), root=project_dir)
    result = project.fix_text(path.resolve(), source)
    assert {"BGT101", "BGT103", "BGT301"} <= set(result.fixed), result.fixed
    assert "await asyncio.sleep(0)" in result.new_text and "async with aiofiles.open" in result.new_text
    assert "background_tasks.add_task(job, x, label='l3')" in result.new_text
    assert ".add_done_callback(_background_task_done)" in result.new_text
    assert run(project_dir, source) == run(project_dir, result.new_text)
