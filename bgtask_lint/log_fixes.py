"""What the BGT401 and BGT402 fixes would write, decided once for the rule and the codemod.

Pure `ast`, built on the guard model (guards.py) and the logger bindings (loggers.py):
the rule asks it whether a finding has a safe fix (and says why not in the message),
and the codemod asks it again, with the same index, for what to write. A logger is
used only when it is provably bound and not shadowed in the function (V2.9); a module
logger is added (BGT401 only) when none is bound and the name `logger` is free. Each
kind gets its own idiom: `%s` for logging, `{}` and `opt(exception=True)` for loguru,
key-value pairs for structlog.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import re
from typing import TYPE_CHECKING, Callable, Iterator, Union

from bgtask_lint.dependencies import import_statements
from bgtask_lint.files import source_lines
from bgtask_lint.guards import TRY_TYPES, GuardModel, is_broad_handler, sites_of_task, walk_local
from bgtask_lint.loggers import LOG_LEVELS, STDLIB, is_logger_expr, log_call
from bgtask_lint.names import bound_name, caught_types, child_statements, dotted, dotted_name, last_name
from bgtask_lint.plain import Value
from bgtask_lint.scope import function_scope

if TYPE_CHECKING:
    from bgtask_lint.index import ModuleInfo

# module-level names reused before any other logger, in this order
PREFERRED_NAMES = ("logger", "log", "LOGGER", "_logger", "_log", "LOG")
NEW_LOGGER = "logger"
SEVERITY = {"critical": 50, "fatal": 50, "error": 40, "exception": 40, "warning": 30, "warn": 30,
            "success": 25, "info": 20, "log": 20, "msg": 20, "debug": 10, "trace": 5}
# BaseException subclasses outside Exception: a wrapping `except Exception` lets them pass
NOT_EXCEPTIONS = frozenset({"CancelledError", "KeyboardInterrupt", "SystemExit", "GeneratorExit", "Cancelled"})
ANY_LEVEL = frozenset().union(*LOG_LEVELS.values())
# built-in errors: raised by a failure, never as a signal (StopIteration is one, and not here)
BUILTIN_ERRORS = frozenset(name for name, value in vars(builtins).items() if isinstance(value, type)
                           and issubclass(value, Exception)
                           and not issubclass(value, (StopIteration, StopAsyncIteration)))
# words in a handler's comments that say the traceback may be left out on purpose
TRACEBACK_WORDS = ("traceback", "exc_info", "stack trace", "stacktrace")


class NoFix(Value, frozen=True):
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        object.__setattr__(self, "reason", reason)  # why no safe fix, said to the user after "no safe fix: "


class LoggerChoice(Value, frozen=True):
    __slots__ = ("name", "kind", "add")

    def __init__(self, name: str, kind: str, add: bool = False) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "name", name)
        set_field(self, "kind", kind)  # "logging" | "loguru" | "structlog"
        set_field(self, "add", add)  # add `import logging` and `<name> = logging.getLogger(__name__)`


class GuardFix(Value, frozen=True, compared=("logger",)):
    """BGT401: wrap the body; the handler logs with `statement`, then re-raises."""

    __slots__ = ("logger", "writer")

    def __init__(self, logger: LoggerChoice, writer: Callable[[], str]) -> None:
        object.__setattr__(self, "logger", logger)
        # the log statement, written when a fix asks for it: it is quoted as the module's
        # strings are (a scan of the module), which a check deciding fixability never needs
        object.__setattr__(self, "writer", writer)

    @property
    def statement(self) -> str:
        return self.writer()


class HandlerFix(Value, frozen=True, compared=("action", "call", "logger", "new_level", "import_uses")):
    """BGT402, one of:
    - "exception": rename the level of `call` to `exception` (or `aexception`);
    - "exc_info": add `exc_info=True` to `call`;
    - "opt": loguru, give `call` `.opt(exception=True)` (or add `exception=True` to its opt);
    - "pass": replace the lone `pass` with `statement`;
    - "print": call `logger.exception` instead of `call` (a print), `template` first if any,
      without its keywords (`file=`, `end=`, `flush=`); `import_uses`: the names those
      keywords use that only standard-library imports the fix may drop bind (one per
      use): an import goes when the module's fixed prints took every use of its name.
    """

    __slots__ = ("action", "call", "logger", "writer", "new_level", "import_uses")

    def __init__(self, action: str, call: ast.Call | None = None, logger: LoggerChoice | None = None,
                 writer: Callable[[], tuple[str | None, str | None]] | None = None, new_level: str | None = None,
                 import_uses: tuple[str, ...] = ()) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "action", action)
        set_field(self, "call", call)
        set_field(self, "logger", logger)
        # (statement, template), written when a fix asks for them (see GuardFix.writer)
        set_field(self, "writer", writer)
        set_field(self, "new_level", new_level)
        # "print": the imported names the dropped keywords (`file=sys.stderr`) use, one per use
        set_field(self, "import_uses", import_uses)

    @property
    def statement(self) -> str | None:
        return self.writer()[0] if self.writer is not None else None

    @property
    def template(self) -> str | None:
        return self.writer()[1] if self.writer is not None else None


Plan = Union[GuardFix, HandlerFix, NoFix]


# --- loggers --------------------------------------------------------------------------


def choose_logger(model: GuardModel, function: ast.AST, may_add: bool,
                  at: ast.AST | None = None) -> LoggerChoice | NoFix:
    """A module-level logger that `function` sees (reused), or a new `logger` when none is
    bound and the name is free (only where `may_add`). The new log call runs at `at` (a
    node of the function's body; None: anywhere in it, as a handler around the whole body):
    a logger local to the function is used only where it is surely bound there."""
    module = model.module
    bindings = model.loggers
    owner = module.owner_class.get(id(function))
    attribute = _self_logger(model, function)
    if attribute is not None and _uses(function, attribute.name):
        return attribute  # the logger the method already logs with (`self._logger`), not the module's
    # names bound to a logger here, and imported names (a project module's logger is known
    # through the index); never the logging module itself (its functions log to the root logger)
    names = {name for name in (*bindings, *bindings.imports) if bindings.imports.get(name) != "logging"}
    candidates = sorted(names, key=lambda name: (
        PREFERRED_NAMES.index(name) if name in PREFERRED_NAMES else len(PREFERRED_NAMES), name))
    shadowed = []
    unbound_reason = None  # why a logger the function sees may not be bound where the new call runs
    for name in candidates:
        if not (bindings.get(name) or name in PREFERRED_NAMES or is_logger_expr(
                ast.Name(id=name, ctx=ast.Load()), bindings, None, owner)):
            continue  # not a logger at module level: no need to look closer
        kind = is_logger_expr(ast.Name(id=name, ctx=ast.Load()), bindings, function, owner)
        if kind and not _shadowed_outside(module, function, name):
            if function_scope(function).bindings.get(name):
                unbound = _maybe_unbound(function, name, at)
            elif not bound_at_import(module.tree, name):
                unbound = (f"the module binds `{name}` only on some paths (under an `if` or a `try`), so it "
                           "may not exist when the new log call runs; bind the logger unconditionally, or log "
                           "yourself")
            else:
                unbound = None
            if unbound is None:
                return LoggerChoice(name, kind)
            unbound_reason = unbound_reason or unbound
            continue
        if is_logger_expr(ast.Name(id=name, ctx=ast.Load()), bindings, None, owner):
            shadowed.append(name)
    if attribute is not None:
        return attribute
    if unbound_reason is not None:
        return NoFix(unbound_reason)
    if not may_add:
        if shadowed:
            return NoFix(f"the module's logger `{shadowed[0]}` is shadowed in this function; "
                         "log the exception with logger.exception yourself")
        return NoFix("no logger is bound in this module; add `logger = logging.getLogger(__name__)` "
                     "and log the exception with logger.exception")
    if NEW_LOGGER in bindings.imports:
        source = bindings.imports[NEW_LOGGER].rsplit(".", 1)[0]
        return NoFix(f"`{NEW_LOGGER}` is imported from {source}, which bgtask-lint cannot see or which does not "
                     "provably bind a logger; wrap the body in try/except that logs with logger.exception yourself")
    if module_binds(module.tree, NEW_LOGGER) or _binds_locally(module, function, NEW_LOGGER):
        return NoFix(f"`{NEW_LOGGER}` is already bound in this module to something that is not provably "
                     "a logger; wrap the body in try/except that logs with logger.exception yourself")
    logging_bound = bindings.imports.get("logging") == "logging"
    if not logging_bound and module_binds(module.tree, "logging"):
        return NoFix("`logging` is bound in this module to something else than the logging module; "
                     "wrap the body in try/except that logs the exception yourself")
    return LoggerChoice(NEW_LOGGER, "logging", add=True)


def _uses(function: ast.AST, name: str) -> bool:
    """Does the function's own body mention `name` (`self._logger`)?"""
    return any(dotted(node) == name for node in walk_local(list(function.body))  # type: ignore[attr-defined]
               if isinstance(node, ast.Attribute))


def _self_logger(model: GuardModel, function: ast.AST) -> LoggerChoice | None:
    """In a method, `self.<attr>` when the class binds a logger to it unconditionally: in
    the class body or as a top-level statement of `__init__` (a handler must not meet an
    AttributeError, or a None set for later, instead of the logger)."""
    owner = model.module.owner_class.get(id(function))
    params = getattr(getattr(function, "args", None), "args", [])
    if owner is None or not params or params[0].arg != "self" \
            or len(function_scope(function).bindings.get("self", [])) != 1:
        return None
    found: dict[str, str] = {}
    for stmt in owner.body:
        init = stmt if isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__" else None
        for top in init.body if init is not None else [stmt]:
            if not isinstance(top, (ast.Assign, ast.AnnAssign)) or top.value is None:
                continue
            targets = top.targets if isinstance(top, ast.Assign) else [top.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                        and target.value.id == "self" and top is not stmt:
                    attr = target.attr
                elif isinstance(target, ast.Name) and top is stmt:
                    attr = target.id
                else:
                    continue
                kind = is_logger_expr(top.value, model.loggers, init, owner)
                if kind:
                    found.setdefault(attr, kind)
    for attr in sorted(found, key=lambda a: (a.lstrip("_") not in PREFERRED_NAMES, a)):
        expr = ast.Attribute(value=ast.Name(id="self", ctx=ast.Load()), attr=attr, ctx=ast.Load())
        if is_logger_expr(expr, model.loggers, function, owner) == found[attr]:
            return LoggerChoice(f"self.{attr}", found[attr])
    return None


def _global_names(tree: ast.Module) -> set[str]:
    """Every name a `global` statement anywhere in the tree declares: statements only hold
    statements in these fields, so the walk never enters an expression."""
    names: set[str] = set()
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if type(node) is ast.Global:
            names.update(node.names)
        stack.extend(child_statements(node))
    return names


def imports_the_module(node: ast.AST, name: str) -> bool:
    """Whatever of `name` the statement binds is the module `name` (`import asyncio`, `import
    aiofiles.os`, `import asyncio as asyncio`); a statement binding something else under
    that name (`from x import asyncio`, `import trio as asyncio`) or no import at all: False.
    An import that does not bind `name`: True."""
    if not isinstance(node, (ast.Import, ast.ImportFrom)):
        return False
    for alias in node.names:
        if bound_name(alias) != name:
            continue
        if isinstance(node, ast.ImportFrom) or (alias.asname is not None and alias.name != name):
            return False
    return True


def module_binds(tree: ast.Module, name: str, *, but_the_module: bool = False) -> bool:
    """Whether anything binds `name` at module level (also `global name` in a function).
    `but_the_module`: an import of the module `name` itself (`import asyncio`) does not
    count, as for a fix that calls `asyncio.sleep`."""
    declared = _global_names(tree)  # (a def is walked only when some `global` names it)
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == name:
                return True
            if name in declared and any(isinstance(n, ast.Global) and name in n.names for n in ast.walk(node)):
                return True
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)) and node.id == name:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                bound_name(alias) == name for alias in node.names):
            if not (but_the_module and imports_the_module(node, name)):
                return True
            continue
        if isinstance(node, ast.ExceptHandler) and node.name == name:
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def _enclosing(module: ModuleInfo, function: ast.AST):
    current = module.parents.get(id(function))
    while current is not None:
        yield current
        current = module.parents.get(id(current))


