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
    (`SessionLocal()`, `async_session()`, `Session(engine)`, `sessionmaker(...)()`, or
    a project function whose every `return` is one of these), or `request.state.db`.

    The session is found where it flows:
    - inside a list, tuple, set or dict literal argument (`add_task(f, [db, user_id])`);
    - through a project helper, in any module: an endpoint passes its session to a
      parameter of a function that hands that parameter to a task (directly, in
      `functools.partial(...)`, or in a literal). The finding is at the scheduling in
      the helper, and its message names the endpoint (module and line) it came from;
    - held by the task's object: `add_task(service.method)` where the endpoint built
      `service = Service(db)` (or `Service(session=db)`), and `Service(db).method`;
    - bound into a partial by a project function: `add_task(make_job(db))` where
      `make_job(session)` returns `functools.partial(F, session)`.

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
    No automatic fix: the task has to open its own session. App-wide pools, engines and
    factories (`engine`, `pool`, `app.state.pool`, `request.app.state.db`), IDs and
    plain values are not flagged, nor is a helper's parameter that no caller fills with
    a request session (only the callers in the files checked, and the project's
    scheduling modules, are looked at).
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
        for site, value in task_values(node, ctx):
            if is_request_session(ctx.index, ctx.module, site.function, value):
                self.report(ctx, value, f"request-scoped DB session '{dotted(value)}' passed to a background task: "
                                        "it is closed when the request ends; pass IDs and open a new session "
                                        "in the task")
            elif isinstance(value, ast.Name):
                self._check_helper_parameter(ctx, site, value)
        site = ctx.module.site_by_call.get(id(node))
        if site is not None and site.is_background:
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
        self.report(ctx, value, f"parameter '{value.id}' of '{function.name}' receives the request-scoped DB session "
                                f"'{first.label}' from {first.caller_kind} '{first.caller}' "
                                f"({first.caller_module}:{first.line}){more} and hands it to a background task: "
                                "it is closed when that request ends; pass IDs and open a new session in the task")

    def _check_bound_object(self, ctx: RuleContext, site: ScheduleSite) -> None:
        """`add_task(service.method)` where `service = Service(db)`, or `Service(db).method`:
        the object holds the request session and the task uses it."""
        task = site.task
        if not isinstance(task, ast.Attribute) or site.function is None:
            return
        holder = task.value
        if isinstance(holder, ast.Call):
            built_from = [holder]
        elif isinstance(holder, ast.Name):
            built_from = [strip_await(b.value) for b in function_scope(site.function).values(holder.id)
                          if b.kind == "assign"]
        else:
            return
        for built in built_from:
            if not isinstance(built, ast.Call) or not self._is_constructor(ctx, site, built):
                continue
            passed = [*built.args, *(kw.value for kw in built.keywords)]
            for value in (v for arg in passed for v in literal_elements(arg)):
                if is_request_session(ctx.index, ctx.module, site.function, value):
                    name = holder.id if isinstance(holder, ast.Name) else f"{dotted(built.func)}(...)"
                    self.report(ctx, task, f"'{name}' holds the request-scoped DB session '{dotted(value)}' "
                                           f"({dotted(built.func)}(...)), and the background task "
                                           f"'{task.attr}' uses it after the request ends; build it in the task "
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
