"""BGT402 exception-swallowed."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.guards import guard_model, is_broad_handler, local_def, strip_docstring, walk_local
from bgtask_lint.index import FUNCTION_TYPES, FunctionSym, ModuleInfo, ProjectIndex
from bgtask_lint.log_fixes import NoFix, swallow_fix
from bgtask_lint.loggers import log_call
from bgtask_lint.names import dotted, last_name
from bgtask_lint.rules import Rule

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext

# V2.7 best-effort teardown: what a try body may call and still be exempt
TEARDOWN_FUNCTIONS = {"os.remove", "os.unlink", "os.rmdir", "shutil.rmtree"}
TEARDOWN_METHODS = {"close", "aclose", "wait_closed", "detach", "cancel", "unlink",
                    "kill", "terminate", "shutdown",  # ending a process, a server, an executor
                    "remove_reader", "remove_writer",  # loop.remove_reader(fd): stop watching a closed fd
                    "__exit__", "__aexit__"}  # leaving a context entered by hand
TEARDOWN_DEPTH = 2  # project functions followed to see that they only tear down
# type checks an `if` around a teardown call may make (`if isinstance(s, SupportsAclose):`)
TYPE_CHECKS = {"isinstance", "hasattr", "callable"}
# path checks an `if` around a teardown call may make (`if os.path.exists(p): os.remove(p)`)
PATH_CHECKS = {"exists", "isfile", "isdir", "islink", "lexists", "is_file", "is_dir", "is_symlink"}
BROAD = {"Exception", "BaseException"}
# awaiting these with a teardown call as their first argument is that teardown, bounded or
# shielded: `await asyncio.wait_for(session.close(), timeout=5)`
TEARDOWN_WRAPPERS = {"asyncio.wait_for", "asyncio.shield"}


def task_scope_functions(ctx: RuleContext) -> set[int]:
    """ids of the module's tasks and of the same-module functions they call (transitively),
    nested defs they call included (`await _process_handler(db)`)."""
    key = ("task-scope", ctx.module.path)
    cached = ctx.index.cache.get(key)
    if cached is not None:
        return cached  # type: ignore[return-value]
    module = ctx.module
    pending = [f for f in module.functions.values() if ctx.index.is_task(module, f)]
    seen: set[int] = set()
    while pending:
        function = pending.pop()
        if id(function) in seen:
            continue
        seen.add(id(function))
        owner = module.owner_class.get(id(function))
        for node in walk_local(list(function.body)):
            if not isinstance(node, ast.Call):
                continue
            local = local_def(node.func, function)
            if local is not None:
                pending.append(local)
                continue
            target = ctx.index.resolve(module, node.func, function, owner)
            if isinstance(target, FunctionSym) and target.module is module:
                pending.append(target.node)
    ctx.index.cache[key] = seen
    return seen


def _is_teardown_call(expr: ast.expr, index: ProjectIndex, module: ModuleInfo, function: ast.AST | None,
                      depth: int) -> bool:
    if isinstance(expr, ast.Await):
        expr = expr.value
    if not isinstance(expr, ast.Call):
        return False
    qualified = index.qualified_name(module, expr.func, function)
    if qualified in TEARDOWN_FUNCTIONS:
        return True
    if qualified in TEARDOWN_WRAPPERS and expr.args:
        return _is_teardown_call(expr.args[0], index, module, function, depth)
    if isinstance(expr.func, ast.Attribute) and expr.func.attr in TEARDOWN_METHODS:
        return True
    # a project function that only tears down (`await aclose_if_supported(stream)`, whose
    # body is `if isinstance(stream, SupportsAclose): await stream.aclose()`)
    if depth >= TEARDOWN_DEPTH or not isinstance(expr.func, (ast.Name, ast.Attribute)):
        return False
    owner = module.owner_class.get(id(function)) if function is not None else None
    sym = index.resolve(module, expr.func, function, owner)
    return isinstance(sym, FunctionSym) and not isinstance(sym.node, ast.Lambda) \
        and _teardown_body(strip_docstring(sym.node.body), index, sym.module, sym.node, depth + 1)


def _awaits_cancelled(expr: ast.expr, function: ast.AST | None) -> bool:
    """`await task` where the function calls `task.cancel()`: waiting for a task it has
    just cancelled, the second half of cancel()."""
    if not isinstance(expr, ast.Await) or function is None:
        return False
    name = dotted(expr.value)
    return name is not None and any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "cancel"
        and dotted(n.func.value) == name
        for n in walk_local(list(function.body)))  # type: ignore[attr-defined]


def _is_path_check(test: ast.expr) -> bool:
    """`os.path.exists(p)`, `p.is_file()`, `isinstance(s, SupportsAclose)`, or no call."""
    calls = [n for n in ast.walk(test) if isinstance(n, ast.Call)]
    return not any(isinstance(n, ast.Await) for n in ast.walk(test)) and all(
        last_name(call.func) in PATH_CHECKS or (isinstance(call.func, ast.Name) and call.func.id in TYPE_CHECKS)
        for call in calls)


def _teardown_only(body: list[ast.stmt], ctx: RuleContext) -> bool:
    return _teardown_body(body, ctx.index, ctx.module, _enclosing_function(ctx), 0)


def _teardown_body(body: list[ast.stmt], index: ProjectIndex, module: ModuleInfo, function: ast.AST | None,
                   depth: int) -> bool:
    """The body only closes, cancels or removes things (also under an `if`); a log line
    about it (`logger.info("closed")`) is no work of its own."""
    model = guard_model(index, module)
    owner = module.owner_class.get(id(function)) if function is not None else None

    def kind(stmt: ast.stmt) -> str | None:
        if isinstance(stmt, ast.Expr):
            if _is_teardown_call(stmt.value, index, module, function, depth) \
                    or _awaits_cancelled(stmt.value, function):
                return "teardown"
            call = stmt.value.value if isinstance(stmt.value, ast.Await) else stmt.value
            if isinstance(call, ast.Call) and log_call(call, model.loggers, function, owner, unresolved=True):
                return "log"
            return None
        if isinstance(stmt, ast.If):
            inner = stmt.body + stmt.orelse
            return "teardown" if _is_path_check(stmt.test) and _teardown_body(stmt.body, index, module, function, depth) \
                and (not stmt.orelse or _teardown_body(stmt.orelse, index, module, function, depth)) and inner else None
        return "pass" if isinstance(stmt, ast.Pass) else None

    kinds = [kind(s) for s in body]
    return bool(body) and None not in kinds and "teardown" in kinds


def _is_bool_answer(expr: ast.expr | None) -> bool:
    return (isinstance(expr, ast.Constant) and isinstance(expr.value, bool)) \
        or isinstance(expr, (ast.Compare, ast.BoolOp)) \
        or (isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not))


def _is_predicate(function: ast.AST) -> bool:
    """Annotated `-> bool`, or every `return` gives True/False/a comparison."""
    returns = getattr(function, "returns", None)
    if returns is not None:
        return last_name(returns) == "bool"
    values = [n.value for n in walk_local(list(function.body)) if isinstance(n, ast.Return)]  # type: ignore[attr-defined]
    return bool(values) and all(_is_bool_answer(v) for v in values)


def _debug_line(stmt: ast.stmt, ctx: RuleContext, function: ast.AST) -> bool:
    """`logger.debug("probe failed: %s", e)`: a line kept out of the production log on
    purpose (a failure that is an answer, not news)."""
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    model = guard_model(ctx.index, ctx.module)
    found = log_call(stmt.value, model.loggers, function, ctx.module.owner_class.get(id(function)), unresolved=True)
    return found is not None and found.level in ("debug", "trace")


def _predicate_answer(handler: ast.ExceptHandler, function: ast.AST, ctx: RuleContext) -> bool:
    """In a predicate the task calls (not a task, whose return value nobody reads): the
    handler only answers True or False, a constant, as a V2.7 fallback does (after a
    DEBUG line, if any: the failure is the answer, not news). One that also logs the
    message at a higher level chose to report the failure, and lost its traceback: still
    flagged."""
    answer = handler.body[-1]
    return all(isinstance(s, ast.Pass) or _debug_line(s, ctx, function) for s in handler.body[:-1]) \
        and isinstance(answer, ast.Return) \
        and isinstance(answer.value, ast.Constant) and isinstance(answer.value.value, bool) \
        and _is_predicate(function) and not ctx.index.is_task(ctx.module, function)


def _call_result(expr: ast.expr | None) -> bool:
    return isinstance(expr, ast.Call) or (isinstance(expr, ast.Await) and isinstance(expr.value, ast.Call))


def _is_constant(expr: ast.expr | None) -> bool:
    """`None`, `0`, `""`, `[]`, `{}`, `(None, None)`: a value that needs no call."""
    if expr is None or isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
        return all(_is_constant(e) for e in expr.elts)
    if isinstance(expr, ast.Dict):
        return all(_is_constant(e) for e in [*expr.keys, *expr.values])
    return False


def _one_call_value(try_body: list[ast.stmt]) -> bool:
    """V2.7: `x = call()` or `return call()`, alone in the `try`."""
    if len(try_body) != 1:
        return False
    stmt = try_body[0]
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        return _call_result(stmt.value)
    return isinstance(stmt, ast.Return) and _call_result(stmt.value)


def _pure_value(try_body: list[ast.stmt]) -> bool:
    """The same idea over several lines: the `try` only computes a value and returns it
    (assignments, imports, `if`s and `return`s, ending in a `return`; no `await`, no call
    made for its effect), as `parsed = urlparse(url)` / `if parsed.password: return
    unquote(parsed.password)` / `return None` does; or it only imports (an optional
    import: `from x import f`)."""
    def pure(stmts: list[ast.stmt]) -> bool:
        for stmt in stmts:
            if isinstance(stmt, ast.If):
                if not (pure(stmt.body) and pure(stmt.orelse)):
                    return False
            elif not isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.Return, ast.Import, ast.ImportFrom, ast.Pass)):
                return False
        return True

    imports_only = all(isinstance(stmt, (ast.Import, ast.ImportFrom)) for stmt in try_body)
    return bool(try_body) and (imports_only or (isinstance(try_body[-1], ast.Return) and pure(try_body))) \
        and not any(isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)) for s in try_body for n in ast.walk(s))


def _is_fallback(try_body: list[ast.stmt], handler_body: list[ast.stmt]) -> bool:
    """A value computed in the `try` (V2.7: one assignment or `return` of a call's result;
    also a pure computation that returns its value) with a handler that only assigns a
    fallback value, returns a constant, `continue`s or passes (`contextlib.suppress`: a
    handler that does nothing, `[]`)."""
    if not (_one_call_value(try_body) or _pure_value(try_body)):
        return False

    def fallback(s: ast.stmt) -> bool:
        if isinstance(s, (ast.Pass, ast.Continue)):
            return True
        if isinstance(s, ast.Return):
            return _is_constant(s.value)
        if isinstance(s, (ast.Assign, ast.AnnAssign)):
            return s.value is not None and not any(isinstance(n, (ast.Call, ast.Await)) for n in ast.walk(s.value))
        return False

    return all(fallback(s) for s in handler_body)


def _enclosing_function(ctx: RuleContext) -> ast.AST | None:
    for node in reversed(ctx.stack):
        if isinstance(node, FUNCTION_TYPES):
            return node
        if isinstance(node, (ast.Lambda, ast.ClassDef)):
            return None
    return None


class ExceptionSwallowed(Rule):
    """## What it does
    Checks, inside a background task (or a function of the same module that it
    calls, nested defs included), for a broad handler (`except Exception`,
    `except BaseException`, bare `except`, `contextlib.suppress(Exception)`) that
    neither re-raises nor logs the traceback: `pass`, `print(e)`,
    `logger.error(f"...{e}")`, `return {...}`. Loggers are known by binding, as for
    BGT401 (also one imported inside the function: `from app.log import logger`, or
    `import logging` in the handler, then `logging.getLogger("app").error(...)`):
    `dialog.error(..., exc_info=True)` on an object that is not a logger logs nothing,
    and loguru ignores `exc_info` (its traceback comes with `logger.opt(exception=True)`
    or `logger.exception`). Logging `traceback.format_exc()` (also imported in the
    handler, or returned by a project function, also joined:
    `"".join(traceback.format_exception(*sys.exc_info()))`, or kept in a variable first)
    logs the traceback. A call to a project function that logs the traceback itself
    counts as logging it; one that hands its `**kwargs` on to a log call (`def
    log_error(msg, *args, **kwargs): logger.error(msg, *args, **kwargs)`) logs at that
    level, with the traceback when the caller passes `exc_info=True`; and a call to one
    that never returns (`-> NoReturn`, or every
    path ends in `raise`: `if auth: raise AuthError(...) from exc` then
    `raise ListError(...) from exc`) as re-raising, as do `sys.exit(...)` (SystemExit
    ends the task), `os._exit(...)` and `os.abort()`.

    Not flagged (the error is dropped on purpose, or not dropped):

    - a handler that passes `exc_info=False` (or `None`) to its log call;
    - a handler that hands the exception object itself on for a consumer to re-raise
      or report: `return e`, `return Failed(e)`, or `e` passed to a call that is not a
      log call nor a text/inspection builtin (`str`, `repr`, `type`, `getattr`, ...):
      `fut.set_exception(e)`, `fut.set_result(e)`, `queue.put_nowait(e)`, a library
      call; through a project function only when that function hands its parameter
      on in turn (returns it or passes it to such a call). Storing the object itself in
      an attribute of `self` (`self._exception = e`, as a task-result object does)
      keeps it, traceback included, for whoever reads it. A helper that only logs or
      inspects it, or raises it on some paths only, hands nothing on, and keeping its
      text (`job.metadata["error"] = str(e)`), or the object in a variable or a dict,
      is not handing it on;
    - in a predicate the task calls (not in the task itself, whose return value nobody
      reads), annotated `-> bool` or returning only `True`/`False`/comparisons, a
      handler that only answers `True` or `False`: a fallback constant, whatever the
      `try` holds (`_is_text_file(path)` is False when unreadable), also after a DEBUG
      line (`logger.debug("probe failed: %s", e)`: the failure is the answer, kept out
      of the production log on purpose). One that logs the message at a higher level
      chose to report the failure, and lost its traceback;
    - a fallback: the `try` body is one assignment or `return` of a call's result
      (`x = parse(s)`, `return await fetch()`), or a computation that only assigns,
      imports, branches with `if` and ends in `return` (no `await`, no call made for
      its effect), or only imports (an optional import); and the handler only assigns
      a value that needs no call, returns a constant (`None`, `0`, `[]`, `{}`),
      `continue`s or passes (so also `with contextlib.suppress(Exception): x = parse(s)`);
    - best-effort teardown: the `try` body only calls `close()`, `aclose()`,
      `wait_closed()`, `detach()`, `cancel()`, `unlink()`, `kill()`, `terminate()`,
      `shutdown()`, `loop.remove_reader/
      remove_writer(fd)`, `__exit__`/`__aexit__` of a context entered by hand,
      `os.remove/unlink/rmdir`, `shutil.rmtree`, a project
      function whose own body is such teardown (`await aclose_if_supported(stream)`),
      or awaits a task the function has cancelled (`task.cancel()` then
      `try: await task`); also bounded or shielded (`await asyncio.wait_for(
      session.close(), 5)`, `asyncio.shield(...)`); also under an `if` whose test only checks a path
      (`if os.path.exists(p):`) or a type (`isinstance`, `hasattr`, `callable`) or
      makes no call, and with log lines about it;
    - a handler nothing reaches: the `try` body's only fallible calls are project
      functions whose bodies catch every exception themselves (the rest cannot fail:
      logging, `len`, `isinstance`, `asyncio.sleep`, `time.monotonic()`); a helper
      that swallows is reported there, one problem, one finding.

    Still flagged: a task-group child's swallowing handler (`tg.start_soon(f)`): the
    group only sees what `f` lets escape.

    A task whose every call statement is covered by such broad handlers is not also
    reported as BGT401: one problem, one finding.

    ## Why is this bad?
    The task fails and reports success. With no traceback there is nothing to debug
    from: `logger.error(str(e))` says "connection refused" but not where or why.

    ## Example
    ```python
    def sync_orders():
        try:
            push_orders()
        except Exception as e:
            logger.error(f"sync failed: {e}")
    ```

    ## Use instead
    ```python
    def sync_orders():
        try:
            push_orders()
        except Exception:
            logger.exception("sync failed")
    ```

    ## Fix safety
    Safe, and the level is kept: `logger.error(...)` becomes `logger.exception(...)`
    with the same arguments (but `logger.error(..., exc_info=True)` where a logger class
    of the module defines its own `error`, which `LoggerAdapter.exception` would skip),
    `logger.warning(...)` (or another level) becomes
    `logger.warning(..., exc_info=True)`; with loguru,
    `logger.opt(exception=True).warning(...)`. Of several log calls, the first of the
    highest level gets the traceback. `print(...)` and a lone `pass` become
    `logger.exception(...)` only where a logger is provably bound and not shadowed in
    the function and bound on every path of the module's import (loguru: `{}`
    placeholders, never `%s`): a logger parameter that may
    be None does not count, nor a local logger unless a statement of the body before
    the one holding the handler assigns it, unconditionally. The print's keywords go
    (`file=sys.stderr`), and with them a standard-library import they used last. No fix,
    and the finding says why, when no logger is bound, the log call passes `**kwargs`,
    a comment in the handler mentions the traceback (pass `exc_info=False` to say it is
    left out on purpose), or the print's keywords compute something (`file=open(...)`)
    or use last another import.
    """

    code = "BGT402"
    name = "exception-swallowed"
    on_task_modules = True
    message = "broad except in a background task neither logs the traceback nor re-raises"
    fix = "safe"
    fix_title = "Log with logger.exception"
    valid = (
        """
