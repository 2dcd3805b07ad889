"""Find an ast node by where it is, without walking the module.

The fixes map a LibCST node to the ast node of the whole module's tree (the model's):
by its start, or by its span. An index of every node built by a walk of the module is
one walk per tree, and in a big module each fix sees a new tree (fix_splice.py): these
descend instead through the statements whose lines hold the position, a bisection per
level, and look only at what lies in those statements outside their nested blocks.
"""

from __future__ import annotations

import ast
from bisect import bisect_right
from typing import Callable, Iterator

from bgtask_lint.index import FUNCTION_TYPES
from bgtask_lint.names import BLOCK_FIELDS, MARKER_TYPES, STATEMENT_LEVEL, child_nodes

FUNCTIONS = (*FUNCTION_TYPES, ast.Lambda)


def statements_holding(tree: ast.Module, line: int) -> list[ast.AST]:
    """The statements, except handlers and match cases whose lines (decorators included)
    hold `line`, outermost first."""
    found: list[ast.AST] = []
    blocks: list[list] = [tree.body]
    while blocks:
        block = blocks.pop()
        at = bisect_right(block, line, key=_first_line) - 1
        # the last to start on or before the line, and those before it on the same line
        # (`a = 1; b = 2`), and the one before those, which may end on it
        while at >= 0:
            node = block[at]
            first, last = _lines(node)
            if last >= line:
                found.append(node)
                blocks.extend(_blocks_of(node))
            if first < line:
                break
            at -= 1
    return found


def statement_at(tree: ast.Module, line: int, byte_column: int, types: tuple[type, ...]) -> ast.AST | None:
    """The statement or except handler of one of `types` that starts at (line, byte column)."""
    for node in statements_holding(tree, line):
        if isinstance(node, types) and node.lineno == line and node.col_offset == byte_column:  # type: ignore[attr-defined]
            return node
    return None


def expression_at(tree: ast.Module, line: int, matches: Callable[[ast.AST], bool]) -> ast.AST | None:
    """The first node starting on `line` that `matches`, of the innermost statement that
    has one outside its nested blocks."""
    for statement in reversed(statements_holding(tree, line)):
        for node in own_nodes(statement):
            if getattr(node, "lineno", None) == line and matches(node):
                return node
    return None


def enclosing_function(tree: ast.Module, node: ast.AST) -> ast.AST | None:
    """The innermost def or lambda whose span holds `node` (spans nest: of those that
    hold it, the last to start)."""
    start = (node.lineno, node.col_offset)  # type: ignore[attr-defined]
    end = (node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
    best = None
    for statement in statements_holding(tree, node.lineno):  # type: ignore[attr-defined]
        candidates = [statement] if isinstance(statement, FUNCTIONS) else []
        candidates += [n for n in own_nodes(statement) if isinstance(n, ast.Lambda)]
        for function in candidates:
            if (function.lineno, function.col_offset) <= start \
                    and end <= (function.end_lineno, function.end_col_offset):  # type: ignore[attr-defined]
                if best is None or (function.lineno, function.col_offset) > (best.lineno, best.col_offset):  # type: ignore[attr-defined]
                    best = function
    return best


def own_nodes(statement: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a statement-level node outside its nested statement lists (its
    decorators, arguments, test, targets, values: a lambda's body is one)."""
    pending = [value for value in child_nodes(statement, MARKER_TYPES) if not isinstance(value, STATEMENT_LEVEL)]
    at = 0
    while at < len(pending):
        node = pending[at]
        at += 1
        yield node
        pending.extend(child_nodes(node, MARKER_TYPES))


def _first_line(node: ast.AST) -> int:
    return _lines(node)[0]


def _lines(node: ast.AST) -> tuple[int, int]:
    if isinstance(node, ast.match_case):  # (no position of its own)
        return node.pattern.lineno, node.body[-1].end_lineno or node.body[-1].lineno
    decorators = getattr(node, "decorator_list", None)
    first = decorators[0].lineno if decorators else node.lineno  # type: ignore[attr-defined]
    return first, node.end_lineno or node.lineno  # type: ignore[attr-defined]


def _blocks_of(node: ast.AST) -> list[list]:
    """The statement lists directly in a statement-level node: its body, branches,
    handlers and match cases."""
    return [value for name in node._fields if name in BLOCK_FIELDS
            and isinstance(value := getattr(node, name, None), list) and value and isinstance(value[0], STATEMENT_LEVEL)]