def _binds_locally(module: ModuleInfo, function: ast.AST, name: str) -> bool:
    """`name` is a local of the function or of an enclosing one (so a module-level name
    of that spelling would not be the one the handler sees)."""
    for scope in (function, *_enclosing(module, function)):
        local = function_scope(scope)
        if name in local.bindings and name not in local.globals_:
            return True
    return False


def _maybe_unbound(function: ast.AST, name: str, at: ast.AST | None) -> str | None:
    """Why the function's own binding of `name` may not hold a logger when a log call at
    `at` runs (None: it surely does, or the name is not the function's own). A parameter
    that may be None (`logger=None`, `Optional[Logger]`) would make the handler raise
    AttributeError; a local assigned later, or on some paths only, UnboundLocalError. Both
    would replace the task's own exception."""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    scope = function_scope(function)
    local = scope.bindings.get(name)
    if not local or name in scope.globals_:
        return None
    if any(binding.kind == "param" for binding in local):
        if all(binding.kind == "param" and not _may_be_none(binding) for binding in local):
            return None
        return (f"the parameter `{name}` may be None (its default or its annotation says so); "
                "log the exception yourself with a logger that is always there")
    first_use = _top_statement(function, at)
    for binding in local:
        statement = binding.node
        if first_use is None or statement not in function.body or \
                function.body.index(statement) >= function.body.index(first_use):
            where = "the handler around the whole body" if at is None else "the new log call"
            return (f"`{name}` is assigned in this function, and may be unbound when {where} runs; "
                    f"log the exception yourself with a logger bound before it")
    return None


