"""BGT101: `add_task(f(a, b=c))` -> `add_task(f, a, b=c)`; `add_task(asyncio.run, f(a))` -> `add_task(f, a)`.

The call's arguments move onto the scheduler only when they cannot collide with its own
parameters: a keyword the scheduler takes itself (`func=` for `add_task` and
`BackgroundTask`, any keyword for anyio's `start_soon`) or a `**mapping` that may hold
one keeps the arguments the task's through `functools.partial(f, ...)`. A scheduling
call with other arguments is never rewritten: they go to the call's result today, and
would go to the task after (the checker offers no fix then; this is the codemod's own
guard, for stand-alone runs).
"""

from __future__ import annotations

import libcst as cst

from bgtask_lint.codemods._base import FindingFix
from bgtask_lint.codemods._layout import lay_out, multiline_layout

SCHEDULER_KEYWORDS = {"add_task": {"self", "func"}, "BackgroundTask": {"self", "func"}, "start_soon": None}


def _form(call: cst.Call) -> str:
    func = call.func
    return func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""


def needs_partial(inner: cst.Call, form: str) -> bool:
    """The same decision as bgtask_lint.fix_safety.needs_partial, on LibCST nodes."""
    keywords = SCHEDULER_KEYWORDS.get(form, set())
    named = [a for a in inner.args if a.keyword is not None or a.star == "**"]
    if keywords is None:
        return bool(named)
    return any(a.star == "**" or (a.keyword is not None and a.keyword.value in keywords) for a in named)


class AddTaskCallResultFix(FindingFix):
    CODE = "BGT101"

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if not original.args:
            return updated
        first = original.args[0]
        if first.star or not self.is_target(first.value):
            return updated
        outer_args = list(updated.args)
        form = _form(original)
        own = [a for a in outer_args[1:] if form == "start_soon" and a.keyword is not None
               and a.keyword.value == "name"]
        if first.keyword is not None:
            # add_task(func=f(a)): the only argument
            if first.keyword.value != "func" or len(outer_args) != 1 or not isinstance(first.value, cst.Call):
                return updated
            inner = outer_args[0].value
            rest: list[cst.Arg] = []
        elif isinstance(first.value, cst.Call):
            inner = outer_args[0].value
            rest = outer_args[1:]
        else:
            # add_task(asyncio.run, f(a)): the coroutine call is the second argument
            if len(outer_args) < 2 or not isinstance(outer_args[1].value, cst.Call) or outer_args[1].keyword:
                return updated
            inner = outer_args[1].value
            rest = outer_args[2:]
        if not isinstance(inner, cst.Call) or [a for a in rest if a not in own]:
            return updated  # other arguments go to the result (or to asyncio.run) today
        self.fixed += 1
        if needs_partial(inner, form):
            return self._with_partial(updated, inner, own)
        opening = inner.whitespace_before_args
        first_comment = opening.first_line if isinstance(opening, cst.ParenthesizedWhitespace) else None
        func_arg = cst.Arg(value=inner.func)
        if first_comment is not None and first_comment.comment is not None:
            func_arg = func_arg.with_changes(whitespace_after_arg=cst.ParenthesizedWhitespace(first_line=first_comment))
        new_args = [func_arg, *inner.args, *rest]
        layout = multiline_layout(updated) or multiline_layout(inner)
        trailing = isinstance(outer_args[-1].comma, cst.Comma) or (
            layout is not None and any(isinstance(a.comma, cst.Comma) for a in inner.args[-1:]))
        return updated.with_changes(args=lay_out(new_args, layout, trailing))

    def _with_partial(self, updated: cst.Call, inner: cst.Call, own: list[cst.Arg]) -> cst.Call:
        """`add_task(functools.partial(f, a, func=x))`: the call, deferred, keeps its arguments."""
        self.needs_import("functools")
        partial = cst.Attribute(value=cst.Name("functools"), attr=cst.Name("partial"))
        func_arg = cst.Arg(value=inner.func, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        deferred = inner.with_changes(func=partial, args=[func_arg, *inner.args])
        layout = multiline_layout(updated)
        trailing = isinstance(updated.args[-1].comma, cst.Comma)
        return updated.with_changes(args=lay_out([cst.Arg(value=deferred), *own], layout, trailing))
