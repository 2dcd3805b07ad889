"""The fixes find the ast node of a LibCST node (a def or except handler by its start,
a call by its span, the def or lambda around a call) by descending through the
statements that hold it (bgtask_lint/located.py): the node a walk of the whole module
finds."""

from __future__ import annotations

import ast

import pytest

from bgtask_lint import located
from markers import FIXTURES

TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ExceptHandler)
NESTED = '''\
import asyncio


@decorated
@twice(lambda: h(1))
async def outer(x, y=lambda: k()):
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
        case _ if check(x):
            lambda: f(lambda y: g(y))
    for i in x:
        def in_loop(): pass
    else:
        def in_else(): pass
    with x:
        async def in_with(): pass
    x = 1; y = call(2)
    if cond(3): z = call(4)
    value = (call(5)
             + call(6)); other = call(7)


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
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    functions = sorted((node for node in ast.walk(tree) if isinstance(node, located.FUNCTIONS)),
                       key=lambda f: (f.lineno, f.col_offset))
    defs = sorted((node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))),
                  key=lambda f: f.lineno)
    monkeypatch.setattr(ast, "walk", None)  # (no walk of the module)
    for node in expected:
        assert located.statement_at(tree, node.lineno, node.col_offset, TYPES) is node
        assert located.statement_at(tree, node.lineno, node.col_offset, (ast.ClassDef,)) is None
        assert located.statement_at(tree, node.lineno, node.col_offset + 1, TYPES) is None
        holding_lines = [f for f in defs if f.lineno <= node.lineno <= f.end_lineno]
        # (a handler holds no lambda: the def around it, as a scan of the defs by line finds it)
        assert located.enclosing_function(tree, node) is (holding_lines[-1] if holding_lines else None)
    for call in calls:
        span = (call.lineno, call.col_offset, call.end_lineno, call.end_col_offset)
        found = located.expression_at(tree, call.lineno, lambda n: isinstance(n, ast.Call) and (
            n.lineno, n.col_offset, n.end_lineno, n.end_col_offset) == span)
        assert found is call
        holding = [f for f in functions if (f.lineno, f.col_offset) <= (call.lineno, call.col_offset)
                   and (call.end_lineno, call.end_col_offset) <= (f.end_lineno, f.end_col_offset)]
        assert located.enclosing_function(tree, call) is (holding[-1] if holding else None)


def test_the_nested_module_has_what_it_says() -> None:
    kinds = {type(node).__name__ for node in ast.walk(ast.parse(NESTED)) if isinstance(node, TYPES)}
    assert kinds == {"FunctionDef", "AsyncFunctionDef", "ExceptHandler"}
