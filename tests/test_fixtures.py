"""Every fixture's findings are exactly its `# BGTxxx` markers; as `# noqa` they vanish."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bgtask_lint.config import Settings
from bgtask_lint.runner import check_paths
from markers import FIXTURES, describe, expected_in, expected_under, found_by, markers_to_noqa

RULE_FIXTURES = sorted((FIXTURES / "rules").glob("*.py"))
# hand-written cross-module projects, and a blind-labelled corpus of realistic apps
PROJECTS = sorted(p for d in ("projects", "corpus") for p in (FIXTURES / d).iterdir() if p.is_dir())


def _compare(expected: set, found: set) -> None:
    missing, extra = expected - found, found - expected
    assert not missing and not extra, "\n" + describe(missing, extra)


@pytest.mark.parametrize("fixture", RULE_FIXTURES, ids=lambda p: p.stem)
def test_rule_fixture(fixture: Path) -> None:
    base = fixture.parent
    result = check_paths([fixture], Settings(), root=base)
    assert not result.errors
    _compare(expected_in(fixture, base), found_by(result.findings, base))


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_project_fixture(project: Path) -> None:
    result = check_paths([project], Settings(), root=project)
    assert not result.errors
    expected = expected_under(project)
    assert expected, "a project fixture must expect findings"
    _compare(expected, found_by(result.findings, project))


@pytest.mark.parametrize("fixture", RULE_FIXTURES, ids=lambda p: p.stem)
def test_rule_fixture_noqa(fixture: Path, tmp_path: Path) -> None:
    copy = tmp_path / fixture.name
    copy.write_text(markers_to_noqa(fixture.read_text(encoding="utf-8")), encoding="utf-8")
    result = check_paths([copy], Settings(), root=tmp_path)
    assert result.findings == []


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_project_fixture_noqa(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / project.name
    shutil.copytree(project, copy)
    for path in copy.rglob("*.py"):
        path.write_text(markers_to_noqa(path.read_text(encoding="utf-8")), encoding="utf-8")
    result = check_paths([copy], Settings(), root=copy)
    assert result.findings == []


def test_every_rule_has_a_fixture_with_findings() -> None:
    from bgtask_lint.rules import all_rules

    expected_codes = {code for f in RULE_FIXTURES for _, _, code in expected_in(f, f.parent)}
    missing = [rule.code for rule in all_rules() if rule.code not in expected_codes]
    assert not missing
