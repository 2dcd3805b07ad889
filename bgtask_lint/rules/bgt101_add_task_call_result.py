"""BGT101 add-task-call-result."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.fix_safety import add_task_fix, module_name_taken, needs_partial
from bgtask_lint.index import ClassSym, FunctionSym, ProjectIndex, api_name, imported_name
from bgtask_lint.names import keyword, last_name, walk_local
from bgtask_lint.rules import Rule

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext

CALLABLE_FORMS = ("add_task", "BackgroundTask", "start_soon")


def _own_returns(function: ast.AST) -> list[ast.Return]:
    """The `return` statements of `function` itself, not of the defs nested in it."""
    return [n for n in walk_local(list(function.body)) if isinstance(n, ast.Return)]  # type: ignore[attr-defined]


def _returns_function(function: ast.AST) -> bool:
    """A factory: every `return` of its own returns a nested def or a lambda (and there is one)."""
    nested = {n.name for n in ast.walk(function) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
              and n is not function}
    returns = _own_returns(function)
    if not returns:
        return False
    return all(
        isinstance(r.value, ast.Lambda) or (isinstance(r.value, ast.Name) and r.value.id in nested)
        for r in returns
    )


# what a return can hand back that is surely no callable: a coroutine or a generator aside,
# these are the values a task function's fix may move into the scheduler's arguments
_PLAIN_VALUES = (ast.Constant, ast.JoinedStr, ast.Dict, ast.List, ast.Tuple, ast.Set, ast.ListComp, ast.SetComp,
                 ast.DictComp, ast.GeneratorExp, ast.Compare, ast.BinOp, ast.UnaryOp)


def _returns_no_callable(function: ast.AST) -> bool:
    """An async def (a coroutine), a generator, or a def whose every `return` gives None
    or a plain value: calling it never gives the callable a scheduler needs."""
    if isinstance(function, ast.AsyncFunctionDef):
        return True
    nodes = list(walk_local(list(function.body)))  # type: ignore[attr-defined]  # (not nested defs' yields)
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in nodes):
        return True
    return all(r.value is None or isinstance(r.value, _PLAIN_VALUES) for r in nodes if isinstance(r, ast.Return))


# decorators that hand back what the decorated function returns
_TRANSPARENT_DECORATORS = frozenset({"functools.lru_cache", "functools.cache", "staticmethod", "classmethod",
                                     "builtins.staticmethod", "builtins.classmethod"})


def _returned_def(function: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The nested def that every `return` of `function` returns (a decorator's wrapper)."""
    nested = {n.name: n for n in function.body  # type: ignore[attr-defined]
              if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    returns = _own_returns(function)
    names = {r.value.id for r in returns if isinstance(r.value, ast.Name)}
    if len(returns) == 0 or len(names) != 1 or any(not isinstance(r.value, ast.Name) for r in returns):
        return None
    return nested.get(names.pop())


def _decoration(index: ProjectIndex, target: FunctionSym) -> str:
    """What the decorators make of calling `target`: "plain" (no decorator, or ones that
    hand back its result), "factory" (a project decorator whose wrapper returns a
    function: the call gives the task) or "unknown"."""
    verdict = "plain"
    coroutine = isinstance(target.node, ast.AsyncFunctionDef)
    for decorator in target.node.decorator_list:
        expr = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(expr, ast.Name) and expr.id in ("staticmethod", "classmethod"):
            continue
        if imported_name(target.module, expr) in _TRANSPARENT_DECORATORS:
            if coroutine and "functools" in (imported_name(target.module, expr) or ""):
                return "unknown"  # a sync cache around an async def: the scheduler sees no coroutine function
            continue
        found = index.resolve(target.module, expr) if isinstance(expr, (ast.Name, ast.Attribute)) else None
        if not isinstance(found, FunctionSym):
            return "unknown"
        decorate = _returned_def(found.node) if isinstance(decorator, ast.Call) else found.node
        params = getattr(getattr(decorate, "args", None), "args", [])
        if decorate is None or not params:
            return "unknown"
        wrapped = params[0].arg
        returns = _own_returns(decorate)
        if returns and all(isinstance(r.value, ast.Name) and r.value.id == wrapped for r in returns):
            continue  # a registration: `return func` itself
        wrapper = _returned_def(decorate)
        if wrapper is None:
            return "unknown"
        if _returns_function(wrapper):
            verdict = "factory"
            continue
        if coroutine and not isinstance(wrapper, ast.AsyncFunctionDef):
            # Starlette runs a plain callable in a thread: the coroutine it returns is never awaited
            return "unknown"
        for value in [r.value for r in _own_returns(wrapper)]:
            call = value.value if isinstance(value, ast.Await) else value
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == wrapped) \
                    or (coroutine and not isinstance(value, ast.Await)):
                return "unknown"
    return verdict


