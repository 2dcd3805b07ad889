"""The flake8 plugin, through a real flake8 process, agrees finding for finding with the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bgtask_lint.config import Settings
from bgtask_lint.runner import check_paths
from markers import FIXTURES

EXAMPLES = Path(__file__).parent.parent / "examples"
PROJECTS = sorted(p for p in (FIXTURES / "projects").iterdir() if p.is_dir())


def flake8(args: list[str], cwd: Path, stdin: str | None = None) -> set[tuple[str, int, int, str]]:
    proc = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "BGT", "--format",
         "%(path)s|%(row)d|%(col)d|%(code)s", *args],
        capture_output=True, text=True, cwd=cwd, input=stdin,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    found = set()
    for line in proc.stdout.splitlines():
        path, row, col, code = line.split("|")
        found.add((Path(path).as_posix().removeprefix("./"), int(row), int(col), code))
    return found


def as_project(source: Path, tmp_path: Path) -> Path:
    """A copy of a fixture directory as a project of its own (a pyproject.toml marks its
    root), so that flake8 and the CLI see the same root. In place, the fixtures sit under
    this repository's `tests/` directory, where the test-file default applies."""
    import shutil

    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    (copy / "pyproject.toml").write_text("")
    return copy


def cli(paths: list[Path], root: Path) -> set[tuple[str, int, int, str]]:
    result = check_paths(paths, Settings(), root=root)
    return {(f.path.relative_to(root.resolve()).as_posix(), f.line, f.col + 1, f.code) for f in result.findings}


def test_rule_fixtures_whole_directory(tmp_path: Path) -> None:
    base = as_project(FIXTURES / "rules", tmp_path)
    expected = cli([base], base)
    assert expected
    assert flake8(["."], base) == expected


@pytest.mark.parametrize("project", [*PROJECTS, EXAMPLES], ids=lambda p: p.name)
def test_projects_cross_module(project: Path, tmp_path: Path) -> None:
    project = as_project(project, tmp_path)
    expected = cli([project], project)
    assert expected
    assert flake8(["."], project) == expected


def test_one_file_on_stdin_sees_the_other_modules() -> None:
    tasks = EXAMPLES / "upload_app" / "tasks.py"
    expected = {f for f in cli([EXAMPLES], EXAMPLES) if f[0] == "upload_app/tasks.py"}
    # BGT401 in tasks.py exists only because main.py schedules those functions
    assert any(code == "BGT401" for *_, code in expected)
    found = flake8(["--stdin-display-name", "upload_app/tasks.py", "-"], EXAMPLES,
                   stdin=tasks.read_text(encoding="utf-8"))
    assert found == expected


def test_stdin_uses_the_editor_text_not_the_disk() -> None:
    tasks = EXAMPLES / "upload_app" / "tasks.py"
    edited = tasks.read_text(encoding="utf-8") + "\n\nasync def later():\n    time.sleep(1)\n"
    found = flake8(["--stdin-display-name", "upload_app/tasks.py", "-"], EXAMPLES, stdin=edited)
    last_line = len(edited.splitlines())
    assert ("upload_app/tasks.py", last_line, 5, "BGT301") in found


