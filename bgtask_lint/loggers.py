"""What is a logger, and does a call log a traceback? Decided by binding, not by spelling.

The one catalogue of logging knowledge, shared by the rules (BGT401, BGT402) and the
fixes. Pure `ast`: the fix side parses its text with `ast.parse` and asks the same
questions. A name is a logger only when bound to one:

- imported from a logging library (`import logging`, `from loguru import logger`), or
- assigned from a logger factory (`logging.getLogger(...)`, `structlog.get_logger(...)`,
  `<logger>.getChild/bind/opt(...)`, a function or method annotated `-> logging.Logger`
  (or a subclass of it) or whose every return is a logger), or
- a parameter annotated with a logger type, or `self.<attr>` assigned one of the above,

and it is not shadowed in the function by anything else (a parameter called `logger`
is not the module logger; `from math import log` is not a logger; `dialog.error(...)`
is not a log call). Loggers of other project modules are known only through the
optional `external` hook (the index answers it; see guards.py).

Detection may pass `unresolved=True`: a name imported from a module that cannot be read
(a third-party package) is then UNKNOWN, and a log-shaped call on it (`.exception(msg)`,
`.error(msg, exc_info=True)`) is believed, so a handler is not called swallowing for
want of the package's source. A fix never relies on that (the default is strict).

API: `logger_bindings(tree, external=None) -> LoggerBindings` (a dict name -> kind,
kind in {"logging", "loguru", "structlog"}), `is_logger_expr(expr, bindings, function,
owner_class)`, `log_call(call, bindings, ...)`, `logs_traceback(call, bindings, ...)`.
"""

from __future__ import annotations

import ast
import sys
from collections import deque
from typing import Any, Callable, Iterator, Optional, Tuple

from bgtask_lint.names import (
    LEAF_TYPES,
    bound_name,
    child_nodes,
    child_statements,
    dotted,
    dotted_name,
    last_name,
    walk_local,
)
from bgtask_lint.plain import Value
from bgtask_lint.scope import function_scope

KINDS = ("logging", "loguru", "structlog")
UNKNOWN = "unknown"  # possibly a logger: imported from a module nobody can read
_COMMON_LEVELS = {"debug", "info", "warning", "error", "critical", "exception", "log"}
LOG_LEVELS = {
    "logging": frozenset(_COMMON_LEVELS | {"warn", "fatal"}),
    "loguru": frozenset(_COMMON_LEVELS | {"trace", "success"}),
    "structlog": frozenset(_COMMON_LEVELS | {"warn", "fatal", "msg"}
                           | {"a" + level for level in _COMMON_LEVELS}),  # async: await log.aerror()
}
LOG_LEVELS[UNKNOWN] = frozenset().union(*LOG_LEVELS.values())
TRACEBACK_LEVELS = frozenset({"exception", "aexception"})
# methods that return a logger of the same kind (None: any kind)
DERIVING_METHODS = {"getChild": "logging", "bind": None, "opt": "loguru", "patch": "loguru",
                    "new": None, "contextualize": "loguru"}
# fastapi/logger.py binds `logger = logging.getLogger("fastapi")`
LIBRARY_LOGGERS = {"logging": "logging", "logging.root": "logging", "loguru.logger": "loguru",
                   "fastapi.logger.logger": "logging"}
LIBRARY_FACTORIES = {
    "logging.getLogger": "logging", "logging.LoggerAdapter": "logging",
    "structlog.get_logger": "structlog", "structlog.getLogger": "structlog",
    "structlog.stdlib.get_logger": "structlog", "structlog.wrap_logger": "structlog",
}
LOGGER_TYPES = {
    "logging.Logger": "logging", "logging.LoggerAdapter": "logging", "logging.RootLogger": "logging",
    "loguru.Logger": "loguru", "loguru._logger.Logger": "loguru",
    "structlog.stdlib.BoundLogger": "structlog", "structlog.BoundLogger": "structlog",
    "structlog.typing.FilteringBoundLogger": "structlog", "structlog.types.FilteringBoundLogger": "structlog",
}
LOGGING_LIBRARIES = ("logging", "loguru", "structlog")
STDLIB = frozenset(getattr(sys, "stdlib_module_names", ()))  # known, and no loggers but `logging`
TRACEBACK_PRINTS = {"traceback.print_exc", "traceback.print_exception", "traceback.print_tb"}
TRACEBACK_TEXT = {"traceback.format_exc", "traceback.format_exception", "traceback.format_tb"}
# error reporters: their names are specific enough to trust whatever the receiver
CAPTURE_METHODS = {"capture_exception", "captureException"}
PRINTS = {"print", "sys.stderr.write", "sys.stdout.write"}
OFF = (False, None, 0)

