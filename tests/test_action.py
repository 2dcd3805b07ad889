"""The GitHub Action: action.yml's wiring, and its script (scripts/action_run.sh) run
locally the way the runner runs it (GITHUB_* variables, INPUT_* from action.yml, a temp
project in the workspace): annotations on stdout, the SARIF file, the step's outputs and
exit status. The slow test installs bgtask-lint from the action's own checkout into a
fresh venv, as a workflow using the action does."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "scripts" / "action_run.sh"
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the action's script is bash")

BUGGY = """\
from fastapi import BackgroundTasks


def endpoint(background_tasks: BackgroundTasks, path: str):
    background_tasks.add_task(process_csv(path))


def process_csv(path: str):
    return path
"""
ANNOTATION = re.compile(r"^::error file=app\.py,line=5,col=31,endLine=5,endColumn=48,"
                        r"title=BGT101 add-task-call-result::task argument calls process_csv\(\) now")


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    work = tmp_path / "workspace"
    work.mkdir()
    (work / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    (work / "app.py").write_text(BUGGY)
    return work


def run_action(workspace: Path, **inputs: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """The step as action.yml runs it: bash on the script, from the workspace."""
    output = workspace.parent / "github_output"
    output.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update(
        GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(workspace), GITHUB_ACTION_PATH=str(ROOT),
        GITHUB_OUTPUT=str(output), RUNNER_TEMP=str(workspace.parent / "runner_temp"),
        # the venv's bgtask-lint first on PATH, for version: installed
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    (workspace.parent / "runner_temp").mkdir(exist_ok=True)
    env.update({"INPUT_" + key.upper(): value for key, value in inputs.items()})
    result = subprocess.run(["bash", str(SCRIPT)], cwd=workspace, env=env, capture_output=True, text=True,
                            timeout=900)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return result, outputs


def test_findings_become_annotations_and_fail_the_step(workspace: Path) -> None:
    result, outputs = run_action(workspace, version="installed", args="check --no-cache")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and ANNOTATION.match(lines[0]), result.stdout
    assert outputs == {"exit-code": "1"}
    assert not (workspace / "bgtask-lint.sarif").exists()


def test_sarif_is_written_even_when_findings_fail_the_step(workspace: Path) -> None:
    result, outputs = run_action(workspace, version="installed", args="check --no-cache", sarif="true",
                                 sarif_file="out/bgtask.sarif")
    assert result.returncode == 1, result.stderr
    assert ANNOTATION.match(result.stdout.splitlines()[0])
    assert outputs == {"sarif-file": "out/bgtask.sarif", "exit-code": "1"}
    log = json.loads((workspace / "out" / "bgtask.sarif").read_text())
    errors = list(jsonschema.Draft4Validator(SCHEMA).iter_errors(log))
    assert not errors, errors[0].message
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["BGT101"]
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "app.py" and location["region"]["startLine"] == 5


def test_clean_project_passes_and_args_and_src_are_passed_on(workspace: Path) -> None:
    (workspace / "other").mkdir()
    (workspace / "other" / "clean.py").write_text("def f():\n    return 1\n")
    # the BGT101 of app.py is out of --select, and src names only the clean directory
    result, outputs = run_action(workspace, version="installed", args="check --no-cache --select BGT4",
                                 src="other app.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "" and outputs == {"exit-code": "0"}
    result, _ = run_action(workspace, version="installed", args="check --no-cache", src="other")
    assert result.returncode == 0 and result.stdout == ""


def test_an_error_is_exit_2_and_an_annotation(workspace: Path) -> None:
    result, outputs = run_action(workspace, version="installed", args="check --no-cache --select BGT999")
    assert result.returncode == 2
    assert outputs == {"exit-code": "2"}
    result, outputs = run_action(workspace, version="0.0.0.invalid-no-such-release", python=sys.executable)
    assert result.returncode == 2
    assert "::error::could not install bgtask-lint from 'bgtask-lint==0.0.0.invalid-no-such-release'" \
        in result.stdout


def test_action_yml_runs_the_script_and_uploads_sarif_only_when_asked() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {"args", "src", "version", "sarif", "sarif-file", "python"}
    run_step, upload = action["runs"]["steps"]
    assert "scripts/action_run.sh" in run_step["run"] and "$GITHUB_ACTION_PATH" in run_step["run"]
    # every input reaches the script under the name the script reads
    script = SCRIPT.read_text()
    for name in action["inputs"]:
        variable = "INPUT_" + name.upper().replace("-", "_")
        assert run_step["env"][variable] == "${{ inputs.%s }}" % name and variable in script
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert "inputs.sarif == 'true'" in upload["if"] and "!cancelled()" in upload["if"]
    assert upload["with"]["sarif_file"] == "${{ steps.run.outputs.sarif-file }}"


@pytest.mark.slow
def test_installs_from_the_actions_own_checkout(workspace: Path) -> None:
    # version "" (the default): pip install GITHUB_ACTION_PATH into a venv under RUNNER_TEMP
    result, outputs = run_action(workspace, python=sys.executable, args="check --no-cache")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "::group::Install bgtask-lint (" + str(ROOT) + ")" in result.stdout
    assert any(ANNOTATION.match(line) for line in result.stdout.splitlines())
    assert (workspace.parent / "runner_temp" / "bgtask-lint-venv" / "bin" / "bgtask-lint").exists()
    assert outputs == {"exit-code": "1"}
