"""Network calls that wait without a time limit (BGT501), with each library's own default.

Flagged only where the library's default is to wait without a bound (V2.8). The defaults,
read from each library's source (versions in brackets) or documentation:
- requests [2.34]: `timeout=None`, no limit. urllib, smtplib, ftplib, poplib and
  `socket.create_connection` default to the global socket timeout, which is None (no
  limit) unless `socket.setdefaulttimeout()` is called; imaplib defaults to None.
- redis-py [<= 7.x]: `socket_timeout=None`, `socket_connect_timeout=None` (the connect
  falls back to `socket_timeout`); redis-py 8.0 changed both defaults to 5 s.
  aioredis [2.0]: both None.
- psycopg2: libpq's `connect_timeout` "zero, negative, or not specified means wait
  indefinitely" (PostgreSQL documentation).
- aiomysql [0.1-0.3]: `connect_timeout=None`, passed to `asyncio.wait_for`: no limit.
- asyncio.open_connection: no timeout parameter.
- httpx [0.28]: `Timeout(timeout=5.0)`; `timeout=None` turns it off.
- aiohttp [3.14]: `ClientTimeout(total=300, sock_connect=30)`; `ClientSession(timeout=None)`
  keeps that default (3.9+), a `ClientTimeout` with every field None turns it off, as
  does `timeout=None` on one request.
- asyncpg [0.32] and aiopg [1.4]: `timeout=60`; only `timeout=None` turns it off.
"""

from __future__ import annotations

import ast
import math

from bgtask_lint.index import ModuleInfo, imported_name
from bgtask_lint.names import dotted, has_star_kwargs, last_name
from bgtask_lint.plain import Value
from bgtask_lint.receivers import made_by, origins
from bgtask_lint.scope import function_scope

_SOCKET_DEFAULT = "the global socket timeout, which is None unless socket.setdefaulttimeout() is called"


class ConnectApi(Value, frozen=True):
    __slots__ = ("keywords", "positional", "fix_keyword", "only_explicit_none", "why", "fix", "none_is_default",
                 "awaited_connect", "client", "exempt_keywords", "dsn_keyword", "keywords_win", "fix_value",
                 "fix_module")

    def __init__(self, keywords: tuple[str, ...], positional: int | None = None, fix_keyword: str | None = "timeout",
                 only_explicit_none: bool = False, why: str = "waits without a time limit unless given a timeout",
                 fix: str | None = "safe", none_is_default: bool = False, awaited_connect: bool = False,
                 client: bool = False, exempt_keywords: tuple[str, ...] = (), dsn_keyword: str | None = None,
                 keywords_win: bool = False, fix_value: str = "{t}", fix_module: str | None = None) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "keywords", keywords)  # keyword arguments that set a connect timeout
        set_field(self, "positional", positional)  # index of a positional timeout, where the API takes one
        set_field(self, "fix_keyword", fix_keyword)  # the keyword a fix adds (None: wrap in wait_for only)
        # has a bounded default: flagged only when it is turned off
        set_field(self, "only_explicit_none", only_explicit_none)
        set_field(self, "why", why)  # the library's default, for the message
        set_field(self, "fix", fix)  # "unsafe" where the only timeout also bounds every later read
        set_field(self, "none_is_default", none_is_default)  # aiohttp: `timeout=None` keeps the default
        # connects when awaited: an asyncio/anyio timeout around it bounds it
        set_field(self, "awaited_connect", awaited_connect)
        # a client object: not flagged when every request call on it passes timeout=
        set_field(self, "client", client)
        # arguments that make the call not connect on its own terms
        set_field(self, "exempt_keywords", exempt_keywords)
        set_field(self, "dsn_keyword", dsn_keyword)  # a string DSN/URL that may carry the timeout itself
        # a keyword overrides the DSN's own value (psycopg2; redis's URL wins)
        set_field(self, "keywords_win", keywords_win)
        # what the fix writes for `fix_keyword` (V2.8: bound the connect only): `{t}` is
        # connect-timeout, `{t_int}` it rounded up to whole seconds, `{module}` the name bound to
        # `fix_module` (see library_reference)
        set_field(self, "fix_value", fix_value)
        set_field(self, "fix_module", fix_module)


def _redis(why: str) -> ConnectApi:
    # a Unix socket is no network connect (and redis-py passes socket_connect_timeout only
    # to TCP connections: a fix adding it there would change nothing)
    return ConnectApi(("socket_connect_timeout", "socket_timeout"), fix_keyword="socket_connect_timeout", why=why,
                      exempt_keywords=("connection_pool", "unix_socket_path"), dsn_keyword="url")


