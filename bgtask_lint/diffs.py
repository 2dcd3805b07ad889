"""Unified diffs of a fix, fast on big modules.

`difflib.unified_diff` looks for the longest common block again and again over the
whole file: on a 1 MB module with a thousand scattered edits that took 10 s. A fix
changes a little here and there, so the lines that occur exactly once in both texts
anchor the alignment (patience diff, as git's), and difflib only aligns the short
stretches between two anchors.
"""

from __future__ import annotations

import bisect
from difflib import SequenceMatcher
from typing import Iterator, Sequence

Opcode = tuple[str, int, int, int, int]  # difflib's: tag, old start, old end, new start, new end
CONTEXT = 3


def unified_diff(old: Sequence[str], new: Sequence[str], fromfile: str, tofile: str) -> str:
    """The unified diff of two lists of lines (with their line ends), in difflib's format
    (plus GNU diff's marker for a last line without a line end)."""
    out: list[str] = []
    for group in _grouped(opcodes(old, new)):
        if not out:
            out += [f"--- {fromfile}\n", f"+++ {tofile}\n"]
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(_line(" ", line) for line in old[i1:i2])
                continue
            out.extend(_line("-", line) for line in old[i1:i2])
            out.extend(_line("+", line) for line in new[j1:j2])
    return "".join(out)


def _line(kind: str, line: str) -> str:
    """One diff line; a last line without a line end gets the marker `patch` and `git apply` read."""
    if line.endswith(("\n", "\r")):
        return kind + line
    return f"{kind}{line}\n\\ No newline at end of file\n"


def opcodes(old: Sequence[str], new: Sequence[str]) -> list[Opcode]:
    """How to turn `old` into `new`, as difflib's opcodes."""
    anchors = longest_increasing(unique_pairs(old, new))
    codes: list[Opcode] = []
    i, j = 0, 0
    for a, b in [*anchors, (len(old), len(new))]:
        if i < a or j < b:
            matcher = SequenceMatcher(None, old[i:a], new[j:b], autojunk=False)
            codes.extend((tag, i + i1, i + i2, j + j1, j + j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes())
        if a < len(old):
            codes.append(("equal", a, a + 1, b, b + 1))
        i, j = a + 1, b + 1
    merged: list[Opcode] = []
    for code in codes:
        if merged and code[0] == "equal" == merged[-1][0]:
            merged[-1] = ("equal", merged[-1][1], code[2], merged[-1][3], code[4])
        else:
            merged.append(code)
    return merged


def unique_pairs(old: Sequence[str], new: Sequence[str]) -> list[tuple[int, int]]:
    """(old index, new index) of each line that occurs exactly once in each, by old index."""
    old_count: dict[str, int] = {}
    new_count: dict[str, int] = {}
    for line in old:
        old_count[line] = old_count.get(line, 0) + 1
    for line in new:
        new_count[line] = new_count.get(line, 0) + 1
    new_index = {line: j for j, line in enumerate(new) if new_count[line] == 1}
    return [(i, new_index[line]) for i, line in enumerate(old) if old_count[line] == 1 and line in new_index]


def longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of `pairs` (sorted by old index) whose new indexes increase."""
    tails: list[int] = []  # the new index ending the best run of each length
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        at = bisect.bisect_left(tails, j)
        if at == len(tails):
            tails.append(j)
            tail_index.append(k)
        else:
            tails[at] = j
            tail_index[at] = k
        previous[k] = tail_index[at - 1] if at else -1
    run: list[tuple[int, int]] = []
    k = tail_index[-1] if tail_index else -1
    while k >= 0:
        run.append(pairs[k])
        k = previous[k]
    return run[::-1]


def _grouped(codes: list[Opcode]) -> Iterator[list[Opcode]]:
    """The hunks: changes with up to CONTEXT equal lines around them (difflib's grouping)."""
    if not any(tag != "equal" for tag, *_ in codes):
        return
    codes = list(codes)
    if codes[0][0] == "equal":
        _, i1, i2, j1, j2 = codes[0]
        codes[0] = ("equal", max(i1, i2 - CONTEXT), i2, max(j1, j2 - CONTEXT), j2)
    if codes[-1][0] == "equal":
        _, i1, i2, j1, j2 = codes[-1]
        codes[-1] = ("equal", i1, min(i2, i1 + CONTEXT), j1, min(j2, j1 + CONTEXT))
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * CONTEXT:  # a long equal stretch ends the hunk
            group.append((tag, i1, i1 + CONTEXT, j1, j1 + CONTEXT))
            yield group
            group = []
            i1, j1 = i2 - CONTEXT, j2 - CONTEXT
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group


def _range(start: int, stop: int) -> str:
    """A hunk header's range: 1-based first line and length (an empty range names the line before)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"
