"""BGT101: `add_task(f(a, b=c))` -> `add_task(f, a, b=c)`; `add_task(asyncio.run, f(a))` -> `add_task(f, a)`."""

from __future__ import annotations

import libcst as cst

from bgtask_lint.codemods._base import FindingCommand
from bgtask_lint.codemods._layout import lay_out, multiline_layout


class AddTaskCallResultCommand(FindingCommand):
    DESCRIPTION = "BGT101: pass the task function and its arguments to add_task instead of calling it."
    CODE = "BGT101"

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if not original.args:
            return updated
        first = original.args[0]
        if first.keyword is not None or first.star:
            return updated
        if not self.is_target(first.value):
            return updated
        outer_args = list(updated.args)
        if isinstance(first.value, cst.Call):
            inner = updated.args[0].value
            assert isinstance(inner, cst.Call)
            rest = outer_args[1:]
        else:
            # add_task(asyncio.run, f(a)): the coroutine call is the second argument
            if len(outer_args) < 2 or not isinstance(outer_args[1].value, cst.Call):
                return updated
            inner = outer_args[1].value
            rest = outer_args[2:]
        if self._is_start_soon(original) and any(a.keyword is not None for a in inner.args):
            return updated  # start_soon takes no keyword arguments for the task
        opening = inner.whitespace_before_args
        first_comment = opening.first_line if isinstance(opening, cst.ParenthesizedWhitespace) else None
        func_arg = cst.Arg(value=inner.func)
        if first_comment is not None and first_comment.comment is not None:
            func_arg = func_arg.with_changes(whitespace_after_arg=cst.ParenthesizedWhitespace(first_line=first_comment))
        new_args = [func_arg, *inner.args, *rest]
        layout = multiline_layout(updated) or multiline_layout(inner)
        trailing = isinstance(outer_args[-1].comma, cst.Comma) or (
            layout is not None and any(isinstance(a.comma, cst.Comma) for a in inner.args[-1:]))
        self.fixed += 1
        return updated.with_changes(args=lay_out(new_args, layout, trailing))

    @staticmethod
    def _is_start_soon(call: cst.Call) -> bool:
        return isinstance(call.func, cst.Attribute) and call.func.attr.value == "start_soon"
