"""Our own bugs: a rule that raises on some file costs that rule's findings in that file,
not the run; it is said in one line under the file's name (BGT900, exit 2), never as a
traceback; the other rules and the other files are still checked. A crash outside any file
is one line too, with the traceback only when asked for.

The crash is planted by running the real program with one function replaced (`python -c`
that patches, then runs the program's entry point with the same arguments)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TWO_BUGS = textwrap.dedent("""\
    import asyncio
    import time


    async def handler():
        asyncio.create_task(work())
        time.sleep(1)
""")
ONE_BLOCKING = "import time\n\n\nasync def other():\n    time.sleep(2)\n"

CRASH_LINE = ("app.py: error: line 7: internal error in BGT301 (TypeError: planted bug): BGT301 did not check "
              "the rest of this file; please report it")
PLANT_RULE_CRASH = """
from bgtask_lint.rules.bgt301_blocking_call_in_async import BlockingCallInAsync as rule
original = rule.visit_Call
def visit_Call(self, node, ctx):
    if ctx.module.path.name == "app.py" and getattr(getattr(node.func, "value", None), "id", "") == "time":
        raise TypeError("planted\\nbug")
    return original(self, node, ctx)
rule.visit_Call = visit_Call
"""
PLANT_INDEX_CRASH = """
import bgtask_lint.engine as engine
original = engine.build_module
def build_module(path, *args):
    if path.name == "app.py":
        raise KeyError("planted")
    return original(path, *args)
engine.build_module = build_module
"""
PLANT_RUN_CRASH = """
import bgtask_lint.project as project
def load(*args, **kwargs):
    raise RuntimeError("planted")
project.Project.load = classmethod(load)
"""


def program(plant: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    code = plant + "\nfrom bgtask_lint.launch import run\nrun()\n"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env=env)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "app.py").write_text(TWO_BUGS)
    (tmp_path / "other.py").write_text(ONE_BLOCKING)
    return tmp_path


def test_the_planted_rule_crash_is_real(project: Path) -> None:
    """Without the patch, app.py has a BGT301 the patched rule never reports."""
    proc = program("", "check", "--no-cache", ".", cwd=project)
    assert "app.py:7:5: BGT301" in proc.stdout and proc.returncode == 1


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("runs", [["--no-cache"], ["--verbose", "--verbose"]], ids=["no-cache", "cold-then-warm"])
def test_a_rule_that_raises_costs_its_findings_in_that_file_only(project: Path, jobs: str, runs: list[str]) -> None:
    """Also from the cache: the second run answers from it, and says the crash again."""
    for flag in runs:
        proc = program(PLANT_RULE_CRASH, "check", flag, "--jobs", jobs, ".", cwd=project)
        assert_crash_reported(proc)
    if runs[0] == "--verbose":
        assert "cache" in proc.stderr.lower()


def assert_crash_reported(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2
    assert CRASH_LINE in proc.stderr.splitlines()
    assert "app.py:6:5: BGT103" in proc.stdout  # the other rules, in the same file
    assert "other.py:5:5: BGT301" in proc.stdout  # the same rule, in the other files
    assert "BGT900" not in proc.stdout
    if "--verbose" not in proc.args:
        assert proc.stderr.splitlines() == [CRASH_LINE]


def test_a_rule_crash_in_json_is_an_error_not_a_finding(project: Path) -> None:
    proc = program(PLANT_RULE_CRASH, "check", "--no-cache", "--format", "json", ".", cwd=project)
    codes = sorted(f["code"] for f in json.loads(proc.stdout))
    assert codes == ["BGT103", "BGT301"] and proc.returncode == 2
    assert "internal error in BGT301" in proc.stderr


def test_a_rule_crash_during_fix_leaves_the_other_fixes(project: Path) -> None:
    proc = program(PLANT_RULE_CRASH, "fix", "--no-cache", ".", cwd=project)
    assert "Traceback" not in proc.stderr and proc.returncode == 2
    assert "internal error in BGT301" in proc.stderr
    assert "_background_tasks" in (project / "app.py").read_text() or \
        "task = asyncio.create_task(work())" in (project / "app.py").read_text()  # BGT103 was fixed


def test_a_crash_while_indexing_a_file_is_that_files_error(project: Path) -> None:
    proc = program(PLANT_INDEX_CRASH, "check", "--no-cache", ".", cwd=project)
    assert "Traceback" not in proc.stderr and proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "app.py: error: cannot analyse: internal error (KeyError: 'planted'); please report it"]
    assert "other.py:5:5: BGT301" in proc.stdout


@pytest.mark.parametrize("command", [["check", "."], ["check", "--format", "json", "."], ["fix", "."]])
def test_a_crash_outside_any_file_is_one_line(project: Path, command: list[str]) -> None:
    proc = program(PLANT_RUN_CRASH, *command, "--no-cache", cwd=project)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "bgtask-lint: error: internal error (RuntimeError: planted); please report it, with the traceback "
        "BGTASK_LINT_TRACEBACK=1 prints"]


def test_the_traceback_is_printed_when_asked_for(project: Path) -> None:
    import os

    env = {**os.environ, "BGTASK_LINT_TRACEBACK": "1"}
    proc = program(PLANT_RUN_CRASH, "check", "--no-cache", ".", cwd=project, env=env)
    assert proc.returncode == 2
    assert "Traceback (most recent call last)" in proc.stderr and 'RuntimeError: planted' in proc.stderr


def test_flake8_reports_a_rule_crash_as_bgt000(project: Path) -> None:
    """flake8 has findings only: the crash is one, at the line where the rule crashed."""
    code = PLANT_RULE_CRASH + "\nimport sys\nfrom flake8.main.cli import main\nsys.exit(main())\n"
    proc = subprocess.run([sys.executable, "-c", code, "--select", "BGT", "app.py"], capture_output=True,
                          text=True, cwd=project, timeout=300)
    assert "Traceback" not in proc.stderr
    assert "app.py:7:5: BGT900 internal error in BGT301 (TypeError: planted bug)" in proc.stdout
    assert "app.py:6:5: BGT103" in proc.stdout


def test_a_rule_crash_is_no_noqa_to_add(project: Path) -> None:
    """`--add-noqa` must not write `# noqa: BGT900` over our own bug."""
    proc = program(PLANT_RULE_CRASH, "check", "--no-cache", "--add-noqa", ".", cwd=project)
    assert proc.returncode == 2 and CRASH_LINE in proc.stderr.splitlines()
    assert "BGT900" not in (project / "app.py").read_text()
    assert "# noqa: BGT103" in (project / "app.py").read_text()  # the real finding still gets one


def test_output_that_cannot_be_written_is_one_line(project: Path) -> None:
    """`check > /dev/full`: the disk is full, not our bug; one line, exit 2."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "bgtask_lint", "check", "--no-cache", "."], stdout=full,
                              stderr=subprocess.PIPE, text=True, cwd=project, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["bgtask-lint: error: No space left on device"]
