"""The command line: output formats, options, exit codes, and one-line diagnostics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgtask_lint.cli import main

BUGGY = """\
from fastapi import BackgroundTasks

def endpoint(background_tasks: BackgroundTasks, path: str):
    background_tasks.add_task(process_csv(path))


async def process_csv(path):
    pass
"""
CLEAN = "def f():\n    return 1\n"


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "app.py").write_text(BUGGY)
    (tmp_path / "clean.py").write_text(CLEAN)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_text_output_and_exit_1(project: Path) -> None:
    result = run("check", ".")
    assert result.exit_code == 1
    assert result.stdout.strip() == (
        "app.py:4:31: BGT101 task argument calls process_csv() now; pass process_csv and its arguments instead"
    )


def test_default_path_is_current_directory(project: Path) -> None:
    assert run("check").exit_code == 1


def test_clean_file_exits_0(project: Path) -> None:
    result = run("check", "clean.py")
    assert result.exit_code == 0 and result.stdout == ""


def test_json_output_has_ruff_field_names(project: Path) -> None:
    result = run("check", "--format", "json", ".")
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    assert data == [{
        "code": "BGT101",
        "message": "task argument calls process_csv() now; pass process_csv and its arguments instead",
        "filename": "app.py",
        "location": {"row": 4, "column": 31},
        "end_location": {"row": 4, "column": 48},
        "fix": {"applicability": "safe", "message": "Pass the function and its arguments separately"},
        "url": data[0]["url"],
    }]
    assert data[0]["url"].endswith("#bgt101")


def test_select_and_ignore(project: Path) -> None:
    assert run("check", "--select", "BGT4", ".").exit_code == 0
    assert run("check", "--ignore", "BGT101", ".").exit_code == 0
    assert run("check", "--select", "BGT1", "--ignore", "BGT102", ".").exit_code == 1


def test_exit_zero_and_statistics(project: Path) -> None:
    result = run("check", "--exit-zero", "--statistics", ".")
    assert result.exit_code == 0
    assert "1  BGT101" in result.output


def test_unknown_code_is_a_usage_error(project: Path) -> None:
    result = run("check", "--select", "BGT999", ".")
    assert result.exit_code == 2
    assert "unknown rule code" in result.stderr and "Traceback" not in result.output


def test_missing_path_is_reported_and_others_still_checked(project: Path) -> None:
    result = run("check", "nope.py", "app.py")
    assert result.exit_code == 2
    assert "nope.py: error: no such file or directory" in result.stderr
    assert "BGT101" in result.stdout


def test_syntax_error_is_one_line_and_others_checked(project: Path) -> None:
    (project / "broken.py").write_text("def (:\n")
    result = run("check", ".")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line]
    assert lines == ["broken.py: error: syntax error at line 1: invalid syntax"]
    assert "app.py:4:31: BGT101" in result.stdout


def test_undecodable_file(project: Path) -> None:
    (project / "latin.py").write_bytes(b"x = '\xe9'\n")
    result = run("check", "latin.py")
    assert result.exit_code == 2
    assert "latin.py: error: cannot decode" in result.stderr


def test_coding_cookie_is_honoured(project: Path) -> None:
    (project / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n" + BUGGY.encode())
    result = run("check", "latin.py")
    assert result.exit_code == 1 and "latin.py:6:31: BGT101" in result.stdout


@pytest.mark.parametrize("config, message", [
    ("[tool.bgtask-lint]\nselect = 'BGT'\n", "'select' must be a list of strings"),
    ("[tool.bgtask-lint]\nfoo = 1\n", "unknown option 'foo'"),
    ("[tool.bgtask-lint]\nignore = ['XYZ1']\n", "unknown rule code or prefix 'XYZ1'"),
    ("[tool.bgtask-lint]\nconnect-timeout = 'slow'\n", "'connect-timeout' must be a positive number"),
    ("[tool.bgtask-lint\n", "invalid TOML"),
])
def test_broken_config_is_one_line_exit_2(project: Path, config: str, message: str) -> None:
    (project / "pyproject.toml").write_text(config)
    result = run("check", ".")
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_config_from_pyproject_applies(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.bgtask-lint]\nignore = ["BGT1"]\n')
    assert run("check", ".").exit_code == 0
    (project / "pyproject.toml").write_text('[tool.bgtask-lint]\nexclude = ["app.py"]\n')
    assert run("check", ".").exit_code == 0
    (project / "pyproject.toml").write_text('[tool.bgtask-lint]\nper-file-ignores = {"app.py" = ["BGT101"]}\n')
    assert run("check", ".").exit_code == 0


def test_explicit_config_file(project: Path) -> None:
    other = project / "other.toml"
    other.write_text('[tool.bgtask-lint]\nselect = ["BGT5"]\n')
    assert run("check", "--config", str(other), ".").exit_code == 0
    result = run("check", "--config", "missing.toml", ".")
    assert result.exit_code == 2 and "config file not found" in result.stderr


def test_noqa_in_cli(project: Path) -> None:
    (project / "app.py").write_text(BUGGY.replace("(path))", "(path))  # noqa: BGT101"))
    assert run("check", ".").exit_code == 0
    (project / "app.py").write_text(BUGGY.replace("(path))", "(path))  # noqa: BGT999"))
    assert run("check", ".").exit_code == 1  # unknown codes in noqa are ignored, as flake8 does
    (project / "app.py").write_text(BUGGY.replace("(path))", "(path))  # noqa"))
    assert run("check", ".").exit_code == 0


def test_rules_and_rule_commands() -> None:
    listing = run("rules").stdout
    assert "BGT101  add-task-call-result" in listing and "BGT501" in listing
    doc = run("rule", "bgt401")
    assert doc.exit_code == 0 and "## Why is this bad?" in doc.stdout
    unknown = run("rule", "BGT999")
    assert unknown.exit_code == 2 and "unknown rule code" in unknown.stderr


def test_console_script_runs_as_a_process(project: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bgtask_lint", "check", "app.py"],
                          capture_output=True, text=True, cwd=project)
    assert proc.returncode == 1
    assert proc.stdout.startswith("app.py:4:31: BGT101")
