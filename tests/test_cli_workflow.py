"""The command line as ruff users expect it (issue 12): stdin, fix hints and summaries,
noqa tools, force-exclude, output file, quiet and verbose. Each through the real program:
click's runner, a subprocess with real pipes, a pseudo-terminal, a real flake8."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from terminal import on_a_terminal
from click.testing import CliRunner

from bgtask_lint.cli import main

TASKS = """\
import asyncio


async def refresh(user_id: int) -> None:
    await load(user_id)
"""
ROUTES = """\
from fastapi import BackgroundTasks

from app.tasks import refresh


def endpoint(background_tasks: BackgroundTasks, user_id: int):
    background_tasks.add_task(refresh, user_id)
"""
# BGT103 (safe fix), BGT101 (safe fix), BGT301 time.sleep (safe fix), BGT301 requests (unsafe fix)
MIXED = """\
import asyncio
import time

import requests
from fastapi import BackgroundTasks


async def handler(background_tasks: BackgroundTasks, path: str):
    asyncio.create_task(work())
    background_tasks.add_task(process_csv(path))


async def poll():
    time.sleep(1)
    requests.get("http://example.com", timeout=5)


async def process_csv(path):
    pass


async def work():
    pass
"""
BGT401_TASKS = "app/tasks.py:4:1: BGT401"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def program(*args: str, input: bytes | str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed program in a subprocess, with real pipes."""
    if isinstance(input, str):
        input = input.encode()
    return subprocess.run([sys.executable, "-m", "bgtask_lint", *args], input=input, capture_output=True,
                          cwd=cwd, timeout=300)


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "tasks.py").write_text("def refresh(user_id):\n    return user_id\n")
    (tmp_path / "app" / "routes.py").write_text(ROUTES)
    (tmp_path / "mixed.py").write_text(MIXED)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- stdin ----------------------------------------------------------------------------------


def test_check_stdin_the_filename_decides_project_and_module(project: Path) -> None:
    # the text replaces app/tasks.py: its function is the task routes.py schedules
    proc = program("check", "-", "--stdin-filename", "app/tasks.py", input=TASKS, cwd=project)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.decode().startswith(BGT401_TASKS)
    # the same text under another module's name is not that task
    proc = program("check", "-", "--stdin-filename", "app/other.py", input=TASKS, cwd=project)
    assert proc.returncode == 0 and proc.stdout == b""
    # and --stdin-filename alone reads stdin (ruff's habit)
    assert program("check", "--stdin-filename", "app/tasks.py", input=TASKS, cwd=project).returncode == 1


def test_check_stdin_uses_the_config_of_the_filenames_project(project: Path) -> None:
    other = project / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[tool.bgtask-lint]\nignore = ["BGT103"]\n')
    text = MIXED
    found = program("check", "-", "--stdin-filename", "other/m.py", input=text, cwd=project).stdout.decode()
    assert "BGT103" not in found and "other/m.py:10:31: BGT101" in found
    assert "mixed.py:9:5: BGT103" in program("check", "-", "--stdin-filename", "mixed.py", input=text,
                                              cwd=project).stdout.decode()


def test_nameless_stdin_is_shown_as_dash(project: Path) -> None:
    result = run("check", "-", input=MIXED)
    assert result.exit_code == 1 and result.stdout.startswith("-:9:5: BGT103")


def test_stdin_errors_are_one_line(project: Path) -> None:
    result = run("check", "-", "--stdin-filename", "bad.py", input="def (:\n")
    assert result.exit_code == 2 and result.stderr == "bad.py: error: syntax error at line 1: invalid syntax\n"
    result = run("check", "-", "mixed.py")
    assert result.exit_code == 2 and "cannot be combined" in result.stderr and "Traceback" not in result.output
    assert run("check", "--add-noqa", "-", input="x = 1\n").exit_code == 2


