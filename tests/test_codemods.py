"""Codemod before/after pairs: each command, stand-alone, turns `case.py` into
`case.fixed.py` (or leaves it alone when there is no `.fixed.py`); every output compiles
and fixing it again changes nothing."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext, CodemodTest

from bgtask_lint.fix import FIX_COMMANDS, command_class
from bgtask_lint.codemods.add_task_call_result import AddTaskCallResultCommand
from bgtask_lint.codemods.blocking_calls import BlockingCallsCommand
from markers import FIXTURES

FIXES = FIXTURES / "fixes"
CASES = sorted(p for p in FIXES.rglob("*.py") if not p.name.endswith(".fixed.py"))


def transform(code: str, text: str, filename: str | None = None, **options) -> str:
    """The command on `text` standing alone (no file name: no project around it)."""
    command = command_class(code)(CodemodContext(filename=filename), **options)
    return command.transform_module(cst.parse_module(text)).code


def _read(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_before_after(case: Path) -> None:
    code = case.parent.name.upper()
    before = _read(case)
    expected_path = case.with_name(case.stem + ".fixed.py")
    expected = _read(expected_path) if expected_path.exists() else before
    after = transform(code, before)
    assert after == expected
    compile(after, str(case), "exec", dont_inherit=True)
    assert transform(code, after) == after, "fixing again must change nothing"


def test_every_fixable_rule_has_cases() -> None:
    with_cases = {p.parent.name.upper() for p in CASES if p.with_name(p.stem + ".fixed.py").exists()}
    assert set(FIX_COMMANDS) <= with_cases


class TestInline(CodemodTest):
    """LibCST's own CodemodTest, for the shortest cases."""

    TRANSFORM = AddTaskCallResultCommand

    def test_call_result_becomes_function_and_arguments(self) -> None:
        before = (
            "from fastapi import BackgroundTasks\n"
            "def endpoint(background_tasks: BackgroundTasks, path: str):\n"
            "    background_tasks.add_task(process_csv(path, mode='fast'))\n"
        )
        after = (
            "from fastapi import BackgroundTasks\n"
            "def endpoint(background_tasks: BackgroundTasks, path: str):\n"
            "    background_tasks.add_task(process_csv, path, mode='fast')\n"
        )
        self.assertCodemod(before, after)

    def test_partial_is_left_alone(self) -> None:
        code = (
            "import functools\n"
            "from fastapi import BackgroundTasks\n"
            "def endpoint(background_tasks: BackgroundTasks, path: str):\n"
            "    background_tasks.add_task(functools.partial(process_csv, path))\n"
        )
        self.assertCodemod(code, code)


class TestSleepInline(CodemodTest):
    TRANSFORM = BlockingCallsCommand

    def test_sleep(self) -> None:
        before = "import time\nasync def t():\n    time.sleep(1)\n"
        after = "import asyncio\nasync def t():\n    await asyncio.sleep(1)\n"  # `time` is unused after
        self.assertCodemod(before, after)

    def test_to_thread_only_when_unsafe(self) -> None:
        before = "import requests\nasync def t(u):\n    requests.get(u, timeout=5)\n"
        self.assertCodemod(before, before)
        after = "import asyncio\n\nimport requests\nasync def t(u):\n    await asyncio.to_thread(requests.get, u, timeout=5)\n"
        self.assertCodemod(before, after, unsafe_fixes=True)


@pytest.mark.parametrize("code", sorted(FIX_COMMANDS))
def test_commands_declare_no_matcher_the_fast_visit_would_skip(code: str) -> None:
    """The commands visit as a plain transformer does (codemods/_base.py), which runs no
    matcher decorator: a command that declared one would silently lose it."""
    command = command_class(code)(CodemodContext())
    assert not command._matchers
    assert not command._extra_visit_funcs and not command._extra_leave_funcs


def test_the_matcher_check_sees_a_declared_matcher() -> None:
    """The test above can fail: a command with a matcher-decorated method is caught."""
    import libcst.matchers as m

    class Decorated(command_class("BGT101")):
        @m.call_if_inside(m.FunctionDef())
        def visit_Call(self, node: cst.Call) -> None:
            pass

        @m.leave(m.Name("x"))
        def _renamed(self, original: cst.Name, updated: cst.Name) -> cst.Name:
            return updated

    command = Decorated(CodemodContext())
    assert command._matchers and command._extra_leave_funcs
