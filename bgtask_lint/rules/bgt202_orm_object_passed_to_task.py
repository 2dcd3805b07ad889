"""BGT202 orm-object-passed-to-task."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.names import dotted
from bgtask_lint.rules import Rule
from bgtask_lint.rules._task_arguments import task_values
from bgtask_lint.semantics import is_orm_instance

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext


class OrmObjectPassedToTask(Rule):
    """## What it does
    Checks for an ORM instance passed to a background task: a name bound from
    `db.get(Model, ...)`, `db.query(...).first()`, `session.scalar(...)`,
    `(await session.execute(...)).scalar_one()`, `Model(...)` of a mapped class of the
    project, or an endpoint parameter annotated with a mapped class (also through an
    `Annotated[Model, Depends(...)]` alias such as `CurrentUser`). An instance inside a
    list, tuple, set or dict literal argument counts too (`add_task(f, [order])`,
    `add_task(f, {"user": user})`).

    ## Why is this bad?
    The instance belongs to the request's session, which is closed when the task runs:
    touching an expired attribute or a lazy relationship raises
    `DetachedInstanceError`, and changes to it are never saved.

    ## Example
    ```python
    order = db.get(Order, order_id)
    background_tasks.add_task(send_receipt, order)
    ```

    ## Use instead
    ```python
    order = db.get(Order, order_id)
    background_tasks.add_task(send_receipt, order.id)
    ```

    ## Fix safety
    No automatic fix. Attribute access that yields a plain value (`order.id`,
    `user.email`) is not flagged.
    """

    code = "BGT202"
    name = "orm-object-passed-to-task"
    words = ("add_task", "BackgroundTask", "create_task", "ensure_future", "start_soon")
    message = "ORM object passed to a background task; pass its ID and load it in the task"
    valid = (
        """
from fastapi import BackgroundTasks
def pay(tasks: BackgroundTasks, db, order_id: int):
    order = db.get(Order, order_id)
    tasks.add_task(send_receipt, order.id)
""",
    )
    invalid = (
        """
from fastapi import BackgroundTasks
def pay(tasks: BackgroundTasks, db, order_id: int):
    order = db.get(Order, order_id)
    tasks.add_task(send_receipt, order)  # BGT202
""",
    )

    def visit_Call(self, node: ast.Call, ctx: RuleContext) -> None:
        for site, arg in task_values(node, ctx):
            if is_orm_instance(ctx.index, ctx.module, site.function, arg):
                label = dotted(arg) or "an ORM object"
                self.report(ctx, arg, f"ORM object '{label}' passed to a background task: it is detached when "
                                      "the request's session closes; pass its ID and load it in the task")