def test_fix_stdin_writes_the_fixed_text_to_stdout(project: Path) -> None:
    proc = program("fix", "-", "--stdin-filename", "mixed.py", input=MIXED, cwd=project)
    fixed = proc.stdout.decode()
    assert "task = asyncio.create_task(work())" in fixed and "add_task(process_csv, path)" in fixed
    assert (project / "mixed.py").read_text() == MIXED  # nothing written
    # what remains (the unsafe fix) goes to stderr with the summary; exit 1 as findings remain
    stderr = proc.stderr.decode()
    assert "requests.get() inside async def" in stderr.splitlines()[0] and "Fixed 3 findings" in stderr
    assert "1 fixable with --unsafe-fixes" in stderr and proc.returncode == 1
    proc = program("fix", "-", "--unsafe-fixes", "--stdin-filename", "mixed.py", input=MIXED, cwd=project)
    assert proc.returncode == 0 and "asyncio.to_thread" in proc.stdout.decode()
    assert program("fix", "-", "--exit-zero", "--stdin-filename", "mixed.py", input=MIXED,
                   cwd=project).returncode == 0


def test_fix_stdin_keeps_encoding_and_newlines_and_gives_bad_input_back(project: Path) -> None:
    latin = ("# -*- coding: latin-1 -*-\r\n# caf\xe9\r\n" + MIXED.replace("\n", "\r\n")).encode("latin-1")
    proc = program("fix", "-", "--stdin-filename", "mixed.py", input=latin, cwd=project)
    assert proc.stdout.startswith(b"# -*- coding: latin-1 -*-\r\n# caf\xe9\r\n")
    assert b"task = asyncio.create_task(work())\r\n" in proc.stdout and b"\n" not in proc.stdout.replace(b"\r\n", b"")
    broken = b"def (:\n    pass\n"
    proc = program("fix", "-", "--stdin-filename", "bad.py", input=broken, cwd=project)
    assert proc.returncode == 2 and proc.stdout == broken
    assert proc.stderr.decode().splitlines() == ["bad.py: error: syntax error at line 1: invalid syntax"]


def test_fix_stdin_diff(project: Path) -> None:
    proc = program("fix", "-", "--diff", "--stdin-filename", "mixed.py", input=MIXED, cwd=project)
    out = proc.stdout.decode()
    assert proc.returncode == 1 and out.startswith("--- a/mixed.py\n+++ b/mixed.py\n")
    assert "+    task = asyncio.create_task(work())" in out


def test_force_exclude_applies_to_stdin_filename(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.bgtask-lint]\nexclude = ["generated"]\n')
    args = ("-", "--stdin-filename", "generated/m.py")
    assert program("check", *args, input=MIXED, cwd=project).returncode == 1
    proc = program("check", "--force-exclude", *args, input=MIXED, cwd=project)
    assert proc.returncode == 0 and proc.stdout == b""
    proc = program("fix", "--force-exclude", *args, input=MIXED, cwd=project)
    assert proc.returncode == 0 and proc.stdout.decode() == MIXED  # given back untouched


# --- fix hints and summaries -----------------------------------------------------------------




@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_the_fixable_hinton_a_terminal(project: Path) -> None:
    code, output = on_a_terminal(["check", "--no-cache", "mixed.py"], project)
    assert code == 1
    assert "Found 4 findings in 1 file." in output
    assert "3 fixable with `bgtask-lint fix` (1 more with --unsafe-fixes)." in output
    code, output = on_a_terminal(["check", "--no-cache", "--select", "BGT301", "mixed.py"], project)
    assert "1 fixable with `bgtask-lint fix` (1 more with --unsafe-fixes)." in output  # only what is selected
    code, output = on_a_terminal(["check", "--no-cache", "--unsafe-fixes", "mixed.py"], project)
    assert "4 fixable with `bgtask-lint fix --unsafe-fixes`." in output


