"""BGT204 depends-in-task-signature."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.rules import Rule
from bgtask_lint.scope import parameters
from bgtask_lint.semantics import parameter_dependency

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext


class DependsInTaskSignature(Rule):
    """## What it does
    Checks for a background task with a parameter whose default is
    `Depends(...)`/`Security(...)`, or whose annotation is
    `Annotated[..., Depends(...)]` (directly or through an alias, in this module or
    imported).

    A task is what `add_task`, `BackgroundTask(...)`, `start_soon`, a discarded
    `loop.run_in_executor(executor, F, ...)`, or an `asyncio.create_task(F(...))`
    whose task is dropped or only kept in a set, list or dict slot schedules (not one
    kept on an attribute, cancelled through its name, or put in a local list, or in a
    slot of a collection, that the function awaits: `self._tasks["w"] =
    create_task(w())` then `await asyncio.gather(*self._tasks.values())`). F resolves
    to a `def` of the project, also to a `def` nested in the
    scheduling function (or one around it), to F for `lambda: F(...)`, and to
    `Class.method` for `obj.method` where `obj` is `Class(...)` bound in the function
    or a parameter or `self` attribute annotated with a project class, or a module-level
    instance (`Users = UsersTable()`, here or imported) the function does not rebind; a
    method a class does not define is looked up in its project base classes, in order.

    ## Why is this bad?
    Dependency injection happens only for endpoints. A task receives the `Depends`
    marker object itself, so `db.query(...)` fails with `AttributeError` after the
    response is sent, where nobody sees it.

    ## Example
    ```python
    def send_report(user_id: int, db: Session = Depends(get_db)):
        ...
    ```

    ## Use instead
    ```python
    def send_report(user_id: int):
        with SessionLocal() as db:
            ...
    ```

    ## Fix safety
    No automatic fix: resolve the dependency in the endpoint, or open the resource
    inside the task.
    """

    code = "BGT204"
    name = "depends-in-task-signature"
    on_task_modules = True
    message = "Depends() in a background task's signature is never resolved; the task gets the marker object"
    valid = (
        """
from fastapi import BackgroundTasks
def send_report(user_id: int):
    pass
def endpoint(tasks: BackgroundTasks):
    tasks.add_task(send_report, 1)
""",
    )
    invalid = (
        """
from fastapi import BackgroundTasks, Depends
def send_report(user_id: int, db=Depends(get_db)):  # BGT204
    pass
def endpoint(tasks: BackgroundTasks):
    tasks.add_task(send_report, 1)
""",
    )

    def visit_FunctionDef(self, node: ast.AST, ctx: RuleContext) -> None:
        if not ctx.index.is_task(ctx.module, node):
            return
        for arg, default in parameters(node):
            if parameter_dependency(ctx.index, ctx.module, arg.annotation, default) is not None:
                self.report(ctx, arg, f"parameter '{arg.arg}' of background task '{node.name}'{ctx.scheduled_from(node)} uses Depends(): "
                                      "dependencies are resolved only for endpoints")

    visit_AsyncFunctionDef = visit_FunctionDef
