"""BGT106 background-tasks-dropped."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.collect import names_background_tasks
from bgtask_lint.guards import walk_local
from bgtask_lint.names import last_name
from bgtask_lint.rules import Rule
from bgtask_lint.scope import function_scope, parameters

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext


class BackgroundTasksDropped(Rule):
    """## What it does
    Checks for an endpoint that has a `BackgroundTasks` parameter, adds tasks to it, and
    returns a response built with `background=` something other than that parameter
    (`JSONResponse(..., background=BackgroundTask(...))`, any call of a name containing
    `Response`; also a response assigned to a name first, or given
    `response.background = ...`), on a path where tasks were already added.

    ## Why is this bad?
    FastAPI attaches the injected `BackgroundTasks` to the returned response only when
    the response has no background of its own. With `background=` set, the tasks added
    to the parameter are silently dropped: they never run, and nothing is logged
    (fastapi issues 11215 and 15111).

    ## Example
    ```python
    @app.post("/export")
    def export(background_tasks: BackgroundTasks):
        background_tasks.add_task(audit, "export")
        return FileResponse(path, background=BackgroundTask(os.remove, path))
    ```

    ## Use instead
    ```python
    @app.post("/export")
    def export(background_tasks: BackgroundTasks):
        background_tasks.add_task(audit, "export")
        background_tasks.add_task(os.remove, path)
        return FileResponse(path, background=background_tasks)
    ```

    ## Fix safety
    No automatic fix: which object should carry the tasks is the author's call. Not
    flagged: `background=background_tasks` (the parameter itself), `background=None`,
    a response without `background=`, and a return on a branch (`if`/`else`) where no
    task was added yet.
    """

    code = "BGT106"
    name = "background-tasks-dropped"
    words = ("background",)
    message = "the response's own background= replaces the injected BackgroundTasks: their tasks never run"
    valid = (
        """
from fastapi import BackgroundTasks
from fastapi.responses import JSONResponse
def signup(email: str, background_tasks: BackgroundTasks):
    background_tasks.add_task(send_welcome, email)
    return JSONResponse({}, background=background_tasks)
""",
    )
    invalid = (
        """
from fastapi import BackgroundTasks
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask
def signup(email: str, background_tasks: BackgroundTasks):
    background_tasks.add_task(send_welcome, email)
    return JSONResponse({}, background=BackgroundTask(audit, email))  # BGT106
""",
    )

    def visit_FunctionDef(self, node: ast.AST, ctx: RuleContext) -> None:
        for arg, _ in parameters(node):
            if arg.annotation is not None and names_background_tasks(arg.annotation):
                self._check_parameter(ctx, node, arg.arg)

    visit_AsyncFunctionDef = visit_FunctionDef

    def _check_parameter(self, ctx: RuleContext, function: ast.AST, param: str) -> None:
        body = list(function.body)  # type: ignore[attr-defined]
        parents = _parent_map(body)
        added = [n for n in walk_local(body) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr == "add_task" and isinstance(n.func.value, ast.Name) and n.func.value.id == param]
        if not added:
            return
        for ret in (n for n in walk_local(body) if isinstance(n, ast.Return) and n.value is not None):
            for background in _own_backgrounds(function, ret.value, body):
                if _is_the_parameter(function, background, param):
                    continue
                before = [c for c in added if _precedes(c, ret) and not _exclusive(c, ret, parents)]
                if before:
                    self.report(ctx, background, f"this background= replaces the tasks added to '{param}' "
                                                 f"(line {before[0].lineno}): FastAPI attaches the injected "
                                                 "BackgroundTasks only to a response without its own background, "
                                                 f"so they never run; add this task to '{param}' and pass "
                                                 f"background={param}")


def _own_backgrounds(function: ast.AST, value: ast.expr, body: list[ast.stmt]) -> list[ast.expr]:
    """The `background=` values of the response a `return` gives: built in the return,
    or assigned to the returned name (also `name.background = ...`)."""
    if isinstance(value, ast.Call):
        return _background_keyword(value)
    if not isinstance(value, ast.Name):
        return []
    found: list[ast.expr] = []
    for binding in function_scope(function).values(value.id):
        if binding.kind == "assign" and isinstance(binding.value, ast.Call):
            found.extend(_background_keyword(binding.value))
    for node in walk_local(body):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr == "background" and isinstance(t.value, ast.Name)
            and t.value.id == value.id for t in node.targets
        ):
            found.append(node.value)
    return found


def _background_keyword(call: ast.Call) -> list[ast.expr]:
    if "Response" not in (last_name(call.func) or ""):
        return []
    return [kw.value for kw in call.keywords if kw.arg == "background"]


def _is_the_parameter(function: ast.AST, expr: ast.expr, param: str) -> bool:
    """`background=background_tasks`, `background=None`, or a name bound only to the parameter."""
    if isinstance(expr, ast.Constant) and expr.value is None:
        return True
    if not isinstance(expr, ast.Name):
        return False
    if expr.id == param:
        return True
    bindings = function_scope(function).values(expr.id)
    return bool(bindings) and all(isinstance(b.value, ast.Name) and b.value.id == param for b in bindings)


def _parent_map(body: list[ast.stmt]) -> dict[int, ast.AST]:
    parents: dict[int, ast.AST] = {}
    for node in walk_local(body):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    return parents


def _precedes(first: ast.AST, second: ast.AST) -> bool:
    return (first.lineno, first.col_offset) < (second.lineno, second.col_offset)  # type: ignore[attr-defined]


def _branch_path(node: ast.AST, parents: dict[int, ast.AST]) -> dict[int, str]:
    """For every `if` above `node`: which of its branches holds it."""
    path: dict[int, str] = {}
    child = node
    parent = parents.get(id(node))
    while parent is not None:
        if isinstance(parent, ast.If):
            if any(child is s for s in parent.body):
                path[id(parent)] = "body"
            elif any(child is s for s in parent.orelse):
                path[id(parent)] = "orelse"
        child, parent = parent, parents.get(id(parent))
    return path


def _exclusive(first: ast.AST, second: ast.AST, parents: dict[int, ast.AST]) -> bool:
    """In different branches of one `if`: no run passes both."""
    a, b = _branch_path(first, parents), _branch_path(second, parents)
    return any(a[key] != b[key] for key in a.keys() & b.keys())
