"""Request sessions that reach a background task through a project helper (V2.4).

`create_order(db=Depends(get_db))` calls `notify(tasks, db)`, and `notify` (in any
module) hands its parameter to a task. The scheduling site is in the helper and the
session in the endpoint: neither module alone shows the bug, and the endpoint's module
is not reachable from the helper's imports. So the fact is computed project-wide, once
per state of the index (`ProjectIndex.session_flows`), over the modules given to the
index (targets and scheduling modules, not those parsed lazily by resolution), so the
answer does not depend on which lookups happened first.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bgtask_lint.collect import names_background_tasks
from bgtask_lint.guards import walk_local
from bgtask_lint.index import FunctionSym, ModuleInfo
from bgtask_lint.names import dotted, last_name
from bgtask_lint.scope import function_scope, parameters
from bgtask_lint.semantics import is_request_session, literal_elements

if TYPE_CHECKING:
    from bgtask_lint.index import ProjectIndex

HelperKey = tuple[Path, str]  # the helper's module path and qualname


@dataclass(frozen=True, order=True)
class SessionFlow:
    """One call that passes a request session to a helper's parameter."""

    caller_path: Path
    caller_module: str  # dotted module name, for messages
    caller: str  # qualname of the function that passes the session
    line: int
    label: str  # the session expression as written there (`db`, `request.state.db`)
    caller_kind: str = "function"  # "endpoint" when it is one


ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "api_route", "websocket", "route"}


def is_endpoint(function: ast.AST) -> bool:
    """Decorated as a route (`@app.get`, `@router.post`, ...) or taking a BackgroundTasks."""
    for decorator in getattr(function, "decorator_list", []):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr in ROUTE_DECORATORS:
            return True
    return any(arg.annotation is not None and names_background_tasks(arg.annotation)
               for arg, _ in parameters(function))


def compute_session_flows(index: "ProjectIndex") -> dict[tuple[Path, str, str], list[SessionFlow]]:
    """(helper path, helper qualname, parameter) -> the calls that pass a request session to it."""
    helpers = _helper_parameters(index)
    if not helpers:
        return {}
    names = {qualname.rsplit(".", 1)[-1] for _, qualname in helpers}
    flows: dict[tuple[Path, str, str], list[SessionFlow]] = {}
    for module in index.modules_added():
        if not any(name in module.source for name in names):
            continue
        for qualname, function in module.functions.items():
            for call in walk_local(list(function.body)):
                if isinstance(call, ast.Call) and last_name(call.func) in names:
                    _record_call(index, module, function, qualname, call, helpers, flows)
    for found in flows.values():
        found.sort()
    return flows


def _helper_parameters(index: "ProjectIndex") -> dict[HelperKey, set[str]]:
    """Functions that hand one of their own parameters to a background task: directly, in
    `functools.partial(...)` (unwrapped into the site's arguments), or in a literal."""
    helpers: dict[HelperKey, set[str]] = {}
    for module in index.modules_added():
        for site in module.sites:
            function = site.function
            if not site.is_background or function is None:
                continue
            scope = function_scope(function)
            for arg in site.args:
                for value in literal_elements(arg):
                    if not isinstance(value, ast.Name):
                        continue
                    bindings = scope.values(value.id)
                    if len(bindings) == 1 and bindings[0].kind == "param":
                        key = (module.path, module.qualnames[id(function)])
                        helpers.setdefault(key, set()).add(value.id)
    return helpers


def _record_call(index: "ProjectIndex", module: ModuleInfo, function: ast.AST, qualname: str, call: ast.Call,
                 helpers: dict[HelperKey, set[str]], flows: dict) -> None:
    passed = [(i, None, a) for i, a in enumerate(call.args) if not isinstance(a, ast.Starred)]
    passed += [(None, kw.arg, kw.value) for kw in call.keywords if kw.arg is not None]
    sessions = [(i, name, a) for i, name, a in passed if is_request_session(index, module, function, a)]
    if not sessions:
        return
    owner = module.owner_class.get(id(function))
    callee = index.resolve_callable(module, call.func, function, owner)
    if not isinstance(callee, FunctionSym) or callee.key not in helpers:
        return
    wanted = helpers[callee.key]
    positional = [a.arg for a in [*callee.node.args.posonlyargs, *callee.node.args.args]]
    if _binds_self(callee, call):
        positional = positional[1:]
    keyword_names = {arg.arg for arg, _ in parameters(callee.node)}
    for i, name, value in sessions:
        param = positional[i] if i is not None and i < len(positional) else None
        if name is not None and name in keyword_names:
            param = name
        if param in wanted:
            flows.setdefault((callee.module.path, callee.qualname, param), []).append(
                SessionFlow(module.path, module.name, qualname, value.lineno, dotted(value) or param,
                            "endpoint" if is_endpoint(function) else "function")
            )


def _binds_self(callee: FunctionSym, call: ast.Call) -> bool:
    """A method called through an instance or `cls` gets its first parameter implicitly."""
    if id(callee.node) not in callee.module.owner_class:
        return False
    if any(last_name(d) == "staticmethod" for d in callee.node.decorator_list):
        return False
    return isinstance(call.func, ast.Attribute)
