"""BGT104 task-at-import-time."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.collect import is_create_task_call, is_loop_expression
from bgtask_lint.rules import Rule

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext


def _is_main_guard(node: ast.AST) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    names = {p.id for p in parts if isinstance(p, ast.Name)}
    values = {p.value for p in parts if isinstance(p, ast.Constant)}
    return "__name__" in names and "__main__" in values


class TaskAtImportTime(Rule):
    """## What it does
    Checks for `asyncio.create_task`, `asyncio.ensure_future`,
    `asyncio.get_event_loop().create_task` and `loop.run_until_complete` at module
    level, outside any function (also under an alias, `from asyncio import
    ensure_future as soon`, or imported from `asyncio.tasks`).

    ## Why is this bad?
    Module-level code runs at import: before the server's event loop exists, and once
    per worker process. The task is created on the wrong loop (or fails), and nothing
    owns it. Long-lived tasks belong in the app's `lifespan`.

    ## Example
    ```python
    loop = asyncio.get_event_loop()
    loop.create_task(consume_queue())
    ```

    ## Use instead
    ```python
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(consume_queue())
        yield
        task.cancel()
    ```

    ## Fix safety
    No automatic fix. Code under `if __name__ == "__main__":` is a script's entry
    point, not import-time code, and is not flagged.
    """

    code = "BGT104"
    name = "task-at-import-time"
    words = ("create_task", "ensure_future", "run_until_complete")
    message = "task started at import time, before the server's event loop; start it in lifespan"
    valid = (
        """
import asyncio
if __name__ == "__main__":
    asyncio.get_event_loop().run_until_complete(main())
""",
    )
    invalid = (
        """
import asyncio
asyncio.create_task(consume())  # BGT104
""",
    )

    def visit_Call(self, node: ast.Call, ctx: RuleContext) -> None:
        if any(isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) for a in ctx.stack):
            return
        if any(_is_main_guard(a) for a in ctx.stack):
            return
        if is_create_task_call(ctx.module, node, None):
            self.report(ctx, node)
        elif (
            isinstance(node.func, ast.Attribute)
            and node.func.attr == "run_until_complete"
            and is_loop_expression(ctx.module, node.func.value, None)
        ):
            self.report(ctx, node, "run_until_complete() at import time runs before the server's "
                                   "event loop exists; start the work in lifespan")
