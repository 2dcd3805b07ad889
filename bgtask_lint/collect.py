"""The index pass over one module: imports, definitions, and scheduling sites."""

from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path

from bgtask_lint.files import line_within
from bgtask_lint.index import (
    FUNCTION_TYPES,
    ImportRef,
    ModuleInfo,
    ScheduleSite,
    attribute_annotations,
    api_name,
    local_import,
    qualified_name,
)
from bgtask_lint.names import (
    LEAF_TYPES,
    STATEMENT_LEVEL,
    child_nodes,
    child_statements,
    dotted,
    is_literal_constant,
    keyword,
    last_name,
    walk_statements,
)
from bgtask_lint.scope import function_scope

CREATE_TASK_NAMES = {"asyncio.create_task", "asyncio.ensure_future"}
LOOP_FACTORIES = {"asyncio.get_event_loop", "asyncio.get_running_loop", "asyncio.new_event_loop"}
PARTIAL_NAMES = {"functools.partial"}
# what only stores a task object, as opposed to awaiting or handing it on
STORING_METHODS = {"add", "append", "extend", "add_done_callback", "appendleft", "put_nowait"}


def build_module(path: Path, source: str, tree: ast.Module, name: str, is_package: bool) -> ModuleInfo:
    module = ModuleInfo(path=path, name=name, tree=tree, source=source, is_package=is_package)
    _Collector(module).run()
    return module


