"""`check --format github` (workflow commands), `--format sarif` (validated against the
official SARIF 2.1.0 schema, vendored in tests/data: see tests/data/README.md), and the
text format's colours and summary line on a terminal (and nothing extra when piped)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from bgtask_lint import cli
from bgtask_lint.cli import main
from bgtask_lint.findings import Finding
from bgtask_lint.report import finding_to_github, rule_sections
from bgtask_lint.rules import all_rules, rule_by_code

ROOT = Path(__file__).parents[1]
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

BUGGY = """\
from fastapi import BackgroundTasks

def endpoint(background_tasks: BackgroundTasks, path: str):
    background_tasks.add_task(process_csv(path))


async def process_csv(path):
    pass
"""
MESSAGE = "task argument calls process_csv() now; pass process_csv and its arguments instead"


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "app.py").write_text(BUGGY)
    (tmp_path / "clean.py").write_text("def f():\n    return 1\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str, **kwargs):
    return CliRunner().invoke(main, list(args), **kwargs)


def validate(log: dict) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


# --- github ---

def test_github_format(project: Path) -> None:
    result = run("check", "--format", "github", ".")
    assert result.exit_code == 1
    assert result.stdout == (
        "::error file=app.py,line=4,col=31,endLine=4,endColumn=48,"
        f"title=BGT101 add-task-call-result::{MESSAGE}\n"
    )


def test_github_format_escapes_data_and_properties() -> None:
    finding = Finding(Path("a,b:c%d.py"), 3, 4, "BGT401", "50% of\r\nthe work, lost: see", 5, 6)
    line = finding_to_github(finding, str)
    assert line == (
        "::warning file=a%2Cb%3Ac%25d.py,line=3,col=5,endLine=5,endColumn=7,"
        "title=BGT401 unguarded-task-body::50%25 of%0D%0Athe work, lost: see"
    )
    assert "\n" not in line


def test_github_format_statistics_go_to_stderr(project: Path) -> None:
    # the real program: click 8.2.0's CliRunner does not capture a print to sys.stderr here
    result = subprocess.run([sys.executable, "-m", "bgtask_lint", "check", "--format", "github", "--statistics", "."],
                            cwd=project, capture_output=True, text=True, timeout=120)
    assert "BGT101" in result.stderr and result.stdout.startswith("::error ")
    assert all(line.startswith("::") for line in result.stdout.splitlines())  # only workflow commands


def test_github_format_end_never_before_start() -> None:
    finding = Finding(Path("x.py"), 3, 4, "BGT101", "m")  # no end position
    assert ",line=3,col=5,endLine=3,endColumn=5," in finding_to_github(finding, str)


# --- sarif ---

def test_sarif_is_valid_and_complete(project: Path) -> None:
    result = run("check", "--format", "sarif", ".")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    validate(log)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run_ = log["runs"][0]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "bgtask-lint" and driver["version"] and driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == [rule.code for rule in all_rules()]
    for descriptor in driver["rules"]:
        rule = rule_by_code(descriptor["id"])
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"]["text"] == rule.message
        assert descriptor["fullDescription"]["text"] == " ".join(rule_sections(rule)["What it does"].split())
        assert descriptor["help"]["markdown"].startswith("## What it does")
        assert "## Why is this bad?" in descriptor["help"]["text"]
        assert descriptor["helpUri"].endswith("docs/rules.md#" + rule.code.lower())
    assert run_["invocations"] == [{"executionSuccessful": True}]
    assert run_["results"] == [{
        "ruleId": "BGT101",
        "ruleIndex": [r["id"] for r in driver["rules"]].index("BGT101"),
        "level": "error",
        "message": {"text": MESSAGE},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": "app.py", "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": 4, "startColumn": 31, "endLine": 4, "endColumn": 48},
        }}],
        "properties": {"fix": {"applicability": "safe",
                               "description": "Pass the function and its arguments separately",
                               "command": "bgtask-lint fix"}},
    }]
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"


def test_sarif_of_the_example_app_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run("check", "--format", "sarif", "examples/")
    log = json.loads(result.stdout)
    validate(log)
    results = log["runs"][0]["results"]
    assert len(results) >= 10
    assert {r["level"] for r in results} == {"error", "warning"}
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"examples/upload_app/main.py", "examples/upload_app/tasks.py"}
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)


def test_sarif_uri_is_relative_forward_slashes_and_percent_encoded(project: Path) -> None:
    (project / "my pkg").mkdir()
    (project / "my pkg" / "app.py").write_text(BUGGY)
    log = json.loads(run("check", "--format", "sarif", "my pkg").stdout)
    validate(log)
    [result] = log["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "my%20pkg/app.py", "uriBaseId": "%SRCROOT%"}


def test_sarif_clean_run_and_file_errors(project: Path) -> None:
    clean = json.loads(run("check", "--format", "sarif", "clean.py").stdout)
    validate(clean)
    assert clean["runs"][0]["results"] == []
    (project / "broken.py").write_text("def (:\n")
    result = run("check", "--format", "sarif", ".")
    assert result.exit_code == 2
    log = json.loads(result.stdout)
    validate(log)
    [invocation] = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and "syntax error" in note["message"]["text"]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "broken.py"


def test_schema_rejects_what_it_should() -> None:
    """The vendored schema is the real one: it rejects an empty `fixes[].artifactChanges`."""
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{
        "message": {"text": "m"}, "fixes": [{"description": {"text": "d"}, "artifactChanges": []}]}]}]}
    with pytest.raises(AssertionError, match="artifactChanges.*should be non-empty"):
        validate(bad)
    del bad["runs"][0]["results"][0]["fixes"]
    validate(bad)


# --- text on a terminal ---

def test_text_on_a_terminal_has_colours_and_a_summary(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_stdout_is_tty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    result = run("check", ".", color=True)
    assert result.exit_code == 1
    assert "\x1b[" in result.stdout
    lines = result.stdout.splitlines()
    assert "BGT101" in lines[0]
    assert "Found 1 finding in 1 file." in lines[-2]
    plain = run("check", ".", color=False).stdout  # click strips the styles: same words
    assert plain.splitlines() == [f"app.py:4:31: BGT101 {MESSAGE}", "Found 1 finding in 1 file.",
                                  "1 fixable with `bgtask-lint fix`."]


def test_no_color_keeps_the_summary(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_stdout_is_tty", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    result = run("check", ".", color=True)
    assert "\x1b[" not in result.stdout
    assert result.stdout.splitlines()[-2] == "Found 1 finding in 1 file."
    assert run("check", "clean.py", color=True).stdout == "No findings.\n"


def test_piped_text_has_nothing_extra(project: Path) -> None:
    result = run("check", ".", color=True)
    assert result.stdout == f"app.py:4:31: BGT101 {MESSAGE}\n"
    assert run("check", "clean.py").stdout == ""


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_real_terminal(project: Path) -> None:
    import pty

    main_fd, child_fd = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.run([sys.executable, "-m", "bgtask_lint", "check", "."], stdout=child_fd,
                          stderr=subprocess.PIPE, cwd=project, env=env, timeout=120)
    os.close(child_fd)
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:  # EIO: the terminal's other end is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main_fd)
    output = b"".join(chunks).decode()
    assert proc.returncode == 1
    assert "\x1b[" in output and "Found 1 finding in 1 file." in output


def _display_as_before(given: list[str], cwd: str):
    """Display's mapping as it was written first (a scan of every named path, the longest
    first): the reference the dict-based Display must agree with."""
    named = []
    for typed in given:
        absolute = os.path.abspath(os.path.join(cwd, typed))
        try:
            resolved = str(Path(absolute).resolve())
        except (OSError, RuntimeError):
            resolved = absolute
        named += [(resolved, typed), (absolute, typed)]
    named.sort(key=lambda pair: -len(pair[0]))

    def show(text: str) -> str:
        for prefix, typed in named:
            if text == prefix:
                return typed
            if text.startswith(prefix.rstrip(os.sep) + os.sep):
                return os.path.normpath(os.path.join(typed, text[len(prefix.rstrip(os.sep)) + 1:]))
        below = cwd.rstrip(os.sep) + os.sep
        return text[len(below):] if text.startswith(below) else text
    return show


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_display_shows_paths_as_named_through_symlinks_and_nesting(tmp_path: Path) -> None:
    """Named files and directories, nested ones (the nearest wins), a symlinked directory,
    a symlinked file, a loop, a missing path, `..` and `/`: shown as they were before the
    lookup became a dict (pre-commit naming 3,133 files spent 0.58 s rendering)."""
    from bgtask_lint.report import Display

    work = tmp_path / "work"
    (work / "app" / "api").mkdir(parents=True)
    (work / "real").mkdir()
    (work / "real" / "m.py").write_text("")
    (work / "app" / "api" / "r.py").write_text("")
    (work / "app" / "t.py").write_text("")
    (work / "linked").symlink_to(work / "real", target_is_directory=True)
    (work / "app" / "alias.py").symlink_to(work / "real" / "m.py")
    (work / "loop_a").symlink_to(work / "loop_b")
    (work / "loop_b").symlink_to(work / "loop_a")
    cwd = str(work / "app")
    given = ["api", "t.py", "..", "../linked", "../linked/m.py", "alias.py", "../loop_a", "missing.py",
             str(work / "app" / "api"), "/", "./api/r.py"]
    new = Display(given, cwd=cwd)
    old = _display_as_before(given, cwd)
    shown = [str(work / "app" / "api" / "r.py"), str(work / "app" / "t.py"), str(work / "real" / "m.py"),
             str(work / "linked" / "m.py"), str(work / "app" / "alias.py"), str(work / "loop_a"),
             str(work / "app" / "missing.py"), str(work / "other.py"), str(work / "app" / "api" / ".." / "t.py"),
             "/etc/hosts", str(tmp_path / "elsewhere.py"), "relative/x.py"]
    assert [new(p) for p in shown] == [old(p) if os.path.isabs(p) else os.path.normpath(p) for p in shown]
    for partial in (given[:2], given[1:4], given[5:8], given[::-1]):
        assert [Display(partial, cwd=cwd)(p) for p in shown if os.path.isabs(p)] == \
            [_display_as_before(partial, cwd)(p) for p in shown if os.path.isabs(p)], partial
