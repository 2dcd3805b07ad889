"""The README's integration advice, tried with the real tools: ruff deletes our noqa
comments unless `external = ["BGT"]`, and the pre-commit hooks honour `exclude` for the
file names pre-commit passes (`--force-exclude` in .pre-commit-hooks.yaml)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from test_pre_commit import _commit, repo, try_repo  # noqa: F401 (repo is a fixture)

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

APP = """\
from fastapi import BackgroundTasks


def endpoint(background_tasks: BackgroundTasks, path: str):
    background_tasks.add_task(process_csv(path))  # noqa: BGT101


def process_csv(path: str):
    return path
"""


def _ruff(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *args, "."],
                          cwd=project, capture_output=True, text=True, timeout=120)


def _bgtask_lint(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bgtask_lint", "check", "--no-cache", "."],
                          cwd=project, capture_output=True, text=True, timeout=120)


@pytest.fixture()
def ruff_available() -> None:
    probe = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail("ruff is not installed: it is in the test extra (pip install -e '.[test]')")


@pytest.mark.parametrize("select", ['["RUF"]', '["ALL"]'])
def test_ruff_fix_deletes_our_noqa_without_external(tmp_path: Path, select: str, ruff_available) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.ruff.lint]\nselect = {select}\n")
    (tmp_path / "app.py").write_text(APP)
    assert _bgtask_lint(tmp_path).returncode == 0  # suppressed
    _ruff(tmp_path, "--fix")
    assert "# noqa: BGT101" not in (tmp_path / "app.py").read_text()
    found = _bgtask_lint(tmp_path)  # the suppressed finding is back
    assert found.returncode == 1 and "app.py:5:31: BGT101" in found.stdout


@pytest.mark.parametrize("select", ['["RUF"]', '["ALL"]'])
def test_ruff_keeps_our_noqa_with_external(tmp_path: Path, select: str, ruff_available) -> None:
    # the README's snippet, verbatim
    snippet = README.split("<!-- ruff-external -->", 2)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    assert 'external = ["BGT"]' in snippet
    (tmp_path / "pyproject.toml").write_text(snippet.replace("select = [\"RUF\"]", f"select = {select}"))
    (tmp_path / "app.py").write_text(APP)
    result = _ruff(tmp_path, "--fix", "--output-format", "concise")
    assert not re.search(r"RUF10[02]", result.stdout)  # not reported as an unknown code either
    # (with "ALL" ruff fixes other things in the file; the suppression stays)
    assert "background_tasks.add_task(process_csv(path))  # noqa: BGT101" in (tmp_path / "app.py").read_text()
    assert _bgtask_lint(tmp_path).returncode == 0


def test_ruff_check_without_fix_names_the_code_it_would_delete(tmp_path: Path, ruff_available) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["RUF"]\n')
    (tmp_path / "app.py").write_text(APP)
    result = _ruff(tmp_path, "--output-format", "concise")
    assert result.returncode == 1
    assert "app.py:5:" in result.stdout and "BGT101" in result.stdout  # RUF102 (RUF100 on older ruff)


@pytest.mark.slow
def test_hooks_skip_excluded_files_that_pre_commit_names(repo: Path) -> None:  # noqa: F811
    vendored = repo / "vendor"
    vendored.mkdir()
    (vendored / "legacy.py").write_text("def legacy(background_tasks, p):\n"
                                        "    background_tasks.add_task(print(p))\n")
    (repo / "pyproject.toml").write_text("[project]\nname = 'project'\n\n"
                                         "[tool.bgtask-lint]\nexclude = [\"vendor\"]\n")
    (repo / "tasks.py").write_text("def process_csv(path):\n    return path\n")
    _commit(repo)
    for hook in ("bgtask-lint", "bgtask-lint-fix"):
        result = try_repo(repo, hook, "vendor/legacy.py", "main.py")
        assert result.returncode == 0 and "Passed" in result.stdout, hook
        assert "legacy.py" not in result.stdout
    assert "add_task(print(p))" in (vendored / "legacy.py").read_text()