def test_flake8_noqa_and_options(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[flake8]\n")
    (tmp_path / "guards.py").write_text(
        "def task(x):\n    work(x)\n\n"
        "def endpoint(background_tasks):\n    background_tasks.add_task(task, 1)\n"
    )
    assert flake8(["guards.py"], tmp_path) == {("guards.py", 1, 1, "BGT401")}
    (tmp_path / "guards.py").write_text(
        "from app.deco import guarded\n\n@guarded\ndef task(x):\n    work(x)\n\n"
        "def endpoint(background_tasks):\n    background_tasks.add_task(task, 1)\n"
    )
    assert flake8(["guards.py"], tmp_path) == {("guards.py", 4, 1, "BGT401")}
    assert flake8(["--bgtask-guard-decorators", "app.deco.guarded", "guards.py"], tmp_path) == set()


def test_a_tree_without_markers_is_one_project_for_flake8_too(tmp_path: Path) -> None:
    """An unpacked wheel has no pyproject.toml, setup.cfg or .git: `check .` roots it at
    the directory it is run in. flake8 (one file at a time) and `check <one file>` root
    it above the package holding the file, also from a directory without `__init__.py`
    inside that package (`app/utils/` beside `app/__init__.py`): the task that
    `app/jobs.py` schedules from `app/utils/timers.py` is seen from every front end."""
    tree = tmp_path / "wheel"
    (tree / "app" / "utils").mkdir(parents=True)
    (tree / "app" / "__init__.py").write_text("")
    (tree / "app" / "utils" / "timers.py").write_text(
        "async def fire_timer(timer_id):\n    await store.fire(timer_id)\n")
    (tree / "app" / "jobs.py").write_text(
        "import asyncio\n\n\nasync def tick(timer_id):\n"
        "    from app.utils.timers import fire_timer\n\n"
        "    asyncio.create_task(fire_timer(timer_id))\n")
    # a module called setup.py inside a package is no project marker
    (tree / "app" / "initial").mkdir()
    (tree / "app" / "initial" / "__init__.py").write_text("")
    (tree / "app" / "initial" / "setup.py").write_text(
        "from app.utils.timers import settle\n\n\nasync def sync_flows():\n    settle()\n")
    (tree / "app" / "utils" / "timers.py").write_text(
        "import time\n\n\nasync def fire_timer(timer_id):\n    await store.fire(timer_id)\n\n\n"
        "def settle():\n    time.sleep(1)\n")
    whole = cli([tree], tree)
    assert {("app/utils/timers.py", 4, 1, "BGT401"), ("app/initial/setup.py", 5, 5, "BGT302")} <= whole
    assert flake8(["."], tree) == whole
    for module, expected in (("app/utils/timers.py", [(4, "BGT401")]), ("app/initial/setup.py", [(5, "BGT302")])):
        alone = check_paths([tree / module], Settings())
        assert [(f.line, f.code) for f in alone.findings] == expected, module


def test_a_module_called_setup_in_a_namespace_part_of_a_package_is_no_root(tmp_path: Path) -> None:
    """marimo's `marimo/_mcp/setup.py` (no `__init__.py` in `_mcp/`) sets up a server: a
    module, not a project root. Files beside it (an editor, flake8, pre-commit) were rooted
    at `_mcp/`, and split from the rest of the package when named together."""
    from bgtask_lint.files import find_project_root, projects_of

    tree = tmp_path / "repo"
    (tree / "marimo" / "_mcp" / "server").mkdir(parents=True)
    (tree / ".git").mkdir()
    (tree / "marimo" / "__init__.py").write_text("")
    (tree / "marimo" / "_mcp" / "setup.py").write_text("def setup_mcp_server(app):\n    return app\n")
    (tree / "marimo" / "_mcp" / "server" / "main.py").write_text("x = 1\n")
    (tree / "marimo" / "jobs.py").write_text("x = 1\n")
    assert find_project_root(tree / "marimo" / "_mcp" / "server" / "main.py") == tree
    assert find_project_root(tree / "marimo" / "_mcp" / "setup.py") == tree
    named = [tree / "marimo" / "_mcp" / "server" / "main.py", tree / "marimo" / "jobs.py"]
    assert projects_of(named) == [(tree, named)]
    # a setup.py outside any package is a root, as before
    (tree / "tools").mkdir()
    (tree / "tools" / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    assert find_project_root(tree / "tools" / "setup.py") == tree / "tools"


def test_no_root_above_a_package_in_home_and_three_namespace_levels(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A package right in the home directory (or at /, as `/app` in a container) is not
    rooted above it: that would index the whole home directory. Namespace parts are
    followed three levels down, too."""
    from bgtask_lint.files import package_home

    home = tmp_path / "home"
    (home / "tools" / "jobs" / "nightly" / "batch").mkdir(parents=True)
    (home / "tools" / "__init__.py").write_text("")
    monkeypatch.setenv("HOME", str(home))
    assert Path.home() == home
    assert package_home(home / "tools") == home / "tools"
    assert package_home(home / "tools" / "jobs" / "nightly" / "batch") == home / "tools" / "jobs" / "nightly" / "batch"
    work = tmp_path / "work"
    (work / "pkg" / "a" / "b" / "c").mkdir(parents=True)
    (work / "pkg" / "__init__.py").write_text("")
    assert package_home(work / "pkg" / "a" / "b" / "c") == work


def test_no_root_above_a_package_in_the_temporary_directory_or_site_packages(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`/tmp/app/` or `site-packages/app/` with no marker above: rooted at the package, not
    at the directory unrelated projects share (walking all of `/tmp` took 33 s)."""
    import tempfile

    from bgtask_lint.files import package_home, paths_root

    shared_tmp = tmp_path / "tmp"
    (shared_tmp / "app" / "routers").mkdir(parents=True)
    (shared_tmp / "app" / "__init__.py").write_text("")
    (shared_tmp / "app" / "routers" / "__init__.py").write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(shared_tmp))
    assert package_home(shared_tmp / "app" / "routers") == shared_tmp / "app" / "routers"
    assert paths_root([shared_tmp / "app"]) == shared_tmp / "app"
    from click.testing import CliRunner

    from bgtask_lint.cli import main

    result = CliRunner().invoke(main, ["check", "--verbose", "--no-cache", str(shared_tmp / "app")])
    assert (f"bgtask-lint: project root: {shared_tmp / 'app'} (no pyproject.toml, setup.cfg, setup.py, .git "
            f"above the paths: the package itself, since {shared_tmp} is shared by unrelated projects)"
            ) in result.stderr.splitlines()
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    (site / "webapp").mkdir(parents=True)
    (site / "webapp" / "__init__.py").write_text("")
    assert package_home(site / "webapp") == site / "webapp"
    # a package in an ordinary unmarked directory is still rooted above it
    (tmp_path / "work" / "app").mkdir(parents=True)
    (tmp_path / "work" / "app" / "__init__.py").write_text("")
    assert paths_root([tmp_path / "work" / "app"]) == tmp_path / "work"
