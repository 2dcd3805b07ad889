"""A file written for a newer Python: one line that names it and says which Python parses it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from bgtask_lint.newer_syntax import newer_python, syntax_error_text

PEP758 = "def f():\n    try:\n        pass\n    except ValueError, TypeError:\n        pass\n"


@pytest.mark.parametrize("line, message, running, expected", [
    ("type Vector = list[float]", "invalid syntax", (3, 11), (3, 12)),
    ("type Pair[T] = tuple[T, T]", "invalid syntax", (3, 11), (3, 12)),
    ("def first[T](items: list[T]) -> T:", "expected '('", (3, 11), (3, 12)),
    ("class Box[T]:", "invalid syntax", (3, 10), (3, 12)),
    ("def first[T = int](items: list[T]) -> T:", "invalid syntax", (3, 12), (3, 13)),
    ("    except* ValueError:", "invalid syntax", (3, 10), (3, 11)),
    # phoenix's SQLAlchemy statements, and the PEP's own examples
    ("def stmt(keys: list[int]) -> Select[*tuple[Any, ...]]:", "expected ':'", (3, 10), (3, 11)),
    ("    stmt: Select[*tuple[Any, ...]],", "invalid syntax. Perhaps you forgot a comma?", (3, 10), (3, 11)),
    ("Shape = Array[int, *Dims]", "invalid syntax", (3, 10), (3, 11)),
    ("def call(*args: *Ts) -> None:", "invalid syntax", (3, 10), (3, 11)),
    ("    except ValueError, TypeError:", "multiple exception types must be parenthesized", (3, 13), (3, 14)),
    ('    print(f"{x["k"]}")', "f-string: unmatched '['", (3, 11), (3, 12)),
    ("""    print(f"{'\\n'.join(rows)}")""", "f-string expression part cannot include a backslash", (3, 11), (3, 12)),
])
def test_the_construct_and_its_python(line: str, message: str, running: tuple[int, int],
                                      expected: tuple[int, int]) -> None:
    found = newer_python(f"x = 1\n{line}\n", 2, message, running)
    assert found is not None and found[0] == expected


@pytest.mark.parametrize("line, message, running", [
    ("def (:", "invalid syntax", (3, 11)),  # a plain typo
    ("type Vector = list[float]", "invalid syntax", (3, 12)),  # that Python parses it: not the cause
    ("    return it's", "unterminated string literal", (3, 11)),  # a quote after a word is no t-string
    ("    print(f'{x!z}')", "f-string: invalid conversion character", (3, 12)),
    # typos that a newer grammar rejects too
    ('    line = "\\t".join(rows', "'(' was never closed", (3, 11)),
    ('    print(f"{}")', "f-string: empty expression not allowed", (3, 11)),
    ('    print(f"{a")', "f-string: expecting '}'", (3, 11)),
    ("    except ValueError, TypeError as exc:", "multiple exception types must be parenthesized", (3, 13)),
    ("    except *:", "invalid syntax", (3, 10)),
    ("    items = [*a, *b] +", "invalid syntax", (3, 10)),  # star in a list display: parses on 3.10
    ("    total = prices[k] * (qty", "'(' was never closed", (3, 10)),  # a product after a subscript
    ("    Select[*tuple[Any, ...]] +", "invalid syntax", (3, 11)),  # that Python parses it
])
def test_no_claim_where_a_newer_python_would_not_help(line: str, message: str, running: tuple[int, int]) -> None:
    assert newer_python(f"x = 1\n{line}\n", 2, message, running) is None


def test_lines_are_counted_as_the_tokenizer_counts_them() -> None:
    """A form feed in a comment is no line break for the tokenizer (`splitlines` splits there)."""
    assert newer_python("x = 1  # \x0c page\ntype X = int\n", 2, "invalid syntax", (3, 11)) == (
        (3, 12), "a type alias statement (PEP 695)")


def test_the_message_names_both_pythons() -> None:
    try:
        ast.parse("type Vector = list[float]\n")
    except SyntaxError as exc:
        text = syntax_error_text("type Vector = list[float]\n", exc, running=(3, 11))
    else:  # this Python parses PEP 695: make the error by hand
        text = syntax_error_text("type Vector = list[float]\n", SyntaxError("invalid syntax", ("x.py", 1, 1, "")),
                                 running=(3, 11))
    assert text.startswith("syntax error at line 1: invalid syntax; ")
    assert "a type alias statement (PEP 695), which needs Python 3.12 or newer" in text
    assert text.endswith("(this is Python 3.11)") and "\n" not in text


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="this Python parses PEP 758")
def test_the_command_line_says_it_in_one_line_and_checks_the_rest(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "modern.py").write_text(PEP758)
    (tmp_path / "app.py").write_text("import time\n\n\nasync def wait():\n    time.sleep(1)\n")
    result = subprocess.run([sys.executable, "-m", "bgtask_lint", "check", "--no-cache", "."],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line]
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert errors == [
        "modern.py: error: syntax error at line 4: multiple exception types must be parenthesized; it looks "
        "like an except clause without parentheses (PEP 758), which needs Python 3.14 or newer: run "
        f"bgtask-lint with that Python (this is Python {here})"]
    assert "app.py:5:5: BGT301" in result.stdout