def test_show_fixes_marks_fixable_findings_and_prints_the_hint(project: Path) -> None:
    result = run("check", "--show-fixes", "mixed.py")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("mixed.py:9:5: BGT103 [*] task created")
    assert lines[3].startswith("mixed.py:15:5: BGT301 blocking call")  # the unsafe one: no mark
    assert "3 fixable with `bgtask-lint fix` (1 more with --unsafe-fixes)." in result.stderr
    assert "[*]" not in run("check", "mixed.py").stdout


def test_fix_show_fixes_lists_files_and_codes(project: Path) -> None:
    result = run("fix", "--show-fixes", "mixed.py")
    assert "Fixed 3 findings:\n- mixed.py:\n    1 \u00d7 BGT101 (add-task-call-result)\n" in result.stderr
    assert "    1 \u00d7 BGT103 (dangling-task)\n    1 \u00d7 BGT301 (blocking-call-in-async)" in result.stderr


def test_fix_summary_counts_only_what_was_selected(project: Path) -> None:
    result = run("fix", "--select", "BGT103", "mixed.py")
    assert result.stderr.strip() == "Fixed 1 finding (BGT103: 1) in 1 file. No findings remain."
    assert result.exit_code == 0
    assert "add_task(process_csv(path))" in (project / "mixed.py").read_text()  # BGT101 left alone
    result = run("fix", "--select", "BGT3", "mixed.py")
    assert result.stderr.strip() == ("Fixed 1 finding (BGT301: 1) in 1 file. "
                                     "1 remaining (1 fixable with --unsafe-fixes): BGT301: 1.")


def test_check_fix_honours_format(project: Path) -> None:
    result = run("check", "--fix", "--format", "json", "mixed.py")
    data = json.loads(result.stdout)
    assert [(d["code"], d["filename"]) for d in data] == [("BGT301", "mixed.py")]
    assert data[0]["fix"]["applicability"] == "unsafe"
    assert result.exit_code == 1 and "Fixed 3 findings" in result.stderr
    assert run("check", "--fix", "--exit-zero", "mixed.py").exit_code == 0


def test_fix_exit_zero_and_no_cache(project: Path) -> None:
    assert run("fix", "--select", "BGT3", "mixed.py").exit_code == 1  # the unsafe one remains
    assert run("fix", "--exit-zero", "mixed.py").exit_code == 0
    # nothing fixable now: a warm cache answers without indexing the project
    run("check", "mixed.py")
    result = run("fix", "--verbose", "mixed.py")
    assert "cache: 1 hit, 0 files checked again" in result.stderr
    result = run("fix", "--verbose", "--no-cache", "mixed.py")
    assert "cache: off (--no-cache)" in result.stderr and "1 remaining" in result.stderr


# --- noqa -------------------------------------------------------------------------------------


NOQA_SOURCE = """\
import asyncio
import time


async def handler():
    asyncio.create_task(work())  # noqa: E501 keep this note
    time.sleep(1)  # type: ignore[attr-defined]
    asyncio.create_task(more()); time.sleep(2)
    time.sleep(3); text = '''
    '''
"""


def test_add_noqa_keeps_codes_comments_encoding_and_newlines(project: Path) -> None:
    path = project / "legacy.py"
    data = ("# -*- coding: latin-1 -*-\r\n# caf\xe9\r\n" + NOQA_SOURCE.replace("\n", "\r\n")).encode("latin-1")
    path.write_bytes(data)
    os.chmod(path, 0o640)
    result = run("check", "--add-noqa", "legacy.py")
    assert result.exit_code == 1  # one finding could not be suppressed
    assert "Added 4 noqa codes to 1 file. 1 finding could not be suppressed." in result.stderr
    assert "legacy.py:11:5: BGT301 not suppressed" in result.stderr and "multi-line string" in result.stderr
    written = path.read_bytes()
    assert written.startswith(b"# -*- coding: latin-1 -*-\r\n# caf\xe9\r\n")
    assert b"\n" not in written.replace(b"\r\n", b"")
    assert oct(os.stat(path).st_mode & 0o777) == "0o640"
    lines = written.decode("latin-1").splitlines()
    assert lines[7] == "    asyncio.create_task(work())  # noqa: E501, BGT103 keep this note"
    assert lines[8] == "    time.sleep(1)  # type: ignore[attr-defined]  # noqa: BGT301"
    assert lines[9] == "    asyncio.create_task(more()); time.sleep(2)  # noqa: BGT103, BGT301"
    # afterwards: only the finding on a string's first line remains, and adding again adds nothing
    assert [line.split(": ")[1].split()[0] for line in run("check", "legacy.py").stdout.splitlines()] == ["BGT301"]
    again = run("check", "--add-noqa", "legacy.py")
    assert "Added 0 noqa codes to 0 files." in again.stderr and path.read_bytes() == written


