"""`fix --diff` with the cache: the fixed texts stand for the files in the checks that
follow (nothing is written, and nothing of them is stored), so the preview re-checks what
a written fix would make stale, not the whole project, and says what `fix` writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgtask_lint import engine
from bgtask_lint.cache.check import FINDINGS, HASH
from bgtask_lint.cli import main
from projects import ENDPOINT_MODULE, TASK_MODULE, write_app

# a scheduling fix in main.py decides jobs.py's finding: the done-callback that BGT103's
# fix adds logs the task's exception, so sync_user's BGT401 goes without a fix of jobs.py
JOBS = """\
import logging

logger = logging.getLogger(__name__)


async def sync_user(user_id: int) -> None:
    await push(user_id)
"""
STARTS = """\
import asyncio

from app.jobs import sync_user


async def start(user_id: int) -> None:
    asyncio.create_task(sync_user(user_id))
"""
UNRELATED = 12  # modules no fix touches or reads


def _app(root: Path, modules: dict[str, str]) -> Path:
    others = {f"plain_{i}": f"def f{i}(x):\n    return x + {i}\n" for i in range(UNRELATED)}
    return write_app(root, {**modules, **others}, name="x")


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def _stored_rows(root: Path) -> dict[str, tuple]:
    """Each file's stored content hash and findings (the main pack's rows; its stamp and
    metadata may be saved again by any run's first check)."""
    [main_pack] = [p for p in (root / ".bgtask_lint_cache").glob("*.json") if not p.name.endswith(".deps.json")]
    rows = json.loads(main_pack.read_text())["files"]
    return {path: (row[HASH], row[FINDINGS]) for path, row in rows.items()}


@pytest.mark.parametrize("modules", [{"jobs": JOBS, "main": STARTS}, {"tasks": TASK_MODULE, "main": ENDPOINT_MODULE}],
                         ids=["decided-elsewhere", "second-round"])
def test_diff_with_the_cache_is_the_diff_without_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    modules: dict[str, str]) -> None:
    _app(tmp_path, modules)
    monkeypatch.chdir(tmp_path)
    uncached = _run("fix", "--diff", "--no-cache", "app")
    assert uncached.stdout.startswith("--- a/app/")
    cold = _run("fix", "--diff", "app")  # the cache is built by its first check
    warm = _run("fix", "--diff", "app")
    for result in (cold, warm):
        assert (result.exit_code, result.stdout, result.stderr) == (uncached.exit_code, uncached.stdout,
                                                                    uncached.stderr)
    # and it is what `fix` writes
    written = tmp_path / "written"
    shutil.copytree(tmp_path / "app", written / "app")
    shutil.copy(tmp_path / "pyproject.toml", written)
    monkeypatch.chdir(written)
    fixed = _run("fix", "app")
    # (the same count; a preview's summary does not list what remains when nothing does)
    assert fixed.stderr.replace("Fixed", "Would fix").split(" file")[0] == uncached.stderr.split(" file")[0]
    for path in (tmp_path / "app").glob("*.py"):
        changed = (written / "app" / path.name).read_text() != path.read_text()
        assert changed == (f"+++ b/app/{path.name}" in uncached.stdout)


def test_diff_leaves_the_cache_describing_the_files_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bgtask_lint.cache import LAST_RUN

    _app(tmp_path, {"jobs": JOBS, "main": STARTS})
    monkeypatch.chdir(tmp_path)
    before = _run("check", "app")
    assert "BGT401" in before.stdout and "BGT103" in before.stdout
    stored = _stored_rows(tmp_path)
    deps = {p.name: p.read_bytes() for p in (tmp_path / ".bgtask_lint_cache").glob("*.deps.json")}
    preview = _run("fix", "--diff", "app")
    assert "+    task = asyncio.create_task(" in preview.stdout
    assert "remain" not in preview.stderr  # sync_user is guarded once main.py is fixed
    # the fixed texts were checked, not stored
    assert _stored_rows(tmp_path) == stored
    assert {p.name: p.read_bytes() for p in (tmp_path / ".bgtask_lint_cache").glob("*.deps.json")} == deps
    after = _run("check", "app")
    assert after.stdout == before.stdout
    assert LAST_RUN.get("fast") is True  # answered from the packs: they still hold


def test_diff_with_the_cache_rechecks_only_what_the_fixes_reach(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _app(tmp_path, {"jobs": JOBS, "main": STARTS})
    monkeypatch.chdir(tmp_path)
    assert _run("check", "app").exit_code == 1
    checked: list[str] = []
    real = engine.check_module

    def counted(module, *args, **kwargs):
        checked.append(module.path.name)
        return real(module, *args, **kwargs)

    monkeypatch.setattr(engine, "check_module", counted)
    monkeypatch.setattr("bgtask_lint.project.check_module", counted)
    result = _run("fix", "--diff", "--jobs", "1", "app")
    assert "+    task = asyncio.create_task(" in result.stdout
    # main.py (fixed) and jobs.py (its task): never the unrelated modules (a whole-project
    # load checked each of them after the fix)
    assert not [name for name in checked if name.startswith("plain_")], checked
    assert {"main.py", "jobs.py"} <= set(checked)