# what a name of another project module is: ("logger" | "factory" | "type", kind), or
# (UNKNOWN, UNKNOWN) when the import cannot be followed (a third-party package)
ExternalFact = Optional[Tuple[str, str]]
# (expr, function=None, wanted=None): function for its local imports; wanted ("logger",
# "factory" or "type"): the only answer the caller can use, so a name of another sort need
# not be judged (judging one may read many modules)
External = Callable[..., ExternalFact]


class LoggerBindings(dict):
    """Module-level logger names -> kind, plus what is needed to judge expressions."""

    def __init__(self) -> None:
        super().__init__()
        self.imports: dict[str, str] = {}  # local name -> dotted name it was imported as
        self.modules: set[str] = set()  # names bound by `import x` (a module is no logger)
        self.factories: dict[str, str] = {}  # module-level def returning a logger -> kind
        self.logger_classes: dict[str, str] = {}  # module-level logger type: subclass or alias
        self.possible: set[str] = set()  # module-level names that may be loggers (UNKNOWN)
        self.enclosing: dict[int, ast.AST] = {}  # id(nested def or lambda) -> enclosing def: closures
        self.external: External | None = None
        # the module's classes, and what their methods make and their `self.<attr>` are,
        # found when first asked (`factory_methods`, `attributes_of`)
        self.classes: dict[int, ast.ClassDef] = {}
        self.class_facts: dict[int, tuple[dict[str, str], set[str]]] = {}
        self.method_factories: dict[int, dict[str, str]] = {}  # id(class) -> {method: kind}
        # what the index read to make these bindings (path -> stamp, see
        # ProjectIndex.watchers); None: not known
        self.deps: dict | None = None
        # optional: `lazily(kind, cls, placeholder, fill)`, set by whoever made the bindings
        # on a project index (guards.module_loggers): keeps what is found of a class when
        # first asked in that index's memo, which tells what finding it read to whoever
        # asks later (judged while another module's findings were made, it read for those)
        self.lazily: Callable[[str, ast.ClassDef, Any, Callable[[Any], Any]], Any] | None = None

    def reused(self) -> "LoggerBindings":
        """These bindings for the index as it is now (kept bindings reused after an edit
        elsewhere): the same module-level facts, the classes judged again when asked (what
        they asked of other modules may be answered otherwise now). This object is left as
        it is: the memo of an earlier state of the index, which `fix` brings back, holds it."""
        fresh = LoggerBindings()
        fresh.update(self)
        fresh.__dict__.update((name, value) for name, value in self.__dict__.items()
                              if name not in ("class_facts", "method_factories"))
        return fresh

    def factory_methods(self, cls: ast.ClassDef) -> dict[str, str]:
        """A class's methods that return a logger (method -> kind), found when first asked,
        as `attributes_of` is (they were judged with the module's bindings, after every
        module-level name, and a method's returns never ask what another method makes)."""
        if self.lazily is not None and self.classes.get(id(cls)) is cls:
            # (filled in place: a question asked meanwhile sees the methods judged so far)
            return self.lazily("factory-methods", cls, {}, lambda found: self._fill_factory_methods(cls, found))
        found = self.method_factories.get(id(cls))
        if found is None:
            found = self.method_factories[id(cls)] = {}
            if self.classes.get(id(cls)) is cls:
                self._fill_factory_methods(cls, found)
        return found

    def _fill_factory_methods(self, cls: ast.ClassDef, found: dict[str, str]) -> dict[str, str]:
        found.update((m.name, k) for m in cls.body if isinstance(m, ast.FunctionDef) and (k := _factory_kind(m, self)))
        return found

    def attributes_of(self, cls: ast.ClassDef) -> tuple[dict[str, str], set[str]]:
        """A class's `self.<attr>` loggers: (attr -> kind, attrs that may be one). Found when
        first asked, not with the module's bindings: judging every attribute of every class
        of every module reached asked about (and parsed) most of a big project (litellm: 1,007
        of 1,557 modules loaded to re-check 73 files). The same answers as then: the rest of
        the bindings are complete, and while a class is judged its own attributes are not
        known yet (nor those of a class of another module)."""
        if self.lazily is not None and self.classes.get(id(cls)) is cls:
            return self.lazily("class-attributes", cls, ({}, set()), lambda _: _class_attributes(cls, self))
        found = self.class_facts.get(id(cls))
        if found is None:
            self.class_facts[id(cls)] = found = ({}, set())
            if self.classes.get(id(cls)) is cls:
                found = self.class_facts[id(cls)] = _class_attributes(cls, self)
        return found

    def qualified(self, expr: ast.expr) -> str | None:
        """`lg.getLogger` -> `logging.getLogger` through the module's imports."""
        parts = dotted_name(expr)
        if not parts or parts[0] not in self.imports:
            return None
        return ".".join([self.imports[parts[0]], *parts[1:]])


