"""README.md says what the program does: its sections in a user's order, every option of
`check`/`fix` and every `[tool.bgtask-lint]` key documented, the module map complete,
the integration snippets pointing at things that exist, the root rule as `--verbose`
prints it. (The rules table: tests/test_rules_doc.py; ruff and pre-commit advice run for
real: tests/test_docs_integrations.py; the action: tests/test_action.py.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bgtask_lint import config

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETUP = [  # what CI (.ci/run) and new users run: the README must keep them, first, verbatim
    "python3 -m venv .venv && .venv/bin/python -m pip install -e . && .venv/bin/bgtask-lint check --exit-zero examples/",
    'python3 -m venv .venv && .venv/bin/python -m pip install -e ".[test]" && .venv/bin/python -m pytest',
]


def _section(heading: str) -> str:
    return README.split(heading + "\n", 1)[1].split("\n## ", 1)[0]


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def test_the_two_setup_commands_come_first_unchanged() -> None:
    assert README.startswith("# bgtask-lint\n\n```sh\n" + "\n".join(SETUP) + "\n```\n")


def test_sections_in_a_users_order() -> None:
    headings = re.findall(r"^## (.+)$", README, re.MULTILINE)
    assert headings == ["What it catches", "Install", "Check", "Fix", "Rules", "Integrate", "Configure", "Develop"]
    integrate = re.findall(r"^### (.+)$", _section("## Integrate"), re.MULTILINE)
    assert integrate == ["pre-commit", "CI: GitHub Actions", "Editors", "flake8", "Next to ruff", "LibCST codemods"]
    assert README.count("Editors") == 1


@pytest.mark.parametrize("command", ["check", "fix"])
def test_every_option_is_documented(command: str) -> None:
    help_text = subprocess.run([sys.executable, "-m", "bgtask_lint", command, "--help"], capture_output=True,
                               text=True, check=True).stdout
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", help_text)) - {"--help"}
    assert len(options) > 10
    missing = sorted(option for option in options if not re.search(rf"{option}(?![a-z-])", README))
    assert not missing, f"README.md does not mention {missing}"


def test_every_setting_is_in_the_configure_example() -> None:
    example = _blocks(_section("## Configure"), "toml")[0]
    keys = set(re.findall(r"^([a-z-]+) =", example, re.MULTILINE))
    assert keys == config._KNOWN_KEYS
    # and the example is valid configuration
    tomllib = config.toml_parser()  # tomli on Python 3.10
    config.settings_from_table(tomllib.loads(example)["tool"]["bgtask-lint"], "README")


def test_module_map_lists_every_module() -> None:
    table = _section("## Develop").split("**Module map.**", 1)[1]
    listed = set(re.findall(r"^\| `([^`]+)`", table, re.MULTILINE))
    package = ROOT / "bgtask_lint"
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative.startswith("rules/bgt"):
            relative = "rules/bgtNNN_*.py"
        assert relative in listed, f"the README's module map has no line for bgtask_lint/{relative}"
    codemods_row = next(line for line in table.splitlines() if line.startswith("| `codemods/`"))
    for path in sorted((ROOT / "codemods").glob("_*.py")):
        if path.name != "__init__.py":
            assert path.name in codemods_row


def test_pre_commit_snippet_names_the_hooks_and_a_release() -> None:
    snippet = yaml.safe_load(_blocks(_section("### pre-commit"), "yaml")[0])
    (repo,) = snippet["repos"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", repo["rev"])
    hooks = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert [hook["id"] for hook in repo["hooks"]] == ["bgtask-lint-fix", "bgtask-lint"]
    assert set(hooks) == {"bgtask-lint", "bgtask-lint-fix"}
    for hook in hooks.values():  # pre-commit names the files: exclude must still apply
        assert "--force-exclude" in hook["entry"].split()
    # the release the snippets name is the package's version
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)[1]
    assert repo["rev"] == f"v{version}" or repo["rev"] == "v0.2.0"


def test_ci_snippet_uses_the_action_with_its_real_inputs() -> None:
    section = _section("## Integrate").split("### CI: GitHub Actions", 1)[1].split("\n### ", 1)[0]
    workflow = yaml.safe_load(_blocks(section, "yaml")[0])
    steps = workflow["jobs"]["bgtask-lint"]["steps"]
    action_step = next(step for step in steps if step.get("uses", "").startswith("bgtask-lint/bgtask-lint@"))
    pre_commit_rev = yaml.safe_load(_blocks(_section("### pre-commit"), "yaml")[0])["repos"][0]["rev"]
    assert action_step["uses"].endswith("@" + pre_commit_rev)
    inputs = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    assert set(action_step.get("with", {})) <= set(inputs)
    for name in inputs:
        assert f"`{name}`" in section, f"the README does not document the action's input {name}"


def test_libcst_snippet_and_commands_exist() -> None:
    section = _section("## Integrate").split("### LibCST codemods", 1)[1]
    snippet = yaml.safe_load(_blocks(section, "yaml")[0])
    assert "bgtask_lint.codemods" in snippet["modules"]
    assert snippet == yaml.safe_load((ROOT / ".libcst.codemod.yaml").read_text())
    import importlib

    commands = set(re.findall(r"`?(\w+)\.(\w+Command)\b", section))
    assert len(commands) == 6
    for module, name in commands:
        assert hasattr(importlib.import_module(f"bgtask_lint.codemods.{module}"), name)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_nested_root_is_explained_as_verbose_prints_it(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    api = repo / "services" / "api"
    (api / "app").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (api / "pyproject.toml").write_text("[project]\nname = 'api'\n")
    (api / "app" / "main.py").write_text("x = 1\n")
    result = subprocess.run([sys.executable, "-m", "bgtask_lint", "check", "-v", "--no-cache", "services/api/app"],
                            cwd=repo, capture_output=True, text=True)
    printed = [line.replace(str(repo.resolve()), "/src/repo") for line in result.stderr.splitlines()]
    example = _blocks(_section("## Configure"), "text")[0].splitlines()
    for line in example:
        assert line in printed, f"--verbose no longer prints {line!r}: {printed}"
