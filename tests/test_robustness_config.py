"""Bad configuration and arguments (one line naming the problem, exit 2), excludes, and
the user's code is never run. The cases tests/test_cli.py already has are not repeated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgtask_lint.cli import main

DANGLING = "import asyncio\n\n\nasync def handler():\n    asyncio.create_task(work())\n"
CONNECT = "import asyncpg\n\n\nasync def handler():\n    return await asyncpg.connect('postgres://')\n"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "app.py").write_text(DANGLING)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _one_line(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("table, needle", [
    ('select = ["BGT999"]', "'select': unknown rule code or prefix 'BGT999'"),
    ('select = ["bgt1"]', "unknown rule code or prefix 'bgt1'"),
    ('ignore = ["BGT1", 7]', "'ignore' must be a list of strings"),
    ('exclude = "build"', "'exclude' must be a list of strings"),
    ('guard-decorators = [1]', "'guard-decorators' must be a list of strings"),
    ('connect-calls = "redis.connect"', "'connect-calls' must be a list of strings"),
    ("connect-timeout = 0", "'connect-timeout' must be a positive number"),
    ("connect-timeout = -1.5", "'connect-timeout' must be a positive number"),
    ("connect-timeout = true", "'connect-timeout' must be a positive number"),
    ("connect-timeout = nan", "'connect-timeout' must be a positive number"),
    ("connect-timeout = inf", "'connect-timeout' must be a positive number"),
    ('per-file-ignores = {"app.py" = ["BGT999"]}', "'per-file-ignores': unknown rule code or prefix 'BGT999'"),
    ('per-file-ignores = {"app.py" = "BGT1, XYZ9"}', "unknown rule code or prefix 'XYZ9'"),
    ('per-file-ignores = {"app.py" = 3}', "'per-file-ignores' values must be lists of codes"),
    ('per-file-ignores = ["app.py"]', "'per-file-ignores' must be a table"),
    ('Select = ["BGT1"]', "unknown option 'Select'"),
    ('select = ["BGT1"]\nselect = ["BGT2"]', "invalid TOML"),
])
@pytest.mark.parametrize("command", ["check", "fix"])
def test_bad_option_value(project: Path, command: str, table: str, needle: str) -> None:
    (project / "pyproject.toml").write_text(f"[tool.bgtask-lint]\n{table}\n")
    before = (project / "app.py").read_bytes()
    line = _one_line(run(command, "."), needle)
    assert line.startswith("bgtask-lint: error: ") and "pyproject.toml" in line
    assert (project / "app.py").read_bytes() == before  # nothing fixed with a broken configuration


@pytest.mark.parametrize("content, needle", [
    (b"[tool]\nbgtask-lint = 1\n", "[tool.bgtask-lint] must be a table"),
    (b"[tool.bgtask-lint]\nselect = [\"\xff\"]\n", "invalid TOML"),
    (b"\x00\x01\x02", "invalid TOML"),
])
def test_broken_pyproject(project: Path, content: bytes, needle: str) -> None:
    (project / "pyproject.toml").write_bytes(content)
    _one_line(run("check", "."), needle)


def test_pyproject_that_cannot_be_read(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = Path.open

    def refuse(self: Path, *args, **kwargs):
        if self.name == "pyproject.toml":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    _one_line(run("check", "app.py"), "pyproject.toml: cannot read: Permission denied")


def test_config_option_errors(project: Path) -> None:
    (project / "bad.toml").write_text("[tool.bgtask-lint]\nconnect-timeout = 'x'\n")
    _one_line(run("check", "--config", "bad.toml", "."), "bad.toml", "'connect-timeout' must be a positive number")
    _one_line(run("fix", "--config", "missing.toml", "."), "missing.toml: config file not found")


@pytest.mark.parametrize("args, needle", [
    (["check", "--ignore", "BGT9"], "--ignore: unknown rule code or prefix 'BGT9'"),
    (["check", "--select", "BGT1,XYZ"], "--select: unknown rule code or prefix 'XYZ'"),
    (["fix", "--select", "E501"], "--select: unknown rule code or prefix 'E501'"),
    (["fix", "--connect-timeout", "nan"], "connect-timeout"),
    (["fix", "--connect-timeout", "inf"], "connect-timeout"),
])
def test_bad_command_line_values(project: Path, args: list[str], needle: str) -> None:
    before = (project / "app.py").read_bytes()
    result = run(*args, ".")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert needle in result.stderr
    assert (project / "app.py").read_bytes() == before


@pytest.mark.parametrize("args", [["check", "--frobnicate"], ["fix", "--connect-timeout", "-1"],
                                  ["fix", "--connect-timeout", "soon"], ["check", "--format", "xml"],
                                  ["check", "--config"], ["frobnicate"]])
def test_usage_errors_name_the_problem(project: Path, args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("bgtask-lint: error:")]
    assert len(errors) == 1 and result.stderr.count("\n") == 1, result.stderr  # one line (issue 12)


def test_missing_paths(project: Path) -> None:
    _one_line(run("check", "nope.py"), "nope.py: error: no such file or directory")
    _one_line(run("check", "no/such/dir"), "no/such/dir: error: no such file or directory")
    result = run("fix", "nope.py", "app.py")
    assert result.exit_code == 2 and "nope.py: error: no such file or directory" in result.stderr
    assert "task = asyncio.create_task(work())" in (project / "app.py").read_text()


def test_noqa_with_codes_of_other_tools(project: Path) -> None:
    source = (project / "app.py").read_text()
    (project / "app.py").write_text(source.replace("(work())\n", "(work())  # noqa: XYZ123\n"))
    result = run("check", ".")
    assert result.exit_code == 1 and result.stderr == "" and "app.py:5:5: BGT103" in result.stdout
    (project / "app.py").write_text(source.replace("(work())\n", "(work())  # noqa: E501,XYZ123, BGT103\n"))
    assert run("check", ".").exit_code == 0
    (project / "app.py").write_text(source.replace("(work())\n", "(work())  # NOQA:e501\n"))
    result = run("check", ".")
    assert result.exit_code == 1 and result.stderr == ""


# --- nothing runs the user's code --------------------------------------------------------------


def test_nothing_runs_the_users_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    markers = tmp_path / "markers"
    markers.mkdir()
    (project / "app").mkdir(parents=True)

    def module(name: str, body: str = "") -> str:
        return (f"import pathlib\npathlib.Path({str(markers)!r}, {name!r}).write_text('ran')\n" + body)

    (project / "pyproject.toml").write_text("[project]\nname = 'hostile'\n")
    (project / "setup.py").write_text(module("setup.py"))
    (project / "conftest.py").write_text(module("conftest.py"))
    (project / "sitecustomize.py").write_text(module("sitecustomize.py"))
    (project / "usercustomize.py").write_text(module("usercustomize.py"))
    (project / "hostile.pth").write_text(f"import pathlib; pathlib.Path({str(markers)!r}, 'pth').write_text('ran')\n")
    (project / "app" / "__init__.py").write_text(module("app/__init__.py"))
    (project / "app" / "__main__.py").write_text(module("app/__main__.py"))
    (project / "app" / "tasks.py").write_text(module("app/tasks.py", "\n" + DANGLING + "\n" + CONNECT.replace(
        "handler", "connect")))
    (project / "app" / "main.py").write_text(module("app/main.py", (
        "from fastapi import BackgroundTasks\nfrom app.tasks import handler\n\n"
        "def endpoint(background_tasks: BackgroundTasks):\n    background_tasks.add_task(handler())\n")))

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (["check", str(project)], ["fix", "--diff", str(project)], ["fix", str(project)],
                 ["check", "--fix", str(project / "app")]):
        proc = subprocess.run([sys.executable, "-m", "bgtask_lint", *args], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=120)
        assert "Traceback" not in proc.stderr and proc.returncode in (0, 1), proc.stderr
    assert "add_task(handler)" in (project / "app" / "main.py").read_text()  # fix did run
    # in-process too, from inside the project (the current directory is on no path of ours)
    monkeypatch.chdir(project)
    assert run("check", ".").exit_code in (0, 1)
    assert run("fix", ".").exit_code in (0, 1)
    assert sorted(p.name for p in markers.iterdir()) == []