_REDIS_PY = _redis("redis-py before 8.0 waits without a time limit unless given socket_timeout or "
                   "socket_connect_timeout (8.0 defaults both to 5 s)")
_AIOREDIS = _redis("aioredis waits without a time limit unless given socket_timeout or socket_connect_timeout")
# (connect, read): the read stays unbounded, as it was
REQUESTS_API = ConnectApi(("timeout",), why="requests waits without a time limit unless given a timeout",
                          fix_value="({t}, None)")


def _stdlib(module: str, positional: int, socket_default: bool = True) -> ConnectApi:
    # the only timeout of these APIs also bounds every later read: the fix is unsafe (V2.8)
    why = f"{module} waits without a time limit unless given a timeout"
    return ConnectApi(("timeout",), positional=positional, fix="unsafe",
                      why=f"{why} (its default is {_SOCKET_DEFAULT})" if socket_default else why)


def _defaulted(library: str, default: str, **fields) -> ConnectApi:
    why = f"{library}'s default timeout ({default}) is turned off here, so it waits without a time limit"
    return ConnectApi(("timeout",), only_explicit_none=True, why=fields.pop("why", why), **fields)


# the user turned the timeouts off: keep them off, but for the connect
_HTTPX_FIX = {"fix_value": "{module}.Timeout(None, connect={t})", "fix_module": "httpx"}
_AIOHTTP_FIX = {"fix_value": "{module}.ClientTimeout(sock_connect={t})", "fix_module": "aiohttp"}
_HTTPX_CLIENT = _defaulted("httpx", "5 s", client=True, **_HTTPX_FIX)
_HTTPX = _defaulted("httpx", "5 s", **_HTTPX_FIX)
_ASYNCPG = _defaulted("asyncpg", "60 s", awaited_connect=True)  # asyncpg's timeout= bounds the connect only
# aiopg's timeout= is also every query's default timeout: only an awaited connect has a safe
# fix (asyncio.wait_for around it)
_AIOPG = _defaulted("aiopg", "60 s", awaited_connect=True, fix_keyword=None)
_AIOMYSQL = ConnectApi(("connect_timeout",), fix_keyword="connect_timeout", awaited_connect=True,
                       why="aiomysql waits without a time limit unless given connect_timeout")

CONNECT_APIS: dict[str, ConnectApi] = {
    "asyncpg.connect": _ASYNCPG,
    "asyncpg.create_pool": _ASYNCPG,
    "aiopg.connect": _AIOPG,
    "aiopg.create_pool": _AIOPG,
    "aiomysql.connect": _AIOMYSQL,
    "aiomysql.create_pool": _AIOMYSQL,
    "asyncio.open_connection": ConnectApi((), fix_keyword=None, awaited_connect=True, exempt_keywords=("sock",),
                                          why="asyncio.open_connection has no timeout of its own"),
    "aiohttp.ClientSession": _defaulted("aiohttp", "300 s in total, 30 s to connect", client=True,
                                        none_is_default=True, **_AIOHTTP_FIX),
    "httpx.AsyncClient": _HTTPX_CLIENT,
    "httpx.Client": _HTTPX_CLIENT,
    "urllib.request.urlopen": _stdlib("urlopen", 2),
    "smtplib.SMTP": _stdlib("smtplib", 3),
    "smtplib.SMTP_SSL": _stdlib("smtplib", 5),  # keyword-only since Python 3.12
    "smtplib.LMTP": _stdlib("smtplib", 4),
    "ftplib.FTP": _stdlib("ftplib", 4),
    "ftplib.FTP_TLS": _stdlib("ftplib", 7),
    "imaplib.IMAP4": _stdlib("imaplib", 2, socket_default=False),
    "imaplib.IMAP4_SSL": _stdlib("imaplib", 5, socket_default=False),
    "poplib.POP3": _stdlib("poplib", 2),
    "poplib.POP3_SSL": _stdlib("poplib", 4),
    "socket.create_connection": _stdlib("socket.create_connection", 1),
    # libpq reads connect_timeout as an integer ("10.0" is an error)
    "psycopg2.connect": ConnectApi(("connect_timeout",), fix_keyword="connect_timeout", dsn_keyword="dsn",
                                   why="libpq waits indefinitely unless given connect_timeout", fix_value="{t_int}",
                                   keywords_win=True),
}
for _base in ("redis.Redis", "redis.StrictRedis", "redis.client.Redis", "redis.client.StrictRedis",
              "redis.asyncio.Redis", "redis.asyncio.StrictRedis", "redis.asyncio.client.Redis"):
    CONNECT_APIS[_base] = CONNECT_APIS[f"{_base}.from_url"] = _REDIS_PY
