"""BGT501 connect-without-timeout."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.connect import (
    CONNECT_APIS,
    TIMEOUT_SCOPES,
    WAIT_FOR,
    connect_api,
    lacks_timeout,
)
from bgtask_lint.names import last_name
from bgtask_lint.rules import Rule

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext


class ConnectWithoutTimeout(Rule):
    """## What it does
    Checks for network connects and client constructions with no explicit timeout and
    not inside `asyncio.wait_for(...)`, `asyncio.timeout(...)` or
    `anyio.fail_after(...)`/`move_on_after(...)`: `asyncpg.connect`/`create_pool`,
    `aiomysql`, `aiopg`, `asyncio.open_connection`, async Redis clients without
    `socket_connect_timeout`, `aiohttp.ClientSession` without `timeout=`, httpx clients
    with `timeout=None`, `requests.<verb>` without `timeout=`, `smtplib.SMTP`,
    `socket.create_connection`, and the calls listed in `connect-calls`.

    ## Why is this bad?
    When the database or the peer is unreachable, overloaded or misconfigured (a wrong
    host in production), the connect waits forever. In a background task nobody is
    waiting for a response, so nothing times out: the task just hangs.

    ## Example
    ```python
    conn = await asyncpg.connect(dsn)
    ```

    ## Use instead
    ```python
    conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=10.0)
    ```

    ## Fix safety
    Safe: an awaited call in an `async def` is wrapped in
    `asyncio.wait_for(..., timeout=T)`; a constructor gets the API's own keyword
    (`timeout=T`, `socket_connect_timeout=T` for Redis). `T` is `connect-timeout`
    (default 10.0).
    """

    code = "BGT501"
    name = "connect-without-timeout"
    words = ("connect", "create_pool", "Redis", "from_url", "ClientSession", "Client", "requests", "SMTP")
    message = "connect without a timeout can hang forever"
    fix = "safe"
    fix_title = "Add a connect timeout"
    valid = (
        """
import asyncio, asyncpg
async def connect(dsn):
    return await asyncio.wait_for(asyncpg.connect(dsn), timeout=10)
""",
    )
    invalid = (
        """
import asyncpg
async def connect(dsn):
    return await asyncpg.connect(dsn)  # BGT501
""",
    )

    @classmethod
    def words_for(cls, settings) -> tuple[str, ...]:
        return cls.words + tuple(name.rsplit(".", 1)[-1] for name in settings.connect_calls)

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.last_names = {name.rsplit(".", 1)[-1] for name in (*CONNECT_APIS, *settings.connect_calls)}

    def visit_Call(self, node: ast.Call, ctx: RuleContext) -> None:
        if last_name(node.func) not in self.last_names:
            return  # cheap test first: most calls are not connects
        qualified = ctx.qualified_name(node.func)
        api = connect_api(qualified, self.settings.connect_calls)
        if api is None or not lacks_timeout(node, api) or self._inside_timeout(node, ctx):
            return
        awaited = isinstance(ctx.parent, ast.Await) and ctx.in_async_def()
        fixable = "safe" if awaited or api.fix_keyword else None
        self.report(ctx, node, f"{qualified}() without a timeout can hang forever; "
                               "set a timeout or wrap it in asyncio.wait_for", fix=fixable)

    @staticmethod
    def _inside_timeout(node: ast.Call, ctx: RuleContext) -> bool:
        for ancestor in reversed(ctx.stack):
            if isinstance(ancestor, ast.Call) and ctx.qualified_name(ancestor.func) in WAIT_FOR:
                return True
            if isinstance(ancestor, (ast.With, ast.AsyncWith)) and any(
                isinstance(i.context_expr, ast.Call) and ctx.qualified_name(i.context_expr.func) in TIMEOUT_SCOPES
                for i in ancestor.items
            ):
                return True
            if isinstance(ancestor, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return False
        return False
