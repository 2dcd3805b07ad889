"""A check splits a module into lines only when a finding needs them: its noqa comment
(only a module that has one) or its column in characters (only a module that is not
ASCII). Splitting every module was 1.3 s of litellm's check."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgtask_lint import context, engine
from bgtask_lint.config import Settings
from bgtask_lint.project import Project

TASK = '''\
import time


async def go():
    time.sleep(1){comment}
    return "{text}"
'''


def _check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, comment: str = "", text: str = "x"):
    path = tmp_path / "app.py"
    path.write_text(TASK.format(comment=comment, text=text), encoding="utf-8")
    splits: list[str] = []
    for module in (engine, context):
        split = module.source_lines

        def counting(source: str, *args, _split=split, **kwargs):
            splits.append(source)
            return _split(source, *args, **kwargs)

        monkeypatch.setattr(module, "source_lines", counting)
    project = Project.load([tmp_path], Settings(select=("BGT301",)))
    return project.check(project.module(path.resolve())), splits


def test_an_ascii_module_without_noqa_is_not_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    findings, splits = _check(tmp_path, monkeypatch)
    assert [(f.code, f.line, f.col) for f in findings] == [("BGT301", 5, 4)]
    assert splits == []


def test_a_noqa_comment_still_hides_its_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    findings, splits = _check(tmp_path, monkeypatch, comment="  # NoQA: BGT301")
    assert findings == [] and len(splits) == 1
    findings, _ = _check(tmp_path, monkeypatch, comment="  # noqa: BGT999")
    assert [f.code for f in findings] == ["BGT301"]


def test_a_module_that_is_not_ascii_counts_columns_in_characters(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "app.py"
    path.write_text('import time\n\n\nasync def go():\n    é = 1; time.sleep(é)\n', encoding="utf-8")
    project = Project.load([tmp_path], Settings(select=("BGT301",)))
    findings = project.check(project.module(path.resolve()))
    assert [(f.line, f.col) for f in findings] == [(5, len("    é = 1; "))]