CONNECT_APIS["redis.from_url"] = CONNECT_APIS["redis.asyncio.from_url"] = _REDIS_PY
for _base in ("aioredis.Redis", "aioredis.StrictRedis", "aioredis.client.Redis"):
    CONNECT_APIS[_base] = CONNECT_APIS[f"{_base}.from_url"] = _AIOREDIS
CONNECT_APIS["aioredis.from_url"] = _AIOREDIS
for _verb in ("get", "post", "put", "patch", "delete", "head", "options", "request"):
    CONNECT_APIS[f"requests.{_verb}"] = CONNECT_APIS[f"requests.api.{_verb}"] = REQUESTS_API
for _verb in ("get", "post", "put", "patch", "delete", "head", "options", "request", "stream"):
    CONNECT_APIS[f"httpx.{_verb}"] = _HTTPX

# request methods of client objects, and what a client of each kind does without a timeout
REQUEST_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "request", "send", "stream",
                   "ws_connect"}
REQUESTS_SESSIONS = frozenset({"requests.Session", "requests.session", "requests.sessions.Session"})
ASYNC_CLIENTS = {
    "httpx": (frozenset({"httpx.Client", "httpx.AsyncClient"}), _HTTPX),
    "aiohttp": (frozenset({"aiohttp.ClientSession"}),
                _defaulted("aiohttp", "", why="timeout=None on one aiohttp request turns off every timeout, the "
                                              "session's too, so it waits without a time limit", **_AIOHTTP_FIX)),
}
# callables run in a worker thread: `to_thread(requests.get, url)` is still a requests.get
THREAD_RUNNERS = {"asyncio.to_thread": True, "starlette.concurrency.run_in_threadpool": True,
                  "fastapi.concurrency.run_in_threadpool": True, "anyio.to_thread.run_sync": False}
TIMEOUT_SCOPES = {
    "asyncio.timeout", "asyncio.timeout_at", "anyio.fail_after", "anyio.move_on_after",
    "async_timeout.timeout", "trio.fail_after", "trio.move_on_after",
}
WAIT_FOR = {"asyncio.wait_for", "anyio.wait_for"}


def connect_api(qualified: str | None, extra: tuple[str, ...]) -> ConnectApi | None:
    if not qualified:
        return None
    api = CONNECT_APIS.get(qualified)
    if api is None and qualified in extra:
        api = ConnectApi(("timeout",))
    return api


