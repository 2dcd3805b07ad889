"""Shared by the BGT2xx rules: the arguments bound to a background task at a call site."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Iterator

from bgtask_lint.index import ScheduleSite

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext


def task_arguments(call: ast.Call, ctx: RuleContext) -> Iterator[tuple[ScheduleSite, ast.expr]]:
    site = ctx.module.site_by_call.get(id(call))
    if site is None or not site.is_background:
        return
    for arg in site.args:
        yield site, arg.value if isinstance(arg, ast.Starred) else arg
