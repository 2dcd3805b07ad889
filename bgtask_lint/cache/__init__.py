"""The on-disk cache: the findings of files whose inputs have not changed since the last run.

Split by job:

* store.py   packs on disk (identity, atomic writes, pruning, findings as JSON);
* scan.py    what is on disk now, trusting file metadata as ruff and git do;
* deps.py    what one file's results depend on, as recorded from the index's own answers,
             and whether that still holds;
* facts.py   project-wide facts (the task table, session flows), assembled from cached
             per-module parts;
* check.py   the cached check: which entries still hold, re-check the rest through the
             usual Project and worker machinery, save.

`check_cached` is what the runner calls; `LAST_RUN` says what the last cached run did
(for tests and the benchmark).
"""

from __future__ import annotations

from pathlib import Path

from bgtask_lint.cache.store import CACHE_DIR, LAST_RUN

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from bgtask_lint.config import Settings
    from bgtask_lint.results import CheckResult

__all__ = ["CACHE_DIR", "LAST_RUN", "check_cached"]



def check_cached(paths: list[Path], settings: "Settings", root: Path | None,
                 jobs: int | None, index_to=None, overrides=None) -> "CheckResult | None":
    """check_paths with the cache; None when the cache cannot be used for these paths (then
    the runner checks without it: a fault in the cache never costs the user the check).
    `index_to`: handed the run's index, when it built one; `overrides`: texts standing for
    files' content, never stored (see cache/check.py)."""
    from bgtask_lint.cache.check import check_cached as run

    try:
        return run(paths, settings, root, jobs, index_to, overrides)
    except Exception as exc:  # noqa: BLE001 - recorded, and the tests fail on it
        LAST_RUN["failed"] = f"{type(exc).__name__}: {exc}"
        return None
