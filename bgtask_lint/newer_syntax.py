"""Which newer Python a file that does not parse here was written for.

`ast` parses with the running interpreter's grammar only, so a module written for a newer
Python is a syntax error here. The error line usually shows the construct; when it is one
that a newer grammar added, the file's error says which Python parses it, so the user
knows to run bgtask-lint under that Python rather than look for a typo. A claim is made
only where the construct is unmistakable: a plain typo gets none.
"""

from __future__ import annotations

import re
import sys

# (first Python that parses it, what it is, the pattern on the error's line); most specific first
NEWER_SYNTAX: tuple[tuple[tuple[int, int], str, re.Pattern[str]], ...] = (
    # `except A, B:`; with `as` it still needs the parentheses in 3.14
    ((3, 14), "an except clause without parentheses (PEP 758)",
     re.compile(r"^\s*except\s*\*?\s*[\w.]+\s*,\s*[\w.]+(\s*,\s*[\w.]+)*\s*:")),
    ((3, 13), "a type parameter default (PEP 696)",
     re.compile(r"^\s*(async\s+def|def|class|type)\s+\w+\s*\[[^\]]*=")),
    ((3, 12), "a type parameter list (PEP 695)", re.compile(r"^\s*(async\s+def|def|class)\s+\w+\s*\[")),
    ((3, 12), "a type alias statement (PEP 695)", re.compile(r"^\s*type\s+\w+\s*(\[[^\]]*\])?\s*=")),
    ((3, 11), "an except* clause (PEP 654)", re.compile(r"^\s*except\s*\*\s*[\w(]")),
    # `Select[*tuple[Any, ...]]`, `Array[int, *Shape]`, `*args: *Ts`: a star right after a
    # subscript's bracket or one of its commas (a list display `[*a]` has no name before it)
    ((3, 11), "a starred expression in a subscript or an annotation (PEP 646)",
     re.compile(r"[\w\])]\s*\[(?:[^\[\]]*,)?\s*\*\s*[A-Za-z_(]|\*\s*\w+\s*:\s*\*\s*[A-Za-z_]")),
)
# where an f-string starts on a line: its prefix (f, rf or fr, any case) and its quote
F_STRING_START = re.compile(r"""(?<![\w'"\\])(?:[fF][rR]?|[rR][fF])('''|\"\"\"|'|")""")


def _pep701_f_string(text: str) -> bool:
    """An f-string on this line puts its own quote, or a backslash, inside a replacement
    field (`f"{d["k"]}"`, `f"{chr(92) + '\\n'}"`): only the PEP 701 grammar (3.12) reads it."""
    for start in F_STRING_START.finditer(text):
        quote = start.group(1)
        position, depth = start.end(), 0
        while position < len(text):
            at_quote = text.startswith(quote, position)
            char = text[position]
            if depth == 0 and at_quote:
                break  # the string ends: nothing of PEP 701 in this one
            if depth and (at_quote or char == "\\"):
                # ... and the field and the string close after it (`f"{a")` is a typo)
                rest = text[position + 1:]
                close = rest.find("}")
                return close >= 0 and quote in rest[close:]
            if char == "{":
                if depth == 0 and text.startswith("{{", position):
                    position += 2
                    continue
                depth += 1
            elif char == "}" and depth:
                depth -= 1
            elif char == "\\":
                position += 1  # an escape in the literal part
            position += 1
    return False


def _line(source: str, line: int | None) -> str:
    """The error's line, counted as the tokenizer counts lines (at \\n, \\r\\n or \\r; not
    at the form feeds and other breaks `str.splitlines` also splits at)."""
    lines = re.split(r"\r\n|\r|\n", source)
    return lines[line - 1] if line is not None and 0 < line <= len(lines) else ""


def newer_python(source: str, line: int | None, message: str,
                 running: tuple[int, int] = sys.version_info[:2]) -> tuple[tuple[int, int], str] | None:
    """(the Python that parses it, what it is) when the line of a syntax error holds a
    construct a newer Python than `running` added; None otherwise."""
    text = _line(source, line)
    for version, what, pattern in NEWER_SYNTAX:
        if version > running and pattern.search(text):
            return version, what
    if running < (3, 12) and "f-string" in message and _pep701_f_string(text):
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