class LogCall(Value, frozen=True):
    __slots__ = ("kind", "level", "traceback", "exc_info_off")

    def __init__(self, kind: str, level: str, traceback: bool, exc_info_off: bool) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "kind", kind)  # a logger kind (or UNKNOWN), or "print", "traceback", "capture"
        set_field(self, "level", level)
        set_field(self, "traceback", traceback)  # the record carries the traceback
        set_field(self, "exc_info_off", exc_info_off)  # exc_info=False (or None/0) passed on purpose


TreeShape = tuple[dict[int, ast.AST], list[ast.ClassDef]]


def tree_shape(tree: ast.AST, source: str | None = None) -> TreeShape:
    """What `logger_bindings` needs of the whole tree, whatever the project around it: the
    def around each nested def or lambda (closures), and the classes. One walk; the index
    keeps it with the module (an edit elsewhere need not walk this module again). Given
    the tree's `source` without the word `lambda`, the walk looks at statements only: defs
    and classes are statements, and only a lambda is a scope inside an expression."""
    enclosing: dict[int, ast.AST] = {}
    classes: list[ast.ClassDef] = []
    _note_enclosing(tree, enclosing, classes, statements_only=source is not None and "lambda" not in source)
    return enclosing, classes


def logger_bindings(tree: ast.Module, external: External | None = None,
                    shape: TreeShape | None = None, *, types_only: bool = False,
                    lazily: Callable | None = None) -> LoggerBindings:
    """A module's logger bindings; `types_only`: only as far as its logger types
    (`logger_classes`), which nothing after them changes; `lazily`: see LoggerBindings."""
    bindings = LoggerBindings()
    bindings.external = external
    bindings.lazily = lazily
    enclosing, classes = shape if shape is not None else tree_shape(tree)
    bindings.enclosing = enclosing
    statements = list(_module_statements(tree.body))
    for stmt in statements:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            _bind_import(bindings, stmt)
    for stmt in statements:  # `LoggingAdapter = logging.LoggerAdapter[logging.Logger]`
        target, value, _ = _assignment(stmt)
        if isinstance(target, ast.Name) and isinstance(value, (ast.Name, ast.Attribute, ast.Subscript)):
            kind = annotation_kind(value, bindings)
            if kind:
                bindings.logger_classes[target.id] = kind
    for stmt in statements:
        if isinstance(stmt, ast.ClassDef):
            kind = next((k for k in (annotation_kind(base, bindings) for base in stmt.bases) if k), None)
            if kind:
                bindings.logger_classes[stmt.name] = kind
    if types_only:
        return bindings
    for stmt in statements:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kind = _factory_kind(stmt, bindings)
            if kind:
                bindings.factories[stmt.name] = kind
    for stmt in statements:
        target, value, annotation = _assignment(stmt)
        if isinstance(target, ast.Name):
            kind = (annotation is not None and annotation_kind(annotation, bindings)) \
                or (value is not None and _kind(value, bindings, None, None, 0))
            bindings.pop(target.id, None)  # the last binding decides
            bindings.possible.discard(target.id)
            if kind == UNKNOWN:
                bindings.possible.add(target.id)
            elif kind:
                bindings[target.id] = kind
    bindings.classes = {id(cls): cls for cls in classes}  # their methods and attributes: when asked
    return bindings