def import_refs(node: ast.Import | ast.ImportFrom, module: ModuleInfo) -> dict[str, ImportRef]:
    refs: dict[str, ImportRef] = {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                refs[alias.asname] = ImportRef(alias.name)
            else:
                head = alias.name.split(".")[0]
                refs[head] = ImportRef(head)
        return refs
    base = None
    if node.level:
        base = module.path.parent
        for _ in range(node.level - 1):
            base = base.parent
    for alias in node.names:
        if alias.name == "*":
            continue
        refs[alias.asname or alias.name] = ImportRef(node.module or "", alias.name, base)
    return refs


class _Collector:
    def __init__(self, module: ModuleInfo):
        self.module = module
        self.candidates: list[tuple[ast.Call, tuple[ast.AST, ...], ast.AST | None, ast.ClassDef | None]] = []

    def run(self) -> None:
        module = self.module
        for stmt in _module_level_statements(module.tree.body):
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                module.imports.update(import_refs(stmt, module))
            elif isinstance(stmt, (*FUNCTION_TYPES, ast.ClassDef)):
                module.defs[stmt.name] = stmt
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        module.assigns[target.id] = stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                if isinstance(stmt.target, ast.Name):
                    module.assigns[stmt.target.id] = stmt.value
        self._walk()
        for call, parents, function, owner in self.candidates:
            site = _schedule_site(module, call, parents, function, owner)
            if site is not None:
                module.sites.append(site)
                module.site_by_call[id(call)] = site

    def _walk(self) -> None:
        module = self.module
        # depth-first with explicit enter/exit so deep expressions cannot overflow the stack
        # expressions matter only where a scheduling call can be: elsewhere walk statements only
        full = any(word in module.source for word in SCHEDULING_NAMES)
        hot = _scheduling_lines(module.source, _scheduling_aliases(module.tree)) if full else None
        statement_types = STATEMENT_LEVEL
        leave = _LEAVE
        function_types, ClassDef, Call, import_types = _FUNCTION_TYPE_SET, ast.ClassDef, ast.Call, _IMPORT_TYPES
        path: list[ast.AST] = []
        functions: list[ast.AST] = []
        classes: list[ast.ClassDef] = []
        names: list[str] = []
        stack: list[object] = [module.tree]  # nodes to enter, and _LEAVE where the last entered ends
        while stack:
            node = stack.pop()
            if node is leave:
                kind = type(path.pop())
                if kind in function_types:
                    functions.pop()
                    names.pop()
                elif kind is ClassDef:
                    classes.pop()
                    names.pop()
                continue
            kind = type(node)
            if kind in function_types:
                qualname = ".".join([*names, node.name])
                module.functions.setdefault(qualname, node)
                module.qualnames[id(node)] = qualname
                if functions:
                    module.parents[id(node)] = functions[-1]
                if classes and path and path[-1] is classes[-1]:
                    module.owner_class[id(node)] = classes[-1]
            elif kind in import_types:
                if functions:
                    module.local_imports.setdefault(id(functions[-1]), {}).update(import_refs(node, module))
            elif kind is Call and _may_schedule(node, module, functions[-1] if functions else None):
                owner = module.owner_class.get(id(functions[-1])) if functions else None
                self.candidates.append(
                    (node, tuple(path[-4:]), functions[-1] if functions else None, owner)
                )
            path.append(node)
            stack.append(leave)
            if kind in function_types:
                functions.append(node)
                names.append(node.name)
            elif kind is ClassDef:
                classes.append(node)
                names.append(node.name)
            if not full:  # statements only
                children = child_statements(node)
            else:  # without the nodes that have no child (none of them is collected)
                children = child_nodes(node, LEAF_TYPES)
                if hot is not None and isinstance(node, statement_types):
                    # a statement's expressions: only those on lines that can hold a scheduling call
                    children = [child for child in children if isinstance(child, statement_types)
                                or _touches(hot, getattr(child, "lineno", None), getattr(child, "end_lineno", None))]
            if children:
                children.reverse()
                stack.extend(children)


def _module_level_statements(body: list[ast.stmt]):
    """Statements run at import, looking into `if`/`try` blocks (TYPE_CHECKING, fallbacks)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from _module_level_statements(stmt.body)
            yield from _module_level_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            yield from _module_level_statements(stmt.body)  # type: ignore[attr-defined]
            for handler in stmt.handlers:  # type: ignore[attr-defined]
                yield from _module_level_statements(handler.body)
            yield from _module_level_statements(stmt.orelse)  # type: ignore[attr-defined]
            yield from _module_level_statements(stmt.finalbody)  # type: ignore[attr-defined]


SCHEDULING_NAMES = {"add_task", "BackgroundTask", "create_task", "ensure_future", "start_soon", "run_in_executor"}
_SCHEDULING_WORD = re.compile("|".join(sorted(SCHEDULING_NAMES)))
_LEAVE = object()  # on the walk's stack: the node entered last ends here
_FUNCTION_TYPE_SET = frozenset(FUNCTION_TYPES)
_IMPORT_TYPES = frozenset({ast.Import, ast.ImportFrom})


def _scheduling_aliases(tree: ast.Module) -> set[str]:
    """The names a scheduling name is imported as (`create_task as spawn`), anywhere: read
    from the import statements (a walk of statements only), not from the text, which may
    split them over lines, comments and continuations."""
    found: set[str] = set()
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(alias.asname for alias in node.names
                         if alias.asname and alias.name.rsplit(".", 1)[-1] in SCHEDULING_NAMES)
        else:
            stack.extend(child_statements(node))
    return found


def _scheduling_lines(source: str, aliases: set[str] = frozenset()) -> list[int] | None:  # type: ignore[assignment]
    """The sorted line numbers where a call `_may_schedule` accepts can be written: its
    function's last name is a scheduling name, or one of `aliases` (the names scheduling
    names are imported as). Searched in the text as the tree spells names (NFKC, as Python
    normalises identifiers; a lone `\r` ending lines would shift the count). None: not
    known (walk everything)."""
    if not source.isascii():
        normalized = unicodedata.normalize("NFKC", source)
        if normalized.count("\n") != source.count("\n"):
            return None
        source = normalized
    if "\r" in source and source.count("\r") != source.count("\r\n"):
        return None
    words = _SCHEDULING_WORD.pattern
    if aliases:  # as substrings: a word boundary is not what Python's identifiers have
        words += "|" + "|".join(re.escape(alias) for alias in sorted(aliases))
    lines: list[int] = []
    line, position = 1, 0
    for match in re.finditer(words, source):
        line += source.count("\n", position, match.start())
        position = match.start()
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


def _touches(lines: list[int], first: int | None, last: int | None) -> bool:
    """A line of `lines` within first..last (a node without a position: assume so)."""
    return first is None or line_within(lines, first, last if last is not None else first)


def _may_schedule(call: ast.Call, module: ModuleInfo, function: ast.AST | None) -> bool:
    """A cheap first filter; `_schedule_site` decides."""
    func = call.func
    if last_name(func) in SCHEDULING_NAMES:
        return True
    if not isinstance(func, ast.Name):
        return False
    # an alias: `from asyncio import create_task as spawn`, also imported inside the function
    ref = local_import(module, function, func.id) or module.imports.get(func.id)
    return ref is not None and ref.attr in SCHEDULING_NAMES


# --- recognising the scheduling forms --------------------------------------------------


def is_background_tasks_receiver(module: ModuleInfo, receiver: ast.expr, function: ast.AST | None) -> bool:
    """Is `receiver` in `receiver.add_task(...)` a BackgroundTasks object? Its bindings
    decide first (V2.2: an annotation or `BackgroundTasks()` wherever the name is bound;
    another class's instance, `self._tasks = TasksPool()`, is not one); without a telling
    binding, a name containing `background` or `tasks` is."""
    if isinstance(receiver, ast.Attribute):
        verdict = None
        owner = module.owner_class.get(id(function)) if function is not None else None
        if owner is not None and isinstance(receiver.value, ast.Name) and receiver.value.id == "self":
            values = [v for _, v in _self_attribute_values(module, owner, receiver.attr)]
            verdict = _bound_as_background_tasks(attribute_annotations(owner, receiver.attr), values)
        return verdict if verdict is not None else _named_like_tasks(receiver.attr)
    if not isinstance(receiver, ast.Name):
        return False
    scope = function
    while isinstance(scope, (*FUNCTION_TYPES, ast.Lambda)):  # the function, then the ones around it
        bindings = function_scope(scope).values(receiver.id)
        if bindings:
            verdict = _bound_as_background_tasks([b.annotation for b in bindings if b.annotation is not None],
                                                 [b.value for b in bindings if b.value is not None])
            return verdict if verdict is not None else _named_like_tasks(receiver.id)
        scope = module.parents.get(id(scope))
    return _named_like_tasks(receiver.id)


def _named_like_tasks(name: str) -> bool:
    lowered = name.lower()
    return "background" in lowered or "tasks" in lowered


def _bound_as_background_tasks(annotations: list[ast.expr], values: list[ast.expr]) -> bool | None:
    """True: annotated or built as BackgroundTasks; False: annotated or built as another
    class (`TasksPool()`); None: the bindings do not say."""
    if any(names_background_tasks(a) for a in annotations):
        return True
    built = [last_name(v.func) or "" for v in values if isinstance(v, ast.Call)]
    if "BackgroundTasks" in built:
        return True
    if annotations or any(name[:1].isupper() for name in built):
        return False
    return None


def names_background_tasks(annotation: ast.expr) -> bool:
    for node in ast.walk(annotation):
        if last_name(node) == "BackgroundTasks" or (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith("BackgroundTasks")
        ):
            return True
    return False


def is_starlette_background_task(module: ModuleInfo, func: ast.expr, function: ast.AST | None) -> bool:
    name = qualified_name(module, func, function)
    if not name or not name.endswith("BackgroundTask"):
        return False
    return name.split(".")[0] in ("starlette", "fastapi")


def is_loop_expression(module: ModuleInfo, expr: ast.expr, function: ast.AST | None) -> bool:
    """`loop`, `self.loop`, `asyncio.get_event_loop()`, or a name bound from a loop factory."""
    if isinstance(expr, ast.Call):
        return api_name(module, expr.func, function) in LOOP_FACTORIES
    name = last_name(expr)
    if name is None:
        return False
    if "loop" in name.lower():
        return True
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        owner = module.owner_class.get(id(function)) if function is not None else None
        return owner is not None and any(
            isinstance(v, ast.Call) and api_name(module, v.func, f) in LOOP_FACTORIES
            for f, v in _self_attribute_values(module, owner, expr.attr)
        )
    if isinstance(expr, ast.Name):
        values = []
        if function is not None and isinstance(function, FUNCTION_TYPES):
            values = [b.value for b in function_scope(function).values(expr.id)]
        elif expr.id in module.assigns:
            values = [module.assigns[expr.id]]
        return any(
            isinstance(v, ast.Call) and api_name(module, v.func, function) in LOOP_FACTORIES for v in values
        )
    return False


def _self_attribute_values(module: ModuleInfo, owner: ast.ClassDef, attr: str):
    """(method, value) for every `self.<attr> = value` in the methods of a class."""
    for method in owner.body:
        if not isinstance(method, FUNCTION_TYPES):
            continue
        for node in walk_statements(method):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (isinstance(target, ast.Attribute) and target.attr == attr
                            and isinstance(target.value, ast.Name) and target.value.id == "self"):
                        yield method, node.value


def is_create_task_call(module: ModuleInfo, call: ast.Call, function: ast.AST | None) -> bool:
    """`asyncio.create_task(...)`, `asyncio.ensure_future(...)`, `<loop>.create_task(...)`;
    by import (V2.1): `from asyncio.tasks import create_task`, `create_task as spawn`."""
    if api_name(module, call.func, function) in CREATE_TASK_NAMES:
        return True
    return (
        isinstance(call.func, ast.Attribute)
        and call.func.attr == "create_task"
        and is_loop_expression(module, call.func.value, function)
    )


def _unwrap_partial(
    module: ModuleInfo, task: ast.expr, function: ast.AST | None
) -> tuple[ast.expr, list[ast.expr]]:
    """F and the arguments bound to it, through `functools.partial(F, ...)` and through
    `lambda: F(...)` (the lambda runs F with those arguments when the task runs)."""
    if isinstance(task, ast.Call) and qualified_name(module, task.func, function) in PARTIAL_NAMES and task.args:
        inner, bound = _unwrap_partial(module, task.args[0], function)
        return inner, bound + list(task.args[1:]) + [kw.value for kw in task.keywords]
    if isinstance(task, ast.Name) and isinstance(function, FUNCTION_TYPES):
        # `job = functools.partial(F, ...)` then `add_task(job)`
        bindings = function_scope(function).values(task.id)
        if len(bindings) == 1 and bindings[0].kind == "assign" and isinstance(bindings[0].value, ast.Call) \
                and qualified_name(module, bindings[0].value.func, function) in PARTIAL_NAMES:
            return _unwrap_partial(module, bindings[0].value, function)
    if isinstance(task, ast.Lambda) and isinstance(task.body, ast.Call) and not _has_parameters(task):
        call = task.body
        if isinstance(call.func, (ast.Name, ast.Attribute)):
            return call.func, list(call.args) + [kw.value for kw in call.keywords]
    return task, []


def _has_parameters(function: ast.Lambda) -> bool:
    args = function.args
    return bool(args.posonlyargs or args.args or args.kwonlyargs or args.vararg or args.kwarg)


def _schedule_site(
    module: ModuleInfo,
    call: ast.Call,
    parents: tuple[ast.AST, ...],
    function: ast.AST | None,
    owner: ast.ClassDef | None,
) -> ScheduleSite | None:
    func = call.func
    fn = function if isinstance(function, FUNCTION_TYPES) else None
    if isinstance(func, ast.Attribute) and func.attr == "add_task":
        func_kw = keyword(call, "func")
        task = call.args[0] if call.args else (func_kw.value if func_kw else None)
        if task is None or is_literal_constant(task) or isinstance(task, ast.JoinedStr):
            return None
        if not is_background_tasks_receiver(module, func.value, function):
            return None
        rest = list(call.args[1:]) + [kw.value for kw in call.keywords if kw.arg != "func"]
        inner, bound = _unwrap_partial(module, task, function)
        return ScheduleSite("add_task", call, inner, bound + rest, fn, owner)
    if is_starlette_background_task(module, func, function):
        func_kw = keyword(call, "func")
        task = call.args[0] if call.args else (func_kw.value if func_kw else None)
        if task is None:
            return None
        rest = list(call.args[1:]) + [kw.value for kw in call.keywords if kw.arg != "func"]
        inner, bound = _unwrap_partial(module, task, function)
        return ScheduleSite("BackgroundTask", call, inner, bound + rest, fn, owner)
    if isinstance(func, ast.Attribute) and func.attr == "start_soon":
        if not call.args:
            return None
        inner, bound = _unwrap_partial(module, call.args[0], function)
        rest = list(call.args[1:]) + [kw.value for kw in call.keywords if kw.arg != "name"]
        return ScheduleSite("start_soon", call, inner, bound + rest, fn, owner)
    if isinstance(func, ast.Attribute) and func.attr == "run_in_executor":
        # loop.run_in_executor(executor, F, *args): discarded, nobody sees F's exception
        if len(call.args) < 2 or not is_loop_expression(module, func.value, function):
            return None
        inner, bound = _unwrap_partial(module, call.args[1], function)
        discarded = bool(parents) and isinstance(parents[-1], ast.Expr)
        return ScheduleSite("run_in_executor", call, inner, bound + list(call.args[2:]), fn, owner,
                            is_background=discarded)
    if is_create_task_call(module, call, function):
        if not call.args or not isinstance(call.args[0], ast.Call):
            return None
        coro = call.args[0]
        args = list(coro.args) + [kw.value for kw in coro.keywords]
        background = _result_left_in_background(call, parents, fn)
        return ScheduleSite("create_task", call, coro.func, args, fn, owner, is_background=background)
    return None


def _result_left_in_background(call: ast.Call, parents: tuple[ast.AST, ...], function: ast.AST | None) -> bool:
    """Is the task's result discarded, or only kept in a set/list/dict, rather than awaited?
    A task kept on an attribute (`self._task = ...`) is not: it is there to be awaited or
    cancelled from elsewhere; nor is one put in a local list that is then awaited."""
    if any(isinstance(p, (ast.Await, ast.Return, ast.Yield, ast.YieldFrom, ast.comprehension)) for p in parents):
        return False
    parent = parents[-1] if parents else None
    if isinstance(parent, ast.Expr):
        return True
    if isinstance(parent, ast.Call) and call in parent.args:
        return _stored_only(parent, function)
    if isinstance(parent, (ast.Assign, ast.AnnAssign)):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if not names:
            slots = [t for t in targets if isinstance(t, ast.Subscript)]  # a dict or list slot
            # ... unless the function awaits that collection: `self._tasks["w"] = create_task(w())`
            # then `await asyncio.gather(*self._tasks.values())`
            return bool(slots) and not (function is not None and all(
                dotted(slot.value) and _gathered_after(function, dotted(slot.value), call.lineno) for slot in slots))
        if function is None:
            return True
        if any(name in function_scope(function).globals_ for name in names):
            return False  # `nonlocal`/`global`: shared state, awaited or cancelled elsewhere
        return not any(_task_name_is_awaited(function, name) for name in names)
    return False


def _stored_only(call: ast.Call, function: ast.AST | None, depth: int = 0) -> bool:
    """`tasks.add(t)` / `tasks.append(t)`, unless `tasks` is a local collection that is awaited."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr in STORING_METHODS):
        return False
    container = func.value
    if function is not None and isinstance(container, ast.Attribute) and dotted(container):
        # `await self._tasks[-1]` or `gather(*self._tasks)` later in the same function
        return not _gathered_after(function, dotted(container), call.lineno)
    if function is None or not isinstance(container, ast.Name) or depth > 3:
        return True
    bindings = function_scope(function).values(container.id)
    return not (bindings and _task_name_is_awaited(function, container.id, depth + 1))


GATHERING = {"gather", "wait", "wait_for", "as_completed"}


def _gathered_after(function: ast.AST, name: str, line: int) -> bool:
    """Does the function, after `line`, await the collection `name` itself: `await name[k]`,
    or `await asyncio.gather(*name.values())` / `wait(name)` (not just mention it)?"""
    for node in ast.walk(function):
        if not isinstance(node, ast.Await) or node.lineno <= line:
            continue
        value = node.value
        if isinstance(value, ast.Subscript) and dotted(value.value) == name:
            return True
        if isinstance(value, ast.Call) and last_name(value.func) in GATHERING:
            for arg in value.args:
                inner = arg.value if isinstance(arg, ast.Starred) else arg
                if dotted(inner) == name or (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute)
                                             and dotted(inner.func.value) == name):
                    return True
    return False


def _task_name_is_awaited(function: ast.AST, name: str, depth: int = 0) -> bool:
    """Is the task bound to `name` awaited, returned, cancelled, or handed to something other
    than a container (or to a local container that is itself awaited: `gather(*tasks)`)?"""
    for use, parent in function_scope(function).uses.get(name, ()):
        if isinstance(parent, (ast.Await, ast.Return, ast.Yield, ast.YieldFrom, ast.Starred)):
            return True
        if isinstance(parent, ast.Attribute) and parent.attr == "cancel":
            return True  # managed by the function: it ends the task itself
        if isinstance(parent, ast.Subscript) and parent.slice is use:
            return True  # a key of a mapping of pending tasks: tracked, to be waited on
        if isinstance(parent, ast.Call) and use in parent.args:
            if not _stored_only(parent, function, depth):
                return True
        if isinstance(parent, (ast.List, ast.Tuple, ast.Set)):
            return True
        if isinstance(parent, ast.keyword):
            return True
    return False
