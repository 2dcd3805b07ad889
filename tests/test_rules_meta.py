"""Each rule's own examples run, and codes, names, docs and fixtures agree."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

import pytest

from bgtask_lint.config import Settings
from bgtask_lint.runner import check_paths
from bgtask_lint.rules import all_rules
from markers import FIXTURES, expected_in

RULES = all_rules()
SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety")


def _check_example(tmp_path: Path, code: str, rule) -> tuple[set, set]:
    path = tmp_path / "example.py"
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    result = check_paths([path], Settings(select=(rule.code,)), root=tmp_path)
    assert not result.errors
    found = {(f.line, f.code) for f in result.findings}
    expected = {(line, code) for _, line, code in expected_in(path, tmp_path)}
    return expected, found


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_valid_examples_give_nothing(rule, tmp_path: Path) -> None:
    assert rule.valid, f"{rule.code} has no valid examples"
    for example in rule.valid:
        expected, found = _check_example(tmp_path, example, rule)
        assert expected == set() and found == set(), example


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_invalid_examples_give_their_markers(rule, tmp_path: Path) -> None:
    assert rule.invalid, f"{rule.code} has no invalid examples"
    for example in rule.invalid:
        expected, found = _check_example(tmp_path, example, rule)
        assert expected and found == expected, example


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_metadata(rule) -> None:
    assert re.fullmatch(r"BGT\d{3}", rule.code)
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
    doc = inspect.cleandoc(rule.__doc__ or "")
    positions = [doc.find(section) for section in SECTIONS]
    assert all(p >= 0 for p in positions), f"{rule.code} docstring lacks a section"
    assert positions == sorted(positions), f"{rule.code} docstring sections out of order"
    assert rule.fix in (None, "safe", "unsafe")
    module = Path(inspect.getfile(rule)).stem
    assert module.startswith(rule.code.lower() + "_"), "one module per rule, named after its code"
    assert module.endswith(rule.name.replace("-", "_"))


def test_codes_and_names_are_unique() -> None:
    assert len({r.code for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)


def test_the_whole_spec_catalogue_is_implemented() -> None:
    spec_codes = {"BGT101", "BGT102", "BGT103", "BGT104", "BGT105", "BGT106", "BGT201", "BGT202", "BGT203",
                  "BGT204", "BGT301", "BGT302", "BGT401", "BGT402", "BGT501"}
    assert {r.code for r in RULES} == spec_codes


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_has_its_fixture_file(rule) -> None:
    fixture = FIXTURES / "rules" / f"{rule.code.lower()}.py"
    assert fixture.exists()
    assert any(code == rule.code for _, _, code in expected_in(fixture, fixture.parent))