def is_logger_expr(expr: ast.expr, bindings: LoggerBindings, function: ast.AST | None = None,
                   owner_class: ast.ClassDef | None = None, depth: int = 0, *,
                   unresolved: bool = False) -> str | None:
    """The kind of logger `expr` evaluates to, or None when it is not provably one
    (`unresolved=True`: UNKNOWN for what only an unreadable import could tell)."""
    kind = _kind(expr, bindings, function, owner_class, depth)
    return kind if kind != UNKNOWN or unresolved else None


def annotation_kind(annotation: ast.expr, bindings: LoggerBindings) -> str | None:
    """`logging.Logger`, `Logger` (from logging), `"logging.Logger"`, `Optional[Logger]`, a
    project subclass of `logging.LoggerAdapter`, ..."""
    for node in ast.walk(annotation):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                parsed = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                continue
            found = annotation_kind(parsed, bindings)
            if found:
                return found
        elif isinstance(node, (ast.Name, ast.Attribute)):
            qualified = bindings.qualified(node)
            if qualified in LOGGER_TYPES:
                return LOGGER_TYPES[qualified]
            if isinstance(node, ast.Name) and node.id in bindings.logger_classes:
                return bindings.logger_classes[node.id]
            if qualified and qualified.split(".")[0] not in STDLIB and bindings.external is not None:
                fact = bindings.external(node, wanted="type")
                if fact is not None and fact[0] == "type":
                    return fact[1]
    return None


def log_call(call: ast.Call, bindings: LoggerBindings, function: ast.AST | None = None,
             owner_class: ast.ClassDef | None = None, *, unresolved: bool = False) -> LogCall | None:
    """What `call` logs, or None when it is not a logging (or printing, or reporting) call."""
    func = call.func
    qualified = _qualified_in(func, bindings, function) or ""
    name = dotted(func) or ""
    if last_name(func) in CAPTURE_METHODS:
        return LogCall("capture", "error", True, False)
    if qualified in TRACEBACK_PRINTS:
        return LogCall("traceback", "error", True, False)
    if name in PRINTS and _local_kind(name.split(".")[0], bindings, function, 0) is False:
        return LogCall("print", "print", _formats_traceback(call, bindings, function), False)
    if qualified.startswith("logging.") and qualified[len("logging."):] in LOG_LEVELS["logging"]:
        return level_call(call, "logging", qualified[len("logging."):], bindings, function)
    if not isinstance(func, ast.Attribute):
        return None
    kind = is_logger_expr(func.value, bindings, function, owner_class, unresolved=unresolved)
    if kind is None or func.attr not in LOG_LEVELS[kind]:
        return None
    if kind == UNKNOWN and not (call.args or any(kw.arg in ("msg", "message", "event") for kw in call.keywords)):
        return None  # a log call has a message: `task.exception()` is no log call
    return level_call(call, kind, func.attr, bindings, function)