def bound_at_import(tree: ast.Module, name: str) -> bool:
    """Does importing the module surely bind `name`: a top-level statement binds it, or
    both branches of a top-level `if`, or a `try` whose every handler binds it too or
    raises (`try: import x except ImportError: x = None`)? Not a binding under `if DEBUG:`
    alone, nor under `if TYPE_CHECKING:`."""
    return _binds_surely(tree.body, name)


def _binds_surely(statements: list[ast.stmt], name: str) -> bool:
    for stmt in statements:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if stmt.name == name:
                return True
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            if any(bound_name(alias) == name for alias in stmt.names):
                return True
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if getattr(stmt, "value", None) is not None and any(
                    isinstance(node, ast.Name) and node.id == name for target in targets for node in ast.walk(target)):
                return True
        elif isinstance(stmt, ast.If):
            if _binds_surely(stmt.body, name) and _binds_surely(stmt.orelse, name):
                return True
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            if _binds_surely(stmt.body, name):
                return True
        elif isinstance(stmt, TRY_TYPES):
            if _binds_surely(stmt.finalbody, name):  # type: ignore[attr-defined]
                return True
            body = stmt.body + stmt.orelse  # type: ignore[attr-defined]
            if _binds_surely(body, name) and all(  # type: ignore[attr-defined]
                    _binds_surely(handler.body, name) or _raises(handler.body) for handler in stmt.handlers):
                return True
    return False


