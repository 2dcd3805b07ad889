"""Which newer Python a file that does not parse here was written for.

`ast` parses with the running interpreter's grammar only, so a module written for a newer
Python is a syntax error here. The error line usually shows the construct; when it is one
that a newer grammar added, the file's error says which Python parses it, so the user
knows to run bgtask-lint under that Python rather than look for a typo.
"""

from __future__ import annotations

import re
import sys

# (first Python that parses it, what it is, the pattern on the error's line); most specific first
NEWER_SYNTAX: tuple[tuple[tuple[int, int], str, re.Pattern[str]], ...] = (
    ((3, 14), "an except clause without parentheses (PEP 758)",
     re.compile(r"^\s*except\s*\*?\s*[\w.]+\s*,\s*[\w.]+[\w., ]*(\s+as\s+\w+)?\s*:")),
    ((3, 14), "a template string (PEP 750)", re.compile(r"(?<![\w'\"])[tT][rR]?['\"]|(?<![\w'\"])[rR][tT]['\"]")),
    ((3, 13), "a type parameter default (PEP 696)",
     re.compile(r"^\s*(async\s+def|def|class|type)\s+\w+\s*\[[^\]]*=")),
    ((3, 12), "a type parameter list (PEP 695)", re.compile(r"^\s*(async\s+def|def|class)\s+\w+\s*\[")),
    ((3, 12), "a type alias statement (PEP 695)", re.compile(r"^\s*type\s+\w+\s*(\[[^\]]*\])?\s*=")),
    ((3, 11), "an except* clause (PEP 654)", re.compile(r"^\s*except\s*\*")),
)


def newer_python(source: str, line: int | None, message: str,
                 running: tuple[int, int] = sys.version_info[:2]) -> tuple[tuple[int, int], str] | None:
    """(the Python that parses it, what it is) when the line of a syntax error holds a
    construct a newer Python than `running` added; None otherwise."""
    lines = source.splitlines()
    text = lines[line - 1] if line is not None and 0 < line <= len(lines) else ""
    for version, what, pattern in NEWER_SYNTAX:
        if version > running and pattern.search(text):
            return version, what
    if running < (3, 12) and "f-string" in message:
        # PEP 701: quotes, backslashes and comments inside f-string replacement fields
        return (3, 12), "an f-string written for the PEP 701 grammar"
    return None


def syntax_error_text(source: str, exc: SyntaxError, running: tuple[int, int] = sys.version_info[:2]) -> str:
    """The one-line error of a file that does not parse here."""
    text = f"syntax error at line {exc.lineno}: {exc.msg}"
    newer = newer_python(source, exc.lineno, exc.msg or "", running)
    if newer is None:
        return text
    (major, minor), what = newer
    return (f"{text}; it looks like {what}, which needs Python {major}.{minor} or newer: run bgtask-lint "
            f"with that Python (this is Python {running[0]}.{running[1]})")