def forwarded_level(function: ast.AST, bindings: LoggerBindings, owner_class: ast.ClassDef | None = None
                    ) -> tuple[str, str] | None:
    """(logger kind, level) when `function` is a logging wrapper that passes its own
    `**kwargs` on to a log call (`def log_error(msg, *args, **kwargs): logger.error(msg,
    *args, **kwargs)`): what its caller passes (`exc_info=True`) reaches the record."""
    kwarg = getattr(getattr(function, "args", None), "kwarg", None)
    if kwarg is None:
        return None
    for node in walk_local(list(function.body)):  # type: ignore[attr-defined]
        if isinstance(node, ast.Call) and any(
                kw.arg is None and isinstance(kw.value, ast.Name) and kw.value.id == kwarg.arg for kw in node.keywords):
            found = log_call(node, bindings, function, owner_class, unresolved=True)
            if found is not None and found.kind not in ("print", "traceback", "capture"):
                return found.kind, found.level
    return None


def logs_traceback(call: ast.Call, bindings: LoggerBindings, function: ast.AST | None = None,
                   owner_class: ast.ClassDef | None = None, *, unresolved: bool = False) -> bool:
    found = log_call(call, bindings, function, owner_class, unresolved=unresolved)
    return found is not None and found.traceback


def is_traceback_text(call: ast.Call, bindings: LoggerBindings, function: ast.AST | None = None) -> bool:
    """`traceback.format_exc()` and friends: a string holding the traceback (`traceback`
    imported at module level, or inside the function: `import traceback` in the handler)."""
    return (_qualified_in(call.func, bindings, function) or "") in TRACEBACK_TEXT


def _qualified_in(expr: ast.expr, bindings: LoggerBindings, function: ast.AST | None) -> str | None:
    """`bindings.qualified`, but a name imported inside the function (or one around it)
    counts too: `import traceback` / `from traceback import format_exc` in a handler."""
    parts = dotted_name(expr)
    scope = function
    depth = 0
    while parts and isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and depth < 8:
        local = function_scope(scope).bindings.get(parts[0])
        if local:
            imported = [_imported_as(b.node, parts[0]) for b in local
                        if b.kind == "other" and isinstance(b.node, (ast.Import, ast.ImportFrom))]
            if len(imported) == len(local) and imported[0] is not None and len(set(imported)) == 1:
                return ".".join([imported[0], *parts[1:]])
            return None  # bound locally to something else: shadowed
        scope = bindings.enclosing.get(id(scope))
        depth += 1
    return bindings.qualified(expr)


def _imported_as(stmt: ast.Import | ast.ImportFrom, local: str) -> str | None:
    """The dotted name an import statement binds `local` to (None: relative)."""
    for alias in stmt.names:
        if isinstance(stmt, ast.Import):
            if bound_name(alias) == local:
                return alias.name if alias.asname else local
        elif (alias.asname or alias.name) == local:
            return None if stmt.level else f"{stmt.module}.{alias.name}"
    return None


# --- judging expressions ---------------------------------------------------------------


def _kind(expr: ast.expr, bindings: LoggerBindings, function: ast.AST | None,
          owner_class: ast.ClassDef | None, depth: int) -> str | None:
    """A kind, UNKNOWN, or None (not a logger)."""
    if depth > 8:
        return None
    again = lambda e: _kind(e, bindings, function, owner_class, depth + 1)  # noqa: E731
    if isinstance(expr, ast.Name):
        local = _local_kind(expr.id, bindings, function, depth, owner_class)
        if local is not False:
            return local or None
        if expr.id in bindings:
            return bindings[expr.id]
        if expr.id in bindings.possible:
            return UNKNOWN
        return _external(expr, bindings, "logger")
    if isinstance(expr, ast.Attribute):
        if isinstance(expr.value, ast.Name) and expr.value.id in ("self", "cls") and owner_class is not None:
            known, possible = bindings.attributes_of(owner_class)
            if expr.attr in possible:
                return UNKNOWN
            return known.get(expr.attr)
        qualified = _qualified_in(expr, bindings, function)
        if qualified in LIBRARY_LOGGERS:
            return LIBRARY_LOGGERS[qualified]
        return _external(expr, bindings, "logger")
    if isinstance(expr, ast.Call):
        return _call_kind(expr, bindings, function, owner_class, depth, again)
    if isinstance(expr, ast.BoolOp):  # `logger or get_logger()`
        kinds = [again(value) for value in expr.values]
        known = [k for k in kinds if k and k != UNKNOWN]
        return known[0] if known else (UNKNOWN if UNKNOWN in kinds else None)
    if isinstance(expr, ast.IfExp):
        return again(expr.body) or again(expr.orelse)
    return None