def _raises(statements: list[ast.stmt]) -> bool:
    return bool(statements) and isinstance(statements[-1], ast.Raise)


def _may_be_none(binding) -> bool:
    default = binding.default
    if isinstance(default, ast.Constant) and default.value is None:
        return True
    annotation = binding.annotation
    if annotation is None:
        return False
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return True
    return any((isinstance(node, ast.Constant) and node.value is None)
               or (isinstance(node, (ast.Name, ast.Attribute)) and (dotted(node) or "").split(".")[-1] == "Optional")
               for node in ast.walk(annotation))


def _top_statement(function: ast.AST, at: ast.AST | None) -> ast.stmt | None:
    """The statement of the function's body that holds `at`."""
    if at is None:
        return None
    line = getattr(at, "lineno", None)
    for statement in function.body:  # type: ignore[attr-defined]
        if line is not None and statement.lineno <= line <= (statement.end_lineno or statement.lineno):
            return statement
    return None


def _shadowed_outside(module: ModuleInfo, function: ast.AST, name: str) -> bool:
    for scope in _enclosing(module, function):
        local = function_scope(scope)
        if name in local.bindings and name not in local.globals_:
            return True
    return False


def _log_text(model: GuardModel, logger: LoggerChoice, message: str, subject: str, event: str, key: str) -> str:
    """`<logger>.exception(...)` naming `subject` in each kind's idiom, quoted as the module
    quotes: `message` has one `{}` where the subject goes; structlog gets `event` and the
    subject as `key=`."""
    q = module_quote(model)
    if logger.kind == "structlog":
        return f"{logger.name}.exception({q}{event}{q}, {key}={q}{subject}{q})"
    if logger.kind == "logging":
        message = message.replace("{}", "%s")
    return f"{logger.name}.exception({q}{message}{q}, {q}{subject}{q})"


# --- BGT401 ---------------------------------------------------------------------------


