"""What a task does with the `Request` it receives (BGT203): a task that uses it only
through `request.scope` (to rebuild a request of its own, `Request(request.scope, receive)`,
or to read the raw scope) has detached from the connection on purpose; anything else it
does with the object (`.body()`, `.url`, handing it to a library or to a function we cannot
see) is a use of the request itself, which the contract flags.
"""

from __future__ import annotations

import ast

from bgtask_lint.index import FUNCTION_TYPES, FunctionSym, ModuleInfo, ProjectIndex, ScheduleSite, positional_parameters
from bgtask_lint.scope import parameters

# the ASGI scope: a plain dict that outlives the response (the rest is the contract's to flag)
SCOPE_ATTRIBUTES = frozenset({"scope"})
HELPER_DEPTH = 3


def bound_parameter(site: ScheduleSite, arg: ast.expr, task: FunctionSym) -> str | None:
    """The task's parameter that `arg` (one of the site's arguments) is bound to, when the
    call says it plainly: by keyword, or by position right after the task (`add_task(F, a)`)
    or in the task's own call (`create_task(F(a))`)."""
    for call in (n for n in ast.walk(site.call) if isinstance(n, ast.Call)):
        for keyword in call.keywords:
            if keyword.value is arg and keyword.arg is not None and (call.func is site.task or call is site.call):
                return keyword.arg
        positions = [i for i, a in enumerate(call.args) if a is arg]
        if not positions:
            continue
        if call.func is site.task:
            index = positions[0]
        elif any(a is site.task for a in call.args):
            index = positions[0] - next(i for i, a in enumerate(call.args) if a is site.task) - 1
        else:
            return None
        if any(isinstance(a, ast.Starred) for a in call.args[:positions[0]]):
            return None
        names = positional_parameters(task, isinstance(site.task, ast.Attribute))
        return names[index] if 0 <= index < len(names) else None
    return None


def only_scope_used(index: ProjectIndex, task: FunctionSym, parameter: str, depth: int = 0) -> bool:
    """Does the function use `parameter` only through its `.scope`, itself or through
    project functions that do the same? One that never uses it counts too."""
    key = ("request-scope-only", task.key, parameter)
    if key in index.cache:
        return bool(index.cache[key])
    index.cache[key] = False  # recursion guard: a cycle proves nothing
    index.cache[key] = _only_scope_used(index, task.module, task.node, parameter, depth)
    return bool(index.cache[key])


def _only_scope_used(index: ProjectIndex, module: ModuleInfo, function: ast.AST, parameter: str, depth: int) -> bool:
    parents: dict[int, ast.AST] = {}
    uses: list[ast.Name] = []
    for node in ast.walk(function):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
            if isinstance(child, ast.Name) and child.id == parameter:
                uses.append(child)
    owner = module.owner_class.get(id(function))
    for use in uses:
        if not isinstance(use.ctx, ast.Load):
            return False  # rebound: what it holds after that is not followed
        if _shadowed(use, function, parents, parameter):
            continue
        parent = parents.get(id(use))
        if isinstance(parent, ast.Attribute) and parent.value is use and parent.attr in SCOPE_ATTRIBUTES:
            continue
        if depth < HELPER_DEPTH and _passed_to_scope_reader(index, module, function, owner, use, parents, depth):
            continue
        return False
    return True


def _shadowed(use: ast.Name, function: ast.AST, parents: dict[int, ast.AST], parameter: str) -> bool:
    """The name belongs to a nested def or lambda with a parameter of the same name."""
    node = parents.get(id(use))
    while node is not None and node is not function:
        if isinstance(node, (*FUNCTION_TYPES, ast.Lambda)) and parameter in {a.arg for a, _ in parameters(node)}:
            return True
        node = parents.get(id(node))
    return False


def _passed_to_scope_reader(index: ProjectIndex, module: ModuleInfo, function: ast.AST, owner: ast.ClassDef | None,
                            use: ast.Name, parents: dict[int, ast.AST], depth: int) -> bool:
    """`helper(request)` / `helper(req=request)` where the project function `helper` only
    uses only the scope of that parameter in turn."""
    parent = parents.get(id(use))
    call, name = (parents.get(id(parent)), parent.arg) if isinstance(parent, ast.keyword) else (parent, None)
    if not isinstance(call, ast.Call) or not isinstance(call.func, (ast.Name, ast.Attribute)):
        return False
    sym = index.resolve(module, call.func, function, owner)
    if not isinstance(sym, FunctionSym) or isinstance(sym.node, ast.Lambda):
        return False
    if name is None:
        if any(isinstance(a, ast.Starred) for a in call.args):
            return False
        position = next(i for i, a in enumerate(call.args) if a is use)
        names = positional_parameters(sym, isinstance(call.func, ast.Attribute))
        if position >= len(names):
            return False
        name = names[position]
    return only_scope_used(index, sym, name, depth + 1)