def _call_kind(call: ast.Call, bindings: LoggerBindings, function: ast.AST | None,
               owner_class: ast.ClassDef | None, depth: int, again) -> str | None:
    func = call.func
    qualified = _qualified_in(func, bindings, function)  # `import logging` in the handler counts
    if qualified in LIBRARY_FACTORIES:
        return LIBRARY_FACTORIES[qualified]
    if isinstance(func, ast.Attribute) and func.attr in DERIVING_METHODS:
        receiver = again(func.value)
        wanted = DERIVING_METHODS[func.attr]
        return receiver if receiver and (wanted is None or receiver in (wanted, UNKNOWN)) else None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and func.value.id in ("self", "cls") and owner_class is not None:
        return bindings.factory_methods(owner_class).get(func.attr)
    if isinstance(func, ast.Name) and _local_kind(func.id, bindings, function, depth) is False:
        if func.id in bindings.factories:
            return bindings.factories[func.id]
        if func.id in bindings.logger_classes:
            return bindings.logger_classes[func.id]
    return _external(func, bindings, "factory")


def _external(expr: ast.expr, bindings: LoggerBindings, wanted: str) -> str | None:
    parts = dotted_name(expr)
    if not parts or parts[0] not in bindings.imports:
        return None
    origin = bindings.imports[parts[0]].split(".")[0]
    if origin in LOGGING_LIBRARIES:
        return None  # a library name that is not a logger (`logging.Formatter`)
    fact = bindings.external(expr, wanted=wanted) if bindings.external is not None else (UNKNOWN, UNKNOWN)
    if fact is not None and fact[0] == UNKNOWN:
        if origin in STDLIB:
            return None  # the standard library is known: `math.log` is no logger
        # only what an import binds, or one attribute of it: `from x import logger`,
        # `x.logger`, `x.get_logger()`; a module itself (`import x`) is no logger
        direct = (len(parts) == 1 and parts[0] not in bindings.modules) or len(parts) == 2
        return UNKNOWN if direct else None
    if fact is not None and wanted == "factory" and fact[0] == "type":
        return fact[1]  # a project subclass of logging.LoggerAdapter, instantiated
    return fact[1] if fact is not None and fact[0] == wanted else None


def level_call(call: ast.Call, kind: str, level: str, bindings: LoggerBindings,
               function: ast.AST | None = None) -> LogCall:
    """What `call`, logging at `level` on a logger of `kind`, puts in the record (also a
    call of a logging wrapper: the wrapper's level, the caller's `exc_info`)."""
    traceback = level in TRACEBACK_LEVELS
    off = False
    if kind == "loguru":
        # loguru ignores exc_info (it becomes a format argument); `opt(exception=...)` is its way
        option = _loguru_exception_option(call.func)
        if option is not None:
            traceback = traceback or not _is_off(option)
            off = _is_off(option)
    else:
        for kw in call.keywords:
            if kw.arg == "exc_info":
                off = _is_off(kw.value)
                traceback = traceback or not off
    traceback = traceback or _formats_traceback(call, bindings, function)
    return LogCall(kind, level, traceback, off and not traceback)


def _loguru_exception_option(func: ast.expr) -> ast.expr | None:
    """The `exception=` of an `.opt(...)` somewhere in the receiver chain."""
    node = func.value if isinstance(func, ast.Attribute) else None
    while isinstance(node, (ast.Call, ast.Attribute)):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr == "opt":
                for kw in node.keywords:
                    if kw.arg == "exception":
                        return kw.value
            node = node.func
        else:
            node = node.value
    return None