def _task_group_child(model: GuardModel, function: ast.AST) -> bool:
    """Every site starts it with `tg.start_soon(F)`: its failure is not unseen but raised
    again where the group is awaited."""
    key = (model.module.path, model.module.qualnames.get(id(function), ""))
    sites = sites_of_task(model.index, key)
    return bool(sites) and all(site.form == "start_soon" for _, site in sites)


def guard_fix(model: GuardModel, function: ast.AST) -> GuardFix | NoFix:
    """How to guard `function`'s body, or why wrapping it would not be safe."""
    if model.has_guard_decorator(function, ()):
        return NoFix("a decorator of this task already logs its failures; wrapping the body would log "
                     "them twice")
    if _task_group_child(model, function):
        return NoFix("it is started only in task groups (`start_soon`), whose `async with` receives its "
                     "exception and may already log it; wrapping the body could log it twice: guard where "
                     "the group is awaited, or wrap the body by hand")
    inner = _inner_logging_reraise(model, function)
    if inner is not None:
        return NoFix(f"the handler on line {inner} already logs the traceback and then raises; wrapping "
                     "the body would log those failures twice: move the other calls into that try")
    control = _deliberate_raise(function)
    if control is not None:
        return NoFix(f"the handler on line {control[0]} raises {control[1]} on purpose; wrapping the body would "
                     "log it as a failure: add the guard by hand, letting that exception pass")
    choice = choose_logger(model, function, may_add=True)
    if isinstance(choice, NoFix):
        return choice
    name = getattr(function, "name", "task")
    return GuardFix(choice, lambda: _log_text(model, choice, "background task {} failed", name,
                                              "background task failed", "task"))


def _inner_logging_reraise(model: GuardModel, function: ast.AST) -> int | None:
    """The line of a handler in the body that logs the traceback and then raises on the
    same path: wrapped, that failure would be logged a second time."""
    owner = model.module.owner_class.get(id(function))
    for node in _with_nested_defs(function):
        if isinstance(node, TRY_TYPES):
            for handler in node.handlers:  # type: ignore[attr-defined]
                if _logs_then_raises(model, handler.body, function, owner, False):
                    return handler.lineno
    return None


def _with_nested_defs(function: ast.AST) -> Iterator[ast.AST]:
    """The nodes of `function`'s body and of every def nested in it: what a def defined in
    a task raises, or logs and raises, reaches the task when the task calls it (wrapping
    the body would log it as well)."""
    yield from walk_local(list(function.body))  # type: ignore[attr-defined]
    for node in ast.walk(function):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not function:
            yield from walk_local(list(node.body))


def _deliberate_raise(function: ast.AST) -> tuple[int, str] | None:
    """(line, exception) of a narrow handler in the body that raises: an exception the
    task lets out on purpose (`except StopConsumer: ...; raise` to stop a consumer, or a
    translated error), which a wrapping `except Exception` would log as a failure."""
    for node in _with_nested_defs(function):
        if isinstance(node, TRY_TYPES):
            for handler in node.handlers:  # type: ignore[attr-defined]
                if not is_broad_handler(handler) and not _base_exceptions_only(handler) \
                        and any(isinstance(n, ast.Raise) for n in walk_local(handler.body)) \
                        and not _lets_out_the_unexpected(handler):
                    return handler.lineno, ast.unparse(handler.type) if handler.type is not None else "it"
    return None


def _lets_out_the_unexpected(handler: ast.ExceptHandler) -> bool:
    """`except AttributeError as e: if "known" not in str(e): raise`: a handler of built-in
    error types (or of cancellation, which `except Exception` never sees) that re-raises
    only under a condition lets out the errors it did not expect: failures, which the
    wrapper is right to log (unlike `except StopConsumer: raise`, a signal)."""
    types = caught_types(handler)
    if not types or not all(last_name(t) in BUILTIN_ERRORS or last_name(t) in NOT_EXCEPTIONS for t in types):
        return False
    raises = list(_raises_in(handler.body, False))
    return bool(raises) and all(
        conditional and (stmt.exc is None or (isinstance(stmt.exc, ast.Name) and stmt.exc.id == handler.name))
        for stmt, conditional in raises)


def _raises_in(statements: list[ast.stmt], conditional: bool) -> Iterator[tuple[ast.Raise, bool]]:
    """Each `raise` among `statements` (not in nested defs), and whether an `if` holds it."""
    for stmt in statements:
        if isinstance(stmt, ast.Raise):
            yield stmt, conditional
        elif not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            inner = child_statements(stmt)
            yield from _raises_in(inner, conditional or isinstance(stmt, ast.If))  # type: ignore[arg-type]


