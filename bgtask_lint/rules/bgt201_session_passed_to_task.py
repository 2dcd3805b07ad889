"""BGT201 session-passed-to-task."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.index import ClassSym, ExternalSym, ScheduleSite
from bgtask_lint.names import dotted, last_name
from bgtask_lint.rules import Rule
from bgtask_lint.rules._task_arguments import task_values
from bgtask_lint.scope import function_scope
from bgtask_lint.semantics import is_request_session, literal_elements, strip_await

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
        site = None
        for site, value in task_values(node, ctx):
            if is_request_session(ctx.index, ctx.module, site.function, value):
                self.report(ctx, value, f"request-scoped DB session '{dotted(value)}' passed to a background task: "
                                        "it is closed when the request ends; pass IDs and open a new session in the task")
            elif isinstance(value, ast.Name):
                self._check_helper_parameter(ctx, site, value)
        if site is not None:
            self._check_bound_object(ctx, site)

    def _check_helper_parameter(self, ctx: RuleContext, site: ScheduleSite, value: ast.Name) -> None:
        """A parameter of this function that some caller fills with its request session."""
        function = site.function
        if function is None or function_scope(function).param(value.id) is None:
            return
        key = (ctx.module.path, ctx.module.qualnames[id(function)], value.id)
        flows = ctx.index.session_flows().get(key)
        if not flows:
            return
        first = flows[0]
        more = f" (and {len(flows) - 1} more)" if len(flows) > 1 else ""
        self.report(ctx, value, f"parameter '{value.id}' of '{function.name}' is the request-scoped DB session "
                                f"'{first.label}' of '{first.caller}' ({first.caller_module}:{first.line}){more}, "
                                "passed on to a background task: it is closed when that request ends; "
                                "pass IDs and open a new session in the task")

    def _check_bound_object(self, ctx: RuleContext, site: ScheduleSite) -> None:
        """`add_task(service.method)` where `service = Service(db)` holds the request session."""
        task = site.task
        if not isinstance(task, ast.Attribute) or not isinstance(task.value, ast.Name) or site.function is None:
            return
        for binding in function_scope(site.function).values(task.value.id):
            built = strip_await(binding.value) if binding.kind == "assign" else None
            if not isinstance(built, ast.Call) or not self._is_constructor(ctx, site, built):
                continue
            passed = [*built.args, *(kw.value for kw in built.keywords)]
            for value in (v for arg in passed for v in literal_elements(arg)):
                if is_request_session(ctx.index, ctx.module, site.function, value):
                    self.report(ctx, task, f"'{task.value.id}' holds the request-scoped DB session "
                                           f"'{dotted(value)}' ({dotted(built.func)}(...)), and the background task "
                                           f"'{dotted(task)}' uses it after the request ends; build it in the task "
                                           "with a new session")
                    return

    @staticmethod
    def _is_constructor(ctx: RuleContext, site: ScheduleSite, call: ast.Call) -> bool:
        """`Service(db)`: a class of the project, or a capitalised name of another package."""
        sym = ctx.index.resolve(ctx.module, call.func, site.function, site.owner_class)
        if isinstance(sym, ClassSym):
            return True
        name = last_name(call.func) or ""
        return isinstance(sym, ExternalSym) and name[:1].isupper()
