"""Shared by the BGT2xx rules: the arguments bound to a background task at a call site."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Iterator

from bgtask_lint.index import ScheduleSite
from bgtask_lint.semantics import literal_elements

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext


def task_arguments(call: ast.Call, ctx: RuleContext) -> Iterator[tuple[ScheduleSite, ast.expr]]:
    site = ctx.module.site_by_call.get(id(call))
    if site is None or not site.is_background:
        return
    for arg in site.args:
        yield site, arg.value if isinstance(arg, ast.Starred) else arg


def task_values(call: ast.Call, ctx: RuleContext) -> Iterator[tuple[ScheduleSite, ast.expr]]:
    """`task_arguments`, and what list/tuple/set/dict literals among them hold (V2.4)."""
    for site, arg in task_arguments(call, ctx):
        for value in literal_elements(arg):
            yield site, value