def _base_exceptions_only(handler: ast.ExceptHandler) -> bool:
    """`except asyncio.CancelledError:` and the like: `except Exception` never sees them."""
    types = caught_types(handler)
    return bool(types) and all(last_name(t) in NOT_EXCEPTIONS for t in types)


def _logs_then_raises(model: GuardModel, statements: list[ast.stmt], function: ast.AST,
                      owner: ast.ClassDef | None, logged: bool) -> bool:
    for stmt in statements:
        if isinstance(stmt, ast.Raise) and logged:
            return True
        for block in _blocks(stmt):
            if _logs_then_raises(model, block, function, owner, logged):
                return True
        logged = logged or any(
            isinstance(node, ast.Call) and (found := log_call(node, model.loggers, function, owner)) is not None
            and found.traceback for node in walk_local(stmt))
    return False


def _blocks(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists nested in a compound statement (not in nested defs)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return []
    blocks = [getattr(stmt, name) for name in ("body", "orelse", "finalbody")
              if isinstance(getattr(stmt, name, None), list)]
    blocks += [handler.body for handler in getattr(stmt, "handlers", [])]
    blocks += [case.body for case in getattr(stmt, "cases", [])]
    return blocks


# --- BGT402 ---------------------------------------------------------------------------


def swallow_fix(model: GuardModel, handler: ast.ExceptHandler, function: ast.AST | None) -> HandlerFix | NoFix:
    """How to make a swallowing handler log the traceback, keeping its level."""
    if _comment_mentions_traceback(model, handler):
        return NoFix("a comment in the handler mentions the traceback; if it is left out on purpose, "
                     "pass exc_info=False to say so")
    owner = model.module.owner_class.get(id(function)) if function is not None else None
    calls = sorted((n for n in walk_local(list(handler.body)) if isinstance(n, ast.Call)),
                   key=lambda n: (n.lineno, n.col_offset))
    logged = [(call, found) for call in calls
              if (found := log_call(call, model.loggers, function, owner)) is not None
              and found.kind in ("logging", "loguru", "structlog")]
    if logged:
        call, found = max(logged, key=lambda pair: _severity(pair[1].level))  # the first of the highest
        return _level_fix(call, found.kind, found.level, _overrides_error(model))
    if function is None:
        return NoFix("the handler is not in a function")
    body = handler.body
    if len(body) == 1 and isinstance(body[0], ast.Pass):
        choice = choose_logger(model, function, may_add=False, at=handler)
        if isinstance(choice, NoFix):
            return choice
        where = getattr(function, "name", "task")
        return HandlerFix("pass", logger=choice, writer=lambda: (
            _log_text(model, choice, "unexpected error in {}", where, "unexpected error", "function"), None))
    prints = [call for call in calls if (found := log_call(call, model.loggers, function, owner)) is not None
              and found.kind == "print" and isinstance(call.func, ast.Name)]
    if prints:
        return _print_fix(model, prints[0], function)
    unknown = next((call.func.value.id for call in calls if isinstance(call.func, ast.Attribute)
                    and call.func.attr in ANY_LEVEL and isinstance(call.func.value, ast.Name)
                    and call.func.value.id in model.loggers.imports), None)
    if unknown is not None:
        source = model.loggers.imports[unknown].rsplit(".", 1)[0]
        return NoFix(f"`{unknown}` is imported from {source}, which bgtask-lint cannot see or which does not "
                     "provably bind a logger; give the log call exc_info=True (or use .exception) yourself")
    wrapper = next((call for call in calls if model.wrapper_log_call(call, function, owner) is not None), None)
    if wrapper is not None:
        return NoFix(f"`{dotted(wrapper.func) or 'the call'}` hands its keyword arguments to a log call: "
                     "give it exc_info=True yourself")
    # `self._logger.error(f"...{e}")`: a log call, by its looks, on something not provably a
    # logger (injected, passed in): say so rather than that nothing is logged
    looks = next((call for call in calls if isinstance(call.func, ast.Attribute) and call.func.attr in ANY_LEVEL
                  and (call.args or call.keywords) and dotted(call.func.value)), None)
    if looks is not None:
        return NoFix(f"`{dotted(looks.func.value)}` is not provably a logger (bgtask-lint cannot tell what is "
                     f"bound to it); if it is one, give its .{looks.func.attr}() exc_info=True (or use "
                     ".exception) yourself")
    return NoFix("the handler neither logs nor prints; log the exception with logger.exception, or re-raise")


def _severity(level: str) -> int:
    if level not in SEVERITY and level.startswith("a"):
        level = level[1:]  # structlog's async methods: aerror, awarning
    return SEVERITY.get(level, 0)


def _overrides_error(model: GuardModel) -> bool:
    """Does a logger class of the module (a subclass of Logger or LoggerAdapter) define its
    own `error`? `LoggerAdapter.exception` goes to `log`, not to `error`: turning
    `log.error(...)` into `log.exception(...)` would skip what the override does (an alert)."""
    classes = model.loggers.logger_classes
    return bool(classes) and any(
        isinstance(stmt, ast.ClassDef) and stmt.name in classes
        and any(isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in ("error", "aerror")
                for item in stmt.body)
        for stmt in ast.walk(model.module.tree) if isinstance(stmt, ast.ClassDef))


def _level_fix(call: ast.Call, kind: str, level: str, error_overridden: bool = False) -> HandlerFix | NoFix:
    if any(kw.arg is None for kw in call.keywords):
        return NoFix("the log call passes **kwargs, which may already set exc_info")
    if any(kw.arg in ("exc_info", "exception") for kw in call.keywords):
        return NoFix("the log call already sets exc_info")
    if level in ("error", "aerror") and isinstance(call.func, ast.Attribute) and not error_overridden:
        return HandlerFix("exception", call=call, new_level="aexception" if level == "aerror" else "exception")
    if kind == "loguru":
        return HandlerFix("opt", call=call)
    return HandlerFix("exc_info", call=call)


def _print_fix(model: GuardModel, call: ast.Call, function: ast.AST) -> HandlerFix | NoFix:
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(kw.arg in (None, "sep") for kw in call.keywords):
        return NoFix("the print call has *args, **kwargs or sep=; log the exception with logger.exception")
    import_uses = _keyword_import_uses(model, call, function)
    if isinstance(import_uses, NoFix):
        return import_uses
    choice = choose_logger(model, function, may_add=False, at=call)
    if isinstance(choice, NoFix):
        return choice
    writer = None
    if not call.args:
        writer = lambda: (None, f"{module_quote(model)}unexpected error{module_quote(model)}")  # noqa: E731
    elif len(call.args) > 1:
        if choice.kind == "structlog":
            return NoFix("a print of several values has no one-message structlog form; "
                         "log the exception with logger.exception")
        placeholder = "{}" if choice.kind == "loguru" else "%s"
        writer = lambda: (None, module_quote(model) + " ".join([placeholder] * len(call.args)) + module_quote(model))  # noqa: E731
    return HandlerFix("print", call=call, logger=choice, writer=writer, import_uses=import_uses)


def _keyword_import_uses(model: GuardModel, call: ast.Call, function: ast.AST) -> tuple[str, ...] | NoFix:
    """The names a print's keywords (`file=sys.stderr`, `flush=True`) use that are bound
    only by standard-library imports the fix may drop, one per use (see HandlerFix). No
    fix when a keyword computes its value (`file=open(...)`: the log call would not open
    the file), or when it is the last use of a name another import binds (importing a
    project's module may do something: that import cannot simply go, nor stay unused)."""
    dropped: dict[str, int] = {}
    for keyword in call.keywords:
        value = keyword.value
        if isinstance(value, ast.Constant):
            continue
        parts = dotted_name(value)
        if parts is None:
            return NoFix(f"the print's {keyword.arg}= computes its value, which a log call would not; "
                         "log the exception with logger.exception")
        dropped[parts[0]] = dropped.get(parts[0], 0) + 1
    uses: list[str] = []
    tree = model.module.tree
    for name, count in dropped.items():
        imports = [node for node in import_statements(tree) if any(bound_name(a) == name for a in node.names)]
        if not imports:
            continue  # a variable: no linter calls an unused global unused
        if all(_droppable(node, name, tree, function) for node in imports):
            uses.extend([name] * count)
        elif mentions(tree, name) == count:
            return NoFix(f"the print's keywords are the last use of `{name}`, whose import would be left "
                         "unused; log the exception with logger.exception and remove the import")
    return tuple(uses)


def mentions(tree: ast.Module, name: str) -> int:
    """How often `name` is mentioned in the module outside imports: as a name, in a
    `global`, or as a word of a string (`__all__`, a string annotation)."""
    word = re.compile(rf"\b{re.escape(name)}\b")
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            count += node.id == name
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            count += node.names.count(name)
        elif isinstance(node, ast.arg):
            count += node.arg == name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            count += bool(word.search(node.value))
    return count


def _droppable(node: "ast.Import | ast.ImportFrom", name: str, tree: ast.Module, function: ast.AST) -> bool:
    """Whether the alias of `node` binding `name` imports from the standard library, and
    `node` is a statement of the module's or the function's own body (not in an `if` or a
    `try`, which its removal might leave empty)."""
    if isinstance(node, ast.ImportFrom):
        top = (node.module or "").split(".")[0] if not node.level else ""
    else:
        top = next(alias.name.split(".")[0] for alias in node.names if bound_name(alias) == name)
    in_body = any(statement is node for statement in tree.body) or \
        any(statement is node for statement in getattr(function, "body", ()))
    return top in STDLIB and in_body


def _comment_mentions_traceback(model: GuardModel, handler: ast.ExceptHandler) -> bool:
    last = getattr(handler, "end_lineno", None) or handler.lineno
    source = model.module.source
    if "\r" not in source:  # (then ast and the comment scan number the lines alike)
        # a comment is part of its line: when the handler's lines name no such word, none
        # of its comments does, and the module need not be scanned
        text = "\n".join(module_lines(model)[handler.lineno - 1:last]).lower()
        if not any(word in text for word in TRACEBACK_WORDS):
            return False
    comments = _comments(model)
    return any(word in comments.get(line, "") for line in range(handler.lineno, last + 1)
               for word in TRACEBACK_WORDS)


def module_lines(model: GuardModel) -> list[str]:
    """The lines of the model's module, split once per module (a split per target or
    handler is quadratic in big modules)."""
    key = ("lines", model.module.path)
    cached = model.index.cache.get(key)
    if isinstance(cached, tuple) and cached[0] is model.module:
        return cached[1]
    lines = source_lines(model.module.source)
    model.index.cache[key] = (model.module, lines)
    return lines


def _comments(model: GuardModel) -> dict[int, str]:
    return _scanned(model)[0]


def module_quote(model: GuardModel) -> str:
    """The quote most of the module's strings use: new log calls are written in it."""
    return _scanned(model)[1]


def _scanned(model: GuardModel) -> tuple[dict[int, str], str]:
    """(comment text by line, the module's usual quote), from one scan."""
    key = ("comments", model.module.path, id(model.module))
    cached = model.index.cache.get(key)
    if isinstance(cached, tuple):
        return cached  # type: ignore[return-value]
    found = comments_and_quote(model.module.source)
    model.index.cache[key] = found
    return found


# what tokenize (3.11) calls comments and strings, found by one regular expression: a
# name is matched whole, so a string's prefix is never the end of a name (`return"x"`);
# the same comments and counts as a tokenize pass on all 49,645 corpus files, 5.6 times
# faster (litellm's fixes tokenized their modules for 2.0 s)
_COMMENT_OR_STRING = re.compile(
    r"(?P<comment>#[^\r\n]*)"
    r"|(?P<string>[rRbBuUfF]{0,2}(?:'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'(?:[^'\\\r\n]|\\(?:\r\n|.))*'"
    r'|"(?:[^"\\\r\n]|\\(?:\r\n|.))*")'
    r")"
    r"|[^\W\d]\w*",
    re.DOTALL,
)


def comments_and_quote(source: str) -> tuple[dict[int, str], str]:
    """The lower-cased comment of each line (numbered as tokenize numbers them: lines
    end at `\n`), and the quote most one-line strings use ('"' on a tie)."""
    comments: dict[int, str] = {}
    quotes = {"'": 0, '"': 0}
    line_ends: list[int] | None = None
    for match in _COMMENT_OR_STRING.finditer(source):
        kind = match.lastgroup
        if kind == "comment":
            if line_ends is None:
                line_ends = [newline.end() for newline in re.finditer("\n", source)]
            comments[bisect.bisect_right(line_ends, match.start()) + 1] = match.group().lower()
        elif kind == "string":
            body = match.group().lstrip("rbuRBUfF")
            if not body.startswith(body[0] * 3):
                quotes[body[0]] += 1
    return comments, "'" if quotes["'"] > quotes['"'] else '"'
