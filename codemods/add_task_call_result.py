"""BGT101: `add_task(f(a, b=c))` -> `add_task(f, a, b=c)`; `add_task(asyncio.run, f(a))` -> `add_task(f, a)`."""

from __future__ import annotations

import libcst as cst

from codemods._base import FindingCommand


def _with_commas(args: list[cst.Arg], last_comma: cst.Comma | cst.MaybeSentinel) -> list[cst.Arg]:
    fixed = []
    for position, arg in enumerate(args):
        if position < len(args) - 1:
            comma = arg.comma if isinstance(arg.comma, cst.Comma) else cst.Comma(
                whitespace_after=cst.SimpleWhitespace(" "))
        else:
            comma = last_comma
        fixed.append(arg.with_changes(comma=comma))
    return fixed


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
        new_args = [cst.Arg(value=inner.func), *inner.args, *rest]
        self.fixed += 1
        return updated.with_changes(args=_with_commas(new_args, outer_args[-1].comma))

    @staticmethod
    def _is_start_soon(call: cst.Call) -> bool:
        return isinstance(call.func, cst.Attribute) and call.func.attr.value == "start_soon"
