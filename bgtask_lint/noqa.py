"""`# noqa` comments the tool writes (`check --add-noqa`) and the ones that suppress
nothing (`check --unused-noqa`).

Suppression itself is the engine's (`engine.noqa_filter`): a finding is silenced by a
`# noqa` or `# noqa: <prefix>` on the line it starts on. So a comment is added on that
line, and only where a comment can go: not on a line that ends inside a multi-line
string or with a backslash continuation.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from bgtask_lint.engine import NOQA, noqa_filter
from bgtask_lint.files import source_lines
from bgtask_lint.findings import Finding
from bgtask_lint.plain import Value

# the pseudo-code of an unused `# noqa` code: not a rule (no rule can see the other rules'
# findings), but in the BGT namespace so that problem matchers, `--statistics` and ruff's
# `external = ["BGT"]` treat it like the rest
UNUSED_NOQA = "BGT000"
UNUSED_NOQA_DOC = """\
Not a rule: what `bgtask-lint check --unused-noqa` reports, as ruff's RUF100 does.

A BGT code in a `# noqa: ...` comment that suppresses nothing on its line (the finding
was fixed, or moved), or that is no bgtask-lint code at all. Codes whose rules cannot
report in that file (not selected, ignored for it, or hidden in test files) are not
judged; other tools' codes and a bare `# noqa` are left alone.

Remove the code from the comment, or the whole comment if nothing is left."""
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)


class LineComments(Value):
    """For each line: its comment (if any) and whether a comment can end it."""

    __slots__ = ("comments", "open_ended")

    def __init__(self) -> None:
        self.comments: dict[int, tuple[int, str]] = {}  # line -> (col, text)
        self.open_ended: set[int] = set()  # lines a comment cannot end


def scan_comments(text: str) -> LineComments | None:
    """The comments of `text` and the lines a comment cannot go on; None if it does not tokenize."""
    scanned = LineComments()
    closed: set[int] = set()  # lines that end a statement or a line inside brackets
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                scanned.comments[token.start[0]] = (token.start[1], token.string)
            elif token.type in (tokenize.NEWLINE, tokenize.NL):
                closed.add(token.start[0])
            if token.end[0] > token.start[0]:  # a multi-line string: its first lines go on in it
                scanned.open_ended.update(range(token.start[0], token.end[0]))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    lines = source_lines(text)
    for number in range(1, len(lines) + 1):
        if number not in closed and number not in scanned.comments:
            scanned.open_ended.add(number)  # a backslash continuation, or inside a string
    return scanned


def noqa_in(comment: str) -> tuple[list[str], tuple[int, int] | None, int] | None:
    """The codes of the `# noqa` in a comment, where they are, and where the noqa starts."""
    match = NOQA.search(comment)
    if match is None:
        return None
    if match.group("codes") is None:
        return [], None, match.start()
    return [c.upper() for c in _CODE.findall(match.group("codes"))], match.span("codes"), match.start()


# --- adding ---------------------------------------------------------------------------------


class Added(Value):
    __slots__ = ("text", "added", "refused")

    def __init__(self, text: str) -> None:
        self.text = text
        self.added = 0  # codes written
        self.refused: list[tuple[Finding, str]] = []  # and why


def add_noqa(text: str, findings: Iterable[Finding]) -> Added:
    """`text` with each finding's code in a `# noqa:` comment on its line: merged into an
    existing `# noqa: ...` (its other codes and the rest of the comment kept), else
    appended after the code or the comment already there."""
    by_line: dict[int, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_line[finding.line].append(finding)
    result = Added(text)
    scanned = scan_comments(text)
    if scanned is None:
        result.refused = [(f, "the file does not tokenize") for fs in by_line.values() for f in fs]
        return result
    lines = source_lines(text, keepends=True)
    for number, found in sorted(by_line.items()):
        if number in scanned.open_ended or not 0 < number <= len(lines):
            why = "its line ends inside a multi-line string or with a backslash"
            result.refused.extend((f, why) for f in found)
            continue
        line = lines[number - 1]
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        codes = sorted({f.code for f in found})
        comment = scanned.comments.get(number)
        existing = noqa_in(comment[1]) if comment is not None else None
        if existing is not None and existing[1] is not None:
            col, text_of_comment = comment
            start, end = existing[1]
            merged = list(dict.fromkeys(existing[0] + [c for c in codes if c not in existing[0]]))
            new_comment = text_of_comment[:start] + ", ".join(merged) + text_of_comment[end:]
            new_body = body[:col] + new_comment + body[col + len(text_of_comment):]
            added = len(merged) - len(existing[0])
        else:
            new_body = body.rstrip() + "  # noqa: " + ", ".join(codes)
            added = len(codes)
        still_reported = noqa_filter(found, "\n" * (number - 1) + new_body)
        if still_reported:  # e.g. a string on the line holds an earlier "# noqa: X"
            result.refused.extend((f, "another noqa on the line would win") for f in still_reported)
            continue
        lines[number - 1] = new_body + ending
        result.added += added
    result.text = "".join(lines)
    return result


# --- unused ---------------------------------------------------------------------------------


def unused_noqa(path: Path, text: str, raw: list[Finding], reported: frozenset[str],
                known: frozenset[str]) -> list[Finding]:
    """A finding for each BGT code in a `# noqa: ...` comment that suppresses nothing on its
    line. `raw`: the module's findings before noqa; `reported`: the codes a check of this
    file can report (selected, not per-file ignored, not hidden in a test file); `known`:
    every rule code. A code none of whose rules can report here is not judged (it may be
    needed under other settings), nor are other tools' codes or a bare `# noqa`."""
    if "noqa" not in text.lower():
        return []
    scanned = scan_comments(text)
    if scanned is None:
        return []
    unused = []
    for number, (col, comment) in sorted(scanned.comments.items()):
        found = noqa_in(comment)
        if found is None or not found[0]:
            continue
        codes, _, start = found
        # columns count characters, like every other finding's
        char_col, end_col = col + start, col + len(comment)
        for code in codes:
            if not code.startswith("BGT"):
                continue
            rules = {k for k in known if k.startswith(code)}
            if not rules:
                message = f"unused noqa: {code} is not a bgtask-lint code"
            elif not rules & reported:
                continue
            elif any(f.line == number and f.code.startswith(code) for f in raw):
                continue
            else:
                message = f"unused noqa: no {code} finding on this line"
            unused.append(Finding(path, number, char_col, UNUSED_NOQA, message, number, end_col))
    return unused
