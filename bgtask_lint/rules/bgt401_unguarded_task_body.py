"""BGT401 unguarded-task-body."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.guards import guard_model
from bgtask_lint.log_fixes import NoFix, guard_fix
from bgtask_lint.rules import Rule

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext


class UnguardedTaskBody(Rule):
    """## What it does
    Checks for a background task whose body is not guarded: after the docstring, every
    statement that contains a call must sit in a `try` whose `except Exception` (or
    `BaseException`, or bare `except`) handler logs the traceback
    (`logger.exception(...)`, `log.error(..., exc_info=True)`,
    `logger.opt(exception=True)` with loguru, `traceback.print_exc()`,
    `sentry_sdk.capture_exception(...)`, or a project function that logs it, or a project
    logging wrapper handing its `**kwargs` to a log call, given `exc_info=True`), or logs
    and re-raises (a call to a project function that never returns, annotated
    `-> NoReturn` or raising on every path, re-raises). What is a logger is decided by binding, not by its name: a name
    imported from `logging`/`loguru`/`structlog`, assigned from `logging.getLogger(...)`,
    `structlog.get_logger(...)` or a project function returning a logger (also a
    class's factory method: `AppLogger.get_logger()` annotated `-> logging.Logger`),
    or a `self.<attr>` assigned one; a parameter called `logger`, `from math import log`,
    or `dialog.error(...)` are no loggers. Also guarded:

    - a `for`/`while` loop whose body is guarded this way, when its header has no
      `await` and calls only `range`, `enumerate`, `zip`, `sorted`, `reversed`, `list`,
      `set`, `tuple`, `dict`, `len`, `.items()/.keys()/.values()` or, with no
      arguments, a state query (`.is_set()`, `.done()`, `.cancelled()`, `.empty()`,
      `.full()`, `.qsize()`, `.locked()`: `while not stop.is_set():`) (and, likewise, an
      `if` or a `with` whose header makes no call);
    - the acquire/try/finally idiom (`db = SessionLocal()` right before a guarding
      `try` whose `finally` calls `db.close()`, `.release()`, `.dispose()`, `.aclose()`,
      or `.cancel()` for a helper task such as a heartbeat);
    - a task decorated with a guard decorator: one configured in `guard-decorators`,
      or a project decorator (or decorator factory, in any module) whose wrapper calls
      the wrapped function inside a guarding `try`, whatever it does before that `try`;
    - a task scheduled only by `create_task(F(...))` whose task object gets
      `add_done_callback(cb)`, where `cb` calls `.exception()`/`.result()` on the task
      and logs (directly, or one project call down); also when the task object is
      added to a collection (`tasks.add(create_task(F()))`) and a loop over that
      collection (or over `list(tasks)`) in the same function adds the callback
      (`for t in tasks: t.add_done_callback(cb)`);
    - guarded one level down: a statement whose fallible calls are all calls of project
      functions (or nested defs) whose own bodies are guarded (resolved through the
      project, cycle-safe, at most three levels) is covered, when the rest of its calls
      cannot fail (`len`, `isinstance`, `max`, `min`, `round`, `str`, `.items()`,
      `await asyncio.sleep(...)`, `time.monotonic()`, `asyncio.Event()`,
      `asyncio.get_running_loop()`, `uuid.uuid4()`, `datetime.now()`, logging, and
      `.set()`/`.cancel()` of a name bound to an Event, Task or Future): `if not await
      self._insert(batch): break` where `_insert` catches and logs every exception. A helper that swallows counts as
      covering only in the same module, where BGT402 reports its handler;
    - a `try` that does not guard (`except asyncio.CancelledError: return`) around
      statements that are covered anyway, its handlers included;
    - calls that cannot fail (those above) standing outside the guarding `try`, as
      call-free statements may: `while True: try: ... except Exception:
      logger.exception(...)` followed by `await asyncio.sleep(60)`; a body whose only
      calls cannot fail is as good as call-free. The task's own log calls count as such
      calls beside tries whose handlers log the traceback (`logger.info("starting")`
      before a guarded loop) or swallow it (then BGT402 reports the handler: one
      problem, one finding), not beside a handler that hands the exception on (to a
      future, a queue), where nothing logs it.

    Still flagged: a task started with `start_soon` in an anyio task group (the
    contract's scheduling form): the group re-raises the child's exception in its
    parent, but the child's own body is judged like any task's.

    Not flagged: bodies without calls; trivial bodies (the only call statement is one
    logging call, also beside calls that cannot fail (`await asyncio.sleep(ttl)`,
    `.items()`, `len`); one `.release()`, `.set()`, `.cancel()`, `.close()` or
    `await x.aclose()` on a name (a close may take arguments: `websocket.close(code,
    reason)`), also alone in a `try` whose handlers call nothing but log calls and
    `str(e)` (a best-effort close), or
    `raise NotImplementedError`: an abstract method a subclass overrides); and bodies
    whose every call statement is covered by broad handlers of which one swallows the
    error (logs without the traceback, prints, passes): that handler is reported as
    BGT402 instead, one problem, one finding. Handlers of narrow exception types guard
    nothing, and a handler that only re-raises covers nothing.

    ## Why is this bad?
    A background task runs after the response is sent. When it raises, there is no
    client to tell, and depending on the server the exception is logged somewhere
    unexpected or not at all: the work silently does not happen.

    ## Example
    ```python
    async def process_csv(path: str):
        rows = parse(path)
        await store(rows)
    ```

    ## Use instead
    ```python
    async def process_csv(path: str):
        try:
            rows = parse(path)
            await store(rows)
        except Exception:
            logger.exception("background task %s failed", "process_csv")
            raise
    ```

    ## Fix safety
    Safe: the fix wraps the body (after the docstring and any `global` line) in that `try`. It reuses a
    logger the module provably binds on every path of its import (not one bound only
    under `if DEBUG:`: NameError in the handler) (imported from `logging`, `loguru` or
    `structlog`, assigned from `logging.getLogger(...)`/`structlog.get_logger(...)`,
    or imported from a project module that does so) and that the task does not
    shadow (a parameter called `logger` is not the module's logger), or a logger
    parameter that cannot be None (not `logger: Logger | None = None`: the handler
    would raise AttributeError instead of the task's error; nor a logger the body
    assigns: unbound when an earlier line fails), or in a method
    `self.<logger>` when the class binds one unconditionally (first, when the method
    already logs through it). Only when no
    logger is bound and the name `logger` is free does it add `import logging` and
    `logger = logging.getLogger(__name__)`; a module that binds `logger` to something
    else (`logger = None`, set at start-up) gets no fix. Loguru gets `{}` placeholders,
    structlog a key-value pair; the new call is quoted as the module quotes. No fix either where wrapping would log a failure
    twice: a handler in the body (or in a def nested in it) that already logs the
    traceback and re-raises, a
    decorator that logs, or a task started only with `tg.start_soon(...)` (the group's
    `async with` receives its exception, and may log it); nor where a narrow handler in the body (or a nested def)
    raises on purpose
    (`except StopConsumer: ...; raise`), which the wrapper would log as a failure (but a
    handler of built-in errors that re-raises only under a condition, `except
    AttributeError as e: if <not the known case>: raise`, lets out failures: wrapped).
    The finding then says why. Bodies without calls are not
    flagged, and handlers of narrow exception types are no guard.
    """

    code = "BGT401"
    name = "unguarded-task-body"
    on_task_modules = True
    message = "background task body is not guarded by a try/except that logs the traceback"
    fix = "safe"
    fix_title = "Wrap the body in try/except that logs with logger.exception and re-raises"
    valid = (
        """
import logging
from fastapi import BackgroundTasks
logger = logging.getLogger(__name__)
def task(x):
    try:
        work(x)
    except Exception:
        logger.exception("task failed")
        raise
def endpoint(tasks: BackgroundTasks):
    tasks.add_task(task, 1)
""",
        """
import asyncio
import logging
from fastapi import BackgroundTasks
logger = logging.getLogger(__name__)
def log_failure(task):
    if not task.cancelled() and task.exception() is not None:
        logger.error("task failed", exc_info=task.exception())
async def refresh(items):
    for index, item in enumerate(items):
        try:
            await work(item)
        except Exception:
            logger.exception("item %s failed", index)
async def warm(key):
    await load(key)
    await store(key)
async def endpoint(key: str, tasks: BackgroundTasks):
    tasks.add_task(refresh, [key])
    task = asyncio.create_task(warm(key))
    task.add_done_callback(log_failure)
""",
    )
    invalid = (
        """
from fastapi import BackgroundTasks
def task(x):  # BGT401
    work(x)
def endpoint(tasks: BackgroundTasks):
    tasks.add_task(task, 1)
""",
        """
import logging
from fastapi import BackgroundTasks
logger = logging.getLogger(__name__)
def task(items):  # BGT401
    for item in fetch(items):
        try:
            work(item)
        except Exception:
            logger.exception("item %s failed", item)
def endpoint(tasks: BackgroundTasks):
    tasks.add_task(task, [1])
""",
    )

    def visit_FunctionDef(self, node: ast.AST, ctx: RuleContext) -> None:
        if not ctx.index.is_task(ctx.module, node):
            return
        model = guard_model(ctx.index, ctx.module)
        # body_covered includes body_guarded: when a covering handler swallows instead of
        # guarding, that handler is BGT402's finding (one problem, one finding)
        if model.trivial_body(node) or model.body_covered(node):
            return
        if model.has_guard_decorator(node, self.settings.guard_decorators):
            return
        if model.guarded_by_done_callback(node):
            return
        message = (f"background task '{node.name}'{ctx.scheduled_from(node)} has no try/except that logs the traceback: "  # type: ignore[attr-defined]
                   "its failures go unseen")
        plan = guard_fix(model, node)  # the fix side's decision (log_fixes.py)
        if isinstance(plan, NoFix):
            self.report(ctx, node, f"{message}; no safe fix: {plan.reason}", fix=None)
        else:
            self.report(ctx, node, message)

    visit_AsyncFunctionDef = visit_FunctionDef
