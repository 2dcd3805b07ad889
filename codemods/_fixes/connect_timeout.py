"""BGT501: bound the connect, and only the connect (V2.8).

What each API gets is in the one catalogue, bgtask_lint/connect.py (`fix_keyword`,
`fix_value`), which the rule reads too:
- requests (functions and Session methods): `timeout=(T, None)`, the read stays unbounded;
- redis: `socket_connect_timeout=T`; psycopg2: `connect_timeout=T` (whole seconds);
  aiomysql: `connect_timeout=T`; asyncpg: `timeout=T` (its connect timeout);
- httpx with `timeout=None`: `httpx.Timeout(None, connect=T)`; an aiohttp request with
  `timeout=None`: `aiohttp.ClientTimeout(sock_connect=T)`;
- an awaited connect without a timeout of its own (`asyncio.open_connection`, aiopg,
  whose `timeout=` also bounds every query): `await asyncio.wait_for(<call>, timeout=T)`;
- a callable run in a thread (`asyncio.to_thread(requests.get, url)`): the keyword goes
  on the runner, which passes it on;
- with --unsafe-fixes only, where the API's one timeout also bounds every later read
  (smtplib, ftplib, imaplib, poplib, socket.create_connection, urlopen): `timeout=T`.
T comes from `--connect-timeout` (default 10.0).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import PositionProvider

from bgtask_lint.codemods._base import FindingFix, args_column, char_span, node_span, parse_expression
from bgtask_lint.codemods._layout import append_keyword
from bgtask_lint.codemods._loggers import ModelLookup, module_lines
from bgtask_lint.connect import (
    THREAD_RUNNERS,
    ConnectApi,
    client_request_api,
    connect_api,
    fix_value,
    library_reference,
)
from bgtask_lint.index import ModuleInfo, imported_name
from bgtask_lint.located import enclosing_function, expression_at

GENERIC = ConnectApi(("timeout",))  # a `connect-calls` entry: its own timeout= keyword


@dataclass(frozen=True)
class ConnectFix:
    wait_for: bool  # wrap the awaited call in asyncio.wait_for
    api: ConnectApi
    value: str | None = None  # the value written for api.fix_keyword
    add_import: str | None = None
    runner: bool = False  # the keyword goes on a thread runner, which passes it on


def plan_fix(module: ModuleInfo, call: ast.Call, timeout: float, awaited: bool) -> ConnectFix | None:
    """What the fix writes for `call`, or None (then the rule gave no safe fix either)."""
    function = enclosing_function(module.tree, call)
    runner = imported_name(module, call.func, function)
    target = call
    if runner in THREAD_RUNNERS and call.args and not isinstance(call.args[0], ast.Starred):
        target = ast.Call(func=call.args[0], args=call.args[1:], keywords=call.keywords)
    qualified = imported_name(module, target.func, function)
    api = connect_api(qualified, ())
    if api is None:
        request = client_request_api(module, function, target)
        api = request[1] if request is not None else GENERIC
    if api.fix_keyword is None:
        return ConnectFix(True, api) if awaited and target is call else None
    library = None
    if api.fix_module is not None:
        library = library_reference(module, function, api.fix_module)
        if library is None:
            return None
    value = fix_value(api, timeout, library.name if library is not None else None)
    return ConnectFix(False, api, value, library.name if library is not None and library.add_import else None,
                      runner=target is not call)


NOQA_S113 = re.compile(r"#\s*noqa:[\s]*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*)", re.IGNORECASE)


def without_s113(comment: str) -> str | None:
    """`# noqa: S113` -> None (no comment left); `# noqa: S113, E501` -> `# noqa: E501`;
    anything after the codes is kept."""
    match = NOQA_S113.search(comment)
    if match is None:
        return comment
    codes = [c for c in re.split(r"[,\s]+", match.group("codes")) if c]
    if "S113" not in (c.upper() for c in codes):
        return comment
    kept_codes = [c for c in codes if c.upper() != "S113"]
    tail = comment[match.end():].lstrip(",")  # (a separator left after the last code: `S113,`)
    if kept_codes:
        return f"{comment[:match.start()]}# noqa: {', '.join(kept_codes)}{tail}"
    rest = (comment[:match.start()] + tail).strip()
    return rest if rest.startswith("#") else (f"# {rest}" if rest else None)


class ConnectTimeoutFix(ModelLookup, FindingFix):
    CODE = "BGT501"
    METADATA_DEPENDENCIES = (PositionProvider,)

    def visit_Module(self, node: cst.Module) -> None:
        self.module_node = node
        # the whole module in its project: what a client is may be decided in a def the
        # skeleton cut (`self.session = requests.Session()` in `__init__`)
        self.model = self.given_model
        self.plans: dict[int, ConnectFix] = {}  # id(original call) -> its fix

    def _plan(self, call: cst.Call, awaited: bool) -> ConnectFix | None:
        if self.model is None:
            return None
        module = self.model.module
        span = self.model_span(node_span(self, call))
        if span is None:
            return None
        lines = module_lines(self.model)
        node = expression_at(module.tree, span[0], lambda n: isinstance(n, ast.Call) and char_span(lines, n) == span)
        return plan_fix(module, node, self.connect_timeout, awaited) if node is not None else None

    def visit_Await(self, node: cst.Await) -> None:
        call = node.expression
        if isinstance(call, cst.Call) and self.is_target(call):
            plan = self._plan(call, awaited=True)
            if plan is not None:
                self.plans[id(call)] = plan

    def visit_Call(self, node: cst.Call) -> None:
        if id(node) not in self.plans and self.is_target(node):
            plan = self._plan(node, awaited=False)
            if plan is not None:
                self.plans[id(node)] = plan

    def leave_Await(self, original: cst.Await, updated: cst.Await) -> cst.BaseExpression:
        plan = self.plans.get(id(original.expression))
        if plan is None or not plan.wait_for:
            return updated
        self.needs_import("asyncio")
        self.fixed += 1
        wait_for = cst.Call(
            func=cst.Attribute(value=cst.Name("asyncio"), attr=cst.Name("wait_for")),
            args=[
                cst.Arg(updated.expression, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                cst.Arg(cst.Float(repr(float(self.connect_timeout))), keyword=cst.Name("timeout"),
                        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))),
            ],
        )
        return updated.with_changes(expression=wait_for)

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine,
                                  updated: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
        """A statement that now passes a timeout no longer needs the `# noqa: S113` (ruff's
        and flake8-bandit's "request without timeout") it carried: left, it is an unused
        noqa that the project's own check reports right after the fix."""
        comment = updated.trailing_whitespace.comment
        if comment is None or not NOQA_S113.search(comment.value) or updated.deep_equals(original):
            return updated
        kept = without_s113(comment.value)
        whitespace = updated.trailing_whitespace
        if kept is None:
            whitespace = whitespace.with_changes(whitespace=cst.SimpleWhitespace(""), comment=None)
        else:
            whitespace = whitespace.with_changes(comment=cst.Comment(kept))
        return updated.with_changes(trailing_whitespace=whitespace)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        plan = self.plans.get(id(original))
        if plan is None or plan.wait_for or plan.value is None:
            return updated
        api = plan.api
        value = parse_expression(plan.value)
        if plan.add_import:
            self.needs_import(plan.add_import)
        self.fixed += 1
        args = list(updated.args)
        for position, arg in enumerate(args):
            if arg.keyword is not None and arg.keyword.value == api.fix_keyword:
                args[position] = arg.with_changes(value=value)  # `timeout=None`
                return updated.with_changes(args=args)
        positional = [i for i, arg in enumerate(args) if arg.keyword is None and not arg.star]
        if not plan.runner and api.positional is not None and api.fix_keyword == "timeout" \
                and len(positional) > api.positional:
            at = positional[api.positional]  # `SMTP(host, port, None)`
            args[at] = args[at].with_changes(value=value)
            return updated.with_changes(args=args)
        new_arg = cst.Arg(value, keyword=cst.Name(api.fix_keyword or "timeout"),
                          equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
        return append_keyword(updated, new_arg, args_column(self, original))
