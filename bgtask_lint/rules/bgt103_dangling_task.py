"""BGT103 dangling-task."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.collect import is_create_task_call
from bgtask_lint.rules import Rule

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext


class DanglingTask(Rule):
    """## What it does
    Checks for `asyncio.create_task(...)`, `asyncio.ensure_future(...)` and
    `<loop>.create_task(...)` used as a statement, the result thrown away, also when
    only a done-callback is added to it (`create_task(f()).add_done_callback(cb)`: the
    callback keeps no reference to the task; no automatic fix for this form). Names come
    from imports: `from asyncio import create_task as spawn` and
    `from asyncio.tasks import create_task` are asyncio's, while a parameter, a local
    variable, an unbound name or a project module called `asyncio` is not.

    ## Why is this bad?
    The event loop keeps only a weak reference to a task: one that nobody references
    can be garbage-collected mid-flight, and its exception is never retrieved ("Task
    exception was never retrieved", at best, at shutdown).

    ## Example
    ```python
    async def signup(user_id: int):
        asyncio.create_task(send_welcome(user_id))
    ```

    ## Use instead
    ```python
    background_tasks = set()

    def task_done(task):
        background_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %r failed", task, exc_info=task.exception())

    async def signup(user_id: int):
        task = asyncio.create_task(send_welcome(user_id))
        background_tasks.add(task)
        task.add_done_callback(task_done)
    ```

    ## Fix safety
    Safe: the fix keeps a strong reference in a module-level set with a done-callback
    that discards it (the pattern of the asyncio documentation) and also logs the
    task's exception with its traceback when it failed (not when it was cancelled), so
    the fix does not lose what the rule says is lost. The callback logs through a logger
    provably bound in the module whenever it is imported (not only under `if DEBUG:`;
    loguru and structlog in their own idiom); with none,
    it adds `logger = logging.getLogger(__name__)` when the name `logger` is free, and
    otherwise logs through `logging.getLogger(__name__)`. Not flagged: results
    that are assigned, returned, awaited, passed on or stored; `TaskGroup.create_task`.
    """

    code = "BGT103"
    name = "dangling-task"
    words = ("create_task", "ensure_future")
    message = "task created and dropped: it can be garbage-collected mid-flight and its exception is lost"
    fix = "safe"
    fix_title = "Keep a strong reference in a module-level set"
    valid = (
        """
import asyncio
async def handler():
    task = asyncio.create_task(work())
    await task
""",
    )
    invalid = (
        """
import asyncio
async def handler():
    asyncio.create_task(work())  # BGT103
""",
    )

    def visit_Expr(self, node: ast.Expr, ctx: RuleContext) -> None:
        call = node.value
        if not isinstance(call, ast.Call) or ctx.function is None:
            return  # module level is BGT104's
        if is_create_task_call(ctx.module, call, ctx.function):
            self.report(ctx, call)
        elif isinstance(call.func, ast.Attribute) and call.func.attr == "add_done_callback" \
                and isinstance(call.func.value, ast.Call) and call.func.value.args \
                and isinstance(call.func.value.args[0], (ast.Call, ast.Await)) \
                and is_create_task_call(ctx.module, call.func.value, ctx.function):
            # `create_task(f()).add_done_callback(cb)`: the callback holds no reference to the
            # task (`ensure_future(task)` of a task kept elsewhere is that same task: not new)
            self.report(ctx, call.func.value, f"{self.message}: a done-callback does not keep it; no safe fix: "
                        "keep the task in a module-level set first (and discard it in the callback)", fix=None)
