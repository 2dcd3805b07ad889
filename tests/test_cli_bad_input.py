"""Bad input on the command line (issue 12): each bad path is one line under the name the
user typed, exit 2, the other paths still checked; nothing green after an error; an empty
directory says so; `--verbose` says which root and config a nested pyproject.toml chose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from terminal import on_a_terminal
from click.testing import CliRunner

from bgtask_lint.cli import main

DANGLING = "import asyncio\n\n\nasync def handler():\n    asyncio.create_task(work())\n"
FINDING = "app.py:5:5: BGT103"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="symlinks and a pseudo-terminal")


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def program(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bgtask_lint", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "app.py").write_text(DANGLING)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", ["check", "fix"])
def test_a_symlink_loop_named_is_one_line_and_the_rest_is_checked(project: Path, command: str) -> None:
    (project / "loop_a").symlink_to("loop_b")
    (project / "loop_b").symlink_to("loop_a")
    proc = program(command, "loop_a", "app.py", cwd=project)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[0] == "loop_a: error: symbolic link loop"
    if command == "check":
        assert proc.stdout.startswith(FINDING)
    else:
        assert "task = asyncio.create_task(work())" in (project / "app.py").read_text()


@pytest.mark.parametrize("cache", ["--no-cache", "--cache"])
def test_links_that_go_nowhere_inside_a_directory_are_named_as_found(project: Path, cache: str) -> None:
    """A broken link and a link loop met while walking: one line each, under the link's own
    name (not its target's), and no crash; the cache must agree."""
    (project / "gone.py").symlink_to(project / "nowhere.py")
    (project / "loop1.py").symlink_to("loop2.py")
    (project / "loop2.py").symlink_to("loop1.py")
    args = ["check", "."] + ([cache] if cache == "--no-cache" else [])
    for _ in range(2):  # with the cache: cold, then warm
        proc = program(*args, cwd=project)
        assert proc.returncode == 2 and proc.stdout.startswith(FINDING), proc.stderr
        assert sorted(proc.stderr.splitlines()) == [
            f"gone.py: error: broken symbolic link: {project / 'nowhere.py'}: no such file or directory",
            "loop1.py: error: symbolic link loop",
            "loop2.py: error: symbolic link loop",
        ]


def test_a_broken_link_named_is_reported_under_its_own_name(project: Path) -> None:
    (project / "gone.py").symlink_to("nowhere.py")
    result = run("check", "gone.py", "app.py")
    assert result.exit_code == 2 and result.stdout.startswith(FINDING)
    assert result.stderr == "gone.py: error: broken symbolic link: nowhere.py: no such file or directory\n"


def test_paths_are_shown_as_typed(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    result = run("check", "/nonexistent", "./missing.py", "app.py")
    assert result.stderr.splitlines() == ["/nonexistent: error: no such file or directory",
                                          "./missing.py: error: no such file or directory"]
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "pyproject.toml").write_text("")
    (elsewhere / "pkg").mkdir()
    (elsewhere / "pkg" / "app.py").write_text(DANGLING)
    assert run("check", str(elsewhere / "pkg")).stdout.startswith(f"{elsewhere / 'pkg' / 'app.py'}:5:5: BGT103")
    relative = os.path.relpath(elsewhere / "pkg", project)
    assert run("check", relative).stdout.startswith(f"{relative}/app.py:5:5: BGT103")
    assert run("check", "./").stdout.startswith(FINDING)


def test_an_empty_directory_says_so(project: Path) -> None:
    (project / "empty").mkdir()
    (project / "empty" / "README").write_text("no code here")
    result = run("check", "empty")
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == "warning: no Python files found under empty\n"
    assert "No findings" not in on_a_terminal(["check", "empty"], project)[1]




GREEN = "\x1b[32m"


def test_nothing_green_after_an_error(project: Path) -> None:
    (project / "clean.py").write_text("x = 1\n")
    code, output = on_a_terminal(["check", "clean.py"], project)
    assert code == 0 and GREEN in output and "No findings." in output  # the test can fail
    code, output = on_a_terminal(["check", "/nonexistent", "clean.py"], project)
    assert code == 2 and GREEN not in output
    assert "No findings in the 1 file checked; 1 path could not be checked (see the errors above)." in output
    (project / "broken.py").write_text("def (:\n")
    code, output = on_a_terminal(["check", "broken.py", "clean.py"], project)
    assert code == 2 and GREEN not in output and "1 path could not be checked" in output
    code, output = on_a_terminal(["check", "/nonexistent"], project)
    assert code == 2 and output.strip() == "/nonexistent: error: no such file or directory"


SERVICE = ("import time\nfrom fastapi import BackgroundTasks\n\n\ndef job():\n    time.sleep(1)\n\n\n"
           "async def ep(bg: BackgroundTasks):\n    bg.add_task(job())\n    time.sleep(1)\n")


def test_files_of_two_projects_named_at_once_are_each_checked_with_their_own_settings(project: Path) -> None:
    """pre-commit names the changed files of every service of a monorepo in one run: each
    file is checked as its own project checks it (its root, its settings), whatever the
    order, as flake8 checks it. It was the first file's project and settings for all."""
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    for service, table in (("a", '[tool.bgtask-lint]\nselect = ["BGT1"]\n'), ("b", "[project]\nname = 'b'\n")):
        (project / service / "app").mkdir(parents=True)
        (project / service / "pyproject.toml").write_text(table)
        (project / service / "app" / "__init__.py").write_text("")
        (project / service / "app" / "jobs.py").write_text(SERVICE)
    first, second = "a/app/jobs.py", "b/app/jobs.py"
    expected = [f"{first}:10:17: BGT101", f"{second}:10:17: BGT101", f"{second}:10:17: BGT302",
                f"{second}:11:5: BGT301"]
    for paths in ((first, second), (second, first)):
        for cache in ((), ("--no-cache",)):
            result = run("check", *cache, *paths)
            assert [" ".join(line.split()[:2]) for line in result.stdout.splitlines()] == expected, (paths, cache)
            assert result.exit_code == 1
    flake8 = subprocess.run([sys.executable, "-m", "flake8", "--select", "BGT", second, first], cwd=project,
                            capture_output=True, text=True)
    assert sorted(" ".join(line.split()[:2]) for line in flake8.stdout.splitlines()) == expected  # flake8 5 keeps
    # the order it was given
    result = run("fix", second, first)
    assert result.exit_code == 0, result.output
    assert "bg.add_task(job)\n    time.sleep(1)" in (project / first).read_text()  # a fixes BGT1 only
    assert "await asyncio.sleep(1)" in (project / second).read_text()
    # one report for both: one JSON document of what remains, one summary line
    for path in (first, second):
        (project / path).write_text(SERVICE + '\n\nasync def peek():\n    return open("x").read()\n')
    done = program("fix", "--format", "json", first, second, cwd=project)
    remaining = json.loads(done.stdout)
    assert [(item["filename"].replace(os.sep, "/"), item["code"]) for item in remaining] == [(second, "BGT301")]
    assert [line for line in done.stderr.splitlines() if line.startswith("Fixed")] == [
        "Fixed 4 findings (BGT101: 2, BGT301: 1, BGT401: 1) in 2 files. "
        "1 remaining (no safe fix): BGT301: 1."], done.stderr
    # --add-noqa: each project's own findings suppressed, one summary
    for path in (first, second):
        (project / path).write_text(SERVICE)
    done = program("check", "--add-noqa", second, first, cwd=project)
    assert done.stderr.strip() == "Added 4 noqa codes to 2 files.", done.stderr
    assert "bg.add_task(job())  # noqa: BGT101\n    time.sleep(1)\n" in (project / first).read_text()
    assert "time.sleep(1)  # noqa: BGT301" in (project / second).read_text()


def test_a_nested_pyproject_moves_the_root_and_verbose_says_so(project: Path) -> None:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    backend = project / "backend"
    backend.mkdir()
    (backend / "pyproject.toml").write_text('[tool.bgtask-lint]\nselect = ["BGT1"]\n')
    (backend / "app.py").write_text(DANGLING)
    result = run("check", "--verbose", "backend")
    lines = result.stderr.splitlines()
    assert f"bgtask-lint: project root: {backend} (it has pyproject.toml)" in lines
    assert (f"bgtask-lint: the git work tree starts above it, at {project}: "
            f"modules outside {backend} are not indexed") in lines
    assert f"bgtask-lint: config: {backend / 'pyproject.toml'}" in lines
    result = run("check", "--verbose", ".")
    assert f"bgtask-lint: project root: {project} (it has pyproject.toml, .git)" in result.stderr.splitlines()
    no_marker = project.parent / (project.name + "-loose")
    no_marker.mkdir()
    (no_marker / "m.py").write_text(DANGLING)
    result = run("check", "--verbose", "--no-cache", str(no_marker))
    assert "their common directory" in result.stderr
    assert "config: no pyproject.toml found, defaults used" in result.stderr or "config: /" in result.stderr


def test_usage_errors_are_one_line(project: Path) -> None:
    for args in (["check", "--add-noqa", "--fix", "."], ["check", "-q", "-v", "."],
                 ["check", "--unused-noqa", "--fix", "."], ["fix", "--connect-timeout", "0", "."],
                 ["check", "--no-such-option"], ["check", "--format", "xml"], ["nonsense"]):
        result = run(*args)
        assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, (args, result.output)
        assert "Traceback" not in result.output