def _is_off(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and value.value in OFF and not isinstance(value.value, str)


def _formats_traceback(call: ast.Call, bindings: LoggerBindings, function: ast.AST | None = None) -> bool:
    return any(isinstance(n, ast.Call) and is_traceback_text(n, bindings, function) for n in ast.walk(call))


def _local_kind(name: str, bindings: LoggerBindings, function: ast.AST | None, depth: int,
                owner_class: ast.ClassDef | None = None) -> str | bool | None:
    """False: `name` is not bound in the function or the functions around it (look at the
    module). Otherwise the kind its local bindings give (None: shadowed by a non-logger)."""
    if function is None or not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return False
    scope = function_scope(function)
    local = scope.bindings.get(name)
    if name in scope.globals_:
        return False
    if not local:  # a closure reads the enclosing function's binding
        return _local_kind(name, bindings, bindings.enclosing.get(id(function)), depth, owner_class)
    kinds = set()
    for binding in local:
        if binding.kind == "param":
            kind = annotation_kind(binding.annotation, bindings) if binding.annotation is not None else None
        elif binding.kind == "assign" and (binding.annotation is not None or binding.value is not None):
            kind = (binding.annotation is not None and annotation_kind(binding.annotation, bindings)) or \
                (binding.value is not None and _value_kind(binding.value, bindings, function, depth, owner_class))
        elif binding.kind == "other" and isinstance(binding.node, (ast.Import, ast.ImportFrom)):
            kind = _import_kind(binding.node, name) or _local_import_kind(binding.node, name, bindings, function)
        else:
            kind = None
        if not kind:
            return None
        kinds.add(kind)
    if len(kinds) == 1:
        return kinds.pop()
    return UNKNOWN if UNKNOWN in kinds else None


def _local_import_kind(stmt: ast.Import | ast.ImportFrom, name: str, bindings: LoggerBindings,
                       function: ast.AST) -> str | None:
    """`from app.log import logger` inside the function: what the project module binds
    (through the `external` hook, asked in the function's scope)."""
    if not isinstance(stmt, ast.ImportFrom) or bindings.external is None:
        return None
    origin = (stmt.module or "").split(".")[0]
    if not stmt.level and (origin in STDLIB or origin in LOGGING_LIBRARIES):
        return None  # known: `from math import log` is no logger
    fact = bindings.external(ast.Name(id=name, ctx=ast.Load()), function, wanted="logger")
    if fact is not None and fact[0] in ("logger", UNKNOWN):
        return fact[1]
    return None


def _value_kind(value: ast.expr, bindings: LoggerBindings, function: ast.AST, depth: int,
                owner_class: ast.ClassDef | None) -> str | None:
    # `logger = logger.bind(x=1)` in a function reads the module's logger on the right
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
            and value.func.attr in DERIVING_METHODS and isinstance(value.func.value, ast.Name):
        return _kind(value, bindings, None, owner_class, depth + 1)
    return _kind(value, bindings, function, owner_class, depth + 1)


def _bind_import(bindings: LoggerBindings, stmt: ast.Import | ast.ImportFrom) -> None:
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            local = bound_name(alias)
            bindings.imports[local] = alias.name if alias.asname else local
            bindings.modules.add(local)
            kind = _import_kind(stmt, local)
            if kind:
                bindings[local] = kind
        return
    if stmt.level:  # relative: a project module, only the external hook knows it
        prefix = "." * stmt.level + (stmt.module or "")
    else:
        prefix = stmt.module or ""
    for alias in stmt.names:
        local = alias.asname or alias.name
        bindings.imports[local] = f"{prefix}.{alias.name}" if prefix and not prefix.endswith(".") \
            else prefix + alias.name
        kind = _import_kind(stmt, local)
        if kind:
            bindings[local] = kind


def _import_kind(stmt: ast.Import | ast.ImportFrom, local: str) -> str | None:
    for alias in stmt.names:
        if isinstance(stmt, ast.Import):
            if bound_name(alias) == local and alias.name == "logging":
                return "logging"
        elif (alias.asname or alias.name) == local and not stmt.level:
            qualified = f"{stmt.module}.{alias.name}"
            if qualified in LIBRARY_LOGGERS:
                return LIBRARY_LOGGERS[qualified]
    return None


def _assignment(stmt: ast.AST) -> tuple[ast.expr | None, ast.expr | None, ast.expr | None]:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        return stmt.targets[0], stmt.value, None
    if isinstance(stmt, ast.AnnAssign):
        return stmt.target, stmt.value, stmt.annotation
    return None, None, None


def _factory_kind(function: ast.FunctionDef | ast.AsyncFunctionDef, bindings: LoggerBindings) -> str | None:
    """A def annotated `-> logging.Logger` (or similar), or whose every return is a logger."""
    if isinstance(function, ast.AsyncFunctionDef):
        return None
    if function.returns is not None:
        kind = annotation_kind(function.returns, bindings)
        if kind:
            return kind
    returns = [n for n in _walk_function(function) if isinstance(n, ast.Return)]
    if not returns or any(r.value is None for r in returns):
        return None
    found = None
    for returned in returns:  # (the first return that is not a logger, or of another kind, decides)
        kind = _kind(returned.value, bindings, function, None, 1)  # type: ignore[arg-type]
        if kind is None or (found is not None and kind != found):
            return None
        found = kind
    return found


def _class_attributes(cls: ast.ClassDef, bindings: LoggerBindings) -> tuple[dict[str, str], set[str]]:
    """`logger = logging.getLogger()` in the class body, `self.logger = <logger>` in a method:
    (attributes every assignment makes a logger, attributes that may be one)."""
    kinds: dict[str, set[str | None]] = {}
    for stmt in cls.body:
        target, value, annotation = _assignment(stmt)
        if isinstance(target, ast.Name):
            kinds.setdefault(target.id, set()).add(
                (annotation is not None and annotation_kind(annotation, bindings))
                or (value is not None and _kind(value, bindings, None, cls, 1)) or None)
    for method in cls.body:
        if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in _walk_function(method):
            target, value, annotation = _assignment(node)
            if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                    and target.value.id in ("self", "cls")):
                continue
            if annotation is None and isinstance(value, ast.Constant) and value.value is None:
                continue  # `self.logger = None` until it is set: neither way
            kinds.setdefault(target.attr, set()).add(
                (annotation is not None and annotation_kind(annotation, bindings))
                or (value is not None and _kind(value, bindings, method, cls, 1)) or None)
    known = {attr: next(iter(found)) for attr, found in kinds.items()
             if len(found) == 1 and None not in found and UNKNOWN not in found}
    possible = {attr for attr, found in kinds.items() if None not in found and attr not in known}
    return known, possible


