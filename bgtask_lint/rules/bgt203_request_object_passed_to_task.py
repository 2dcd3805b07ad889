"""BGT203 request-object-passed-to-task."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.index import ScheduleSite
from bgtask_lint.names import dotted
from bgtask_lint.request_uses import bound_parameter, only_scope_used
from bgtask_lint.rules import Rule
from bgtask_lint.rules._task_arguments import task_arguments
from bgtask_lint.semantics import request_object_type

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext

STRUCTURED_FORMS = ("start_soon",)


class RequestObjectPassedToTask(Rule):
    """## What it does
    Checks for `Request`, `WebSocket`, `HTTPConnection` and `UploadFile` objects
    (also `list[UploadFile]`, a parameter with a `File(...)` default, and
    `upload.file`) passed to a background task.

    ## Why is this bad?
    These objects are tied to the request: once the response is sent the upload's
    temporary file is closed and the connection is gone, so the task reads nothing or
    raises "I/O operation on closed file".

    ## Example
    ```python
    @app.post("/upload")
    async def upload(file: UploadFile, tasks: BackgroundTasks):
        tasks.add_task(process_upload, file)
    ```

    ## Use instead
    ```python
    @app.post("/upload")
    async def upload(file: UploadFile, tasks: BackgroundTasks):
        content = await file.read()
        tasks.add_task(process_upload, file.filename, content)
    ```

    ## Fix safety
    No automatic fix. Not flagged: `upload.filename`, `upload.content_type`, bytes
    already read, and a WebSocket handed to a task group that the websocket handler
    awaits. Nor a `Request` (or `HTTPConnection`) that the task uses only through
    `request.scope`, the plain dict that outlives the response: a task that rebuilds a
    request of its own (`Request(request.scope, receive)`) has detached from the
    connection on purpose (itself or through project functions that do the same).
    Any other use (`.body()`, `.url`, `.headers`, handing the object on) is still
    flagged. The types are known by their imports (string annotations included): a
    `Request` of another library (`import grpc_models.request as r`, `message:
    "r.Request"`), or a project class that does not derive from one, is plain data.
    """

    code = "BGT203"
    name = "request-object-passed-to-task"
    words = ("add_task", "BackgroundTask", "create_task", "ensure_future", "start_soon")
    message = "request-bound object passed to a background task; it is closed once the response is sent"
    valid = (
        """
from fastapi import BackgroundTasks, UploadFile
async def upload(file: UploadFile, tasks: BackgroundTasks):
    tasks.add_task(process, file.filename)
""",
        """
import asyncio
from fastapi import BackgroundTasks, Request
def detach(request: Request) -> Request:
    return Request(request.scope, never_receive)
async def stream(data: dict, request: Request):
    await forward(data, request=detach(request))
async def endpoint(request: Request, data: dict):
    asyncio.create_task(stream(data=data, request=request))
""",
    )
    invalid = (
        """
from fastapi import BackgroundTasks, UploadFile
async def upload(file: UploadFile, tasks: BackgroundTasks):
    tasks.add_task(process, file)  # BGT203
""",
        """
from fastapi import BackgroundTasks, Request
def detach(request: Request) -> Request:
    return Request(request.scope, never_receive)
async def audit(request: Request):
    log(detach(request), await request.body())
async def endpoint(request: Request, tasks: BackgroundTasks):
    tasks.add_task(audit, request)  # BGT203
""",
    )

    @staticmethod
    def _in_async_with(ctx: RuleContext) -> bool:
        for ancestor in reversed(ctx.stack):
            if isinstance(ancestor, ast.AsyncWith):
                return True
            if isinstance(ancestor, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return False
        return False

    @staticmethod
    def _scope_only(site: ScheduleSite, arg: ast.expr, ctx: RuleContext) -> bool:
        """The task uses the request only through its scope (see request_uses)."""
        task = ctx.index.resolve_task(ctx.module, site)
        parameter = bound_parameter(site, arg, task) if task is not None else None
        return parameter is not None and only_scope_used(ctx.index, task, parameter)

    def visit_Call(self, node: ast.Call, ctx: RuleContext) -> None:
        for site, arg in task_arguments(node, ctx):
            kind = request_object_type(ctx.index, ctx.module, site.function, arg)
            if kind is None:
                continue
            if kind == "WebSocket" and site.form in STRUCTURED_FORMS and self._in_async_with(ctx):
                continue  # the handler's own task group awaits it while the socket is open
            if kind in ("Request", "HTTPConnection") and self._scope_only(site, arg, ctx):
                continue
            self.report(ctx, arg, f"{kind} '{dotted(arg)}' passed to a background task: it is closed once "
                                  "the response is sent; pass the data (bytes, filename, fields) instead")
