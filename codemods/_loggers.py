"""The LibCST side of the logging fixes: find the ast facts for a LibCST node, and write
what bgtask_lint/log_fixes.py decided.

Nothing here decides what a logger is: the plan comes from log_fixes.py, computed on
the same index the rule used when `bgtask-lint fix`/`check` found the targets (so a
logger imported from another module of the project is known), or on the module alone
when the command runs without one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst

from bgtask_lint.codemods._base import insert_after_header, parse_statement
from bgtask_lint.engine import parse_module
from bgtask_lint.files import SourceError
from bgtask_lint.guards import GuardModel, guard_model
from bgtask_lint.index import ProjectIndex
from bgtask_lint.log_fixes import LoggerChoice, index_for


def model_for(code: str, filename: str | None) -> GuardModel | None:
    """The guard model of the module whose text is `code`."""
    path = Path(filename if filename is not None else "stdin.py").resolve()
    found = index_for(path, code)
    if found is not None:
        return guard_model(*found)
    try:
        module = parse_module(path, path.parent, code)
    except SourceError:
        return None
    return guard_model(ProjectIndex(path.parent, [module]), module)


def ast_node_at(model: GuardModel, line: int, column: int, types: tuple[type, ...]) -> ast.AST | None:
    """The ast node of one of `types` that starts at LibCST's (line, character column)."""
    lines = model.module.source.splitlines()
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    byte_column = len(text[:column].encode("utf-8"))
    for node in ast.walk(model.module.tree):
        if isinstance(node, types) and node.lineno == line and node.col_offset == byte_column:  # type: ignore[attr-defined]
            return node
    return None


def enclosing_function(model: GuardModel, node: ast.AST) -> ast.AST | None:
    """The innermost def whose lines hold `node` (nested defs lie inside their parent's)."""
    holding = [f for f in ast.walk(model.module.tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
               and f.lineno <= node.lineno <= (f.end_lineno or f.lineno)]  # type: ignore[attr-defined]
    return max(holding, key=lambda f: f.lineno, default=None)


def add_module_logger(module: cst.Module, choice: LoggerChoice) -> cst.Module:
    """`<name> = logging.getLogger(__name__)` after the imports (`import logging` is the
    command's to add)."""
    line = parse_statement(f"{choice.name} = logging.getLogger(__name__)", module)
    return insert_after_header(module, [line])
