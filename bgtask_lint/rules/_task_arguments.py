"""Shared by the BGT2xx rules: the arguments bound to a background task at a call site."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Iterator

from bgtask_lint.index import ScheduleSite, positional_parameters
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
    """`task_arguments`, and what list/tuple/set/dict literals among them hold (V2.4), and
    the arguments of a partial factory that end up bound in its partial (`add_task(make_job(db))`
    where `make_job(session)` returns `functools.partial(F, session)`)."""
    for site, arg in task_arguments(call, ctx):
        for value in literal_elements(arg):
            yield site, value
    site = ctx.module.site_by_call.get(id(call))
    if site is not None and site.is_background and isinstance(site.task, ast.Call):
        for value in _bound_by_factory(site, ctx):
            for element in literal_elements(value):
                yield site, element


def _bound_by_factory(site: ScheduleSite, ctx: RuleContext) -> list[ast.expr]:
    task: ast.Call = site.task  # type: ignore[assignment]
    factory = ctx.index.partial_factory(ctx.module, task, site.function, site.owner_class)
    if factory is None:
        return []
    sym, partials = factory
    bound = {v.id for p in partials for a in [*p.args[1:], *(k.value for k in p.keywords)]
             for v in literal_elements(a) if isinstance(v, ast.Name)}
    positional = positional_parameters(sym, isinstance(task.func, ast.Attribute))
    passed = [value for name, value in zip(positional, task.args)
              if name in bound and not isinstance(value, ast.Starred)]
    passed += [kw.value for kw in task.keywords if kw.arg in bound]
    return passed
