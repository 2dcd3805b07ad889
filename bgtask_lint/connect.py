"""Network connects and clients that wait forever without a timeout (BGT501)."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from bgtask_lint.names import has_star_kwargs


@dataclass(frozen=True)
class ConnectApi:
    keywords: tuple[str, ...]  # keyword arguments that set a connect timeout
    positional: int | None = None  # index of a positional timeout, where the API takes one
    fix_keyword: str | None = "timeout"  # the keyword a fix adds (None: wrap in wait_for only)
    only_explicit_none: bool = False  # httpx: has a default timeout, flagged only for None


_REDIS = ConnectApi(("socket_connect_timeout",), fix_keyword="socket_connect_timeout")
_REQUESTS = ConnectApi(("timeout",))

CONNECT_APIS: dict[str, ConnectApi] = {
    "asyncpg.connect": ConnectApi(("timeout",)),
    "asyncpg.create_pool": ConnectApi(("timeout",)),
    "aiomysql.connect": ConnectApi(("connect_timeout", "timeout"), fix_keyword="connect_timeout"),
    "aiomysql.create_pool": ConnectApi(("connect_timeout", "timeout"), fix_keyword="connect_timeout"),
    "aiopg.connect": ConnectApi(("timeout",)),
    "aiopg.create_pool": ConnectApi(("timeout",)),
    "asyncio.open_connection": ConnectApi((), fix_keyword=None),
    "redis.asyncio.Redis": _REDIS,
    "redis.asyncio.StrictRedis": _REDIS,
    "redis.asyncio.client.Redis": _REDIS,
    "redis.asyncio.from_url": _REDIS,
    "redis.asyncio.Redis.from_url": _REDIS,
    "aioredis.from_url": _REDIS,
    "aioredis.Redis": _REDIS,
    "aioredis.Redis.from_url": _REDIS,
    "aiohttp.ClientSession": ConnectApi(("timeout",)),
    "httpx.AsyncClient": ConnectApi(("timeout",), only_explicit_none=True),
    "httpx.Client": ConnectApi(("timeout",), only_explicit_none=True),
    "smtplib.SMTP": ConnectApi(("timeout",), positional=3),
    "smtplib.SMTP_SSL": ConnectApi(("timeout",)),
    "socket.create_connection": ConnectApi(("timeout",), positional=1),
}
for _verb in ("get", "post", "put", "patch", "delete", "head", "options", "request"):
    CONNECT_APIS[f"requests.{_verb}"] = _REQUESTS

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


def lacks_timeout(call: ast.Call, api: ConnectApi) -> bool:
    if has_star_kwargs(call):
        return False  # the timeout may well be in **kwargs
    for kw in call.keywords:
        if kw.arg in api.keywords:
            return _is_none(kw.value)
    if api.only_explicit_none:
        return False
    if api.positional is not None and len(call.args) > api.positional:
        return _is_none(call.args[api.positional])
    if any(isinstance(arg, ast.Starred) for arg in call.args):
        return False
    return True
