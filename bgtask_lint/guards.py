"""Is a task body guarded? Does an `except` handler log the traceback or re-raise?

Shared by BGT401 (unguarded task body, guard decorators) and BGT402 (swallowed
exceptions).
"""

from __future__ import annotations

import ast
from typing import Iterator

from bgtask_lint.index import FUNCTION_TYPES, FunctionSym, ModuleInfo, ProjectIndex
from bgtask_lint.names import dotted, last_name

LOG_LEVELS = {"debug", "info", "warning", "warn", "error", "critical", "fatal", "log", "exception", "msg"}
TRACEBACK_CALLS = {"traceback.print_exc", "traceback.print_exception", "traceback.print_tb"}
TRACEBACK_TEXT = {"traceback.format_exc", "traceback.format_exception", "traceback.format_tb"}
CAPTURE = {"capture_exception", "captureException", "capture_exc"}
RELEASE_METHODS = {"close", "release", "dispose", "aclose"}
BROAD_EXCEPTIONS = {"Exception", "BaseException"}
TRY_TYPES = tuple(t for t in (ast.Try, getattr(ast, "TryStar", None)) if t is not None)
SKIP_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def walk_local(nodes: list[ast.AST] | ast.AST) -> Iterator[ast.AST]:
    """Like ast.walk, but does not enter nested functions, lambdas or classes."""
    stack = list(nodes) if isinstance(nodes, list) else [nodes]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, SKIP_SCOPES):
                stack.append(child)


def contains_call(stmt: ast.stmt) -> bool:
    if isinstance(stmt, SKIP_SCOPES):
        # a nested def runs nothing but its decorators and defaults
        extras: list[ast.AST] = list(getattr(stmt, "decorator_list", []))
        if not isinstance(stmt, ast.ClassDef):
            extras += [d for d in stmt.args.defaults + stmt.args.kw_defaults if d is not None]  # type: ignore[union-attr]
        return any(isinstance(n, ast.Call) for e in extras for n in ast.walk(e))
    return any(isinstance(node, ast.Call) for node in walk_local(stmt))


def strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


def is_broad_handler(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(last_name(t) in BROAD_EXCEPTIONS for t in types)


def is_logger_name(name: str) -> bool:
    """`logger`, `log`, `self.logger`, `logging`, `LOGGER`: what a log call is made on."""
    last = name.lower().rsplit(".", 1)[-1]
    return "log" in last or last in ("structlog", "sentry_sdk")


def _is_logger_receiver(expr: ast.expr) -> bool:
    return is_logger_name(dotted(expr) or "")


def _call_logs(call: ast.Call) -> tuple[bool, bool]:
    """(logs anything, logs the traceback) for one call."""
    func = call.func
    name = dotted(func) or ""
    last = last_name(func) or ""
    if last in CAPTURE:
        return True, True
    if name in TRACEBACK_CALLS or last in ("print_exc", "print_exception"):
        return True, True
    if isinstance(func, ast.Attribute) and last in LOG_LEVELS and _is_logger_receiver(func.value):
        if last == "exception":
            return True, True
        for kw in call.keywords:
            if kw.arg == "exc_info" and not (
                isinstance(kw.value, ast.Constant) and kw.value.value in (False, None, 0)
            ):
                return True, True
            if kw.arg == "stack_info" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                return True, False
        formats_traceback = any(
            isinstance(n, ast.Call) and (dotted(n.func) or "") in TRACEBACK_TEXT
            or (isinstance(n, ast.Call) and last_name(n.func) in ("format_exc", "format_exception"))
            for n in ast.walk(call)
        )
        return True, formats_traceback
    if name in ("print", "sys.stderr.write", "sys.stdout.write"):
        formats_traceback = any(
            isinstance(n, ast.Call) and last_name(n.func) in ("format_exc", "format_exception")
            for n in ast.walk(call)
        )
        return True, formats_traceback
    return False, False


def handler_facts(body: list[ast.stmt]) -> tuple[bool, bool, bool]:
    """(logs anything, logs a traceback, re-raises) for an except-handler body."""
    logs = traceback = reraises = False
    traceback_text_names: set[str] = set()
    for node in walk_local(body):  # type: ignore[arg-type]
        if isinstance(node, ast.Raise):
            reraises = True
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and last_name(node.value.func) in ("format_exc", "format_exception"):
            traceback_text_names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Call):
            does_log, with_traceback = _call_logs(node)
            if does_log and not with_traceback and traceback_text_names:
                with_traceback = any(isinstance(n, ast.Name) and n.id in traceback_text_names
                                     for n in ast.walk(node))
            logs = logs or does_log
            traceback = traceback or with_traceback
    return logs, traceback, reraises


def is_guarding_handler(handler: ast.ExceptHandler) -> bool:
    if not is_broad_handler(handler):
        return False
    logs, traceback, reraises = handler_facts(handler.body)
    return traceback or (logs and reraises)


def _releases(try_stmt: ast.stmt, name: str) -> bool:
    for node in walk_local(list(getattr(try_stmt, "finalbody", []))):  # type: ignore[arg-type]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in RELEASE_METHODS and isinstance(node.func.value, ast.Name) \
                and node.func.value.id == name:
            return True
    return False


def _acquired_name(stmt: ast.stmt) -> str | None:
    """`name = call(...)` or `name: T = call(...)` with no await: the acquire of the idiom."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
        target, value = stmt.target, stmt.value
    else:
        return None
    if not isinstance(value, ast.Call) or any(isinstance(n, ast.Await) for n in ast.walk(value)):
        return None
    return target.id


def body_is_guarded(body: list[ast.stmt]) -> bool:
    statements = strip_docstring(body)
    with_calls = [s for s in statements if contains_call(s)]
    if not with_calls:
        return True
    for position, stmt in enumerate(statements):
        if not isinstance(stmt, TRY_TYPES) or not any(is_guarding_handler(h) for h in stmt.handlers):
            continue
        others = [s for s in with_calls if s is not stmt]
        if not others:
            return True
        if len(others) == 1 and position > 0 and others[0] is statements[position - 1]:
            name = _acquired_name(others[0])
            if name is not None and _releases(stmt, name):
                return True
    return False


def is_guard_decorator(index: ProjectIndex, sym: FunctionSym) -> bool:
    """A project decorator (or decorator factory) whose wrapper body is guarded."""
    key = ("guard-decorator", sym.key)
    if key in index.cache:
        return bool(index.cache[key])
    result = False
    # the wrapper is nested one level (decorator) or two levels (factory) down
    for node in walk_nested_defs(sym.node, depth=3):
        if any(contains_call(s) for s in strip_docstring(node.body)) and body_is_guarded(node.body):
            result = True
            break
    index.cache[key] = result
    return result


def walk_nested_defs(function: ast.AST, depth: int) -> Iterator[ast.AST]:
    if depth == 0:
        return
    for node in walk_local(list(function.body)):  # type: ignore[attr-defined]
        if isinstance(node, FUNCTION_TYPES):
            yield node
            yield from walk_nested_defs(node, depth - 1)


def has_guard_decorator(index: ProjectIndex, module: ModuleInfo, function: ast.AST,
                        configured: tuple[str, ...]) -> bool:
    for decorator in getattr(function, "decorator_list", []):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        qualified = index.qualified_name(module, target) or ""
        written = dotted(target) or ""
        for name in configured:
            if name in (qualified, written) or qualified.endswith("." + name) or name.endswith("." + written):
                return True
        sym = index.resolve(module, target)
        if isinstance(sym, FunctionSym) and is_guard_decorator(index, sym):
            return True
    return False
