"""BGT501: give network connects a timeout.

An awaited call becomes `await asyncio.wait_for(<call>, timeout=T)`; a constructor gets
the API's own keyword (`timeout=T`, `socket_connect_timeout=T` for Redis,
`connect_timeout=T` for aiomysql, `aiohttp.ClientTimeout(total=T)` for aiohttp); an
explicit `timeout=None` gets T. T comes from `--connect-timeout` (default 10.0).
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import PositionProvider, QualifiedNameProvider

from bgtask_lint.connect import CONNECT_APIS
from bgtask_lint.codemods._base import FindingCommand
from bgtask_lint.codemods._layout import append_keyword


class ConnectTimeoutCommand(FindingCommand):
    DESCRIPTION = "BGT501: add a timeout to network connects and clients."
    CODE = "BGT501"
    METADATA_DEPENDENCIES = (PositionProvider, QualifiedNameProvider)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.awaited: set[int] = set()

    def _api(self, call: cst.Call):
        for qualified in self.get_metadata(QualifiedNameProvider, call.func, set()):
            api = CONNECT_APIS.get(qualified.name)
            if api is not None:
                return qualified.name, api
        return None, None

    def _timeout(self) -> cst.Float:
        return cst.Float(repr(float(self.connect_timeout)))

    def _none_keyword(self, call: cst.Call, names: tuple[str, ...]) -> int | None:
        for position, arg in enumerate(call.args):
            if arg.keyword is not None and arg.keyword.value in names \
                    and isinstance(arg.value, cst.Name) and arg.value.value == "None":
                return position
        return None

    def visit_Await(self, node: cst.Await) -> None:
        if isinstance(node.expression, cst.Call) and self.is_target(node.expression):
            name, api = self._api(node.expression)
            keywords = api.keywords if api else ("timeout",)
            if self._none_keyword(node.expression, keywords) is None:
                self.awaited.add(id(node.expression))

    def leave_Await(self, original: cst.Await, updated: cst.Await) -> cst.BaseExpression:
        if id(original.expression) not in self.awaited:
            return updated
        self.needs_import("asyncio")
        self.fixed += 1
        wait_for = cst.Call(
            func=cst.Attribute(value=cst.Name("asyncio"), attr=cst.Name("wait_for")),
            args=[
                cst.Arg(updated.expression, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                cst.Arg(self._timeout(), keyword=cst.Name("timeout"),
                        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))),
            ],
        )
        return updated.with_changes(expression=wait_for)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if id(original) in self.awaited or not self.is_target(original):
            return updated
        name, api = self._api(original)
        keyword = api.fix_keyword if api is not None else "timeout"
        if keyword is None:
            return updated
        value: cst.BaseExpression = self._timeout()
        if name == "aiohttp.ClientSession":
            self.needs_import("aiohttp")
            value = cst.parse_expression(f"aiohttp.ClientTimeout(total={float(self.connect_timeout)!r})")
        args = list(updated.args)
        none_at = self._none_keyword(updated, api.keywords if api else ("timeout",))
        self.fixed += 1
        if none_at is not None:
            args[none_at] = args[none_at].with_changes(value=value)
            return updated.with_changes(args=args)
        new_arg = cst.Arg(value, keyword=cst.Name(keyword),
                          equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
        return append_keyword(updated, new_arg)