def _is_none(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is None


def disabled_timeout(expr: ast.expr) -> bool:
    """A `Timeout(...)`/`ClientTimeout(...)` whose every field is None: `httpx.Timeout(None)`,
    `aiohttp.ClientTimeout()`, `aiohttp.ClientTimeout(total=None)`."""
    return (
        isinstance(expr, ast.Call)
        and last_name(expr.func) in ("Timeout", "ClientTimeout")
        and not any(isinstance(arg, ast.Starred) for arg in expr.args)
        and all(_is_none(arg) for arg in expr.args)
        and all(kw.arg is not None and (_is_none(kw.value) or kw.arg == "ceil_threshold") for kw in expr.keywords)
        and (last_name(expr.func) == "ClientTimeout" or bool(expr.args) or bool(expr.keywords))
    )


def _timeout_arguments(call: ast.Call, api: ConnectApi) -> list[ast.expr]:
    given = [kw.value for kw in call.keywords if kw.arg in api.keywords]
    if api.positional is not None and len(call.args) > api.positional:
        given.append(call.args[api.positional])
    return given


def _dsn(call: ast.Call, api: ConnectApi) -> ast.expr | None:
    return call.args[0] if call.args else next((kw.value for kw in call.keywords if kw.arg == api.dsn_keyword), None)


def unseen_dsn(call: ast.Call, api: ConnectApi) -> bool:
    """A DSN whose text is not written here (`psycopg2.connect(os.environ["DATABASE_URL"])`)
    given to an API whose keywords override it: a `connect_timeout=` the DSN sets would be
    overridden by the fix's."""
    if not api.keywords_win:
        return False
    dsn = _dsn(call, api)
    return dsn is not None and not _is_none(dsn) and not (
        isinstance(dsn, ast.JoinedStr) or (isinstance(dsn, ast.Constant) and isinstance(dsn.value, str)))


def _dsn_sets_timeout(call: ast.Call, api: ConnectApi) -> bool:
    """`psycopg2.connect("... connect_timeout=5")`, `from_url("redis://h?socket_timeout=5")`."""
    dsn = _dsn(call, api)
    if isinstance(dsn, ast.JoinedStr):
        text = "".join(v.value for v in dsn.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    elif isinstance(dsn, ast.Constant) and isinstance(dsn.value, str):
        text = dsn.value
    else:
        return False
    return any(f"{keyword}=" in text for keyword in api.keywords)


def spread_keywords(function: ast.AST | None, call: ast.Call) -> ast.Call | None:
    """`connect(**kwargs)` where `kwargs` is a dict the function builds from fixed keys (a
    literal, then `kwargs["port"] = ...`; nothing else done to it): the same call with those
    keywords written out, so that what they leave out can be seen. None when unknown."""
    spread = [kw for kw in call.keywords if kw.arg is None]
    if function is None or len(spread) != 1 or not isinstance(spread[0].value, ast.Name):
        return None
    name = spread[0].value.id
    scope = function_scope(function)
    bindings = scope.values(name)
    if len(bindings) != 1 or bindings[0].kind != "assign" or not isinstance(bindings[0].value, ast.Dict):
        return None
    literal = bindings[0].value
    if not all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in literal.keys):
        return None  # `**other` inside the literal, or a key computed at run time
    keywords = {k.value: v for k, v in zip(literal.keys, literal.values)}  # type: ignore[union-attr]
    stores = {id(target.value): (target.slice.value, stmt.value)  # `kw["port"] = p`, by the Name stored into
              for stmt in ast.walk(function) if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
              for target in stmt.targets if isinstance(target, ast.Subscript)
              and isinstance(target.slice, ast.Constant) and isinstance(target.slice.value, str)}
    for use, parent in scope.uses.get(name, ()):
        if parent is spread[0]:
            continue
        if isinstance(parent, ast.Subscript) and parent.value is use and isinstance(parent.ctx, ast.Store) \
                and id(use) in stores:
            key, value = stores[id(use)]
            keywords[key] = value  # (the last one written, in source order: good enough for fixed keys)
            continue
        return None  # handed on, updated, read: what it holds is not known here
    explicit = [kw for kw in call.keywords if kw.arg is not None]
    written = [ast.keyword(arg=key, value=value) for key, value in keywords.items()]
    return ast.Call(func=call.func, args=call.args, keywords=explicit + written)


def lacks_timeout(call: ast.Call, api: ConnectApi) -> bool:
    """Does this call wait without a time limit: no timeout where the library has no
    default, or the timeout turned off where it has one?"""
    if has_star_kwargs(call):
        return False  # the timeout may well be in **kwargs
    if any(kw.arg in api.exempt_keywords and not _is_none(kw.value) for kw in call.keywords):
        return False  # (`connection_pool=None`, `sock=None`: the call connects as without them)
    given = _timeout_arguments(call, api)
    if api.only_explicit_none:
        return any(disabled_timeout(value) or (_is_none(value) and not api.none_is_default) for value in given)
    if given:
        return all(_is_none(value) for value in given)
    if any(isinstance(arg, ast.Starred) for arg in call.args):
        return False
    return not (api.dsn_keyword and _dsn_sets_timeout(call, api))


# --- what a fix writes (shared by the rule, for its fix applicability, and the codemod) ---


class LibraryRef(Value, frozen=True):
    __slots__ = ("name", "add_import")

    def __init__(self, name: str, add_import: bool = False) -> None:
        object.__setattr__(self, "name", name)  # the name to write (`httpx`, or the alias it is imported as)
        object.__setattr__(self, "add_import", add_import)  # `import <name>` must be added at the top of the module


def client_request_api(module: ModuleInfo, function: ast.AST | None, call: ast.Call) -> tuple[str, ConnectApi] | None:
    """(the call as shown, its API) for a request method of a `requests.Session` or of an
    httpx/aiohttp client: `s.get(url)`."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in REQUEST_METHODS:
        return None
    if func.attr != "stream" and made_by(module, function, func.value, REQUESTS_SESSIONS):
        if _mounts_own_adapter(module, function, func.value):
            return None  # a project adapter (`TimeoutHTTPAdapter`) may bound every request
        return f"requests.Session.{func.attr}()", REQUESTS_API
    for library, (types, api) in ASYNC_CLIENTS.items():
        if made_by(module, function, func.value, types):
            return f"{library} client .{func.attr}()", api
    return None


REQUESTS_ADAPTERS = frozenset({"requests.adapters.HTTPAdapter", "requests.HTTPAdapter"})


def _mount_calls(module: ModuleInfo) -> list[tuple[ast.Call, ast.AST | None]]:
    """Every `<receiver>.mount(prefix, adapter)` call of the module, with the function it
    is in (walked once)."""
    cached = module.derived.get("mount-calls")
    if cached is None:
        cached = []
        stack: list[tuple[ast.AST, ast.AST | None]] = [] if ".mount(" not in module.source else [(module.tree, None)]
        while stack:
            node, function = stack.pop()
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "mount" \
                    and len(node.args) + len(node.keywords) >= 2:
                cached.append((node, function))
            inner = node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else function
            stack.extend((child, inner) for child in ast.iter_child_nodes(node))
        module.derived["mount-calls"] = cached
    return cached  # type: ignore[return-value]


def _mounts_own_adapter(module: ModuleInfo, function: ast.AST | None, receiver: ast.expr) -> bool:
    """Is an adapter other than requests' own `HTTPAdapter` mounted on the session
    (`s.mount("https://", TimeoutHTTPAdapter(timeout=5))`, matched by the receiver's
    spelling where that spelling means the same object: in the function for a local, in
    the class for `self.x`, in the module otherwise)? Its `send` may give every request a
    timeout, which a `timeout=` of the call would replace."""
    spelled = dotted(receiver)
    if spelled is None:
        return False
    where: ast.AST = module.tree  # the scope in which the spelling names the same session
    head = spelled.split(".")[0]
    if function is not None and not isinstance(function, ast.ClassDef):
        if head == "self" and module.owner_class.get(id(function)) is not None:
            where = module.owner_class[id(function)]
        elif head in function_scope(function).bindings:
            where = function
    first, last = getattr(where, "lineno", 1), getattr(where, "end_lineno", None) or 10 ** 9
    for call, inside in _mount_calls(module):
        if dotted(call.func.value) != spelled or not first <= call.lineno <= last:  # type: ignore[attr-defined]
            continue
        adapter = call.args[1] if len(call.args) > 1 else next(
            (kw.value for kw in call.keywords if kw.arg == "adapter"), None)
        made = origins(module, inside, adapter) if adapter is not None else []
        if not made or any(imported_name(module, value.func, made_in) not in REQUESTS_ADAPTERS  # type: ignore[attr-defined]
                           for value, made_in in made):
            return True
    return False


def session_made_unseen(module: ModuleInfo, function: ast.AST | None, receiver: ast.expr) -> bool:
    """A `requests.Session` known here only by its type (a parameter, an attribute
    annotated `requests.Session`), or handed to other code: whoever made it may have
    mounted an adapter that bounds its requests."""
    made = [value for value, where in origins(module, function, receiver)
            if imported_name(module, value.func, where) in REQUESTS_SESSIONS]  # type: ignore[attr-defined]
    if not made:
        return True
    if isinstance(receiver, ast.Name) and function is not None and not isinstance(function, ast.ClassDef) \
            and receiver.id in function_scope(function).bindings:
        return any(not isinstance(parent, ast.Attribute) for _, parent in function_scope(function).uses.get(receiver.id, []))
    return False


def library_reference(module: ModuleInfo, function: ast.AST | None, library: str) -> LibraryRef | None:
    """How the fix can name `library` at this call: a name already bound to it, or a new
    top-level `import library` where the module imports from it unconditionally at the top.
    None where it is imported only lazily or under `try`/`if` (an optional dependency must
    stay optional, V2.9)."""
    candidates = [name for name, ref in module.imports.items() if ref.module == library and ref.attr is None]
    scope = function
    while scope is not None:
        candidates += [name for name, ref in module.local_imports.get(id(scope), {}).items()
                       if ref.module == library and ref.attr is None]
        scope = module.parents.get(id(scope))
    for name in candidates:
        if imported_name(module, ast.Name(id=name, ctx=ast.Load()), function) == library:
            return LibraryRef(name)
    top_level = any(
        isinstance(stmt, ast.ImportFrom) and not stmt.level and (stmt.module or "").split(".")[0] == library
        or isinstance(stmt, ast.Import) and any(alias.name.split(".")[0] == library for alias in stmt.names)
        for stmt in module.tree.body
    )
    taken = library in module.imports or library in module.defs or library in module.assigns
    if top_level and not taken and imported_name(module, ast.Name(id=library, ctx=ast.Load()), function) is None \
            and not _local(module, function, library):
        return LibraryRef(library, add_import=True)
    return None


def _local(module: ModuleInfo, function: ast.AST | None, name: str) -> bool:
    scope = function
    while scope is not None:
        if name in function_scope(scope).bindings:
            return True
        scope = module.parents.get(id(scope))
    return False


def fix_value(api: ConnectApi, timeout: float, module_name: str | None = None) -> str:
    """The source text of the value the fix writes for `api.fix_keyword`."""
    return api.fix_value.format(t=repr(float(timeout)), t_int=max(1, math.ceil(timeout)), module=module_name)
