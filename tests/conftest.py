import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
# every tree a fix splices (bgtask_lint/fix_splice.py) is compared with a parse of its
# text, in this process and in the bgtask-lint processes the tests start
os.environ["BGTASK_LINT_CHECK_SPLICES"] = "1"

import pytest  # noqa: E402


@pytest.fixture(params=["whole", "cut"])
def whole_and_cut_modules(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a fix test twice: each command sees the whole module, then only the skeleton
    that big modules get (bgtask_lint/fix_skeleton.py): the fix must not depend on it."""
    from bgtask_lint import fix

    monkeypatch.setattr(fix, "SKELETON_MIN_CHARS", 10**9 if request.param == "whole" else 0)
    return request.param


@pytest.fixture(params=["whole", "delta"])
def deps_whole_and_delta(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a cache test twice: every run writes the whole deps file, then every run that
    can writes only its delta (bgtask_lint/cache/store.py): the findings must not depend on it."""
    from bgtask_lint.cache import store

    if request.param == "whole":
        monkeypatch.setattr(store._DepsRead, "delta", lambda self, deps: None)
    else:
        monkeypatch.setattr(store, "DELTA_SHARE", 10.0**9)
    return request.param
