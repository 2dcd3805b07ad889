"""Check these paths: the project, the on-disk cache and the worker processes together.

The runner sits above the project and the engine, which know nothing of caches or
workers; `check` (and the benchmark) call it.
"""

from __future__ import annotations

from pathlib import Path

from bgtask_lint.config import Settings
from bgtask_lint.parallel import paused_gc

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Mapping

    from bgtask_lint.results import CheckResult


def check_paths(paths: list[Path], settings: Settings, root: Path | None = None, *,
                jobs: int | None = 1, cache: bool = False, index_to=None,
                overrides: "Mapping[Path, str] | None" = None) -> "CheckResult":
    """Check files and directories. `jobs`: worker processes (None: one per CPU; see
    parallel.py); `cache`: reuse the findings of unchanged files from `.bgtask_lint_cache/`
    in the project root (see bgtask_lint/cache/); `index_to`: see `check_cached`;
    `overrides`: texts that stand for the files' content (`fix --diff`: its fixes, not
    written), read from the cache but never stored in it."""
    with paused_gc():  # the project is freed before the collector runs again
        result = None
        if cache:
            # imported here: a warm cached run answers without importing the checker at all
            from bgtask_lint.cache import check_cached

            result = check_cached(paths, settings, root, jobs, index_to, overrides)
        if result is None:
            result = check_project(paths, settings, root, jobs, overrides)
    return result


def check_project(paths: list[Path], settings: Settings, root: Path | None, jobs: int | None,
                  overrides: "Mapping[Path, str] | None" = None) -> "CheckResult":
    """Index the project and check the targets (in workers when there are many)."""
    from bgtask_lint.parallel import check_modules
    from bgtask_lint.project import Project
    from bgtask_lint.results import CheckResult

    project = Project.load(paths, settings, root, overrides)
    result = CheckResult(errors=project.errors)
    modules = [project.index.by_path[path] for path in project.targets]
    by_path = check_modules(project, modules, jobs)
    for module in modules:
        findings, hidden = by_path[module.path]
        result.findings.extend(findings)
        result.hidden_in_tests += hidden
        result.files_checked += 1
    result.findings.sort()
    return result
