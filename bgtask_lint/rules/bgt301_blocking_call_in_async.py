"""BGT301 blocking-call-in-async."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.blocking import blocking_reason
from bgtask_lint.fix_safety import blocking_fix, module_name_taken
from bgtask_lint.rules import Rule
from bgtask_lint.scope import function_scope

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext

FILE_IO_METHODS = {"read", "write", "readline", "readlines", "writelines", "seek", "tell", "truncate", "flush"}


IN_GENERATOR = ("it is inside a generator expression, where an await would make an async generator of it: "
                "build a list or write a loop")

NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.GeneratorExp)


def _io_use(node: ast.Name, parent: ast.AST, grandparent: ast.AST | None) -> bool:
    """`f.read(...)`, `for line in f`, `[... for line in f]`: what aiofiles can do too."""
    if isinstance(parent, ast.Attribute) and parent.attr in FILE_IO_METHODS:
        return isinstance(grandparent, ast.Call) and grandparent.func is parent
    if isinstance(parent, (ast.For, ast.comprehension)):
        return parent.iter is node
    return False


def _handle_only_used_for_io(with_node: ast.AST, name: str, function: ast.AST) -> bool:
    """Is the file bound by `with open(...) as name:` used only for I/O methods and iteration
    inside the block (not in a nested function, lambda or generator)? Then aiofiles is a
    drop-in replacement."""
    inside: set[int] = set()
    stack: list[tuple[ast.AST, ast.AST, ast.AST | None, bool]] = [
        (stmt, with_node, None, False) for stmt in with_node.body  # type: ignore[attr-defined]
    ]
    while stack:
        node, parent, grandparent, nested = stack.pop()
        inside.add(id(node))
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
            if nested or not _io_use(node, parent, grandparent):
                return False
        child_nested = nested or isinstance(node, NESTED)
        stack.extend((child, node, parent, child_nested) for child in ast.iter_child_nodes(node))
    # a use after the block is an escape, unless another `with ... as name` rebinds it
    rebound: set[int] = set()
    for other in ast.walk(function):
        if other is not with_node and isinstance(other, (ast.With, ast.AsyncWith)) and any(
            isinstance(i.optional_vars, ast.Name) and i.optional_vars.id == name for i in other.items
        ):
            rebound.update(id(n) for stmt in other.body for n in ast.walk(stmt))
    return all(id(use) in inside or id(use) in rebound for use, _ in function_scope(function).uses.get(name, ()))


def _opens_a_file(item: ast.withitem, ctx: "RuleContext") -> bool:
    """`open(...) as name` (the builtin, or io.open)."""
    call = item.context_expr
    return isinstance(call, ast.Call) and isinstance(item.optional_vars, ast.Name) and blocking_reason(
        ctx.index, ctx.module, ctx.function, call, ctx.settings.blocking_calls) in ("open", "io.open")


class BlockingCallInAsync(Rule):
    """## What it does
    Checks for blocking calls made directly inside an `async def` (an endpoint, a task
    or a helper; not inside a nested plain `def` or `lambda`, nor in the def's decorators
    or parameter defaults, which run where the def is): file I/O (`open`,
    `pathlib.Path` reads and writes, also of a `Path` kept on `self`, assigned or
    annotated in the class, or returned by a project function annotated `-> Path`,
    `shutil`), `time.sleep`, sync HTTP (`requests`
    verbs and the request methods of a `requests.Session`, `urllib.request.urlopen`,
    `httpx.get`, `httpx.Client`), processes (`subprocess`, `os.system`), sync database
    and mail clients (`psycopg2.connect`, `sqlite3.connect`, `smtplib.SMTP`, ...),
    queries on a sync SQLAlchemy `Session` (a name typed so, or bound from
    `Session(engine)`, also by `with Session(engine) as session`), `upload.file.read()/.write()/.seek()` on an
    `UploadFile`, method calls on boto3 clients and resources (`boto3.client(...)`,
    `boto3.resource(...)`, `<boto3 session>.client(...)`, also when kept in
    `self.<attr>`), `pandas.read_csv/read_excel/read_json/read_parquet`,
    `zipfile.ZipFile(...)` and `tarfile.open(...)`.

    A module-level API matches only when its name is bound by an import in that scope:
    a parameter called `time` or a local list called `requests` is not the library, and
    `open` is the builtin only when nothing else binds the name. `requests.Session()`
    itself does not block (its request methods do), nor do boto3 calls that do no I/O
    (`generate_presigned_url`, `get_paginator`, `get_waiter`, `can_paginate`, `close`,
    and sub-resource constructors such as `dynamodb.Table(name)`), nor do the archive and
    pandas readers when handed an in-memory `io.BytesIO`/`io.StringIO` (no file I/O is
    left, only CPU work), nor `os.waitpid(..., os.WNOHANG)` (it returns at once) or
    `os.waitstatus_to_exitcode` (a conversion; `os.wait`, `wait3`, `wait4`, `waitid` wait), nor
    `open()`/`Path` reads of kernel-backed files whose path is written out: `/proc/...`,
    `/sys/...`, `/dev/null`, `os.devnull` (no disk is involved). The same exemptions hold
    for the chains of BGT302.

    The setting `blocking-calls = ["resend.Emails.send", ...]` adds dotted names: a
    project's own sync SDKs, matched through imports, or functions of the project by
    module and name.

    ## Why is this bad?
    An `async def` runs on the event loop. A blocking call stops every other request
    and task of the worker until it returns; under load the app stalls, and background
    work piles up behind it.

    ## Example
    ```python
    async def save_upload(path: str, content: bytes):
        with open(path, "wb") as f:
            f.write(content)
        time.sleep(1)
    ```

    ## Use instead
    ```python
    async def save_upload(path: str, content: bytes):
        async with aiofiles.open(path, "wb") as f:
            await f.write(content)
        await asyncio.sleep(1)
    ```

    ## Fix safety
    `time.sleep(x)` -> `await asyncio.sleep(x)` is safe (an `import time` left unused
    goes). `with open(...) as f` -> `async with aiofiles.open(...)` is safe when `f` is
    only used for its I/O methods and iteration inside the block and every item of the
    `with` opens a file (otherwise there is no fix: `with LOCK, open(p) as f` has none, a
    lock being no async context manager), and the project declares aiofiles
    (pyproject.toml, requirements*.txt, setup.cfg,
    setup.py, Pipfile, a lock file), or has no declaration file at all and aiofiles is
    importable where the fix runs (a project that declares its dependencies and leaves
    aiofiles out would have it only by luck: a transitive dependency, or the linter's own
    environment); otherwise the finding says "aiofiles is not a dependency of this
    project: add it, or use --unsafe-fixes" and the fix is unsafe. A module that
    imports aiofiles only inside functions gets the import inside the fixed
    function; one that imports it under
    `try: ... except ImportError` gets no fix. Any other call `g(a)` ->
    `await asyncio.to_thread(g, a)` is unsafe (it changes which thread runs the call)
    and applied only with `--unsafe-fixes`, after the BGT501 fix of the call, so
    `requests.get(u)` becomes `await asyncio.to_thread(requests.get, u, timeout=(T,
    None))`. A call whose result does more blocking I/O (`with smtplib.SMTP(...) as s`,
    `sqlite3.connect`, `zipfile.ZipFile`, `urlopen`, a streamed request, any `with`
    item) gets no fix: only the whole block can move to a thread, nor does a call inside a
    generator expression (an `await` there makes an async generator, which `sum(...)` or
    a `for` cannot consume), nor where the name the fix calls (`asyncio`, `aiofiles`) is
    bound to something else there: a parameter, a local, `asyncio = None` at module level.
    The safe fixes are unsafe inside a plain `with` (other than of a file,
    `contextlib.suppress`, `warnings.catch_warnings`, `tempfile`) and in a function that
    calls `.acquire()` without awaiting it: `with LOCK: time.sleep(1)` awaited would hold
    the lock while other coroutines run, and one that takes a threading lock deadlocks
    the loop. `asyncio.sleep` returns at once for a
    negative delay, where `time.sleep` raises ValueError.
    Not flagged: names passed
    uncalled to `asyncio.to_thread`, `run_in_executor`, `run_in_threadpool`,
    `anyio.to_thread.run_sync`, and calls in a plain `def` (FastAPI runs those in a
    thread pool).
    """

    code = "BGT301"
    name = "blocking-call-in-async"
    words = ("async",)
    message = "blocking call inside async def blocks the event loop"

    @classmethod
    def words_for(cls, settings) -> tuple[str, ...]:
        return cls.words + tuple(name.rsplit(".", 1)[-1] for name in settings.blocking_calls)
    fix = "unsafe"
    fix_title = "Use the async API, or run the call in a worker thread"
    valid = (
        """
