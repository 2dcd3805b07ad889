"""Shared by the BGT2xx rules: the arguments bound to a background task at a call site."""

from __future__ import annotations

import ast
from typing import Iterator

from bgtask_lint.index import ScheduleSite


def task_arguments(call: ast.Call, ctx) -> Iterator[tuple[ScheduleSite, ast.expr]]:
    site = ctx.module.site_by_call.get(id(call))
    if site is None or not site.is_background:
        return
    for arg in site.args:
        yield site, arg.value if isinstance(arg, ast.Starred) else arg
