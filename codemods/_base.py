"""What every bgtask-lint fix shares: targets, stand-alone detection, module edits."""

from __future__ import annotations

import ast
import bisect
from typing import Callable, ClassVar, Iterable, Sequence

import libcst as cst
from bgtask_lint.codemods._imports import add_import
from libcst.metadata import MetadataWrapper, PositionProvider

# (line, column, end line, end column) of the node a finding points at; columns count characters
Target = tuple[int, int, int, int]
DEFAULT_TIMEOUT = 10.0


class FindingFix(cst.CSTTransformer):
    """The fix of one rule's findings, at the positions it is given (`targets`), or, with
    none given, at those a check of the file finds (a stand-alone run).

    A plain LibCST transformer: `bgtask-lint fix` runs it without importing
    `libcst.codemod`, whose import (LibCST's matchers with it) costs more than most fixes.
    `codemods/_command.py` wraps it as a codemod command for `python -m libcst.tool`.
    """

    CODE: ClassVar[str]
    METADATA_DEPENDENCIES = (PositionProvider,)
    # a command whose visit gathers something from every statement (BGT301 counts the uses
    # of each import) sets this; the others see only the statements around their targets
    SEES_EVERY_STATEMENT: ClassVar[bool] = False

    def __init__(self, filename: str | None = None, targets: Iterable[Target] | None = None,
                 unsafe_fixes: bool = False, connect_timeout: float | None = None) -> None:
        super().__init__()
        self.filename = filename
        self.given_targets = None if targets is None else set(targets)
        self.unsafe_fixes = unsafe_fixes
        self.connect_timeout = connect_timeout or DEFAULT_TIMEOUT
        self.targets: set[Target] = set()
        self.fixed = 0
        self.imports: list[str] = []
        # set by fix.py: the whole module's tree, from the index (None: the command parses
        # the text it is given); when the command is shown only the parts of a big module
        # that hold its targets (fix_skeleton.py), also whether a name is used in the parts
        # left out. What a command asks of the module, it asks of these
        self.module_tree: ast.Module | None = None
        self.used_elsewhere: Callable[[str], bool] = lambda name: False
        # the visit's skipping (see on_visit): set from the targets when the visit starts
        self._target_lines: list[int] = []
        self._target_starts: set[tuple[int, int]] = set()
        self._skipped: cst.CSTNode | None = None
        self._within_target: cst.CSTNode | None = None

    def needs_import(self, name: str) -> None:
        if name not in self.imports:
            self.imports.append(name)

    def run(self, wrapper: MetadataWrapper) -> cst.Module:
        """The fixed module (`wrapper` holds the module to fix)."""
        with self.resolve(wrapper):
            return self.transform_module(wrapper.module)

    def transform_module(self, tree: cst.Module) -> cst.Module:
        if self.given_targets is None:
            # run stand-alone (python -m libcst.tool codemod): find the targets the way
            # `bgtask-lint check` would, with the file's whole project
            from bgtask_lint.codemods._standalone import standalone_targets

            self.targets, model = standalone_targets(tree.code, self.CODE, self.filename,
                                                     self.unsafe_fixes, self.connect_timeout)
            if hasattr(self, "given_model"):
                self.given_model = model
        else:
            self.targets = self.given_targets
        if not self.targets:
            return tree
        self._target_lines = sorted({t[0] for t in self.targets})
        self._target_starts = {t[:2] for t in self.targets}
        new_tree = tree.visit(self)
        for name in self.imports:
            new_tree = add_import(new_tree, name)
        return new_tree

    # --- the visit skips the statements that hold no target ---------------------------------

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.SEES_EVERY_STATEMENT or self._within_target is not None or isinstance(node, cst.BaseExpression):
            return super().on_visit(node)
        span = self.get_metadata(PositionProvider, node, None)
        if span is None:
            return super().on_visit(node)
        if (span.start.line, span.start.column) in self._target_starts:
            # a target that is a statement or a clause (a def, an except handler): what its
            # fix rewrites may lie on any line of it
            self._within_target = node
        elif isinstance(node, cst.BaseStatement) and not self._holds_target(self._first_line(node, span), span.end.line):
            # a statement with no target in it: nothing in it changes, nothing in it is asked
            self._skipped = node
            return False
        return super().on_visit(node)

    def _first_line(self, statement: cst.CSTNode, span) -> int:
        """Where a statement starts, its decorators included (LibCST's position of a def or
        a class starts at the `def` or `class` keyword)."""
        decorators = getattr(statement, "decorators", ())
        return self.get_metadata(PositionProvider, decorators[0]).start.line if decorators else span.start.line

    def on_leave(self, original_node, updated_node):
        if original_node is self._skipped:  # its children were not visited: neither is it
            self._skipped = None
            return updated_node
        if original_node is self._within_target:
            self._within_target = None
        return super().on_leave(original_node, updated_node)

    def _holds_target(self, first: int, last: int) -> bool:
        at = bisect.bisect_left(self._target_lines, first)
        return at < len(self._target_lines) and self._target_lines[at] <= last

    def is_target(self, node: cst.CSTNode) -> bool:
        """Statements match by where they start; expressions by their whole span, since
        `a(...).b()` and `a(...)` start at the same place."""
        span = self.get_metadata(PositionProvider, node)
        start = (span.start.line, span.start.column)
        if not isinstance(node, cst.BaseExpression):
            return any(t[:2] == start for t in self.targets)
        return (*start, span.end.line, span.end.column) in self.targets