import os
from fastapi import BackgroundTasks
def task(path):
    try:
        os.remove(path)
    except Exception:
        pass
def endpoint(tasks: BackgroundTasks):
    tasks.add_task(task, "x")
""",
        """
import logging
from fastapi import BackgroundTasks
logger = logging.getLogger(__name__)
def task(key, conn):
    try:
        limit = int(lookup(key))
    except Exception:
        limit = 10
    try:
        work(key, limit)
    except Exception as exc:
        logger.warning("%s skipped: %s", key, exc, exc_info=False)
    try:
        if conn is not None:
            conn.close()
    except Exception:
        pass
def endpoint(tasks: BackgroundTasks):
    tasks.add_task(task, "x", None)
""",
        """
import logging
from fastapi import BackgroundTasks
log = logging.getLogger(__name__)
def is_text(path) -> bool:
    try:
        with open(path, "rb") as f:
            f.read(1024).decode()
    except Exception as e:
        log.debug("not text: %s", e)
        return False
    return True
class Job:
    async def run(self, func):
        try:
            self.result = await func()
        except Exception as e:
            self.exception = e
async def task(names):
    await save([n for n in names if is_text(n)])
def endpoint(tasks: BackgroundTasks):
    tasks.add_task(task, ["a"])
    tasks.add_task(Job().run, None)
