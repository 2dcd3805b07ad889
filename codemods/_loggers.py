"""The LibCST side of the logging fixes: find the ast facts for a LibCST node, and write
what bgtask_lint/log_fixes.py decided.

Nothing here decides what a logger is: the plan comes from log_fixes.py, computed on
the guard model of the whole module in its project (so a logger imported from another
module of the project is known), which the command is given.
"""

from __future__ import annotations

import ast
from typing import Callable

import libcst as cst
from libcst.metadata import PositionProvider

from bgtask_lint.codemods._base import Target, char_span, insert_after_header, parse_statement
from bgtask_lint.guards import GuardModel
from bgtask_lint.located import statement_at
from bgtask_lint.log_fixes import LoggerChoice, module_lines


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


def add_module_logger(module: cst.Module, choice: LoggerChoice) -> cst.Module:
    """`<name> = logging.getLogger(__name__)` after the imports (`import logging` is the
    command's to add)."""
    line = parse_statement(f"{choice.name} = logging.getLogger(__name__)", module)
    return insert_after_header(module, [line])
