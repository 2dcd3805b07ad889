""".gitignore matching (bgtask_lint/gitignore.py) against git itself, and discovery with it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgtask_lint.cli import main
from bgtask_lint.gitignore import IgnoreRules, parse_line

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

PATTERNS = [
    "*.log", "/build", "gen/", "!keep.log", "docs/**/tmp", "a/**", "**/cache", "foo[0-9].py", "bar?.py",
    "\\#hash.py", "sp\\ ace.py\\ ", "lit\\*.py", "x/y/z.py", "[!a]bc.py", "nested/deep/", "*.PY",
    "weird[z-a].py", "abc/**/", "tr  ", "[[:digit:]]x.py", "q[\\]]r.py", "# a comment", "", "mid/*/end.py",
    "**/deep2/**", "dash[a-c-].py",
]
SUB_PATTERNS = ["!important.log", "local.py", "/anch.py", "*.txt", "!*.txt/"]
DIRECTORIES = {"gen", "a", "nested/deep", "abc/d", "sub/dir.txt", "k/deep2/m"}
FILES = [
    "x.log", "keep.log", "build/a.py", "sub/build/b.py", "gen/c.py", "sub/gen/d.py", "docs/tmp", "docs/a/b/tmp",
    "docs/x/tmp/f.py", "a/b.py", "cache/e.py", "z/cache/f.py", "foo1.py", "foo.py", "bar1.py", "bar12.py",
    "#hash.py", "sp ace.py ", "sp ace.py", "lit*.py", "litx.py", "x/y/z.py", "q/x/y/z.py", "xbc.py", "abc.py",
    "nested/deep/m.py", "A.PY", "weirdq.py", "abc/d/e.py", "tr", "1x.py", "q]r.py", "sub/important.log",
    "sub/other.log", "sub/local.py", "sub/inner/local.py", "sub/anch.py", "sub/inner/anch.py", "anch.py",
    "sub/t.txt", "sub/dir.txt/f.py", "tmp", "mid/q/end.py", "mid/q/r/end.py", "k/deep2/m/n.py", "dashb.py",
    "dash-.py", "dashd.py",
]


def _ours(root: Path, relative: str) -> bool:
    """As discovery decides: a path is ignored if it or a directory above it is."""
    rules = IgnoreRules.for_directory(root)
    current = root
    for part in Path(relative).parts:
        current = current / part
        is_dir = current.is_dir()
        if rules.ignored(str(current), is_dir):
            return True
        if is_dir:
            rules = rules.entering(current)
    return False


def test_matching_agrees_with_git_check_ignore(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("\n".join(PATTERNS) + "\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("\n".join(SUB_PATTERNS) + "\n")
    (tmp_path / ".git" / "info").mkdir(exist_ok=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("from_info_exclude.py\n")
    for directory in DIRECTORIES:
        (tmp_path / directory).mkdir(parents=True, exist_ok=True)
    for name in [*FILES, "from_info_exclude.py"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    paths = [*FILES, *DIRECTORIES, "from_info_exclude.py"]
    git = subprocess.run(["git", "check-ignore", "--stdin", "-z"], input="\0".join(paths) + "\0",
                         capture_output=True, text=True, cwd=tmp_path)
    ignored_by_git = {p for p in git.stdout.split("\0") if p}
    assert ignored_by_git, git.stderr  # the comparison must be able to fail
    disagreements = [(p, p in ignored_by_git) for p in paths if _ours(tmp_path, p) != (p in ignored_by_git)]
    assert disagreements == []


def test_comments_blank_lines_and_bad_ranges_are_no_rules() -> None:
    assert parse_line("# x") is None and parse_line("") is None and parse_line("   ") is None
    assert parse_line("weird[z-a].py") is None  # git matches nothing with a reversed range
    assert parse_line("!x.py").negated and parse_line("d/").directories_only


DANGLING = "import asyncio\n\n\nasync def handler():\n    asyncio.create_task(work())\n"


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    for name in ("app/main.py", "generated/models.py", "my-env/lib/pkg.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(DANGLING)
    (tmp_path / ".gitignore").write_text("generated/\nmy-env/\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _files(result) -> list[str]:
    return sorted(line.split(":", 1)[0] for line in result.stdout.splitlines())


@pytest.mark.parametrize("cache", ["--no-cache", None])
def test_gitignored_files_are_skipped_by_default(repo: Path, cache: str | None) -> None:
    args = ["check", "."] + ([cache] if cache else [])
    assert _files(CliRunner().invoke(main, args)) == ["app/main.py"]
    assert _files(CliRunner().invoke(main, [*args, "--no-respect-gitignore"])) == [
        "app/main.py", "generated/models.py", "my-env/lib/pkg.py"]


def test_the_setting_and_a_named_ignored_path(repo: Path) -> None:
    (repo / "pyproject.toml").write_text("[tool.bgtask-lint]\nrespect-gitignore = false\n")
    assert len(_files(CliRunner().invoke(main, ["check", "--no-cache", "."]))) == 3
    assert len(_files(CliRunner().invoke(main, ["check", "--no-cache", "--respect-gitignore", "."]))) == 1
    (repo / "pyproject.toml").write_text("[tool.bgtask-lint]\nrespect-gitignore = 'yes'\n")
    result = CliRunner().invoke(main, ["check", "."])
    assert result.exit_code == 2 and "'respect-gitignore' must be true or false" in result.stderr
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    # a path named on the command line is used (as ruff does), even if ignored
    assert _files(CliRunner().invoke(main, ["check", "generated"])) == ["generated/models.py"]


def test_outside_a_git_work_tree_gitignore_means_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "models.py").write_text(DANGLING)
    (tmp_path / ".gitignore").write_text("generated/\n")
    monkeypatch.chdir(tmp_path)
    assert _files(CliRunner().invoke(main, ["check", "--no-cache", "."])) == ["generated/models.py"]


def test_an_ignored_module_is_not_indexed_either(repo: Path) -> None:
    """A task scheduled only from an ignored module is not known to be a task."""
    (repo / "app" / "tasks.py").write_text("def refresh():\n    compute()\n")
    (repo / "generated" / "routes.py").write_text(
        "from fastapi import BackgroundTasks\nfrom app.tasks import refresh\n\n\n"
        "def endpoint(background_tasks: BackgroundTasks):\n    background_tasks.add_task(refresh)\n")
    assert "BGT401" not in CliRunner().invoke(main, ["check", "--no-cache", "app"]).stdout
    assert "app/tasks.py:1:1: BGT401" in CliRunner().invoke(
        main, ["check", "--no-cache", "--no-respect-gitignore", "app"]).stdout