def test_add_noqa_output_satisfies_a_real_flake8(project: Path) -> None:
    (project / "legacy.py").write_text(NOQA_SOURCE.replace("    time.sleep(3); text = '''\n    '''\n", ""))
    before = subprocess.run([sys.executable, "-m", "flake8", "--select", "BGT", "legacy.py"],
                            capture_output=True, text=True, cwd=project)
    assert before.returncode == 1 and "BGT103" in before.stdout
    assert run("check", "--add-noqa", "legacy.py").exit_code == 0
    after = subprocess.run([sys.executable, "-m", "flake8", "--select", "BGT", "legacy.py"],
                           capture_output=True, text=True, cwd=project)
    assert after.returncode == 0, after.stdout + after.stderr


UNUSED = """\
import asyncio
import time


async def handler():
    asyncio.create_task(work())  # noqa: BGT103
    x = 1  # noqa: BGT103, E501
    y = 2  # noqa: BGT999
    z = 3  # noqa
    time.sleep(1)  # noqa: BGT1, BGT301
"""


def test_unused_noqa(project: Path) -> None:
    (project / "old.py").write_text(UNUSED)
    result = run("check", "--unused-noqa", "old.py")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "old.py:7:12: BGT000 unused noqa: no BGT103 finding on this line",
        "old.py:8:12: BGT000 unused noqa: BGT999 is not a bgtask-lint code",
        "old.py:10:20: BGT000 unused noqa: no BGT1 finding on this line",
    ]
    assert run("check", "old.py").exit_code == 0  # only on request
    # a code whose rules are not selected here is not judged: it may be needed elsewhere
    assert "BGT301" not in run("check", "--unused-noqa", "--select", "BGT1", "old.py").stdout
    (project / "tests").mkdir()
    (project / "tests" / "test_old.py").write_text(UNUSED)  # BGT3xx is hidden in test files
    assert "BGT301" not in run("check", "--unused-noqa", "tests").stdout
    data = json.loads(run("check", "--unused-noqa", "--format", "json", "old.py").stdout)
    assert {d["code"] for d in data} == {"BGT000"}
    explained = run("rule", "BGT000")
    assert explained.exit_code == 0 and "--unused-noqa" in explained.stdout


# --- which files, where output goes -----------------------------------------------------------------


def test_force_exclude(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.bgtask-lint]\nexclude = ["generated"]\n')
    (project / "generated").mkdir()
    (project / "generated" / "m.py").write_text(MIXED)
    assert "generated/m.py" in run("check", "generated/m.py").stdout  # named: checked (ruff's default)
    result = run("check", "--force-exclude", "generated/m.py", "app/routes.py")
    assert result.exit_code == 0 and result.output == ""
    result = run("fix", "--force-exclude", "generated/m.py")
    assert result.exit_code == 0 and (project / "generated" / "m.py").read_text() == MIXED
    (project / "pyproject.toml").write_text('[tool.bgtask-lint]\nexclude = ["generated"]\nforce-exclude = true\n')
    assert run("check", "generated/m.py").exit_code == 0
    assert run("check", "--no-force-exclude", "generated/m.py").exit_code == 1


