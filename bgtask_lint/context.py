"""What a rule handler receives: `RuleContext`, the module and project facts at a node."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.files import source_lines
from bgtask_lint.findings import Finding
from bgtask_lint.index import ModuleInfo, ProjectIndex, Symbol

if TYPE_CHECKING:
    from bgtask_lint.config import Settings
    from bgtask_lint.rules import Rule


_SCOPES = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef})


class RuleContext:
    """The module being checked, the project index, the settings, and the ancestors of
    the node being visited (kept by the engine's one traversal)."""

    def __init__(self, module: ModuleInfo, index: ProjectIndex, settings: "Settings"):
        self.module = module
        self.index = index
        self.settings = settings
        self.stack: list[ast.AST] = []  # ancestors of the node being visited, outermost first
        # the defs, lambdas and classes among them (the engine keeps both): `function` in O(1)
        self.scopes: list[ast.AST] = []
        self.findings: list[Finding] = []
        self._lines: list[str] | None = None
        # an ASCII module's columns are its bytes: its lines need not be split
        self._ascii = module.source.isascii()

    def char_column(self, line: int, byte_col: int) -> int:
        """ast counts columns in UTF-8 bytes; findings count characters, as ruff and flake8 do."""
        if self._ascii:
            return byte_col
        if self._lines is None:
            self._lines = source_lines(self.module.source)
        text = self._lines[line - 1] if 0 < line <= len(self._lines) else ""
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))

    @property
    def function(self) -> ast.AST | None:
        """The innermost enclosing def or lambda (None at module or class level)."""
        scope = self.scopes[-1] if self.scopes else None
        return None if scope is None or type(scope) is ast.ClassDef else scope

    @property
    def parent(self) -> ast.AST | None:
        return self.stack[-1] if self.stack else None

    def in_async_def(self) -> bool:
        """Whether the node visited runs in the body of an async def (on the event loop).
        A def's header (its decorators, its parameters' defaults and annotations, its return
        annotation) is evaluated where the def is: at import for a module-level def, in the
        body of the def around it for a nested one. A class body or a lambda's is not the
        async def's."""
        stack = self.stack
        for at in range(len(stack) - 1, -1, -1):
            scope = stack[at]
            kind = type(scope)
            if kind not in _SCOPES:
                continue
            if at + 1 < len(stack):
                below = stack[at + 1]
                in_body = below is scope.body if kind is ast.Lambda else isinstance(below, ast.stmt)
            else:  # the node visited is right below: a lambda's body, or a def's decorator
                in_body = kind is ast.Lambda
            if in_body:
                return kind is ast.AsyncFunctionDef
        return False

    def in_generator_expression(self) -> bool:
        """Whether the node visited is inside a generator expression of the innermost def
        (not in its first iterable, which the def itself evaluates): an `await` there would
        make it an async generator, which `list(...)`, `sum(...)` or a `for` cannot consume."""
        function = self.function
        stack = self.stack
        for at in range(len(stack) - 1, -1, -1):
            node = stack[at]
            if node is function:
                return False
            if type(node) is ast.GeneratorExp:
                first = node.generators[0]
                if not (at + 2 < len(stack) and stack[at + 1] is first and stack[at + 2] is first.iter):
                    return True
        return False

    def owner_class(self) -> ast.ClassDef | None:
        function = self.function
        return self.module.owner_class.get(id(function)) if function is not None else None

    def qualified_name(self, expr: ast.expr) -> str | None:
        return self.index.qualified_name(self.module, expr, self.function)

    def resolve(self, expr: ast.expr) -> Symbol | None:
        return self.index.resolve(self.module, expr, self.function, self.owner_class())

    def scheduled_from(self, task: ast.AST) -> str:
        """' (scheduled from app/main.py:52)' for a task scheduled from another module, else
        ''. The path is relative to the project root, so that it does not depend on where the
        command runs (findings are cached)."""
        origin = self.index.task_origin(self.module, task)
        if origin is None or origin[0] == self.module.path:
            return ""
        path, line = origin
        try:
            shown = path.relative_to(self.index.root).as_posix()
        except ValueError:
            shown = path.as_posix()
        return f" (scheduled from {shown}:{line})"

    def report(self, rule: "Rule", node: ast.AST, message: str | None, *, fix: str | None) -> None:
        line: int = node.lineno  # type: ignore[attr-defined]
        end_line: int = getattr(node, "end_lineno", None) or line
        self.findings.append(
            Finding(
                path=self.module.path,
                line=line,
                col=self.char_column(line, node.col_offset),  # type: ignore[attr-defined]
                code=rule.code,
                message=message or rule.message,
                end_line=end_line,
                end_col=self.char_column(end_line, getattr(node, "end_col_offset", None) or 0),
                fix=fix,
                fix_title=rule.fix_title if fix else None,
            )
        )
