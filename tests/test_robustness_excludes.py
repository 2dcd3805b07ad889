"""Excludes apply below the paths given, whether those are named relatively or absolutely."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bgtask_lint.cli import main

DANGLING = "import asyncio\n\n\nasync def handler():\n    asyncio.create_task(work())\n"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "app.py").write_text(DANGLING)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_path_excludes_apply_to_relative_and_absolute_paths(project: Path) -> None:
    generated = project / "app" / "generated"
    generated.mkdir(parents=True)
    (generated / "models.py").write_text(DANGLING)
    (project / "pyproject.toml").write_text('[tool.bgtask-lint]\nexclude = ["app/generated"]\n')
    for given in (".", str(project), "app", str(project / "app")):
        result = run("check", given)
        assert "models.py" not in result.stdout, (given, result.stdout)
        assert "app.py:5:5: BGT103" in result.stdout or given.endswith("app")


def test_a_directory_named_below_an_excluded_one_is_checked(project: Path) -> None:
    """README: a path named on the command line is always checked, even if exclude
    matches it: the same holds for a directory inside an excluded one (a venv's
    site-packages, build/lib), named relatively or absolutely."""
    site = project / ".venv" / "lib" / "site-packages" / "pkg"
    site.mkdir(parents=True)
    (site / "mod.py").write_text(DANGLING)
    (project / "build" / "lib").mkdir(parents=True)
    (project / "build" / "lib" / "gen.py").write_text(DANGLING)
    for given in (".venv/lib/site-packages", str(project / ".venv" / "lib" / "site-packages"),
                  "build", str(project / "build"), "build/lib", str(project / "build" / "lib")):
        result = run("check", given)
        assert result.exit_code == 1 and " BGT103 " in result.stdout, (given, result.output)
    # and still not when the project is checked as a whole
    result = run("check", str(project))
    assert "mod.py" not in result.stdout and "gen.py" not in result.stdout
