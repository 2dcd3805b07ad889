"""BGT401: wrap an unguarded background task's body in try/except that logs and re-raises.

    def process(path):                def process(path):
        \"\"\"Doc.\"\"\"                      \"\"\"Doc.\"\"\"
        rows = parse(path)      ->        try:
        store(rows)                           rows = parse(path)
                                              store(rows)
                                          except Exception:
                                              logger.exception("background task %s failed", "process")
                                              raise

The logger is one provably bound in the module and not shadowed in the task (reused);
`import logging` and `logger = logging.getLogger(__name__)` are added only when no
logger is bound and the name `logger` is free. Loguru and structlog loggers get their
own idiom. A body with a handler inside that already logs the traceback and re-raises,
or a task whose decorator logs its failures, is left alone (no double logging). What to
write is decided by bgtask_lint/log_fixes.py, which the rule asks too.
"""

from __future__ import annotations

import ast

import libcst as cst

from bgtask_lint.codemods._base import FindingFix, is_docstring, parse_statement
from bgtask_lint.codemods._loggers import ModelLookup, add_module_logger
from bgtask_lint.log_fixes import GuardFix, LoggerChoice, guard_fix


def body_statements(body: cst.BaseSuite) -> list[cst.BaseStatement]:
    if isinstance(body, cst.IndentedBlock):
        return list(body.body)
    # `def f(): a(); b()` -> one line per statement
    return [cst.SimpleStatementLine(body=[s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)])
            for s in body.body]  # type: ignore[attr-defined]


class GuardTaskBodyFix(ModelLookup, FindingFix):
    CODE = "BGT401"

    def visit_Module(self, node: cst.Module) -> None:
        self.module_node = node
        self.model = self.given_model
        self.new_logger: LoggerChoice | None = None

    def _plan(self, original: cst.FunctionDef) -> GuardFix | None:
        function = self.ast_node(original, (ast.FunctionDef, ast.AsyncFunctionDef))
        plan = guard_fix(self.model, function) if function is not None else None  # type: ignore[arg-type]
        return plan if isinstance(plan, GuardFix) else None

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        if not self.is_target(original):
            return updated
        plan = self._plan(original)
        if plan is None:
            return updated
        statements = body_statements(updated.body)
        head = statements[:1] if statements and is_docstring(statements[0]) else []
        while len(head) < len(statements) and _declares_only(statements[len(head)]):
            head.append(statements[len(head)])  # `global x` stays first: it is no call to guard
        rest = statements[len(head):]
        if not rest:
            return updated
        module = self.module_node
        handler = cst.ExceptHandler(
            type=cst.Name("Exception"),
            whitespace_after_except=cst.SimpleWhitespace(" "),
            body=cst.IndentedBlock(body=[parse_statement(plan.statement, module), parse_statement("raise", module)]),
        )
        if plan.logger.add:
            self.new_logger = plan.logger
        first_comments = rest[0].leading_lines  # type: ignore[attr-defined]
        rest[0] = rest[0].with_changes(leading_lines=[])  # type: ignore[attr-defined]
        guard = cst.Try(body=cst.IndentedBlock(body=rest), handlers=[handler], leading_lines=first_comments)
        self.fixed += 1
        if isinstance(updated.body, cst.IndentedBlock):
            return updated.with_changes(body=updated.body.with_changes(body=[*head, guard]))
        # `def t(x): work(x)  # note`: the comment moves to the `def` line
        header = updated.body.trailing_whitespace  # type: ignore[attr-defined]
        return updated.with_changes(body=cst.IndentedBlock(body=[*head, guard], header=header))

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        if self.new_logger is None:
            return updated
        self.needs_import("logging")
        return add_module_logger(updated, self.new_logger)


def _declares_only(statement: cst.BaseStatement) -> bool:
    """`global x` / `nonlocal y` (and nothing else on the line)."""
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Global, cst.Nonlocal)) for small in statement.body)
