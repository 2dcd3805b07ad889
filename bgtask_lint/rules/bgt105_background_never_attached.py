"""BGT105 background-never-attached."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.collect import is_starlette_background_task
from bgtask_lint.guards import walk_local
from bgtask_lint.rules import Rule
from bgtask_lint.scope import function_scope

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext


class BackgroundNeverAttached(Rule):
    """## What it does
    Checks for a `BackgroundTasks()` or `BackgroundTask(...)` object created inside a
    function, given tasks, and then never returned, never passed to a response
    (`background=`) and never passed anywhere else.

    ## Why is this bad?
    Starlette runs background tasks only when they are attached to the response that
    is sent. Tasks added to a stray object silently never run.

    ## Example
    ```python
    @app.post("/signup")
    async def signup(email: str):
        tasks = BackgroundTasks()
        tasks.add_task(send_welcome, email)
        return JSONResponse({"ok": True})
    ```

    ## Use instead
    ```python
    @app.post("/signup")
    async def signup(email: str):
        tasks = BackgroundTasks()
        tasks.add_task(send_welcome, email)
        return JSONResponse({"ok": True}, background=tasks)
    ```

    ## Fix safety
    No automatic fix: which response should carry the tasks is the author's call.
    """

    code = "BGT105"
    name = "background-never-attached"
    words = ("BackgroundTask",)
    message = "background tasks are created but never attached to a response: they never run"
    valid = (
        """
from fastapi import BackgroundTasks
from fastapi.responses import JSONResponse
async def signup(email: str):
    tasks = BackgroundTasks()
    tasks.add_task(send_welcome, email)
    return JSONResponse({}, background=tasks)
""",
    )
    invalid = (
        """
from fastapi import BackgroundTasks
async def signup(email: str):
    tasks = BackgroundTasks()  # BGT105
    tasks.add_task(send_welcome, email)
    return {"ok": True}
""",
    )

    def visit_FunctionDef(self, node: ast.AST, ctx: RuleContext) -> None:
        candidates = False  # a call that may build one: else no binding of the scope can hold one
        for stmt in walk_local(list(node.body)):  # type: ignore[attr-defined]
            if isinstance(stmt, ast.Call):
                candidates = candidates or self._may_be_one(stmt, ctx)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
                    and self._kind(stmt.value, ctx, node) == "BackgroundTask":
                self.report(ctx, stmt.value, "BackgroundTask created and dropped: it never runs; "
                                             "pass it to the response as background=")
        if not candidates:
            return
        scope = function_scope(node)
        for name, bindings in scope.bindings.items():
            for binding in bindings:
                value = binding.value
                if binding.kind != "assign" or not isinstance(value, ast.Call):
                    continue
                kind = self._kind(value, ctx, node)
                if kind is None:
                    continue
                uses = scope.uses.get(name, [])
                add_task_uses = [
                    use for use, parent in uses
                    if isinstance(parent, ast.Attribute) and parent.attr == "add_task"
                ]
                other_uses = len(uses) - len(add_task_uses)
                if other_uses:
                    continue
                if kind == "BackgroundTasks" and not add_task_uses:
                    continue
                self.report(ctx, value, f"{kind} object '{name}' is never attached to a response "
                                        "(background=) or returned: its tasks never run")

    visit_AsyncFunctionDef = visit_FunctionDef

    @staticmethod
    def _may_be_one(value: ast.Call, ctx) -> bool:
        """The cheap test `_kind` starts with: most calls are not these."""
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        return name is not None and ("BackgroundTask" in name or name in ctx.module.imports)

    @classmethod
    def _kind(cls, value: ast.Call, ctx, function: ast.AST) -> str | None:
        if not cls._may_be_one(value, ctx):
            return None
        qualified = ctx.index.qualified_name(ctx.module, value.func, function) or ""
        if qualified.endswith("BackgroundTasks") and (
            qualified.split(".")[0] in ("fastapi", "starlette") or qualified == "BackgroundTasks"
        ):
            return "BackgroundTasks"
        if is_starlette_background_task(ctx.module, value.func, function):
            return "BackgroundTask"
        return None