""",
    )
    invalid = (
        """
from fastapi import BackgroundTasks
def task(x):
    try:
        work(x)
    except Exception:  # BGT402
        pass
def endpoint(tasks: BackgroundTasks):
    tasks.add_task(task, 1)
""",
        """
from fastapi import BackgroundTasks
def task(dialog, x):
    try:
        limit = lookup(x)
    except Exception as exc:  # BGT402
        dialog.error("lookup failed", exc_info=True)
        limit = 0
    return limit
def endpoint(tasks: BackgroundTasks):
    tasks.add_task(task, None, 1)
""",
        """
from fastapi import BackgroundTasks
def task(job, row):
    try:
        dispatch(row)
    except Exception as e:  # BGT402
        job.metadata["error"] = str(e)
    try:
        return dispatch(row)
    except Exception as e:  # BGT402
        return {"row": row, "error": str(e)}
def endpoint(tasks: BackgroundTasks):
    tasks.add_task(task, None, 1)
""",
        """
from fastapi import BackgroundTasks
class Outcome:
    pass
def copy_one(name):
    result = Outcome()
    try:
        store(name)
    except Exception as exc:  # BGT402
        result.reason = f"{type(exc).__name__}: {exc}"
    return result
def send_row(row) -> bool:
    try:
        dispatch(row)
    except Exception as e:  # BGT402
        log.warning("row failed: %s", e)
        return False
    return True
