"""Positions for the language server: ast's lines and UTF-8 byte columns as LSP lines and
characters in the negotiated encoding, and the smallest text edit. Pure functions only."""

from __future__ import annotations

import re
from typing import Iterable

from bgtask_lint.findings import Finding

# the line breaks of both ast and LSP (str.splitlines also splits on \f, \v, \x1c...)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_WITH_BREAK = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")

Position = tuple[int, int]  # 0-based line, character in the negotiated encoding
Range = tuple[Position, Position]


def split_lines(text: str) -> list[str]:
    """The lines of `text` without their breaks, numbered as ast and LSP number them."""
    return _LINE_BREAK.split(text)


def code_units(text: str, encoding: str = "utf-16") -> int:
    """The length of `text` in the code units of an LSP position encoding."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def lsp_column(line_text: str, char_col: int, encoding: str = "utf-16") -> int:
    """A finding's column (characters into the line) as an LSP offset in `encoding` units."""
    return code_units(line_text[: max(char_col, 0)], encoding)


def finding_range(finding: Finding, lines: list[str], encoding: str = "utf-16") -> Range:
    """Where to underline a finding. A finding that spans several lines (a whole task
    function for BGT401, an `except` block for BGT402) is underlined on its first line
    only, from its column to the end of that line, as editors show long ranges badly."""

    def text(index: int) -> str:
        return lines[index] if 0 <= index < len(lines) else ""

    line = max(finding.line - 1, 0)
    start = (line, lsp_column(text(line), finding.col, encoding))
    end_line = max((finding.end_line or finding.line) - 1, line)
    if end_line > line:
        end = (line, max(code_units(text(line).rstrip(), encoding), start[1]))
    else:
        end = (line, max(lsp_column(text(line), finding.end_col, encoding), start[1]))
    return start, end


def document_end(text: str, encoding: str = "utf-16") -> Position:
    lines = split_lines(text)
    return len(lines) - 1, code_units(lines[-1], encoding)


def minimal_edit(old: str, new: str, encoding: str = "utf-16") -> tuple[Range, str]:
    """One edit turning `old` into `new` that replaces only the lines that changed (the
    editor keeps the cursor, folds and marks of the others)."""
    if old == new:
        return (document_end(old, encoding), document_end(old, encoding)), ""
    old_lines = _LINE_WITH_BREAK.findall(old)
    new_lines = _LINE_WITH_BREAK.findall(new)
    shortest = min(len(old_lines), len(new_lines))
    prefix = 0
    while prefix < shortest and old_lines[prefix] == new_lines[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and old_lines[-1 - suffix] == new_lines[-1 - suffix]:
        suffix += 1
    # a line that ends without a line break is the last one, so a kept suffix always
    # starts at the beginning of a line, and (prefix, 0) is a position of `old`
    end = (len(old_lines) - suffix, 0) if suffix else document_end(old, encoding)
    return ((prefix, 0), end), "".join(new_lines[prefix:len(new_lines) - suffix])


def ranges_touch(a: Range, b: Range) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def kind_allowed(kind: str, only: Iterable[str] | None, *, default: bool) -> bool:
    """LSP code action kinds are hierarchical: `source` allows `source.fixAll.x`."""
    if only is None:
        return default
    return any(o == "" or kind == o or kind.startswith(o + ".") for o in only)
