"""The plain value classes (plain.py) behave as the dataclasses they replaced: the same
equality, hashing, order and repr, and they pickle (workers send findings back)."""

from __future__ import annotations

import dataclasses
import itertools
import pickle
import random
from pathlib import Path

import pytest

from bgtask_lint.config import Settings
from bgtask_lint.findings import Finding
from bgtask_lint.results import CheckResult, FileError


@dataclasses.dataclass(frozen=True, order=True)
class ReferenceFinding:  # the declaration Finding had
    path: Path
    line: int
    col: int
    code: str
    message: str
    end_line: int = 0
    end_col: int = 0
    fix: str | None = dataclasses.field(default=None, compare=False)
    fix_title: str | None = dataclasses.field(default=None, compare=False)


def _pairs(count: int) -> list[tuple[Finding, ReferenceFinding]]:
    chosen = random.Random(7)
    pairs = []
    for _ in range(count):
        args = (Path(chosen.choice(["a.py", "b.py", "pkg/a.py"])), chosen.randint(1, 3), chosen.randint(0, 2),
                chosen.choice(["BGT101", "BGT301"]), chosen.choice(["m", "n"]))
        extra = {"end_line": chosen.randint(0, 1), "fix": chosen.choice([None, "safe", "unsafe"]),
                 "fix_title": chosen.choice([None, "t"])}
        pairs.append((Finding(*args, **extra), ReferenceFinding(*args, **extra)))
    return pairs


def test_findings_compare_order_and_hash_as_the_dataclass_did() -> None:
    pairs = _pairs(200)
    for (ours_a, ref_a), (ours_b, ref_b) in itertools.product(pairs[:60], repeat=2):
        assert (ours_a == ours_b) == (ref_a == ref_b)
        assert (ours_a < ours_b) == (ref_a < ref_b)
        assert (ours_a <= ours_b) == (ref_a <= ref_b)
        assert (ours_a > ours_b) == (ref_a > ref_b)
        if ours_a == ours_b:
            assert hash(ours_a) == hash(ours_b)
    order = sorted(range(len(pairs)), key=lambda i: pairs[i][0])
    assert order == sorted(range(len(pairs)), key=lambda i: pairs[i][1])
    assert len({ours for ours, _ in pairs}) == len({ref for _, ref in pairs})


def test_repr_is_the_dataclass_repr() -> None:
    ours, ref = _pairs(1)[0]
    assert repr(ours) == repr(ref).replace("ReferenceFinding(", "Finding(")
    assert repr(Settings()).startswith("Settings(select=('BGT',), ignore=(), ")


def test_values_pickle() -> None:
    ours, _ = _pairs(1)[0]
    assert pickle.loads(pickle.dumps(ours)) == ours
    assert pickle.loads(pickle.dumps(ours)).fix == ours.fix
    settings = Settings(select=("BGT3",), config_path=Path("pyproject.toml"))
    assert pickle.loads(pickle.dumps(settings)).config_path == Path("pyproject.toml")


def test_settings_equal_wherever_they_were_read() -> None:
    read_here = Settings(select=("BGT1",), config_path=Path("a/pyproject.toml"))
    assert read_here == Settings(select=("BGT1",))
    assert hash(read_here) == hash(Settings(select=("BGT1",)))
    assert read_here != Settings(select=("BGT2",))
    assert read_here.with_overrides(select=("BGT2",), ignore=None) == Settings(select=("BGT2",))
    assert read_here.replace(check_tests=True).config_path == Path("a/pyproject.toml")


def test_mutable_values_are_unhashable_and_fresh() -> None:
    first, second = CheckResult(), CheckResult()
    first.findings.append(Finding(Path("a.py"), 1, 0, "BGT101", "m"))
    assert second.findings == []  # no shared default list
    assert FileError(Path("a.py"), "m") == FileError(Path("a.py"), "m")
    with pytest.raises(TypeError):
        hash(first)


def test_frozen_values_refuse_assignment_as_the_dataclass_did() -> None:
    ours, ref = _pairs(1)[0]
    for value, field in ((ours, "line"), (ref, "line"), (Settings(), "select")):
        with pytest.raises(AttributeError):
            setattr(value, field, 3)
        with pytest.raises(AttributeError):
            delattr(value, field)
    assert ours.line == ref.line
    result = CheckResult()
    result.files_checked = 2  # a mutable one does not
    assert result.files_checked == 2


# the declarations the checker's other value classes had (session 26 made them plain.Value)
@dataclasses.dataclass(frozen=True, order=True)
class ReferenceSessionFlow:
    caller_path: Path
    caller_module: str
    caller: str
    line: int
    label: str
    caller_kind: str = "function"


@dataclasses.dataclass(frozen=True)
class ReferenceHandlerFix:
    action: str
    call: object = None
    logger: object = None
    writer: object = dataclasses.field(default=None, repr=False, compare=False)
    new_level: str | None = None
    import_uses: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ReferenceImportRef:
    module: str
    attr: str | None = None
    base: Path | None = None


def _values(make, reference, choices: list[tuple], count: int = 120) -> list[tuple[object, object]]:
    chosen = random.Random(11)
    drawn = [tuple(chosen.choice(options) for options in choices) for _ in range(count)]
    return [(make(*args), reference(*args)) for args in drawn]


@pytest.mark.parametrize("kind", ["SessionFlow", "HandlerFix", "ImportRef"])
def test_the_checkers_values_behave_as_their_dataclasses_did(kind: str) -> None:
    from bgtask_lint.flows import SessionFlow
    from bgtask_lint.index import ImportRef
    from bgtask_lint.log_fixes import HandlerFix

    if kind == "SessionFlow":
        pairs = _values(SessionFlow, ReferenceSessionFlow, [
            [Path("a.py"), Path("b.py")], ["app.a", "app.b"], ["f", "g"], [1, 2, 10], ["db", "s"],
            ["function", "endpoint"]])
    elif kind == "HandlerFix":
        writers = [None, lambda: ("x", None), lambda: ("y", "t")]
        pairs = _values(HandlerFix, ReferenceHandlerFix, [
            ["exception", "exc_info", "pass"], [None, "call"], [None, "logger"], writers, [None, "exception"],
            [(), ("sys",)]])
    else:
        pairs = _values(ImportRef, ReferenceImportRef, [["os", "app.tasks"], [None, "run"], [None, Path("app")]])
    for (ours_a, ref_a), (ours_b, ref_b) in itertools.product(pairs[:50], repeat=2):
        assert (ours_a == ours_b) == (ref_a == ref_b)
        assert hash(ours_a) == hash(ref_a)  # the same hash values: sets of them iterate alike
        if kind == "SessionFlow":
            assert (ours_a < ours_b, ours_a >= ours_b) == (ref_a < ref_b, ref_a >= ref_b)
    if kind == "SessionFlow":
        assert sorted(range(len(pairs)), key=lambda i: pairs[i][0]) == sorted(range(len(pairs)),
                                                                             key=lambda i: pairs[i][1])
    ours = next(ours for ours, _ in pairs if getattr(ours, "writer", None) is None)  # (a lambda does not pickle)
    assert pickle.loads(pickle.dumps(ours)) == ours
    with pytest.raises(AttributeError):
        ours.line = 0  # type: ignore[misc]  # frozen, as the dataclass was