def test_output_file(project: Path) -> None:
    result = run("check", "--output-file", "report.json", "--format", "json", "mixed.py")
    assert result.exit_code == 1 and result.stdout == ""
    assert len(json.loads((project / "report.json").read_text())) == 4
    result = run("check", "-o", "report.txt", "mixed.py", "nope.py")
    assert result.exit_code == 2 and "nope.py: error: no such file or directory" in result.stderr
    assert (project / "report.txt").read_text().startswith("mixed.py:9:5: BGT103")
    # nothing to check (all excluded, or no usable path): still a valid, empty SARIF log
    (project / "pyproject.toml").write_text('[tool.bgtask-lint]\nexclude = ["mixed.py"]\nforce-exclude = true\n')
    assert run("check", "-o", "r.sarif", "--format", "sarif", "mixed.py").exit_code == 0
    assert json.loads((project / "r.sarif").read_text())["runs"][0]["results"] == []
    assert run("check", "-o", "r.sarif", "--format", "sarif", "nope.py").exit_code == 2
    log = json.loads((project / "r.sarif").read_text())["runs"][0]
    assert log["invocations"][0]["executionSuccessful"] is False
    result = run("check", "-o", str(project / "missing" / "r.txt"), "mixed.py")
    assert result.exit_code == 2 and "cannot write --output-file" in result.stderr and "Traceback" not in result.output


def test_quiet_prints_findings_and_errors_only(project: Path) -> None:
    (project / "tests").mkdir()
    (project / "tests" / "test_x.py").write_text("import time\n\n\nasync def f():\n    time.sleep(1)\n")
    loud = run("check", "--show-fixes", "mixed.py", "tests", "nope.py")
    assert "not shown" in loud.stderr and "fixable" in loud.stderr
    quiet = run("check", "-q", "--show-fixes", "mixed.py", "tests", "nope.py")
    assert quiet.stderr == "nope.py: error: no such file or directory\n"
    assert quiet.stdout == loud.stdout and quiet.exit_code == 2
    assert run("fix", "-q", "mixed.py").stderr == ""
    assert run("check", "-q", "-v", ".").exit_code == 2


def test_verbose_says_root_config_files_and_cache(project: Path) -> None:
    first = run("check", "--verbose", ".")
    lines = first.stderr.splitlines()
    assert f"bgtask-lint: project root: {project} (it has pyproject.toml)" in lines
    assert f"bgtask-lint: config: {project / 'pyproject.toml'}" in lines
    assert "bgtask-lint: 4 files checked" in lines
    second = run("check", "--verbose", ".")
    assert "bgtask-lint: cache: 4 hits, 0 files checked again" in second.stderr.splitlines()
    assert "cache: off (--no-cache)" in run("check", "-v", "--no-cache", ".").stderr
    assert first.stdout == second.stdout  # verbose adds to stderr only


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_force_exclude_under_a_real_pre_commit(tmp_path: Path) -> None:
    """pre-commit names every staged file, excluded or not: with --force-exclude the
    project's `exclude` still holds (a local hook runs this very program, no install)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "PRE_COMMIT"}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "home")
    repo = tmp_path / "repo"
    (repo / "generated").mkdir(parents=True)
    (repo / "pyproject.toml").write_text('[tool.bgtask-lint]\nexclude = ["generated"]\n')
    (repo / "generated" / "client.py").write_text(MIXED)
    program_line = f"{sys.executable} -m bgtask_lint check"

    def commit_check(args: str) -> subprocess.CompletedProcess:
        (repo / ".pre-commit-config.yaml").write_text(
            "repos:\n- repo: local\n  hooks:\n  - id: bgtask-lint\n    name: bgtask-lint\n"
            f"    entry: {program_line} {args}\n    language: system\n    types: [python]\n")
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
        return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo,
                              capture_output=True, text=True, env=env, timeout=300)

    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    without = commit_check("")
    assert without.returncode == 1 and "generated/client.py:9:5: BGT103" in without.stdout
    with_flag = commit_check("--force-exclude")
    assert with_flag.returncode == 0, with_flag.stdout + with_flag.stderr
