"""BGT402: make a broad handler in a background task log the traceback, keeping its level.

- `logger.error(...)` -> `logger.exception(...)` (same arguments, same level);
- `logger.warning(...)` (and the other levels) -> `logger.warning(..., exc_info=True)`;
  with loguru, `logger.opt(exception=True).warning(...)`;
- `print(...)` -> `logger.exception(...)`, and a lone `pass` -> `logger.exception(...)`,
  only where a logger is provably bound and not shadowed in the function; a standard
  library import that only the print's `file=` used goes with it (`import sys`).

Of several log calls in one handler, the first of the highest level gets the traceback.
What to write is decided by bgtask_lint/log_fixes.py, which the rule asks too: when it
finds no safe fix, the finding says why and this fix leaves the handler alone.
"""

from __future__ import annotations

import ast
from collections import Counter

import libcst as cst

from bgtask_lint.codemods._base import FindingFix, args_column, node_span, parse_expression, parse_statement
from bgtask_lint.codemods._imports import drop_imports
from bgtask_lint.codemods._layout import append_keyword
from bgtask_lint.codemods._loggers import ModelLookup
from bgtask_lint.located import enclosing_function
from bgtask_lint.log_fixes import HandlerFix, mentions, swallow_fix

Span = tuple[int, int, int, int]


def _true_keyword(name: str) -> cst.Arg:
    return cst.Arg(cst.Name("True"), keyword=cst.Name(name),
                   equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))


class LogSwallowedExceptionFix(ModelLookup, FindingFix):
    CODE = "BGT402"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.import_uses: Counter = Counter()  # of the prints replaced (their `file=sys.stderr`)

    def visit_Module(self, node: cst.Module) -> None:
        self.module_node = node
        self.model = self.given_model
        self.call_plans: dict[Span, HandlerFix] = {}  # call span -> what to do with that call
        self.pass_plans: list[HandlerFix | None] = []  # per handler being visited

    # --- planning -------------------------------------------------------------------------

    def _plan(self, node: cst.ExceptHandler) -> HandlerFix | None:
        handler = self.ast_node(node, (ast.ExceptHandler,))
        if handler is None:
            return None
        plan = swallow_fix(self.model, handler, enclosing_function(self.model.module.tree, handler))  # type: ignore[arg-type]
        return plan if isinstance(plan, HandlerFix) else None

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        plan = self._plan(node) if self.is_target(node) else None
        span = self.span_here(plan.call) if plan is not None and plan.call is not None else None
        if span is not None:
            self.call_plans[span] = plan  # type: ignore[assignment]
        self.pass_plans.append(plan if plan is not None and plan.action == "pass" else None)

    # --- writing --------------------------------------------------------------------------

    def leave_ExceptHandler(self, original: cst.ExceptHandler, updated: cst.ExceptHandler) -> cst.ExceptHandler:
        plan = self.pass_plans.pop()
        if plan is None or plan.statement is None:
            return updated
        body = updated.body
        line = parse_statement(plan.statement, self.module_node)
        self.fixed += 1
        if isinstance(body, cst.SimpleStatementSuite):  # `except Exception: pass`
            return updated.with_changes(body=body.with_changes(body=[line.body[0]]))  # type: ignore[attr-defined]
        lone = body.body[0]  # type: ignore[attr-defined]
        return updated.with_changes(body=body.with_changes(body=[line.with_changes(
            trailing_whitespace=lone.trailing_whitespace, leading_lines=lone.leading_lines)]))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if not self.call_plans:
            return updated
        plan = self.call_plans.pop(node_span(self, original), None)
        if plan is None:
            return updated
        self.fixed += 1
        func = updated.func
        if plan.action == "exception" and isinstance(func, cst.Attribute):
            return updated.with_changes(func=func.with_changes(attr=cst.Name(plan.new_level or "exception")))
        if plan.action == "exc_info":
            return append_keyword(updated, _true_keyword("exc_info"), args_column(self, original))
        if plan.action == "opt" and isinstance(func, cst.Attribute):
            return updated.with_changes(func=func.with_changes(value=self._with_exception_option(func.value)))
        if plan.action == "print" and plan.logger is not None:
            args = [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in updated.args if a.keyword is None]
            if plan.template is not None:
                args = [cst.Arg(parse_expression(plan.template)), *args]
            args = [a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                    for a in args[:-1]] + args[-1:]
            logger = cst.Attribute(value=parse_expression(plan.logger.name), attr=cst.Name("exception"))
            self.import_uses.update(plan.import_uses)
            return updated.with_changes(func=logger, args=args)
        self.fixed -= 1
        return updated

    def transform_module(self, tree: cst.Module) -> cst.Module:
        fixed = super().transform_module(tree)
        if not self.import_uses:
            return fixed
        # an import goes when the prints replaced took every use of its name in the module
        whole = self.model.module.tree
        return drop_imports(fixed, {name for name, count in self.import_uses.items()
                                    if mentions(whole, name) == count})

    @staticmethod
    def _with_exception_option(receiver: cst.BaseExpression) -> cst.BaseExpression:
        """loguru: `logger` -> `logger.opt(exception=True)`; an `.opt(...)` already in the
        chain gets `exception=True`."""
        node = receiver
        while isinstance(node, (cst.Call, cst.Attribute)):
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "opt":
                return receiver.deep_replace(node, append_keyword(node, _true_keyword("exception")))  # type: ignore[return-value]
            node = node.func if isinstance(node, cst.Call) else node.value
        return cst.Call(func=cst.Attribute(value=receiver, attr=cst.Name("opt")), args=[_true_keyword("exception")])