def _bases_known(index: ProjectIndex, cls: ClassSym, depth: int = 0) -> bool:
    """Every base class is `object` or a project class whose bases are known too: then no
    `__call__` hides in a library's base."""
    if depth > 8:
        return False
    for base in cls.node.bases:
        if isinstance(base, ast.Name) and base.id == "object":
            continue
        found = index.resolve(cls.module, base) if isinstance(base, (ast.Name, ast.Attribute)) else None
        if not isinstance(found, ClassSym) or not _bases_known(index, found, depth + 1):
            return False
    return not cls.node.keywords  # (a metaclass may make anything of it)


class AddTaskCallResult(Rule):
    """## What it does
    Checks for a background task given the *result of calling* the task function,
    `add_task(process_csv(path))`, instead of the function and its arguments, and for
    `add_task(asyncio.run, coro(...))`. The receiver of `add_task` is a `BackgroundTasks`
    object when a binding says so (a parameter or `self` attribute annotated
    `BackgroundTasks`, also through an `__init__` parameter, or `BackgroundTasks()`), or,
    when no binding tells, when its name contains `background` or `tasks`; a receiver
    built from another class (`self._tasks = TasksPool()`) is not one.

    ## Why is this bad?
    The call runs right away, in the request: a plain `def` does its work before the
    response is sent (and `add_task` then receives its return value), an `async def`
    returns a coroutine object that is never awaited the way the author meant. With
    `asyncio.run`, the coroutine is created in the request and run on a second event
    loop in a worker thread, where objects bound to the app's loop (connection pools,
    clients) break.

    ## Example
    ```python
    background_tasks.add_task(process_csv(path))
    background_tasks.add_task(asyncio.run, notify(user_id))
    ```

    ## Use instead
    ```python
    background_tasks.add_task(process_csv, path)
    background_tasks.add_task(notify, user_id)
    ```

    ## Fix safety
    Safe: the call's arguments move into `add_task`, which passes them to the function
    when the task runs. A keyword the scheduler would take for itself (`func=` of
    `add_task` and `BackgroundTask`, any keyword for anyio's `start_soon`), or a
    `**mapping` that may hold one, keeps the call's arguments in
    `functools.partial(f, ...)` instead (no fix where the module's `functools` is
    something else). There is no fix when the scheduling call has
    other arguments (`add_task(nightly("a"), "extra")`, `add_task(asyncio.run, f(a),
    debug=True)`): today they go to the call's result (or to `asyncio.run`), after a fix
    they would go to the task, so the finding says so and stays. The fix is unsafe where
    what the call returns is not known: a function of another package, or a project
    function returning anything but None or a plain value (a literal, a comprehension,
    arithmetic), or a class with a base from a library (`add_task(handler_for(user))` may
    hand over the callable a registry holds; after a fix it would be looked up in the
    background and dropped), or a def with a decorator that may change what calling it
    gives (a library's, or a project decorator whose wrapper returns anything but the
    wrapped function's own result; around an `async def`, a wrapper that is not an
    `async def` awaiting it: FastAPI runs a plain callable in a thread, and the
    coroutine it returns is never awaited). Safe for an `async def` (a coroutine), a generator, a def
    returning None or plain values, undecorated or under decorators that hand back its
    result (`functools.lru_cache`, `staticmethod`, a project wrapper ending in
    `return func(*args, **kwargs)`), and a project class. Not flagged:
    `functools.partial(...)`, calls to a factory (also a method) whose every `return`
    returns a nested function or lambda, or to a def whose project decorator's wrapper
    does (`@as_task def job(x)`, where `job(x)` returns the task), an instance of a class with `__call__`
    (`add_task(Job(user))`), calls to a project function (any module) whose every
    `return` is a `functools.partial(...)`, and calls to a method of an object whose class
    cannot be resolved (`add_task(graph.end_traces(ctx))`: such a method may return the
    callable the scheduler needs, and what cannot be resolved is never guessed; on the
    real-world corpus all four such findings were factories).
    """

    code = "BGT101"
    name = "add-task-call-result"
    words = ("add_task", "BackgroundTask", "start_soon")
    message = "task argument is a call: the function runs now, not in the background"
    fix = "safe"
    fix_title = "Pass the function and its arguments separately"
    valid = (
        """
from fastapi import BackgroundTasks
def endpoint(background_tasks: BackgroundTasks, path: str):
    background_tasks.add_task(process_csv, path, build_args(path))
""",
    )
    invalid = (
        """
from fastapi import BackgroundTasks
def endpoint(background_tasks: BackgroundTasks, path: str):
    background_tasks.add_task(process_csv(path))  # BGT101
""",
    )

    def visit_Call(self, node: ast.Call, ctx: RuleContext) -> None:
        site = ctx.module.site_by_call.get(id(node))
        if site is None or site.form not in CALLABLE_FORMS:
            return
        func_kw = keyword(node, "func")
        task = node.args[0] if node.args else (func_kw.value if func_kw else None)
        if task is None:
            return
        if isinstance(task, ast.Call):
            if ctx.qualified_name(task.func) == "functools.partial":
                return
            target = ctx.resolve(task.func)
            if ctx.index.partial_factory(ctx.module, task, ctx.function, ctx.owner_class()) is not None:
                return  # `make_job(db)` returns functools.partial(F, db): a callable
            if isinstance(task.func, ast.Attribute) and target is None:
                target = ctx.index.resolve_callable(ctx.module, task.func, ctx.function, ctx.owner_class())
                if target is None:
                    return  # a method of an object of unknown class may return the task: never guessed
            if isinstance(target, FunctionSym) and _returns_function(target.node):
                return  # a factory (also a method): it returns the task
            decoration = _decoration(ctx.index, target) if isinstance(target, FunctionSym) else "plain"
            if decoration == "factory":
                return  # `@as_task def job(x)`: the decorator makes `job(x)` return the task
            if isinstance(target, ClassSym) and ctx.index.member(target, "__call__") is not None:
                return  # `add_task(Job(user))`: an instance with __call__ is the callable itself
            name = last_name(task.func) or "the task"
            fixable, why = add_task_fix(node, task, site.form)
            known = (_returns_no_callable(target.node) and decoration == "plain" if isinstance(target, FunctionSym)
                     else isinstance(target, ClassSym) and _bases_known(ctx.index, target))
            if fixable is not None and needs_partial(task, site.form) \
                    and module_name_taken(ctx.module, ctx.function, "functools"):
                fixable = None
                why += ("; no automatic fix: `functools` is bound to something else here, so the fix's "
                        "functools.partial would not be the library's")
            if fixable is not None and not known:
                # moved into the scheduler, a callable it returned would be made and dropped
                fixable = "unsafe"
                why += (f"; the fix is unsafe: what {name}() returns is not known here, "
                        "and it may be the callable the task needs")
            self.report(ctx, task, f"task argument calls {name}() now; pass {name} and its arguments instead"
                        + why, fix=fixable)
            return
        runs_loop = api_name(ctx.module, task, ctx.function) == "asyncio.run"
        if runs_loop and len(node.args) > 1 and isinstance(node.args[1], ast.Call):
            name = last_name(node.args[1].func) or "the coroutine function"
            fixable, why = add_task_fix(node, node.args[1], site.form, through_run=True)
            self.report(ctx, task, f"asyncio.run runs {name}() on a second event loop; "
                                   f"pass {name} and its arguments instead" + why, fix=fixable)
