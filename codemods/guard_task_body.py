"""BGT401: wrap an unguarded background task's body in try/except that logs and re-raises.

    def process(path):                def process(path):
        \"\"\"Doc.\"\"\"                      \"\"\"Doc.\"\"\"
        rows = parse(path)      ->        try:
        store(rows)                           rows = parse(path)
                                              store(rows)
                                          except Exception:
                                              logger.exception("background task %s failed", "process")
                                              raise

`import logging` and `logger = logging.getLogger(__name__)` are added only when the
module has no logger; an existing `logger`/`log`/`LOGGER` is reused.
"""

from __future__ import annotations

import libcst as cst

from bgtask_lint.codemods._base import FindingCommand, insert_after_header, module_logger_name, parse_statement

def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def body_statements(body: cst.BaseSuite) -> list[cst.BaseStatement]:
    if isinstance(body, cst.IndentedBlock):
        return list(body.body)
    # `def f(): a(); b()` -> one line per statement
    return [cst.SimpleStatementLine(body=[s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)])
            for s in body.body]  # type: ignore[attr-defined]


class LoggerMixin:
    """Find the module's logger, or add one when a fix needs it."""

    def visit_Module(self, node: cst.Module) -> None:
        self.module_node = node
        existing = module_logger_name(node)
        self.logger_name = existing or "logger"
        self.needs_logger = existing is None
        self.used_logger = False

    def logger(self) -> str:
        self.used_logger = True
        return self.logger_name

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        if not (self.used_logger and self.needs_logger):
            return updated
        self.needs_import("logging")
        line = parse_statement(f"{self.logger_name} = logging.getLogger(__name__)", updated)
        return insert_after_header(updated, [line])


class GuardTaskBodyCommand(LoggerMixin, FindingCommand):
    DESCRIPTION = "BGT401: wrap background task bodies in try/except that logs the traceback and re-raises."
    CODE = "BGT401"

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        if not self.is_target(original):
            return updated
        statements = body_statements(updated.body)
        head = statements[:1] if statements and _is_docstring(statements[0]) else []
        rest = statements[len(head):]
        if not rest:
            return updated
        name = original.name.value
        module = self.module_node
        handler = cst.ExceptHandler(
            type=cst.Name("Exception"),
            whitespace_after_except=cst.SimpleWhitespace(" "),
            body=cst.IndentedBlock(body=[
                parse_statement(f'{self.logger()}.exception("background task %s failed", "{name}")', module),
                parse_statement("raise", module),
            ]),
        )
        first_comments = rest[0].leading_lines  # type: ignore[attr-defined]
        rest[0] = rest[0].with_changes(leading_lines=[])  # type: ignore[attr-defined]
        guard = cst.Try(body=cst.IndentedBlock(body=rest), handlers=[handler], leading_lines=first_comments)
        self.fixed += 1
        if isinstance(updated.body, cst.IndentedBlock):
            return updated.with_changes(body=updated.body.with_changes(body=[*head, guard]))
        # `def t(x): work(x)  # note`: the comment moves to the `def` line
        header = updated.body.trailing_whitespace  # type: ignore[attr-defined]
        return updated.with_changes(body=cst.IndentedBlock(body=[*head, guard], header=header))
