"""BGT201 session-passed-to-task."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.names import dotted
from bgtask_lint.rules import Rule
from bgtask_lint.rules._task_arguments import task_arguments
from bgtask_lint.semantics import is_request_session

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext


class SessionPassedToTask(Rule):
    """## What it does
    Checks for a request-scoped database session or connection passed to a background
    task: a `Depends(get_db)` parameter (directly, through `Annotated[...]`, or through
    an alias such as `SessionDep`), a session opened in the endpoint
    (`SessionLocal()`, `async_session()`, `Session(engine)`), or `request.state.db`.

    ## Why is this bad?
    The dependency's cleanup closes the session when the request ends (on FastAPI
    0.106 to 0.117 even before the task runs), so the task works on a closed or shared
    session: `DetachedInstanceError`, "Session is closed", or writes that never commit.

    ## Example
    ```python
    @app.post("/orders")
    def create_order(tasks: BackgroundTasks, db: Session = Depends(get_db)):
        order = save(db)
        tasks.add_task(send_confirmation, order.id, db)
    ```

    ## Use instead
    ```python
    def send_confirmation(order_id: int):
        with SessionLocal() as db:
            ...

    @app.post("/orders")
    def create_order(tasks: BackgroundTasks, db: Session = Depends(get_db)):
        order = save(db)
        tasks.add_task(send_confirmation, order.id)
    ```

    ## Fix safety
    No automatic fix: the task has to open its own session. App-wide pools and engines
    (`engine`, `pool`, `app.state.pool`), IDs and plain values are not flagged.
    """

    code = "BGT201"
    name = "session-passed-to-task"
    words = ("add_task", "BackgroundTask", "create_task", "ensure_future", "start_soon")
    message = "request-scoped DB session passed to a background task; pass IDs and open a new session in the task"
    valid = (
        """
from fastapi import BackgroundTasks, Depends
def create(tasks: BackgroundTasks, db=Depends(get_db)):
    tasks.add_task(send, 42)
""",
    )
    invalid = (
        """
from fastapi import BackgroundTasks, Depends
def create(tasks: BackgroundTasks, db=Depends(get_db)):
    tasks.add_task(send, 42, db)  # BGT201
""",
    )

    def visit_Call(self, node: ast.Call, ctx: RuleContext) -> None:
        for site, arg in task_arguments(node, ctx):
            if is_request_session(ctx.index, ctx.module, site.function, arg):
                self.report(ctx, arg, f"request-scoped DB session '{dotted(arg)}' passed to a background task: "
                                      "it is closed when the request ends; pass IDs and open a new session in the task")
