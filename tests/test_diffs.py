"""`bgtask-lint fix --diff` prints diffs that apply: the patience diff of bgtask_lint/diffs.py
turns the old text into the new one, hunk by hunk, with difflib's format."""

from __future__ import annotations

import difflib
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bgtask_lint.diffs import opcodes, unified_diff

HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@\n")


def apply(old: list[str], diff: str) -> list[str]:
    """The new lines, rebuilt from the old ones and the hunks (which must agree with them)."""
    lines = diff.splitlines(keepends=True)
    assert lines[:2] == ["--- a/m.py\n", "+++ b/m.py\n"]
    new: list[str] = []
    position = 0  # lines of `old` used so far
    k = 2
    while k < len(lines):
        match = HUNK.fullmatch(lines[k])
        assert match, lines[k]
        start, length = int(match.group(1)), int(match.group(2) or 1)
        first = start - 1 if length else start  # an empty range names the line before
        assert first >= position
        new.extend(old[position:first])
        position = first
        k += 1
        taken = 0
        while k < len(lines) and not lines[k].startswith("@@"):
            kind, text = lines[k][0], lines[k][1:]
            if k + 1 < len(lines) and lines[k + 1] == "\\ No newline at end of file\n":
                text = text[:-1]
                del lines[k + 1]
            if kind in " -":
                assert old[position] == text
                position += 1
                taken += 1
            if kind in " +":
                new.append(text)
            k += 1
        assert taken == length
    return new + old[position:]


def random_edit(rng: random.Random) -> tuple[list[str], list[str]]:
    old = [rng.choice(["a\n", "b\n", "    pass\n", "\n", f"u{rng.random()}\n"]) for _ in range(rng.randrange(80))]
    new = list(old)
    for _ in range(rng.randrange(8)):
        at = rng.randrange(len(new) + 1)
        if rng.random() < 0.5:
            new.insert(at, rng.choice(["a\n", "\n", f"n{rng.random()}\n"]))
        elif new:
            del new[min(at, len(new) - 1)]
    if old and rng.random() < 0.2:
        old[-1] = old[-1].rstrip("\n")  # no line end at the end of the file
    return old, new


def test_every_diff_turns_the_old_text_into_the_new() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        old, new = random_edit(rng)
        diff = unified_diff(old, new, "a/m.py", "b/m.py")
        if old == new:
            assert diff == ""
            continue
        assert apply(old, diff) == new


def test_same_as_difflib_where_the_alignment_is_the_same() -> None:
    old = [f"line {i}\n" for i in range(200)]
    new = list(old)
    new[10] = "changed\n"
    del new[100:103]
    new.insert(150, "added\n")
    assert unified_diff(old, new, "a/m.py", "b/m.py") == "".join(difflib.unified_diff(old, new, "a/m.py", "b/m.py"))


def test_opcodes_cover_both_texts_in_order() -> None:
    rng = random.Random(8)
    for _ in range(500):
        old, new = random_edit(rng)
        codes = opcodes(old, new)
        assert [c[1] for c in codes[1:]] == [c[2] for c in codes[:-1]]
        assert [c[3] for c in codes[1:]] == [c[4] for c in codes[:-1]]
        if codes:
            assert (codes[0][1], codes[0][3], codes[-1][2], codes[-1][4]) == (0, 0, len(old), len(new))
        assert all(old[i1:i2] == new[j1:j2] for tag, i1, i2, j1, j2 in codes if tag == "equal")


@pytest.mark.skipif(shutil.which("git") is None, reason="git applies the patch")
def test_git_applies_the_diff_of_a_fix(tmp_path: Path) -> None:
    old = [f"def f{i}():\n    return {i}\n\n" for i in range(300)]
    new = list(old)
    for i in range(0, 300, 7):
        new[i] = new[i].replace("return", "return 1 +")
    old[-1], new[-1] = "def last():\n    return 0", "def last():\n    return 1"  # no line end at the end
    (tmp_path / "m.py").write_text("".join(old))
    (tmp_path / "fix.diff").write_text(unified_diff("".join(old).splitlines(True), "".join(new).splitlines(True),
                                                    "a/m.py", "b/m.py"))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "apply", "fix.diff"], cwd=tmp_path, check=True)
    assert (tmp_path / "m.py").read_text() == "".join(new)
