"""BGT402: make a broad handler in a background task log the traceback.

`logger.error(...)`/`logger.warning(...)` -> `logger.exception(...)` (same arguments);
`print(...)` -> `logger.exception(...)`; a lone `pass` -> `logger.exception(...)`.
"""

from __future__ import annotations

import libcst as cst

from bgtask_lint.guards import is_logger_name
from bgtask_lint.codemods._base import FindingCommand, parse_statement
from bgtask_lint.codemods.guard_task_body import LoggerMixin

DEMOTED_LEVELS = {"error", "warning", "warn"}


class LogSwallowedExceptionCommand(LoggerMixin, FindingCommand):
    DESCRIPTION = "BGT402: log swallowed exceptions in background tasks with logger.exception()."
    CODE = "BGT402"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.functions: list[str] = []
        self.handlers: list[bool] = []  # inside a targeted handler?

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node.name.value)
        self.handlers.append(False)  # a nested def is not the handler's own code

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        self.functions.pop()
        self.handlers.pop()
        return updated

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self.handlers.append(self.is_target(node))

    def leave_ExceptHandler(self, original: cst.ExceptHandler, updated: cst.ExceptHandler) -> cst.ExceptHandler:
        targeted = self.handlers.pop()
        if not targeted:
            return updated
        self.fixed += 1
        body = updated.body
        if isinstance(body, cst.SimpleStatementSuite) and len(body.body) == 1 and isinstance(body.body[0], cst.Pass):
            where = self.functions[-1] if self.functions else "background task"
            call = parse_statement(f'{self.logger()}.exception("unexpected error in %s", "{where}")',
                                   self.module_node).body[0]  # type: ignore[attr-defined]
            return updated.with_changes(body=body.with_changes(body=[call]))
        if isinstance(body, cst.IndentedBlock) and len(body.body) == 1 and isinstance(body.body[0], cst.SimpleStatementLine) \
                and len(body.body[0].body) == 1 and isinstance(body.body[0].body[0], cst.Pass):
            where = self.functions[-1] if self.functions else "background task"
            line = parse_statement(f'{self.logger()}.exception("unexpected error in %s", "{where}")',
                                   self.module_node)
            return updated.with_changes(body=body.with_changes(body=[line.with_changes(
                trailing_whitespace=body.body[0].trailing_whitespace,
                leading_lines=body.body[0].leading_lines)]))
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if not self.handlers or not self.handlers[-1]:
            return updated
        func = updated.func
        if isinstance(func, cst.Attribute) and func.attr.value in DEMOTED_LEVELS \
                and is_logger_name(cst.Module([]).code_for_node(func.value)):
            return updated.with_changes(func=func.with_changes(attr=cst.Name("exception")))
        if isinstance(func, cst.Name) and func.value == "print":
            args = [a for a in updated.args if a.keyword is None and not a.star]
            if not args:
                args = [cst.Arg(cst.SimpleString('"unexpected error"'))]
            elif len(args) > 1:
                template = cst.SimpleString('"' + " ".join(["%s"] * len(args)) + '"')
                args = [cst.Arg(template), *args]
            args = [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in args]
            logger = cst.Attribute(value=cst.Name(self.logger()), attr=cst.Name("exception"))
            return updated.with_changes(func=logger, args=args)
        return updated
