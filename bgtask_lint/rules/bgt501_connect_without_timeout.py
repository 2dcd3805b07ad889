"""BGT501 connect-without-timeout."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.connect import (
    CONNECT_APIS,
    REQUEST_METHODS,
    THREAD_RUNNERS,
    TIMEOUT_SCOPES,
    WAIT_FOR,
    ConnectApi,
    REQUESTS_API,
    client_request_api,
    connect_api,
    disabled_timeout,
    lacks_timeout,
    library_reference,
    session_made_unseen,
    spread_keywords,
    unseen_dsn,
)
from bgtask_lint.fix_safety import module_name_taken
from bgtask_lint.index import imported_name
from bgtask_lint.names import last_name
from bgtask_lint.rules import Rule
from bgtask_lint.scope import function_scope

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext

# the top-level modules of the catalogue: a module that imports none of them has no finding
_MODULES = tuple(sorted({name.split(".")[0] for name in CONNECT_APIS}))


class ConnectWithoutTimeout(Rule):
    """## What it does
    Checks for network calls that wait without a time limit, where the library's own
    default is to wait without one:
    - flagged when no timeout is given: `requests` verbs and the request methods of a
      `requests.Session` (requests has no default timeout); `urllib.request.urlopen`,
      `smtplib.SMTP/SMTP_SSL/LMTP`, `ftplib.FTP`, `imaplib.IMAP4/IMAP4_SSL`,
      `poplib.POP3/POP3_SSL` and `socket.create_connection` (their default is the
      global socket timeout, None unless `socket.setdefaulttimeout()` is called);
      `asyncio.open_connection(host, port)` (not with `sock=`; it has no timeout);
      redis-py `Redis(...)`, `redis.asyncio.Redis(...)`, `from_url(...)` and
      `aioredis.from_url(...)` with neither `socket_timeout` nor
      `socket_connect_timeout` (redis-py before 8.0 has no default; 8.0 sets both to
      5 s); `psycopg2.connect` without `connect_timeout` (libpq waits indefinitely;
      also accepted inside a literal DSN); `aiomysql.connect/create_pool` without
      `connect_timeout` (its default is None);
    - flagged only when the timeout is turned off: httpx clients and functions with
      `timeout=None` or `httpx.Timeout(None)` (default 5 s); `aiohttp.ClientSession`
      with a `ClientTimeout` whose every field is None (default 300 s in total;
      `timeout=None` keeps the default), and `timeout=None` on one request of an
      aiohttp or httpx client; `asyncpg` and `aiopg` connects and pools with
      `timeout=None` (default 60 s);
    - the calls listed in `connect-calls`, without `timeout=`.

    A callable run in a thread counts too: `asyncio.to_thread(requests.get, url)`.
    Not flagged: an httpx or aiohttp client whose every request call in the same
    function passes `timeout=`; a `requests.Session` on which an adapter other than
    requests' own `HTTPAdapter` is mounted (`s.mount("https://",
    TimeoutHTTPAdapter(timeout=5))`: its `send` may give every request a timeout); a Redis client built on a `connection_pool=` or for a
    Unix socket (`unix_socket_path=`: no network connect, and redis-py gives
    `socket_connect_timeout` to TCP connections only); an
    awaited asyncpg/aiopg/aiomysql connect or `asyncio.open_connection` inside
    `asyncio.wait_for(...)`, `asyncio.timeout(...)` or `anyio.fail_after(...)`/
    `move_on_after(...)` (these cannot interrupt a blocking call such as
    `requests.get`, so they do not exempt it); `**kwargs` that may carry the timeout
    (but a dict the function builds from fixed keys, `kw = {"host": h}` then
    `kw["port"] = p`, is read: `psycopg2.connect(**kw)` is flagged, without an automatic fix).
    Library names match only through imports.

    ## Why is this bad?
    When the peer is unreachable, overloaded or misconfigured (a wrong host in
    production), the call waits for as long as the operating system lets it, and a
    read on a connection that went silent waits with no limit at all. In a background
    task nobody is waiting for a response, so nothing times out: the task just stops.

    ## Example
    ```python
    response = requests.post(url, json=payload)
    ```

    ## Use instead
    ```python
    response = requests.post(url, json=payload, timeout=(10.0, None))
    ```

    ## Fix safety
    Safe where the fix bounds the connect and nothing else, so only the failure
    changes: requests gets `timeout=(T, None)` (the read stays unbounded; unsafe for a
    session known only by its type, a parameter, or handed to other code, where an
    adapter mounted out of sight may bound its requests and the call's timeout would
    replace that read limit), redis
    `socket_connect_timeout=T`, psycopg2 `connect_timeout=T` (in whole seconds, as
    libpq reads it; unsafe when the DSN is not written in the code, as
    `psycopg2.connect(os.environ["DATABASE_URL"])`: psycopg2's keywords override the
    DSN's own `connect_timeout`, which the fix cannot see) and aiomysql
    `connect_timeout=T`, asyncpg `timeout=T` (its connect
    timeout), httpx `timeout=httpx.Timeout(None, connect=T)` and an aiohttp request
    `timeout=aiohttp.ClientTimeout(sock_connect=T)`; an awaited
    `asyncio.open_connection` or aiopg connect (aiopg's `timeout=` also bounds every
    query) is wrapped in `asyncio.wait_for(..., timeout=T)` (no fix where `asyncio` is
    bound to something else there). A callable run by
    `asyncio.to_thread`/`run_in_threadpool` gets the keyword on the runner, which
    passes it on. Unsafe (`--unsafe-fixes`, `timeout=T`) where the API's only timeout
    also bounds every later read, so a slow but healthy exchange could fail: smtplib,
    ftplib, imaplib, poplib, `socket.create_connection` and `urlopen`. No fix for a
    turned-off `Timeout(...)` object, a callable run by `run_in_executor` or anyio's
    `run_sync` (they pass no keywords on), an `asyncio.open_connection` that is not
    awaited, or where httpx/aiohttp is imported only lazily or under `try` (the fix
    would have to import it at the top, making an optional dependency mandatory; the
    finding says so). `T` is `connect-timeout` (default 10.0). A `# noqa: S113` (ruff's
    "request without timeout") on a statement the fix gave a timeout is dropped, as it
    would be an unused noqa right after the fix; other codes on it stay.
    """

    code = "BGT501"
    name = "connect-without-timeout"
    words = _MODULES
    message = "network call without a timeout waits without a time limit"
    fix = "safe"
    fix_title = "Add a connect timeout"
    valid = (
        """