def _note_enclosing(tree: ast.AST, enclosing: dict[int, ast.AST], classes: list[ast.ClassDef],
                    statements_only: bool = False) -> None:
    """id(nested def or lambda) -> the def around it, and every class, in the order of
    `ast.walk` (iterative: deep expressions are fine). `statements_only`: for a tree with
    no lambda (the order of the statements, level by level, is the same)."""
    queue: deque[tuple[ast.AST, ast.AST | None]] = deque([(tree, None)])
    while queue:
        node, function = queue.popleft()
        # (no def is in a leaf)
        for child in child_statements(node) if statements_only else child_nodes(node, LEAF_TYPES):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                if function is not None:
                    enclosing[id(child)] = function
                queue.append((child, child))
            elif isinstance(child, ast.ClassDef):  # a class body is no closure scope for its methods
                classes.append(child)
                queue.append((child, None))
            else:
                queue.append((child, function))


def _walk_function(function: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function body, not entering nested functions or classes."""
    return walk_local(list(getattr(function, "body", [])))


def _module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at import, looking into `if`/`try` blocks (TYPE_CHECKING, fallbacks)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from _module_statements(stmt.body)
            yield from _module_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            yield from _module_statements(stmt.body)  # type: ignore[attr-defined]
            for handler in stmt.handlers:  # type: ignore[attr-defined]
                yield from _module_statements(handler.body)
            yield from _module_statements(stmt.orelse)  # type: ignore[attr-defined]
            yield from _module_statements(stmt.finalbody)  # type: ignore[attr-defined]