# --- module-level edits -----------------------------------------------------------------


def _is_import_line(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def is_docstring(stmt: cst.CSTNode) -> bool:
    """A string statement alone on its line (implicitly concatenated parts too): at the top of
    a body, its docstring."""
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def header_end(body: Sequence[cst.CSTNode]) -> int:
    """Index just after the module's docstring and leading import block."""
    position = 1 if body and is_docstring(body[0]) else 0
    last_import = None
    for index, stmt in enumerate(body):
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            break
        if _is_import_line(stmt) or (
            isinstance(stmt, (cst.If, cst.Try)) and _contains_import(stmt)
        ):
            last_import = index
    return max(position, last_import + 1 if last_import is not None else 0)


def _contains_import(node: cst.CSTNode) -> bool:
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Import(self, _: cst.Import) -> None:
            nonlocal found
            found = True

        def visit_ImportFrom(self, _: cst.ImportFrom) -> None:
            nonlocal found
            found = True

    node.visit(Finder())
    return found


def insert_after_header(module: cst.Module, statements: Sequence[cst.BaseStatement]) -> cst.Module:
    body = list(module.body)
    at = header_end(body)
    new = list(statements)
    if new and at < len(body):
        # keep one blank line between the new statement and what follows it
        following = body[at]
        if not following.leading_lines:  # type: ignore[attr-defined]
            body[at] = following.with_changes(leading_lines=[cst.EmptyLine()])  # type: ignore[attr-defined]
    if new and at > 0:
        new[0] = new[0].with_changes(leading_lines=[cst.EmptyLine()])  # type: ignore[attr-defined]
    return module.with_changes(body=body[:at] + new + body[at:])


def module_defines(module: cst.Module, name: str) -> bool:
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign) and any(
                    isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets
                ):
                    return True
                if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) \
                        and small.target.value == name:
                    return True
    return False


def parse_statement(code: str, module: cst.Module) -> cst.BaseStatement:
    return cst.parse_statement(code, config=module.config_for_parsing)


def parse_expression(code: str, module: cst.Module | None = None) -> cst.BaseExpression:
    if module is None:
        return cst.parse_expression(code)
    return cst.parse_expression(code, config=module.config_for_parsing)


def parenthesized(expr: cst.BaseExpression) -> cst.BaseExpression:
    """Wrap a new `await x` in parentheses where it is the base of `.attr`, `[i]` or `(...)`."""
    if isinstance(expr, cst.Await) and not expr.lpar:
        return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return expr


# --- from a LibCST node to the ast node the checker saw -----------------------------------


def char_span(source_lines: Sequence[str], node) -> Target:
    """An ast node's (line, column, end line, end column), columns in characters (LibCST's)."""

    def char(line: int, column: int) -> int:
        text = source_lines[line - 1] if 0 < line <= len(source_lines) else ""
        return len(text.encode("utf-8")[:column].decode("utf-8", "ignore"))

    return (node.lineno, char(node.lineno, node.col_offset),
            node.end_lineno, char(node.end_lineno, node.end_col_offset))


def args_column(fix: FindingFix, call: cst.Call) -> int | None:
    """Where the (original) call's first argument starts on its line, or None."""
    return fix.get_metadata(PositionProvider, call.args[0]).start.column if call.args else None


def node_span(fix: FindingFix, node: cst.CSTNode) -> Target:
    position = fix.get_metadata(PositionProvider, node)
    return position.start.line, position.start.column, position.end.line, position.end.column