import asyncio, time
async def task():
    await asyncio.to_thread(time.sleep, 1)
""",
    )
    invalid = (
        """
import time
async def task():
    time.sleep(1)  # BGT301
""",
    )

    def visit_Call(self, node: ast.Call, ctx: RuleContext) -> None:
        if not ctx.in_async_def() or isinstance(ctx.parent, ast.Await):
            return
        reason = blocking_reason(ctx.index, ctx.module, ctx.function, node, self.settings.blocking_calls)
        if reason is None:
            return
        fix, why = self._fix(node, reason, ctx)
        self.report(ctx, node, f"blocking call {reason}() inside async def blocks the event loop" + why, fix=fix)

    @staticmethod
    def _fix(node: ast.Call, reason: str, ctx: RuleContext) -> tuple[str | None, str]:
        if ctx.in_generator_expression():
            return None, f"; no automatic fix: {IN_GENERATOR}"
        convertible = False
        if reason in ("open", "io.open"):
            with_node = ctx.stack[-2] if len(ctx.stack) >= 2 else None
            item = ctx.parent
            # the whole `with` becomes `async with`: every item must be an open() as a name
            # (`with LOCK, open(p) as f` cannot: a threading.Lock is no async context manager)
            convertible = (
                isinstance(with_node, ast.With)
                and isinstance(item, ast.withitem)
                and item.context_expr is node
                and all(_opens_a_file(other, ctx) for other in with_node.items)
                and all(_handle_only_used_for_io(with_node, other.optional_vars.id,  # type: ignore[union-attr]
                                                 ctx.function) for other in with_node.items)
            )
        fix, why = blocking_fix(reason, node, ctx.parent, ctx.module.tree, ctx.index.root, convertible)
        held = _held_around(node, ctx) if fix == "safe" else None
        if held is not None:
            fix = "unsafe"
            why += (f"; the fix is unsafe: it would await {held} while other coroutines run (a threading "
                    "lock that one of them takes deadlocks the event loop)")
        if fix is not None:
            used = ("aiofiles.open" if reason in ("open", "io.open") and convertible
                    else "asyncio.sleep" if reason == "time.sleep" else "asyncio.to_thread")
            library = used.split(".")[0]
            if module_name_taken(ctx.module, ctx.function, library):
                return None, (f"; no automatic fix: `{library}` is bound to something else here, so the fix's "
                              f"`{used}` would not be the library's")
        return fix, why


# context managers that hold nothing another coroutine could wait for
HARMLESS_CONTEXTS = frozenset({
    "open", "io.open", "contextlib.suppress", "contextlib.nullcontext", "warnings.catch_warnings",
    "tempfile.TemporaryDirectory", "tempfile.NamedTemporaryFile", "tempfile.TemporaryFile",
})


def _held_around(node: ast.Call, ctx: RuleContext) -> str | None:
    """Where the fix's new `await` would let other coroutines run while something may be
    held (None: nowhere): inside a plain `with` of the call's own function whose item is
    no file or other harmless context (a lock), or in a function that takes a lock by hand."""
    inner: ast.AST = node
    for ancestor in reversed(ctx.stack):
        if isinstance(ancestor, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            break
        if isinstance(ancestor, ast.With) and any(inner is stmt for stmt in ancestor.body):
            for item in ancestor.items:
                expr = item.context_expr
                if not (isinstance(expr, ast.Call) and ctx.qualified_name(expr.func) in HARMLESS_CONTEXTS):
                    return f"inside `with {ast.unparse(expr)[:60]}`, which stays held"
        inner = ancestor
    acquired = _acquired_by_hand(ctx.function) if ctx.function is not None else None
    return f"where `{acquired}.acquire()`, taken by hand in this function, may be held" if acquired else None


def _acquired_by_hand(function: ast.AST) -> str | None:
    """`LOCK.acquire()` called, not awaited, in the function: a threading lock taken by hand
    (an asyncio lock's acquire is awaited), which may be held where the fix awaits."""
    cached = getattr(function, "_bgt_acquired", False)
    if cached is not False:
        return cached
    awaited = {id(node.value) for node in ast.walk(function) if isinstance(node, ast.Await)}
    found = next((ast.unparse(node.func.value)[:60] for node in ast.walk(function)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "acquire" and id(node) not in awaited), None)
    function._bgt_acquired = found  # type: ignore[attr-defined]
    return found
