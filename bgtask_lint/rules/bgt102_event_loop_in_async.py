"""BGT102 event-loop-in-async."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.index import api_name
from bgtask_lint.names import dotted
from bgtask_lint.rules import Rule

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext

CELERY_DECORATORS = ("task", "shared_task")


def _is_celery_task(function: ast.AST) -> bool:
    for decorator in getattr(function, "decorator_list", []):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = dotted(target) or ""
        if name.rsplit(".", 1)[-1] in CELERY_DECORATORS:
            return True
    return False


class EventLoopInAsync(Rule):
    """## What it does
    Checks for `asyncio.run(...)`, `loop.run_until_complete(...)` and
    `asyncio.get_event_loop().run_until_complete(...)` inside an `async def`.

    ## Why is this bad?
    An `async def` runs on an event loop that is already running, so starting or
    driving a loop there always raises `RuntimeError` ("cannot be called from a running
    event loop"). In a background task nobody sees that error.

    ## Example
    ```python
    async def refresh_cache():
        asyncio.run(load_prices())
    ```

    ## Use instead
    ```python
    async def refresh_cache():
        await load_prices()
    ```

    ## Fix safety
    No automatic fix. Not flagged inside a plain `def` (a sync background task runs in
    a worker thread with no running loop) or a Celery task.
    """

    code = "BGT102"
    name = "event-loop-in-async"
    words = ("async",)
    message = "starting an event loop inside async def raises RuntimeError; await the coroutine"
    valid = (
        """
import asyncio
def sync_task():
    asyncio.run(main())
""",
    )
    invalid = (
        """
import asyncio
async def task():
    asyncio.run(main())  # BGT102
""",
    )

    def visit_Call(self, node: ast.Call, ctx: RuleContext) -> None:
        if not ctx.in_async_def():
            return
        is_run = api_name(ctx.module, node.func, ctx.function) == "asyncio.run"
        is_drive = isinstance(node.func, ast.Attribute) and node.func.attr == "run_until_complete"
        if not (is_run or is_drive) or _is_celery_task(ctx.function):
            return
        what = "asyncio.run()" if is_run else "run_until_complete()"
        self.report(ctx, node, f"{what} inside async def raises RuntimeError (a loop is already running); "
                               "await the coroutine instead")
