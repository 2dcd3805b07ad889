"""Request sessions that reach a background task through a project helper (V2.4).

`create_order(db=Depends(get_db))` calls `notify(tasks, db)`, and `notify` (in any
module) hands its parameter to a task. The scheduling site is in the helper and the
session in the endpoint: neither module alone shows the bug, and the endpoint's module
is not reachable from the helper's imports. So the fact is computed project-wide, once
per state of the index (`ProjectIndex.session_flows`), over the modules given to the
index (targets and scheduling modules, not those parsed lazily by resolution), so the
answer does not depend on which lookups happened first. Only modules that are the
helper's own or import a name like its module's are read for callers, and in them only
the functions whose text calls a helper's name.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from bgtask_lint.collect import names_background_tasks
from bgtask_lint.files import line_within
from bgtask_lint.guards import walk_local
from bgtask_lint.index import FunctionSym, ModuleInfo, positional_parameters
from bgtask_lint.names import dotted, last_name
from bgtask_lint.plain import Value
from bgtask_lint.scope import function_scope, parameters
from bgtask_lint.semantics import is_request_session, literal_elements

if TYPE_CHECKING:
    from typing import Callable, Iterable

    from bgtask_lint.index import ProjectIndex


class SessionFlow(Value, frozen=True, ordered=True):
    """One call that passes a request session to a helper's parameter; ordered by its fields."""

    __slots__ = ("caller_path", "caller_module", "caller", "line", "label", "caller_kind")

    def __init__(self, caller_path: Path, caller_module: str, caller: str, line: int, label: str,
                 caller_kind: str = "function") -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "caller_path", caller_path)
        set_field(self, "caller_module", caller_module)  # dotted module name, for messages
        set_field(self, "caller", caller)  # qualname of the function that passes the session
        set_field(self, "line", line)
        set_field(self, "label", label)  # the session expression as written there (`db`, `request.state.db`)
        set_field(self, "caller_kind", caller_kind)  # "endpoint" when it is one


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
    """(helper path, helper qualname, parameter) -> the calls that pass a request session to it.

    The join of two per-module facts, each computable (and cacheable) on its own:
    `helper_parameters(module)` from a module's scheduling sites, and
    `session_calls(index, module)` from a module's calls (resolving a callee only looks
    at what the module's imports reach)."""
    helpers: dict[tuple[Path, str], set[str]] = {}
    modules = index.modules_added()
    for module in modules:
        for qualname, params in helper_parameters(module).items():
            helpers[(module.path, qualname)] = params
    if not helpers:
        return {}
    names_of = {module.path: module.name for module in modules}
    by_module = helper_names(helpers, names_of.__getitem__)
    flows: dict[tuple[Path, str, str], list[SessionFlow]] = {}
    for module in modules:
        names = callee_names(module, by_module)
        if not names:
            continue
        for (path, qualname, param), flow in session_calls(index, module, names):
            if param in helpers.get((path, qualname), ()):
                flows.setdefault((path, qualname, param), []).append(flow)
    for found in flows.values():
        found.sort()
    return flows


HelperNames = dict  # helper module path -> (its words, the last names of its helpers)


def helper_names(helpers: Iterable[tuple[Path, str]], name_of: Callable[[Path], str]) -> HelperNames:
    """For `callee_names`: the helpers (path, qualname) by module; `name_of`: a helper
    module's import name."""
    by_module: HelperNames = {}
    for path, qualname in helpers:
        entry = by_module.get(path)
        if entry is None:
            entry = by_module[path] = (_module_words(name_of(path)), set())
        entry[1].add(qualname.rsplit(".", 1)[-1])
    return by_module


def callee_names(module: ModuleInfo, by_module: HelperNames) -> set[str]:
    """The helper names whose calls in `module` are looked at: those of its own helpers and
    of the modules it imports something named like (a cheap filter, by text)."""
    words = _import_words(module)
    return {name for path, (helper_words, found) in by_module.items()
            if path == module.path or words & helper_words for name in found}


def _import_words(module: ModuleInfo) -> set[str]:
    """Every name part of what the module imports (`from app.jobs import queue` -> app, jobs,
    queue); kept with the module, as its calls are (`_candidate_calls`)."""
    words = module.derived.get("import-words")
    if not isinstance(words, set):
        refs = [*module.imports.values(), *(r for local in module.local_imports.values() for r in local.values())]
        words = module.derived["import-words"] = {
            word for ref in refs for part in (ref.module, ref.attr or "") for word in part.split(".") if word}
    return words


def _module_words(name: str) -> set[str]:
    """The last two parts of a module's name: how an import of it (or of its package) reads."""
    return set(name.split(".")[-2:])


def helper_parameters(module: ModuleInfo) -> dict[str, set[str]]:
    """qualname -> the function's own parameters it hands to a background task: directly,
    in `functools.partial(...)` (unwrapped into the site's arguments), or in a literal."""
    helpers: dict[str, set[str]] = {}
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
                    helpers.setdefault(module.qualnames[id(function)], set()).add(value.id)
    return helpers


