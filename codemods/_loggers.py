"""The LibCST side of the logging fixes: find the ast facts for a LibCST node, and write
what bgtask_lint/log_fixes.py decided.

Nothing here decides what a logger is: the plan comes from log_fixes.py, computed on
the guard model of the whole module in its project (so a logger imported from another
module of the project is known), which the command is given.
"""

from __future__ import annotations

import ast
from bisect import bisect_right
from typing import Callable

import libcst as cst
from libcst.metadata import PositionProvider

from bgtask_lint.codemods._base import Target, char_span, insert_after_header, parse_statement
from bgtask_lint.guards import GuardModel
from bgtask_lint.log_fixes import LoggerChoice, module_lines
from bgtask_lint.names import walked


class ModelLookup:
    """For a command that plans with the guard model: the ast node, in the model's module,
    of a LibCST node. The command sets `module_node` and `model = self.given_model` in
    `visit_Module`.

    `given_model` is the model of the whole module in its project (from fix.py, or from
    the check a stand-alone run makes, codemods/_standalone.py); `line_maps` (the
    command's line -> the model's line, and back) come with a skeleton of it (fix.py),
    so that a decision never depends on what the skeleton left out."""

    module_node: cst.Module
    model: GuardModel | None
    given_model: GuardModel | None = None
    line_maps: tuple[Callable[[int], int | None], Callable[[int], int | None]] | None = None

    def ast_node(self, node: cst.CSTNode, types: tuple[type, ...]) -> ast.AST | None:
        if self.model is None:
            return None
        start = self.get_metadata(PositionProvider, node).start  # type: ignore[attr-defined]
        line = self.line_maps[0](start.line) if self.line_maps is not None else start.line
        return ast_node_at(self.model, line, start.column, types) if line is not None else None

    def model_span(self, span: Target) -> Target | None:
        """A span of the text the command sees, in the model's module (None: cut there)."""
        if self.line_maps is None:
            return span
        first, last = self.line_maps[0](span[0]), self.line_maps[0](span[2])
        return None if first is None or last is None else (first, span[1], last, span[3])

    def span_here(self, node: ast.AST) -> Target | None:
        """An ast node's span in the model, in the text the command sees (LibCST's columns)."""
        assert self.model is not None
        first, column, last, end_column = char_span(module_lines(self.model), node)
        if self.line_maps is not None:
            first, last = self.line_maps[1](first), self.line_maps[1](last)  # type: ignore[assignment]
            if first is None or last is None:
                return None
        return first, column, last, end_column


def ast_node_at(model: GuardModel, line: int, column: int, types: tuple[type, ...]) -> ast.AST | None:
    """The ast node of one of `types` (defs, except handlers: statement-level nodes) that
    starts at LibCST's (line, character column)."""
    lines = module_lines(model)
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return statement_at(model.module.tree, line, len(text[:column].encode("utf-8")), types)


def statement_at(tree: ast.Module, line: int, byte_column: int, types: tuple[type, ...]) -> ast.AST | None:
    """The statement, except handler or match case of one of `types` that starts at (line,
    byte column): found by descending through the statements whose lines hold it, a
    bisection per level (an index of the whole module's defs cost a walk of it per fix,
    and a big module is a new tree after each fix)."""
    blocks: list[list] = [tree.body]
    while blocks:
        block = blocks.pop()
        at = bisect_right(block, line, key=_first_line) - 1
        # the last statement to start on or before the line, and those before it that
        # start on the same line (`a = 1; b = 2`)
        while at >= 0:
            node = block[at]
            if (node.end_lineno or node.lineno) >= line:
                if node.lineno == line and node.col_offset == byte_column and isinstance(node, types):
                    return node
                blocks.extend(_blocks_of(node))
            if node.lineno < line and _first_line(node) < line:
                break
            at -= 1
    return None


def _first_line(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", None)
    return decorators[0].lineno if decorators else node.lineno  # type: ignore[attr-defined]


def _blocks_of(node: ast.AST) -> list[list]:
    """The statement lists directly in a statement (its body, branches, handlers, and the
    bodies of its match cases, which have no position of their own)."""
    found = []
    for name in ("body", "orelse", "finalbody", "handlers"):
        value = getattr(node, name, None)
        if isinstance(value, list) and value and not isinstance(value[0], ast.expr):
            found.append(value)
    found.extend(case.body for case in getattr(node, "cases", ()))
    return found


def enclosing_function(model: GuardModel, node: ast.AST) -> ast.AST | None:
    """The innermost def whose lines hold `node` (nested defs lie inside their parent's):
    of those starting on or before its line, the last to start that ends on or after it."""
    key = ("defs-by-line", model.module.path)
    cached = model.index.cache.get(key)
    if isinstance(cached, tuple) and cached[0] is model.module:
        defs, starts = cached[1], cached[2]
    else:  # once per module: a scan of every def per target is quadratic in big modules
        defs = sorted((f for f in walked(model.module.tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))),
                      key=lambda f: f.lineno)
        starts = [f.lineno for f in defs]
        model.index.cache[key] = (model.module, defs, starts)
    line = node.lineno  # type: ignore[attr-defined]
    for at in range(bisect_right(starts, line) - 1, -1, -1):
        if line <= (defs[at].end_lineno or defs[at].lineno):
            return defs[at]
    return None


def add_module_logger(module: cst.Module, choice: LoggerChoice) -> cst.Module:
    """`<name> = logging.getLogger(__name__)` after the imports (`import logging` is the
    command's to add)."""
    line = parse_statement(f"{choice.name} = logging.getLogger(__name__)", module)
    return insert_after_header(module, [line])
