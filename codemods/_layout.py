"""Argument lists that keep their layout: one argument per line stays one per line,
comments stay on the argument they were written after."""

from __future__ import annotations

from typing import Sequence

import libcst as cst

SPACE = cst.SimpleWhitespace(" ")
NOTHING = cst.SimpleWhitespace("")


def _comment_line(arg: cst.Arg) -> cst.TrailingWhitespace:
    """The end-of-line comment written after an argument, if any."""
    for ws in (arg.comma.whitespace_after if isinstance(arg.comma, cst.Comma) else None, arg.whitespace_after_arg):
        if isinstance(ws, cst.ParenthesizedWhitespace):
            return ws.first_line
    return cst.TrailingWhitespace()


def _break(first_line: cst.TrailingWhitespace, indent: cst.SimpleWhitespace) -> cst.ParenthesizedWhitespace:
    return cst.ParenthesizedWhitespace(first_line=first_line, empty_lines=[], indent=True, last_line=indent)


def multiline_layout(call: cst.Call) -> tuple[cst.SimpleWhitespace, cst.SimpleWhitespace] | None:
    """(argument indentation, closing-paren indentation) of a call written one argument per line."""
    opening = call.whitespace_before_args
    if not isinstance(opening, cst.ParenthesizedWhitespace) or not call.args:
        return None
    last = call.args[-1]
    closing_ws = last.comma.whitespace_after if isinstance(last.comma, cst.Comma) else last.whitespace_after_arg
    closing = closing_ws.last_line if isinstance(closing_ws, cst.ParenthesizedWhitespace) else NOTHING
    return opening.last_line, closing


def lay_out(args: Sequence[cst.Arg], layout: tuple[cst.SimpleWhitespace, cst.SimpleWhitespace] | None,
            trailing_comma: bool) -> list[cst.Arg]:
    """Give `args` separators: `a, b` on one line, or one per line under `layout`."""
    result = []
    for position, arg in enumerate(args):
        is_last = position == len(args) - 1
        if layout is None:
            if is_last:
                comma = cst.Comma() if trailing_comma else cst.MaybeSentinel.DEFAULT
            else:
                comma = cst.Comma(whitespace_after=SPACE)
            result.append(arg.with_changes(comma=comma, whitespace_after_arg=NOTHING))
            continue
        indent, closing = layout
        after = _break(_comment_line(arg), closing if is_last else indent)
        if is_last and not trailing_comma:
            result.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=after))
        else:
            result.append(arg.with_changes(comma=cst.Comma(whitespace_after=after), whitespace_after_arg=NOTHING))
    return result


def _aligned_break(args: Sequence[cst.Arg]) -> cst.ParenthesizedWhitespace | None:
    """The line break between the last two arguments of a call whose arguments continue on
    lines of their own after the first (none when the last argument has a comment or a
    trailing comma after it, or the arguments share one line)."""
    if len(args) < 2 or isinstance(args[-1].comma, cst.Comma) \
            or not isinstance(args[-1].whitespace_after_arg, cst.SimpleWhitespace):
        return None
    between = args[-2].comma.whitespace_after if isinstance(args[-2].comma, cst.Comma) else None
    if isinstance(between, cst.ParenthesizedWhitespace) and between.first_line.comment is None \
            and not between.empty_lines:
        return between
    return None


HUGGED_LINE_LIMIT = 88  # black's and ruff's default line length


def _hugged(args: Sequence[cst.Arg]) -> bool:
    """`f(\n    a, b, c\n)`: the arguments share one line of their own (black's layout when
    they fit on it), rather than one per line."""
    return all(isinstance(arg.comma, cst.Comma) and not isinstance(arg.comma.whitespace_after,
                                                                   cst.ParenthesizedWhitespace)
               and not isinstance(arg.whitespace_after_arg, cst.ParenthesizedWhitespace) for arg in args[:-1])


def append_keyword(call: cst.Call, new_arg: cst.Arg, args_column: int | None = None) -> cst.Call:
    """`call` with `new_arg` last, in its layout. `args_column`: where the first argument
    starts in the file (from the original call's position), to tell whether hugged
    arguments still fit on their line; unknown, they are laid out one per line."""
    args = list(call.args)
    layout = multiline_layout(call)
    if layout is None:
        aligned = _aligned_break(args)
        if aligned is not None:
            # `f(a,\n  b)`: the first argument on the paren's line, the others aligned under
            # it; the new one goes on a line of its own, aligned the same way
            last = args[-1]
            args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=aligned), whitespace_after_arg=NOTHING)
            return call.with_changes(args=[*args, new_arg.with_changes(whitespace_after_arg=last.whitespace_after_arg)])
        return call.with_changes(args=lay_out([*args, new_arg], None, bool(args) and isinstance(args[-1].comma, cst.Comma)))
    last = args[-1] if args else None
    trailing = last is not None and isinstance(last.comma, cst.Comma)
    if last is not None and not trailing and _hugged(args):
        # still one line if it fits, as black would keep it; else one per line with the
        # trailing comma black adds when it explodes a call
        indent, closing = layout
        hugged = lay_out([*args, new_arg], None, False)
        line = "".join(cst.Module([]).code_for_node(arg) for arg in hugged)
        if args_column is not None and "\n" not in line and args_column + len(line) <= HUGGED_LINE_LIMIT:
            hugged[-1] = hugged[-1].with_changes(whitespace_after_arg=_break(_comment_line(last), closing))
            return call.with_changes(args=hugged)
        trailing = True
    return call.with_changes(args=lay_out([*args, new_arg], layout, trailing))
