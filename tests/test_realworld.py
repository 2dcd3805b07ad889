"""The real-world development corpus (realworld/): bgtask-lint runs over open-source
FastAPI applications without a crash, and per-code precision and recall do not drop
below what realworld/baseline.json records. Deselect with `-m 'not realworld'`."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REALWORLD = Path(__file__).parent.parent / "realworld"

pytestmark = pytest.mark.realworld


def _score_module():
    spec = importlib.util.spec_from_file_location("realworld_score", REALWORLD / "score.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("realworld_score", module)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus_runs():
    score = _score_module()
    return score, score.run_corpus()


def test_every_app_is_checked_without_a_crash(corpus_runs) -> None:
    _, runs = corpus_runs
    assert len(runs) >= 12
    crashed = {run.name: run.crashed for run in runs if run.crashed}
    assert not crashed, crashed
    assert all(run.findings for run in runs), [run.name for run in runs if not run.findings]


def test_precision_and_recall_hold_per_code(corpus_runs) -> None:
    score, runs = corpus_runs
    if sys.version_info < (3, 11):
        # letta and phoenix use Python 3.11 syntax (`except*`, `Select[*tuple[...]]`): those
        # modules are one error line each, which says so, and their findings are not there
        unreadable = [line for run in runs for line in run.errors]
        assert unreadable and all("which needs Python 3.11 or newer" in line for line in unreadable), unreadable
        pytest.skip("the recorded scores need a Python that parses the whole corpus (3.11 or newer)")
    scores, _, _ = score.score(runs)
    floor = json.loads((REALWORLD / "baseline.json").read_text())
    drops = []
    for code, recorded in floor.items():
        now = scores.get(code)
        for measure in ("precision", "recall"):
            wanted = recorded[measure]
            got = getattr(now, measure) if now is not None else None
            if wanted is not None and (got is None or got < wanted - 1e-9):
                drops.append(f"{code} {measure}: {got} < recorded {wanted:.3f}")
    assert not drops, "\n" + "\n".join(drops) + "\n\n" + score.table(scores)