def session_calls(index: "ProjectIndex", module: ModuleInfo,
                  callee_names: set[str] | None = None) -> list[tuple[tuple[Path, str, str], SessionFlow]]:
    """Every call in the module that passes a request session to a parameter of a project
    function: ((callee path, callee qualname, parameter), the flow). `callee_names`
    narrows the calls looked at to those whose function's last name is listed (and the
    functions walked to those whose lines hold such a call)."""
    found: list[tuple[tuple[Path, str, str], SessionFlow]] = []
    for qualname, function, call in _candidate_calls(module, callee_names):
        found.extend(_session_arguments(index, module, function, qualname, call))
    return found


def _candidate_calls(module: ModuleInfo, callee_names: set[str] | None) -> list[tuple[str, ast.AST, ast.Call]]:
    """(qualname, function, call) of the calls `session_calls` resolves: by the module's own
    text and tree only, so kept with the module for the same names (in the editor, an edit
    elsewhere recomputes the flows, and most of their cost was this scan)."""
    wanted = None if callee_names is None else frozenset(callee_names)
    kept = module.derived.get("session-call-candidates")
    if isinstance(kept, tuple) and kept[0] == wanted:
        return kept[1]
    functions = list(module.functions.items())
    if callee_names is not None:
        lines = sorted(_call_lines(module.source, callee_names))
        functions = [(q, f) for q, f in functions if line_within(lines, f.lineno, f.end_lineno or f.lineno)]
    candidates = []
    for qualname, function in functions:
        for call in walk_local(list(function.body)):
            if (isinstance(call, ast.Call) and (callee_names is None or last_name(call.func) in callee_names)
                    and any(_may_be_session(a) for a in [*call.args, *(k.value for k in call.keywords)])):
                candidates.append((qualname, function, call))
    module.derived["session-call-candidates"] = (wanted, candidates)
    return candidates


def _call_lines(source: str, names: set[str]) -> list[int]:
    """The lines where one of the names is called (by text: `name(`), for a cheap first filter."""
    if len(names) > ONE_PASS_NAMES:
        return _call_lines_one_pass(source, names)
    lines = []
    for name in names:
        line, counted = 1, 0  # lines up to `counted` (the matches come in order)
        start = source.find(name)
        while start != -1:
            end = start + len(name)
            before = source[start - 1] if start else " "
            if not (before.isalnum() or before == "_") and source[end:end + 1] == "(":
                line += source.count("\n", counted, start)
                counted = start
                lines.append(line)
            start = source.find(name, end)
    return lines


# A search per name reads the module once per name (0.42 ms per name and MB), one pass
# over every `word(` once (41 ms per MB): past about a hundred names the pass costs less
# (a 1 MB module, 344 names: 0.15 s by name, 0.04 s in one pass; litellm's modules, at
# most 63 names: 0.57 s by name in all, 4.4 s in one pass each)
ONE_PASS_NAMES = 96
_CALLED_WORD = re.compile(r"(?<!\w)\w+(?=\()")


def _call_lines_one_pass(source: str, names: set[str]) -> list[int]:
    """`_call_lines`, in one pass over the text whatever the number of names (`\\w` is
    `str.isalnum` or `_`, the test of the search by name)."""
    lines = []
    line, counted = 1, 0
    for match in _CALLED_WORD.finditer(source):
        if match.group() in names:
            start = match.start()
            line += source.count("\n", counted, start)
            counted = start
            lines.append(line)
    return lines


def _may_be_session(expr: ast.expr) -> bool:
    """A cheap first filter before the binding analysis: a name, or `<x>.state.<y>`."""
    return isinstance(expr, ast.Name) or (
        isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Attribute) and expr.value.attr == "state")


def _session_arguments(index: "ProjectIndex", module: ModuleInfo, function: ast.AST, qualname: str,
                       call: ast.Call) -> list[tuple[tuple[Path, str, str], SessionFlow]]:
    passed = [(i, None, a) for i, a in enumerate(call.args) if not isinstance(a, ast.Starred)]
    passed += [(None, kw.arg, kw.value) for kw in call.keywords if kw.arg is not None]
    sessions = [(i, name, a) for i, name, a in passed if is_request_session(index, module, function, a)]
    if not sessions:
        return []
    owner = module.owner_class.get(id(function))
    callee = index.resolve_callable(module, call.func, function, owner)
    if not isinstance(callee, FunctionSym):
        return []
    positional = positional_parameters(callee, isinstance(call.func, ast.Attribute))
    keyword_names = {arg.arg for arg, _ in parameters(callee.node)}
    kind = "endpoint" if is_endpoint(function) else "function"
    found = []
    for i, name, value in sessions:
        param = positional[i] if i is not None and i < len(positional) else None
        if name is not None and name in keyword_names:
            param = name
        if param is not None:
            flow = SessionFlow(module.path, module.name, qualname, value.lineno, dotted(value) or param, kind)
            found.append(((callee.module.path, callee.qualname, param), flow))
    return found