def task(names):
    save([copy_one(n) for n in names], [send_row(n) for n in names])
def endpoint(tasks: BackgroundTasks):
    tasks.add_task(task, ["a"])
""",
    )

    def _in_task_scope(self, ctx: RuleContext) -> bool:
        function = _enclosing_function(ctx)
        return function is not None and id(function) in task_scope_functions(ctx)

    def visit_Try(self, node: ast.Try, ctx: RuleContext) -> None:
        if not self._in_task_scope(ctx) or _teardown_only(node.body, ctx):
            return
        model = guard_model(ctx.index, ctx.module)
        function = _enclosing_function(ctx)
        if function is not None and model.guarded_below(node.body, function, "covers", helper_needed=True):
            return  # the body's failures are caught one level down (logged, or BGT402's there): none reach here
        for handler in node.handlers:
            if not is_broad_handler(handler):
                continue
            facts = model.handler(handler, function)
            if not facts.swallows or facts.exc_info_off or _is_fallback(node.body, handler.body) \
                    or (function is not None and _predicate_answer(handler, function, ctx)):
                continue
            message = (f"broad except in {_where(ctx, function)} swallows the error: "
                       "log it with logger.exception (or re-raise)")
            plan = swallow_fix(model, handler, function)  # the fix side's decision (log_fixes.py)
            if isinstance(plan, NoFix):
                self.report(ctx, handler, f"{message}; no safe fix: {plan.reason}", fix=None)
            else:
                self.report(ctx, handler, message, fix="safe")

    visit_TryStar = visit_Try

    def _visit_with(self, node: ast.AST, ctx: RuleContext) -> None:
        if not self._in_task_scope(ctx) or _teardown_only(node.body, ctx):  # type: ignore[attr-defined]
            return
        if _is_fallback(node.body, []):  # type: ignore[attr-defined]
            return  # `with suppress(Exception): status = await fetch()`: a fallback, as with `try`/`pass`
        for item in node.items:  # type: ignore[attr-defined]
            expr = item.context_expr
            if (
                isinstance(expr, ast.Call)
                and ctx.qualified_name(expr.func) == "contextlib.suppress"
                and any(last_name(a) in BROAD for a in expr.args)
            ):
                self.report(ctx, node, f"contextlib.suppress(Exception) in {_where(ctx, _enclosing_function(ctx))} "
                                       "swallows the error without a trace", fix=None)

    visit_With = _visit_with
    visit_AsyncWith = _visit_with


def _where(ctx: RuleContext, function: ast.AST | None) -> str:
    """'a background task', or, in a task scheduled from another module, which and from where."""
    if function is not None and ctx.index.is_task(ctx.module, function):
        origin = ctx.scheduled_from(function)
        if origin:
            return f"background task '{function.name}'{origin}"  # type: ignore[attr-defined]
    return "a background task"