import requests
def fetch(url):
    return requests.get(url, timeout=(10, None))
""",
        """
import asyncpg
async def connect(dsn):
    return await asyncpg.connect(dsn)
""",
    )
    invalid = (
        """
import requests
def fetch(url):
    return requests.get(url)  # BGT501
""",
        """
import asyncpg
async def connect(dsn):
    return await asyncpg.connect(dsn, timeout=None)  # BGT501
""",
    )

    @classmethod
    def words_for(cls, settings) -> tuple[str, ...]:
        return cls.words + tuple(name.rsplit(".", 1)[-1] for name in settings.connect_calls)

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.last_names = {name.rsplit(".", 1)[-1] for name in (*CONNECT_APIS, *settings.connect_calls)}
        self.last_names |= REQUEST_METHODS | {name.rsplit(".", 1)[-1] for name in THREAD_RUNNERS}
        self.last_names.add("run_in_executor")

    def visit_Call(self, node: ast.Call, ctx: RuleContext) -> None:
        if last_name(node.func) not in self.last_names:
            return  # cheap test first: most calls are not network calls
        found = self._unbounded(node, ctx)
        in_thread, connect = False, node
        if found is None:
            inner = self._run_in_thread(node, ctx)
            if inner is not None:
                found, in_thread, connect = self._unbounded(inner, ctx), True, inner
        if found is None:
            return
        shown, api, fix, spread, note = found
        if in_thread or api.awaited_connect:
            if self._inside_timeout(ctx):
                return
        why = api.why
        if in_thread:
            shown = f"{shown} run in a thread"
            if not (api.fix_keyword and THREAD_RUNNERS.get(imported_name(ctx.module, node.func, ctx.function) or "")):
                fix = None  # the runner passes no keywords on (run_in_executor, anyio's run_sync)
        elif fix == "safe" and api.fix_keyword is None and not self._awaited(ctx):
            fix = None  # nothing to add the timeout to, and nothing awaited to wrap
        elif fix and api.fix_keyword is None and module_name_taken(ctx.module, ctx.function, "asyncio"):
            fix = None  # the fix's asyncio.wait_for would not be the library's
            why += ("; no automatic fix: `asyncio` is bound to something else here, so the fix's "
                    "asyncio.wait_for would not be the library's")
        if fix and api.fix_keyword and api.fix_module \
                and library_reference(ctx.module, ctx.function, api.fix_module) is None:
            fix = None  # V2.9: the fix would make an optional import mandatory
            why += (f"; no safe fix: {api.fix_module} is imported only lazily or conditionally here, "
                    f"so the fix cannot name {api.fix_module}.Timeout; set the connect timeout yourself")
        if fix == "unsafe" and note:
            why += note
        if fix == "unsafe" and api.fix == "safe" and unseen_dsn(connect, api):
            why += (f"; the fix is unsafe: the DSN is not written here and may set {api.fix_keyword} itself, "
                    "which the fix's keyword would override")
        if spread is not None and not in_thread:
            why += (f"; no safe fix: its keywords come from `{spread}`, built in this function: "
                    "add the connect timeout to it")
        self.report(ctx, node, f"{shown}: {why}", fix=fix)

    # --- what the call is -------------------------------------------------------------

    def _unbounded(self, call: ast.Call, ctx: RuleContext
                   ) -> tuple[str, ConnectApi, str | None, str | None, str | None] | None:
        """(the call as shown, its API, the fix, the dict its keywords are spread from when
        the function builds it, why the fix is unsafe) when `call` waits without a time limit."""
        qualified = imported_name(ctx.module, call.func, ctx.function)
        api = connect_api(qualified, self.settings.connect_calls)
        if api is not None:
            written = spread_keywords(ctx.function, call)
            if written is not None:  # `connect(**kwargs)`, kwargs built here from fixed keys
                if not lacks_timeout(written, api) or (api.client and self._client_calls_all_bounded(ctx)):
                    return None
                spread = next(kw.value.id for kw in call.keywords if kw.arg is None)  # type: ignore[attr-defined]
                return f"{qualified}()", api, None, spread, None
            if not lacks_timeout(call, api) or (api.client and self._client_calls_all_bounded(ctx)):
                return None
            return f"{qualified}()", api, self._fix_for(call, api), None, None
        request = client_request_api(ctx.module, ctx.function, call)  # `session.get(url)`
        if request is None or not lacks_timeout(call, request[1]):
            return None
        fix, note = self._fix_for(call, request[1]), None
        if fix == "safe" and request[1] is REQUESTS_API \
                and session_made_unseen(ctx.module, ctx.function, call.func.value):  # type: ignore[attr-defined]
            fix, note = "unsafe", ("; the fix is unsafe: this session is made or handed on elsewhere, where an "
                                   "adapter mounted on it may already bound its requests, and timeout=(T, None) "
                                   "would lift that read limit")
        return request[0], request[1], fix, None, note

    @staticmethod
    def _fix_for(call: ast.Call, api: ConnectApi) -> str | None:
        if any(disabled_timeout(kw.value) for kw in call.keywords if kw.arg in api.keywords):
            return None  # a Timeout object to rewrite, not a keyword to add
        if api.fix == "safe" and unseen_dsn(call, api):
            return "unsafe"  # the DSN may set the timeout itself, and the keyword would win
        return api.fix

    def _run_in_thread(self, node: ast.Call, ctx: RuleContext) -> ast.Call | None:
        """`to_thread(f, *args, **kwargs)` as the call `f(*args, **kwargs)` it makes."""
        qualified = imported_name(ctx.module, node.func, ctx.function)
        args, keywords = list(node.args), list(node.keywords)
        if qualified in THREAD_RUNNERS:
            if not THREAD_RUNNERS[qualified]:
                keywords = [kw for kw in keywords if kw.arg is None]  # run_sync passes no keywords on
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "run_in_executor":
            args, keywords = args[1:], []
        else:
            return None
        if not args or isinstance(args[0], ast.Starred):
            return None
        inner = ast.Call(func=args[0], args=args[1:], keywords=keywords)
        return ast.copy_location(inner, node)

    # --- what is around the call ------------------------------------------------------

    def _client_calls_all_bounded(self, ctx: RuleContext) -> bool:
        """`client = httpx.AsyncClient(timeout=None)` (or `with ... as client`) whose every
        use in this function is an attribute, with at least one request call and every
        request call passing a timeout."""
        name = self._bound_name(ctx)
        if name is None or ctx.function is None:
            return False
        uses = function_scope(ctx.function).uses.get(name, [])
        if not uses or any(not isinstance(parent, ast.Attribute) for _, parent in uses):
            return False
        requests = [
            node for node in ast.walk(ctx.function)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in REQUEST_METHODS and isinstance(node.func.value, ast.Name)
            and node.func.value.id == name
        ]
        return bool(requests) and all(
            any(kw.arg == "timeout" and not (isinstance(kw.value, ast.Constant) and kw.value.value is None)
                and not disabled_timeout(kw.value) for kw in call.keywords)
            for call in requests
        )

    @staticmethod
    def _bound_name(ctx: RuleContext) -> str | None:
        parent = ctx.parent
        if isinstance(ctx.parent, ast.Await) and len(ctx.stack) >= 2:
            parent = ctx.stack[-2]
        if isinstance(parent, ast.withitem) and isinstance(parent.optional_vars, ast.Name):
            return parent.optional_vars.id
        if isinstance(parent, (ast.Assign, ast.AnnAssign)):
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name):
                return targets[0].id
        return None

    @staticmethod
    def _awaited(ctx: RuleContext) -> bool:
        return isinstance(ctx.parent, ast.Await) and ctx.in_async_def()

    @staticmethod
    def _inside_timeout(ctx: RuleContext) -> bool:
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
