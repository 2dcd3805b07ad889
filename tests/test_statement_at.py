"""The logging fixes find the ast node of a LibCST def or except handler by its start
(codemods/_loggers.py `statement_at`): by descending through the statements that hold
it, the node a walk of the whole module finds."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bgtask_lint.codemods import _loggers
from markers import FIXTURES

TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ExceptHandler)
NESTED = '''\
import asyncio


@decorated
@twice(1)
async def outer(x):
    if x: pass
    try:
        pass
    except ValueError:
        def inner(): pass
    except KeyError: pass
    match x:
        case 1:
            class C:
                async def method(self):
                    try:
                        pass
                    except Exception as exc:
                        pass
        case _:
            lambda: 1
    for i in x:
        def in_loop(): pass
    else:
        def in_else(): pass
    with x:
        async def in_with(): pass
    x = 1; y = 2


def last(): pass
'''


def _sources() -> list[tuple[str, str]]:
    found = [("nested", NESTED)]
    for path in sorted(FIXTURES.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        try:
            ast.parse(text)
        except SyntaxError:
            continue
        found.append((str(path.relative_to(FIXTURES)), text))
    return found


@pytest.mark.parametrize("name, text", _sources(), ids=lambda value: value if "\n" not in value else "")
def test_statement_at_finds_every_def_and_handler_a_walk_finds(name: str, text: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    tree = ast.parse(text)
    expected = [node for node in ast.walk(tree) if isinstance(node, TYPES)]
    monkeypatch.setattr(_loggers, "walked", None)  # (no walk of the module)
    for node in expected:
        assert _loggers.statement_at(tree, node.lineno, node.col_offset, TYPES) is node
        assert _loggers.statement_at(tree, node.lineno, node.col_offset, (ast.ClassDef,)) is None
        assert _loggers.statement_at(tree, node.lineno, node.col_offset + 1, TYPES) is None


def test_the_nested_module_has_what_it_says() -> None:
    kinds = {type(node).__name__ for node in ast.walk(ast.parse(NESTED)) if isinstance(node, TYPES)}
    assert kinds == {"FunctionDef", "AsyncFunctionDef", "ExceptHandler"}
