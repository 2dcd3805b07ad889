"""The guard model: is a task body guarded, does an `except` handler log the traceback?

Shared by BGT401 (unguarded task body) and BGT402 (swallowed exceptions). What counts as
a logger comes from loggers.py (by binding); this module adds what needs the project
index: loggers imported from other modules, guard decorators, done-callbacks, and
project helpers that log a traceback for the handler that calls them.
"""

from __future__ import annotations

import ast
import weakref
from typing import Callable, Iterator

from bgtask_lint.index import FUNCTION_TYPES, ClassSym, ExternalSym, FunctionSym, ModuleInfo, ProjectIndex, ValueSym
from bgtask_lint.loggers import (
    LIBRARY_FACTORIES,
    LIBRARY_LOGGERS,
    LOG_LEVELS,
    UNKNOWN,
    ExternalFact,
    LogCall,
    LoggerBindings,
    forwarded_level,
    is_traceback_text,
    level_call,
    log_call,
    logger_bindings,
    tree_shape,
)
from bgtask_lint.names import NESTED_SCOPES, caught_types, dotted, last_name, walk_local
from bgtask_lint.plain import Value
from bgtask_lint.scope import function_scope, parameters

RELEASE_METHODS = {"close", "release", "dispose", "aclose", "cancel"}  # cancel: a helper task (V2.7 teardown)
NEVER_RETURNS = {"NoReturn", "Never"}
# library calls that never return: the failure ends the task (SystemExit) or the process
PROCESS_EXITS = {"sys.exit", "os._exit", "os.abort"}
TRIVIAL_METHODS = {"release", "set", "cancel", "close", "aclose"}  # aclose: close's async twin
CLOSE_METHODS = {"close", "aclose"}  # a close with arguments (a websocket's code and reason) is still one
BROAD_EXCEPTIONS = {"Exception", "BaseException"}
TRY_TYPES = tuple(t for t in (ast.Try, getattr(ast, "TryStar", None)) if t is not None)
# V2.6: a loop header may call these (by binding: a shadowed `range` is not the builtin)
LOOP_BUILTINS = {"range", "enumerate", "zip", "sorted", "reversed", "list", "set", "tuple", "dict", "len"}
LOOP_METHODS = {"items", "keys", "values"}
# state queries of events, futures, queues and locks, with no arguments: they cannot fail
# either, and `while not stop_event.is_set():` is the usual header of a task's loop
STATE_METHODS = {"is_set", "done", "cancelled", "empty", "full", "qsize", "locked"}
SUPPRESS = {"contextlib.suppress"}
RETRIEVE_METHODS = {"exception", "result"}
# how a task object is put in a collection (whose loop may add its done-callbacks)
TASK_COLLECTING = {"add", "append", "appendleft"}
# calls that cannot fail with an Exception, next to a guarded helper (one level down):
# the loop-header builtins above, these, and logging calls (by binding)
HARMLESS_BUILTINS = LOOP_BUILTINS | {"isinstance", "issubclass", "callable", "hasattr", "id",
                                    "max", "min", "abs", "round", "str", "repr", "bool", "any", "all"}
HARMLESS_CALLS = {"asyncio.sleep", "anyio.sleep", "trio.sleep", "time.time", "time.monotonic",
                  "time.perf_counter", "time.monotonic_ns", "time.time_ns",
                  # the running loop and the current task, asked from inside a task; new
                  # synchronisation objects; ids and clocks
                  "asyncio.get_running_loop", "asyncio.current_task", "asyncio.Event", "asyncio.Queue",
                  "asyncio.Lock", "asyncio.Semaphore", "asyncio.Condition", "uuid.uuid4", "uuid.uuid1",
                  "datetime.datetime.now", "datetime.datetime.utcnow", "os.getpid", "threading.get_ident"}
# `event.set()`, `task.cancel()` with no arguments, not awaited, on a name bound to an Event,
# a Task or a Future (by its annotation or by what made it): they cannot fail (V2.6 counts
# one of them alone as a trivial body). Another object's `.cancel()` may be a network call.
SIGNAL_METHODS = {"set", "cancel"}
SIGNAL_TYPES = {"asyncio.Event", "asyncio.Task", "asyncio.Future", "asyncio.TimerHandle", "asyncio.Handle",
                "threading.Event", "anyio.Event", "asyncio.tasks.Task", "asyncio.futures.Future",
                "asyncio.locks.Event"}
SIGNAL_MAKERS = {"asyncio.Event", "threading.Event", "anyio.Event", "asyncio.create_task", "asyncio.ensure_future"}
SIGNAL_MAKER_METHODS = {"create_task", "create_future", "call_later", "call_at", "call_soon"}  # of a loop
# what a handler may hand the caught exception to without handing it on: text and inspection
INSPECTING_BUILTINS = {"str", "repr", "type", "format", "isinstance", "issubclass", "getattr", "hasattr",
                       "id", "vars", "dir", "len", "bool", "print"}
LOG_METHODS = LOG_LEVELS[UNKNOWN]  # `<anything>.warning(msg, e)` is never a hand-over
HELPER_DEPTH = 3  # how far down project helpers are followed (guarded bodies, handing on)


_ACCEPT: dict[str, Callable[["HandlerFacts"], bool]] = {
    "guards": lambda facts: facts.guards,
    "covers": lambda facts: facts.covers,
}


def contains_call(stmt: ast.stmt) -> bool:
    if isinstance(stmt, NESTED_SCOPES):
        # a nested def runs nothing but its decorators and defaults
        extras: list[ast.AST] = list(getattr(stmt, "decorator_list", []))
        if not isinstance(stmt, ast.ClassDef):
            extras += [d for d in stmt.args.defaults + stmt.args.kw_defaults if d is not None]  # type: ignore[union-attr]
        return any(isinstance(n, ast.Call) for e in extras for n in ast.walk(e))
    return any(isinstance(node, ast.Call) for node in walk_local(stmt))


def _has_call(nodes: list[ast.AST]) -> bool:
    return any(isinstance(n, (ast.Call, ast.Await)) for node in nodes for n in walk_local(node))


def strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


def always_raises(body: list[ast.stmt]) -> bool:
    """Every path through `body` ends in a `raise` (the caller checks there is no `return`)."""
    for stmt in body:
        if isinstance(stmt, ast.Raise):
            return True
        if isinstance(stmt, ast.If) and always_raises(stmt.body) and always_raises(stmt.orelse):
            return True
        if isinstance(stmt, (ast.With, ast.AsyncWith)) and always_raises(stmt.body):
            return True
        if isinstance(stmt, TRY_TYPES):
            if always_raises(stmt.finalbody):  # type: ignore[attr-defined]
                return True
            if always_raises(stmt.body) and all(always_raises(h.body) for h in stmt.handlers):  # type: ignore[attr-defined]
                return True
    return False


def _passes_name(expr: ast.expr, name: str, calls: bool = True) -> bool:
    """`e`, `(None, e)`, `{"error": e}`, `Failed(e)`: the exception object itself, not its text
    (`calls=False`: not through a call, which the caller judges itself)."""
    if isinstance(expr, ast.Name):
        return expr.id == name
    if isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
        return any(_passes_name(e, name, calls) for e in expr.elts)
    if isinstance(expr, ast.Dict):
        return any(v is not None and _passes_name(v, name, calls) for v in expr.values)
    if isinstance(expr, ast.Call) and calls:
        if isinstance(expr.func, ast.Name) and expr.func.id in INSPECTING_BUILTINS:
            return False
        return any(isinstance(a, ast.Name) and a.id == name for a in expr.args) \
            or any(isinstance(kw.value, ast.Name) and kw.value.id == name for kw in expr.keywords)
    return False


def is_broad_handler(handler: ast.ExceptHandler) -> bool:
    return handler.type is None or any(last_name(t) in BROAD_EXCEPTIONS for t in caught_types(handler))


class HandlerFacts(Value, frozen=True):
    __slots__ = ("broad", "logs", "traceback", "reraises", "exc_info_off", "hands_on")

    def __init__(self, broad: bool, logs: bool, traceback: bool, reraises: bool, exc_info_off: bool,
                 hands_on: bool = False) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "broad", broad)
        set_field(self, "logs", logs)  # logs (or prints, or reports) anything
        set_field(self, "traceback", traceback)  # ... with the traceback
        set_field(self, "reraises", reraises)
        set_field(self, "exc_info_off", exc_info_off)  # a log call passes exc_info=False on purpose
        set_field(self, "hands_on", hands_on)  # passes the caught exception object itself on (queue, future, return)

    @property
    def guards(self) -> bool:
        """Logs the traceback, or logs and re-raises."""
        return self.broad and (self.traceback or (self.logs and self.reraises))

    @property
    def covers(self) -> bool:
        """Stops the exception here (guarding or swallowing); one that only re-raises does not."""
        return self.broad and (self.guards or not self.reraises)

    @property
    def swallows(self) -> bool:
        return self.broad and not self.traceback and not self.reraises and not self.hands_on


class GuardModel:
    """Guard facts for one module of the project (get it with `guard_model`)."""

    def __init__(self, index: ProjectIndex, module: ModuleInfo):
        self.index = index
        self.module = module
        self._loggers: LoggerBindings | None = None

    @property
    def loggers(self) -> LoggerBindings:
        """The module's logger bindings. Asked of the index at every use: a cached run's memo
        adds what finding them read to each check that uses them (a model kept from an
        earlier check would not)."""
        if self._loggers is not None:
            return self._loggers
        return module_loggers(self.index, self.module)

    @loggers.setter
    def loggers(self, bindings: LoggerBindings) -> None:
        self._loggers = bindings

    # --- handlers ----------------------------------------------------------------------

    def handler(self, handler: ast.ExceptHandler, function: ast.AST | None) -> HandlerFacts:
        """What a handler does. An entry of the index's memo, not of this model: finding the
        facts reads other modules (a log helper's), and the on-disk cache's recording memo
        adds those reads to every check that finds the facts already known (kept by the
        model, a check that asked second depended on less than it read)."""
        key = ("handler-facts", self.module.path, id(handler), id(function))
        known = self.index.cache.get(key)
        if known is not None and known[0] is handler and known[1] is function:
            return known[2]
        facts = self._handler_facts(handler, function)
        self.index.cache[key] = (handler, function, facts)
        return facts

    def _handler_facts(self, handler: ast.ExceptHandler, function: ast.AST | None) -> HandlerFacts:
        owner = self.module.owner_class.get(id(function)) if function is not None else None
        logs = traceback = reraises = off = False
        # names holding the traceback text: `tb = traceback.format_exc()`, also inside a value
        # (`info = Debug(traceback_str=format_tb_helper(...))`), also through a project helper
        traceback_names: set[str] = {
            t.id for node in walk_local(list(handler.body)) if isinstance(node, ast.Assign)
            and any(isinstance(n, ast.Call) and self._traceback_text(n, function, owner) for n in ast.walk(node.value))
            for t in node.targets if isinstance(t, ast.Name)}
        for node in walk_local(list(handler.body)):
            if isinstance(node, ast.Raise):
                reraises = True
            elif isinstance(node, ast.Call):
                found = log_call(node, self.loggers, function, owner, unresolved=True)
                if found is not None:
                    logs = True
                    traceback = traceback or found.traceback or any(
                        (isinstance(n, ast.Name) and n.id in traceback_names)
                        or (isinstance(n, ast.Call) and self._traceback_text(n, function, owner))
                        for n in ast.walk(node))
                    off = off or found.exc_info_off
                elif self._helper_logs_traceback(node, function, owner):
                    logs = traceback = True
                elif (forwarded := self.wrapper_log_call(node, function, owner)) is not None:
                    logs = True
                    traceback = traceback or forwarded.traceback
                    off = off or forwarded.exc_info_off
                    reraises = reraises or self._helper_raises(node, function, owner)  # `fail(msg)`: logs, raises
                elif self._helper_raises(node, function, owner):
                    reraises = True
        hands_on = handler.name is not None and self._hands_on(list(handler.body), handler.name, function, owner, 0)
        return HandlerFacts(is_broad_handler(handler), logs, traceback, reraises, off, hands_on)

    def _traceback_text(self, call: ast.Call, function: ast.AST | None, owner: ast.ClassDef | None) -> bool:
        """`traceback.format_exc()`, or a project function whose every `return` is such a
        call (`_get_traceback_str_for_error(...)` returning `traceback.format_exc()`)."""
        if is_traceback_text(call, self.loggers, function):
            return True
        sym = self._called(call, function, owner)

        def returns_traceback(sym: FunctionSym) -> bool:
            bindings = module_loggers(self.index, sym.module)
            returns = [n for n in walk_local(list(sym.node.body)) if isinstance(n, ast.Return)]
            return bool(returns) and all(
                isinstance(r.value, ast.Call) and is_traceback_text(_joined(r.value), bindings, sym.node)
                for r in returns)

        return sym is not None and bool(self._helper_fact("traceback-text", sym, returns_traceback))

    def _hands_on(self, body: list[ast.stmt], name: str, function: ast.AST | None,
                  owner: ast.ClassDef | None, depth: int) -> bool:
        """Does `body` pass the exception bound to `name` itself on, for a consumer to re-raise
        or report: returned (`return e`, `return Failed(e)`), stored on `self` (`self._exception = e`,
        a task-result object), or handed to a call that is not a
        log call nor a text/inspection builtin (`fut.set_exception(e)`, `queue.put_nowait(e)`,
        `self._forward(e)`)? Through a project function, only when that function hands its
        parameter on in turn (one that only logs it, or raises it on some paths only, hands
        nothing on; one that always raises is a re-raise); depth-limited."""
        for node in walk_local(body):
            if isinstance(node, ast.Return) and node.value is not None and _passes_name(node.value, name, False):
                return True
            if isinstance(node, ast.Assign) and _passes_name(node.value, name, False) and any(
                    isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
                    for t in node.targets):
                return True  # kept with its traceback where others read it (`self._exception = e`)
            if not isinstance(node, ast.Call):
                continue
            positions = [i for i, a in enumerate(node.args) if isinstance(a, ast.Name) and a.id == name]
            keywords = [kw.arg for kw in node.keywords if isinstance(kw.value, ast.Name) and kw.value.id == name]
            if not positions and not keywords:
                continue
            if log_call(node, self.loggers, function, owner, unresolved=True) is not None \
                    or (isinstance(node.func, ast.Attribute) and node.func.attr in LOG_METHODS):
                continue  # logged (with or without the traceback: the handler's facts say which)
            if self._inspects(node, function):
                continue
            sym = self.index.resolve(self.module, node.func, function, owner) \
                if isinstance(node.func, (ast.Name, ast.Attribute)) else None
            if not isinstance(sym, FunctionSym):
                return True  # a queue, a future, a library: it has the exception now
            if depth >= HELPER_DEPTH:
                continue
            params = [arg.arg for arg, _ in parameters(sym.node)]
            if params and params[0] in ("self", "cls") and isinstance(node.func, ast.Attribute):
                params = params[1:]
            received = [params[i] for i in positions if i < len(params)] + [k for k in keywords if k in params]
            helper = guard_model(self.index, sym.module)
            helper_owner = sym.module.owner_class.get(id(sym.node))
            key = ("hands-on", sym.key, tuple(received), depth + 1)  # (as "body-ok")
            if key not in self.index.cache:
                self.index.cache[key] = False  # recursion guard
                self.index.cache[key] = any(
                    helper._hands_on(list(sym.node.body), p, sym.node, helper_owner, depth + 1) for p in received)
            if self.index.cache[key]:
                return True
        return False

    def _helper_raises(self, call: ast.Call, function: ast.AST | None, owner: ast.ClassDef | None) -> bool:
        """A project function that never returns (`-> NoReturn`, or no `return` and every
        path ends in a `raise`: `if auth: raise A(...) from e` then `raise B(...) from e`):
        `raise_classified_failure(e)` in a handler re-raises; so does `sys.exit(1)` (it
        raises SystemExit) and a call that ends the process (`os._exit`, `os.abort`)."""
        if not isinstance(call.func, (ast.Name, ast.Attribute)):
            return False
        if self.index.qualified_name(self.module, call.func, function) in PROCESS_EXITS:
            return True
        sym = self._called(call, function, owner)
        if sym is None:
            return False
        node = sym.node
        returns = node.returns
        if returns is not None and (self.index.qualified_name(sym.module, returns) or "").rsplit(".", 1)[-1] \
                in NEVER_RETURNS:
            return True
        body = strip_docstring(node.body)
        return bool(body) and always_raises(body) \
            and not any(isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom)) for n in walk_local(list(body)))

    def _helper_logs_traceback(self, call: ast.Call, function: ast.AST | None,
                               owner: ast.ClassDef | None) -> bool:
        """A project function called in the handler that logs the traceback itself
        (`log_exception(request)` doing `logger.error(..., exc_info=True)`); one level."""
        sym = self._called(call, function, owner)

        def logs_traceback(sym: FunctionSym) -> bool:
            bindings = module_loggers(self.index, sym.module)
            helper_owner = sym.module.owner_class.get(id(sym.node))
            return any(
                isinstance(n, ast.Call)
                and (found := log_call(n, bindings, sym.node, helper_owner, unresolved=True)) is not None
                and found.traceback
                for n in walk_local(list(sym.node.body)))

        return sym is not None and bool(self._helper_fact("logs-traceback", sym, logs_traceback))

    def wrapper_log_call(self, call: ast.Call, function: ast.AST | None,
                          owner: ast.ClassDef | None) -> LogCall | None:
        """A call of a project logging wrapper that passes its `**kwargs` on to a log call
        (`log_error("failed", exc_info=True)`): a log call of the wrapper's level, with the
        caller's `exc_info`; one level."""
        sym = self._called(call, function, owner)
        found = None if sym is None else self._helper_fact("log-wrapper", sym, lambda sym: forwarded_level(
            sym.node, module_loggers(self.index, sym.module), sym.module.owner_class.get(id(sym.node))))
        if found is None:
            return None
        kind, level = found  # type: ignore[misc]
        return level_call(call, kind, level, self.loggers, function)

    def _called(self, call: ast.Call, function: ast.AST | None, owner: ast.ClassDef | None) -> FunctionSym | None:
        """The project function (not a lambda) a call in this module runs."""
        if not isinstance(call.func, (ast.Name, ast.Attribute)):
            return None
        sym = self.index.resolve(self.module, call.func, function, owner)
        return sym if isinstance(sym, FunctionSym) and not isinstance(sym.node, ast.Lambda) else None

    def _helper_fact(self, name: str, sym: FunctionSym, compute: Callable[[FunctionSym], object]) -> object:
        """What `compute` says of a project function, once per state of the index."""
        key = (name, sym.key)
        if key not in self.index.cache:
            self.index.cache[key] = compute(sym)
        return self.index.cache[key]

    # --- bodies ------------------------------------------------------------------------

    def body_guarded(self, function: ast.AST) -> bool:
        """Every call statement inside a try whose broad handler guards (V1 + V2.6), or a
        call of a project function whose own body is guarded (one level down)."""
        return self._body_ok(function, "guards", 0)

    def body_covered(self, function: ast.AST) -> bool:
        """Every call statement inside a broad handler that stops the exception, guarding or
        swallowing (`contextlib.suppress(Exception)` too): then any problem is BGT402's."""
        return self._body_ok(function, "covers", 0)

    def _body_ok(self, function: ast.AST, mode: str, depth: int) -> bool:
        body = strip_docstring(function.body)  # type: ignore[attr-defined]
        if self._covered(body, function, _ACCEPT[mode], mode == "covers"):
            return True
        return depth < HELPER_DEPTH and self.guarded_below(body, function, mode, depth)

    def guarded_below(self, statements: list[ast.stmt], function: ast.AST, mode: str = "guards",
                      depth: int = 0, *, helper_needed: bool = False) -> bool:
        """Guarded one level down: every fallible call is in a guarding `try` or calls a
        project function (or nested def) whose body is guarded itself, and at least one is
        such a call; the rest cannot fail (`len`, `isinstance`, `asyncio.sleep`,
        `time.monotonic()`, logging). Without such a call (`helper_needed=False`), calls that
        cannot fail may still stand outside a guarding `try`, as call-free statements do,
        and so may a task's own log calls: beside tries whose handlers log the traceback,
        or one alone (V2.6: a task body whose one call is a log call is trivial, and calls
        that cannot fail are as good as none); also beside a handler that swallows (BGT402
        reports it: one problem, one finding). Beside a handler that hands the error on, and
        in a helper (where a log call stands for its work), they count."""
        used: dict[str, int] = {}
        if not self._covered(statements, function, _ACCEPT[mode], mode == "covers", (mode, depth, used)):
            return False
        logs_harmless = depth == 0 and not used.get("hands-on") \
            and (bool(used.get("try")) or used.get("log", 0) == 1)
        return bool(used.get("helper")) or (not helper_needed and (not used.get("log") or logs_harmless))

    def _covered(self, statements: list[ast.stmt], function: ast.AST,
                 accept: Callable[[HandlerFacts], bool], suppress_counts: bool,
                 below: tuple[str, int, dict[str, int]] | None = None) -> bool:
        def calls_ok(nodes: list[ast.AST]) -> bool:
            return below is not None and self._calls_guarded_below(nodes, function, below)

        def covered(stmts: list[ast.stmt]) -> bool:
            for position, stmt in enumerate(stmts):
                if not contains_call(stmt):
                    continue
                if self._accepted_try(stmt, function, accept):
                    if below is not None:
                        below[2]["try"] = below[2].get("try", 0) + 1
                        # beside a handler that hands the exception on, nothing logs it: a
                        # log call there stands for work (`guarded_below`)
                        if not self._accepted_try(stmt, function, _ACCEPT["guards"]) \
                                and self._hands_on_try(stmt, function):
                            below[2]["hands-on"] = below[2].get("hands-on", 0) + 1
                    continue
                if suppress_counts and self._suppresses_broadly(stmt, function):
                    continue
                if isinstance(stmt, (ast.For, ast.While)) and (
                        self._plain_loop_header(stmt, function)
                        or calls_ok([stmt.iter] if isinstance(stmt, ast.For) else [stmt.test])):
                    if covered(stmt.body) and covered(stmt.orelse):
                        continue
                # call-free conditions and context managers may stand outside, as call-free statements do
                if isinstance(stmt, ast.If) and (not _has_call([stmt.test]) or calls_ok([stmt.test])):
                    if covered(stmt.body) and covered(stmt.orelse):
                        continue
                if isinstance(stmt, (ast.With, ast.AsyncWith)) and covered(stmt.body):
                    items = [item.context_expr for item in stmt.items]
                    if not _has_call(items) or calls_ok(items):  # type: ignore[arg-type]
                        continue
                # a try that does not guard (`except CancelledError: return`) around what is
                # covered anyway, handlers included, is covered too
                if isinstance(stmt, TRY_TYPES) and covered(stmt.body) and covered(stmt.orelse) \
                        and covered(stmt.finalbody) and all(covered(h.body) for h in stmt.handlers):
                    continue
                if position + 1 < len(stmts) and self._acquire_idiom(stmt, stmts[position + 1], function, accept):
                    continue
                if not isinstance(stmt, (ast.For, ast.While, ast.If, ast.With, ast.AsyncWith, *TRY_TYPES)) \
                        and calls_ok([stmt]):
                    continue
                return False
            return True

        return covered(statements)

    def _calls_guarded_below(self, nodes: list[ast.AST], function: ast.AST,
                             below: tuple[str, int, dict[str, int]]) -> bool:
        """Every call in `nodes` cannot fail, logs, or calls a project function (or a nested
        def) whose body is guarded; `below` = (mode, depth, counts of what was relied on)."""
        mode, depth, used = below
        owner = self.module.owner_class.get(id(function))
        for node in walk_local(nodes):
            if not isinstance(node, ast.Call):
                continue
            if self._harmless_call(node, function):
                continue
            if log_call(node, self.loggers, function, owner, unresolved=True) is not None:
                used["log"] = used.get("log", 0) + 1
                continue
            target = self._helper_of(node, function, owner)
            if target is None:
                return False
            module, helper = target
            # a helper that swallows is BGT402's finding only where BGT402 looks: same module
            helper_mode = mode if module is self.module else "guards"
            # the depth is part of the question: how far down the helpers are followed
            # decides the answer, which must not depend on who asked first
            key = ("body-ok", module.path, id(helper), helper_mode, depth + 1)
            if key not in self.index.cache:
                self.index.cache[key] = False  # recursion guard
                self.index.cache[key] = guard_model(self.index, module)._body_ok(helper, helper_mode, depth + 1)
            if not self.index.cache[key]:
                return False
            used["helper"] = used.get("helper", 0) + 1
        return True

    def _harmless_call(self, call: ast.Call, function: ast.AST) -> bool:
        """A call that cannot fail with an Exception: `len(x)`, `isinstance(...)`,
        `d.items()`, `await asyncio.sleep(n)` (only cancellation), `time.monotonic()`."""
        func = call.func
        if isinstance(func, ast.Name) and func.id in HARMLESS_BUILTINS and self._qualified(func, function) == func.id:
            return True
        if isinstance(func, ast.Attribute) and func.attr in LOOP_METHODS and not call.args:
            return True
        if isinstance(func, ast.Attribute) and func.attr in SIGNAL_METHODS and not call.args and not call.keywords \
                and isinstance(func.value, ast.Name) and self._is_signal(func.value.id, function):
            return True  # `done_event.set()`, `task.cancel()`: V2.6's trivial calls
        return self._qualified(func, function) in HARMLESS_CALLS

    def _is_signal(self, name: str, function: ast.AST) -> bool:
        """`name` is bound, in `function`, only to Events, Tasks or Futures: a parameter
        annotated so, or a name assigned from `asyncio.Event()`, `create_task(...)`, ..."""
        bindings = function_scope(function).values(name)
        if not bindings:
            return False
        for binding in bindings:
            if binding.annotation is not None:
                if self._qualified(binding.annotation, function) not in SIGNAL_TYPES:
                    return False
            elif binding.kind == "assign" and isinstance(binding.value, ast.Call):
                maker = binding.value.func
                if self._qualified(maker, function) not in SIGNAL_MAKERS and not (
                        isinstance(maker, ast.Attribute) and maker.attr in SIGNAL_MAKER_METHODS):
                    return False
            else:
                return False
        return True

    def _helper_of(self, call: ast.Call, function: ast.AST,
                   owner: ast.ClassDef | None) -> tuple[ModuleInfo, ast.AST] | None:
        """The project function (or nested def) a call runs."""
        local = local_def(call.func, function)
        if local is not None:
            return self.module, local
        if not isinstance(call.func, (ast.Name, ast.Attribute)):
            return None
        sym = self.index.resolve(self.module, call.func, function, owner)
        return (sym.module, sym.node) if isinstance(sym, FunctionSym) else None

    def _hands_on_try(self, stmt: ast.stmt, function: ast.AST) -> bool:
        """A `try` with a broad handler that hands the exception object on (to a future, a queue)."""
        return any(self.handler(h, function).hands_on for h in stmt.handlers)  # type: ignore[attr-defined]

    def _accepted_try(self, stmt: ast.stmt, function: ast.AST, accept: Callable[[HandlerFacts], bool]) -> bool:
        return isinstance(stmt, TRY_TYPES) and any(accept(self.handler(h, function)) for h in stmt.handlers)  # type: ignore[attr-defined]

    def _acquire_idiom(self, stmt: ast.stmt, following: ast.stmt, function: ast.AST,
                       accept: Callable[[HandlerFacts], bool]) -> bool:
        """`db = SessionLocal()` right before a guarding try whose finally releases `db`."""
        name = _acquired_name(stmt)
        return name is not None and self._accepted_try(following, function, accept) and _releases(following, name)

    def _suppresses_broadly(self, stmt: ast.stmt, function: ast.AST) -> bool:
        if not isinstance(stmt, (ast.With, ast.AsyncWith)) or not stmt.items:
            return False
        first = stmt.items[0].context_expr
        return isinstance(first, ast.Call) and self._qualified(first.func, function) in SUPPRESS \
            and any(last_name(a) in BROAD_EXCEPTIONS for a in first.args)

    def _plain_loop_header(self, loop: ast.For | ast.While, function: ast.AST) -> bool:
        """No await, and calls only the listed builtins, `.items()/.keys()/.values()`, or a
        state query (`while not stop.is_set():`, `while not queue.empty():`)."""
        header = [loop.target, loop.iter] if isinstance(loop, ast.For) else [loop.test]
        for node in (n for part in header for n in walk_local(part)):
            if isinstance(node, ast.Await):
                return False
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Attribute) and func.attr in LOOP_METHODS | STATE_METHODS \
                        and not node.args and not node.keywords:
                    continue
                if isinstance(func, ast.Name) and func.id in LOOP_BUILTINS \
                        and self._qualified(func, function) == func.id:
                    continue
                return False
        return True

    def _qualified(self, expr: ast.expr, function: ast.AST | None) -> str | None:
        return self.index.qualified_name(self.module, expr, function)

    # --- trivial bodies -----------------------------------------------------------------

    def trivial_body(self, function: ast.AST) -> bool:
        """The only call statement is one logging call, or one `.release()/.set()/.cancel()/
        .close()/.aclose()` on a name (`.close(code, reason)` too), also alone in a `try`
        whose handlers call nothing but log calls and `str(e)` (a best-effort close), or
        `raise NotImplementedError` (an abstract stub)."""
        with_calls = [s for s in strip_docstring(function.body) if contains_call(s)]  # type: ignore[attr-defined]
        if len(with_calls) != 1:
            return False
        stmt = with_calls[0]
        if isinstance(stmt, ast.Raise) and stmt.exc is not None \
                and last_name(stmt.exc) == "NotImplementedError":
            return True
        if isinstance(stmt, TRY_TYPES):
            guarded: ast.Try = stmt  # type: ignore[assignment]
            return len(guarded.body) == 1 and not guarded.orelse and not guarded.finalbody \
                and self._trivial_call(guarded.body[0], function) \
                and all(self._calls_only_logs(handler.body, function) for handler in guarded.handlers)
        return self._trivial_call(stmt, function)

    def _trivial_call(self, stmt: ast.stmt, function: ast.AST) -> bool:
        if not isinstance(stmt, ast.Expr):
            return False
        call = stmt.value.value if isinstance(stmt.value, ast.Await) else stmt.value
        if not isinstance(call, ast.Call):
            return False
        owner = self.module.owner_class.get(id(function))
        if log_call(call, self.loggers, function, owner, unresolved=True) is not None:
            return True
        func = call.func
        return isinstance(func, ast.Attribute) and func.attr in TRIVIAL_METHODS \
            and (not call.args or func.attr in CLOSE_METHODS) and dotted(func.value) is not None

    def _inspects(self, call: ast.Call, function: ast.AST | None) -> bool:
        """`str(e)`, `isinstance(...)`: a text/inspection builtin, not shadowed here."""
        func = call.func
        return isinstance(func, ast.Name) and func.id in INSPECTING_BUILTINS \
            and self.index.qualified_name(self.module, func, function) == func.id

    def _calls_only_logs(self, body: list[ast.stmt], function: ast.AST) -> bool:
        """Every call in `body` is a log call or a text/inspection builtin (`str(e)`)."""
        owner = self.module.owner_class.get(id(function))
        for node in walk_local(list(body)):
            if not isinstance(node, ast.Call):
                continue
            if self._inspects(node, function):
                continue
            if log_call(node, self.loggers, function, owner, unresolved=True) is None:
                return False
        return True

    # --- decorators and done-callbacks ------------------------------------------------

    def has_guard_decorator(self, function: ast.AST, configured: tuple[str, ...]) -> bool:
        for decorator in getattr(function, "decorator_list", []):
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            qualified = self.index.qualified_name(self.module, target) or ""
            written = dotted(target) or ""
            for name in configured:
                if name in (qualified, written) or qualified.endswith("." + name) or name.endswith("." + written):
                    return True
            sym = self.index.resolve(self.module, target)
            if isinstance(sym, FunctionSym) and is_guard_decorator(self.index, sym):
                return True
        return False

    def guarded_by_done_callback(self, function: ast.AST) -> bool:
        """Every site schedules it with create_task, and the task object gets
        `add_done_callback(cb)` where `cb` retrieves the exception and logs it."""
        key = (self.module.path, self.module.qualnames.get(id(function), ""))
        sites = sites_of_task(self.index, key)
        return bool(sites) and all(
            site.form == "create_task" and _site_has_logging_callback(self.index, module, site)
            for module, site in sites)


# --- the model per module, cached on the index -------------------------------------------


def guard_model(index: ProjectIndex, module: ModuleInfo) -> GuardModel:
    key = ("guard-model", module.path)
    model = index.cache.get(key)
    if not isinstance(model, GuardModel) or model.module is not module:
        model = GuardModel(index, module)
        index.cache[key] = model
    return model


def module_loggers(index: ProjectIndex, module: ModuleInfo) -> LoggerBindings:
    """The module's logger bindings; names imported from project modules are resolved
    through the index (`from app.log import logger`, `get_logger` of the project)."""
    key = ("loggers", module.path)
    cached = index.cache.get(key)
    if isinstance(cached, LoggerBindings):
        _absorb(index, cached.deps)  # (None while they are computed: an import cycle)
        return cached
    index.cache[key] = LoggerBindings()  # while computing: an import cycle sees no loggers

    module_ref = weakref.ref(module)  # the bindings are kept with the module: no cycle through it
    asked: list[tuple[tuple, ExternalFact]] = []  # while the bindings are computed: what they asked
    recording = False

    # one frame per module followed (an import chain of loggers recurses through here)
    def external(expr: ast.expr, function: ast.AST | None = None, wanted: str | None = None) -> ExternalFact:
        answer = _external_answer(index, module_ref(), expr, function, wanted)
        if recording:
            asked.append(((expr, function, wanted), answer))
        return answer

    kept = module.derived.get("logger-bindings")
    if isinstance(kept, KeptBindings) and kept.index() is index:
        # what the module's own tree gave, with the same answers from the other modules:
        # the same bindings (an edit elsewhere, in the editor, need not walk this module
        # again). They are, when nothing they read changed; else ask again.
        if kept.deps is not None and _unrecorded(index) and index.still_holds(kept.layout, kept.deps):
            same, deps = True, kept.deps
            _absorb(index, deps)  # (asked again, the watchers around see the reads as made)
        else:
            with _watching(index, module) as reads:
                same = all(external(*question) == answer for question, answer in kept.asked)
            deps = _known_deps(reads)
        if same:
            bindings = kept.bindings.reused()
            bindings.deps = kept.deps = deps
            kept.layout = index.layout
            index.cache[key] = bindings
            return bindings
    shape = _logger_shape(module)
    recording = True
    try:
        with _watching(index, module) as reads:
            bindings = logger_bindings(module.tree, external, shape, lazily=_lazily(index, module_ref))  # type: ignore[arg-type]
    finally:
        recording = False  # later questions are the checks', not the bindings'
    bindings.deps = _known_deps(reads)
    module.derived["logger-bindings"] = KeptBindings(weakref.ref(index), bindings, asked, bindings.deps, index.layout)
    index.cache[key] = bindings
    return bindings


def _lazily(index: ProjectIndex, module_ref: "weakref.ref[ModuleInfo]") -> Callable:
    """`LoggerBindings.lazily` for a module's bindings: what is found of one of its classes
    when first asked (`kind`: its factory methods, its attributes) is a memo entry of the
    index, named by the class. So a later question that finds it there depends on what
    finding it read: the on-disk cache's recording memo adds that to the asker's deps,
    and the watchers are told it. (The module by weak reference: the bindings are kept
    with it.)"""

    def lazily(kind: str, cls: ast.ClassDef, placeholder: object, fill: Callable[[object], object]) -> object:
        module = module_ref()
        if module is None:  # (nothing checks a module that is gone)
            return fill(placeholder)
        key = (kind, module.path, id(cls))
        known = index.cache.get(key)
        if isinstance(known, tuple) and known[0] is cls:
            _absorb(index, known[2])
            return known[1]
        index.cache[key] = (cls, placeholder, None)  # while it is found: asked again, the placeholder
        with _watching(index, module) as reads:
            found = fill(placeholder)
        index.cache[key] = (cls, found, _known_deps(reads))
        return found

    return lazily


# a key of a watcher's reads: something was used whose reads are not known
_UNKNOWN_READS = object()


class _watching:
    """`with _watching(index, module) as reads`: `reads` collects every module the index
    reads meanwhile (ProjectIndex.watchers), and `module` itself; the watchers around it
    see the same reads."""

    def __init__(self, index: ProjectIndex, module: ModuleInfo):
        self.index = index
        self.reads = {module.path: index.stamps.get(module.path, 0)}

    def __enter__(self) -> dict:
        self.index.watchers.append(self.reads)
        return self.reads

    def __exit__(self, *exc: object) -> None:
        watchers = self.index.watchers
        watchers.pop()
        for outer in watchers:
            outer.update(self.reads)


def _absorb(index: ProjectIndex, deps: dict | None) -> None:
    """A fact found in the memo: the open watchers depend on what it read (on something
    unknown, when that is not known)."""
    for reads in index.watchers:
        if deps is None:
            reads[_UNKNOWN_READS] = 0
        else:
            reads.update(deps)


def _unrecorded(index: ProjectIndex) -> bool:
    """No recorder listens (cache/deps.py): facts kept across states of the index may be
    reused without asking again. A recorder must see the lookups and reads that asking
    makes (the kept reads name modules, not lookups: a miss that a new file would answer),
    so with one the kept bindings ask their questions again, and the types are found again."""
    return index.recorder is None


def _known_deps(reads: dict) -> dict | None:
    return None if _UNKNOWN_READS in reads else reads


def _external_answer(index: ProjectIndex, asker: ModuleInfo | None, expr: ast.expr, function: ast.AST | None,
                     wanted: str | None) -> ExternalFact:
    """What another module says `expr` (a name `asker` imports) is: a logger, a logger
    factory or a logger type (`wanted` narrows the question); None for nothing of these."""
    sym = index.resolve(asker, expr, function) if asker is not None else None
    if asker is None:  # (nothing checks a module that is gone)
        return (UNKNOWN, UNKNOWN)
    if isinstance(sym, ValueSym):
        if wanted in (None, "logger"):
            kind = module_loggers(index, sym.module).get(sym.name)
            return ("logger", kind) if kind else None
    elif isinstance(sym, FunctionSym):
        if wanted in (None, "factory"):
            bindings = module_loggers(index, sym.module)
            name = getattr(sym.node, "name", "")
            owner = sym.module.owner_class.get(id(sym.node))  # `AppLogger.get_logger()`: a class's factory method
            kind = bindings.factory_methods(owner).get(name) if owner is not None else bindings.factories.get(name)
            return ("factory", kind) if kind else None
    elif isinstance(sym, ClassSym):  # a project subclass of logging.LoggerAdapter
        if wanted in (None, "type", "factory"):
            kind = module_logger_classes(index, sym.module).get(sym.node.name)
            return ("type", kind) if kind else None
    elif isinstance(sym, ExternalSym) and sym.name in LIBRARY_LOGGERS:  # re-exported: `from loguru import logger`
        return ("logger", LIBRARY_LOGGERS[sym.name])
    elif isinstance(sym, ExternalSym) and sym.name in LIBRARY_FACTORIES:
        return ("factory", LIBRARY_FACTORIES[sym.name])
    elif sym is None or isinstance(sym, ExternalSym):
        return (UNKNOWN, UNKNOWN)  # outside the project, or not found: nobody can read it
    return None


def module_logger_classes(index: ProjectIndex, module: ModuleInfo) -> dict[str, str]:
    """`module_loggers(index, module).logger_classes`, the module's logger types, without
    the rest of its bindings when those are not known yet. A class used elsewhere as an
    annotation, a base or a call asks only this; the rest (every def's returns, every
    module-level value) asks of the modules it imports in turn, which loaded most of a big
    project to re-check three files (litellm: 270 of 289 modules parsed for it). The
    types come first in the bindings and ask only about types, so they are the same."""
    whole = index.cache.get(("loggers", module.path))
    if isinstance(whole, LoggerBindings):  # (while they are computed, an import cycle sees none)
        _absorb(index, whole.deps)
        return whole.logger_classes
    key = ("logger-classes", module.path)
    cached = index.cache.get(key)
    if isinstance(cached, tuple):
        _absorb(index, cached[1])
        return cached[0]
    kept = module.derived.get("logger-classes")
    if isinstance(kept, tuple) and kept[0]() is index and _unrecorded(index) and index.still_holds(kept[1], kept[2]):
        # nothing they read changed (an edit elsewhere, in the editor): the same types
        _absorb(index, kept[2])
        index.cache[key] = (kept[3], kept[2])
        return kept[3]
    index.cache[key] = ({}, None)  # while computing: an import cycle sees none, as above

    def external(expr: ast.expr, function: ast.AST | None = None, wanted: str | None = None) -> ExternalFact:
        return _external_answer(index, module, expr, function, wanted)  # (not kept: no weak reference)

    with _watching(index, module) as reads:
        types = logger_bindings(module.tree, external, _logger_shape(module), types_only=True)  # type: ignore[arg-type]
    deps = _known_deps(reads)
    if deps is not None:
        module.derived["logger-classes"] = (weakref.ref(index), index.layout, deps, types.logger_classes)
    index.cache[key] = (types.logger_classes, deps)
    return types.logger_classes


def _logger_shape(module: ModuleInfo):
    """The module's tree shape for its logger bindings, computed once per module."""
    shape = module.derived.get("logger-shape")
    if shape is None:
        shape = module.derived["logger-shape"] = tree_shape(module.tree, module.source)
    return shape


class KeptBindings(Value):
    """A module's logger bindings kept with the module, and every question they asked of
    other modules with its answer: they hold while each question gets the same answer
    (the bindings are a function of the module's tree and those answers, asked in order)."""

    __slots__ = ("index", "bindings", "asked", "deps", "layout")

    def __init__(self, index: "weakref.ref[ProjectIndex]", bindings: LoggerBindings,
                 asked: list[tuple[tuple, ExternalFact]], deps: dict | None = None, layout: int = -1) -> None:
        self.index = index  # which index the answers came from (the bindings' own question closure holds it)
        self.bindings = bindings
        self.asked = asked
        # what answering them read, at which `layout` of the index (ProjectIndex.watchers):
        # while that holds, so do the answers, without asking again (None: not known)
        self.deps = deps
        self.layout = layout


def is_guard_decorator(index: ProjectIndex, sym: FunctionSym) -> bool:
    """A project decorator (or decorator factory) whose wrapper calls the wrapped function
    inside a try whose broad handler guards, whatever the wrapper does before that try."""
    key = ("guard-decorator", sym.key)
    if key in index.cache:
        return bool(index.cache[key])
    index.cache[key] = False  # recursion guard
    model = guard_model(index, sym.module)
    result = False
    for wrapper, wrapped in _wrappers(sym.node, depth=3):
        for node in walk_local(list(wrapper.body)):  # type: ignore[attr-defined]
            if isinstance(node, TRY_TYPES) and _calls_any(node.body, wrapped) \
                    and any(model.handler(h, wrapper).guards for h in node.handlers):  # type: ignore[attr-defined]
                result = True
                break
        if result:
            break
    index.cache[key] = result
    return result


def _wrappers(function: ast.AST, depth: int, wrapped: frozenset[str] = frozenset()) -> Iterator[tuple[ast.AST, frozenset[str]]]:
    """(nested def, names of the enclosing functions' parameters: what it may wrap)."""
    if depth == 0:
        return
    names = wrapped | {arg.arg for arg, _ in parameters(function)}
    for node in _nested_defs(function):
        yield node, names
        yield from _wrappers(node, depth - 1, names)


def _nested_defs(function: ast.AST) -> Iterator[ast.AST]:
    """The defs directly nested in a function, also under `if`/`with`/`try`."""
    stack: list[ast.AST] = list(function.body)  # type: ignore[attr-defined]
    while stack:
        node = stack.pop()
        if isinstance(node, FUNCTION_TYPES):
            yield node
        elif not isinstance(node, (ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def _calls_any(body: list[ast.stmt], names: frozenset[str]) -> bool:
    """`func(...)`, `await func(...)`, or `func` handed to a call (`run_in_threadpool(func, ...)`)."""
    for node in walk_local(list(body)):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in names:
                return True
            if any(isinstance(a, ast.Name) and a.id in names for a in node.args):
                return True
    return False


def task_sites(index: ProjectIndex) -> dict[tuple, list]:
    """Task key -> [(module, site)] for every background scheduling site of the project."""
    key = ("task-sites",)
    cached = index.cache.get(key)
    if isinstance(cached, dict):
        return cached
    table: dict[tuple, list] = {}
    for module in list(index.by_path.values()):
        for task, sites in _task_sites_in(index, module).items():
            table.setdefault(task, []).extend(sites)
    index.cache[key] = table
    return table


def sites_of_task(index: ProjectIndex, key: tuple) -> list:
    """[(module, site)] of every background site of the task `key`, as `task_sites` has
    them; only the modules that schedule it are read when the index knows which they are."""
    schedulers = index.task_schedulers(key)
    if schedulers is None:
        return task_sites(index).get(key, [])
    found: list = []
    for module in schedulers:
        found.extend(_task_sites_in(index, module).get(key, ()))
    return found


def _task_sites_in(index: ProjectIndex, module: ModuleInfo) -> dict[tuple, list]:
    """`task_sites` of one module, once per state of the index (resolving its sites once
    per task asked about, a cached run of bench/big_module.py's module made 223,740
    resolutions)."""
    key = ("task-sites-in", module.path)
    cached = index.cache.get(key)
    if isinstance(cached, tuple) and cached[0] is module:
        return cached[1]
    table: dict[tuple, list] = {}
    for site in module.sites:
        if site.is_background:
            sym = index.resolve_task(module, site)
            if sym is not None:
                table.setdefault(sym.key, []).append((module, site))
    index.cache[key] = (module, table)
    return table


def _site_has_logging_callback(index: ProjectIndex, module: ModuleInfo, site) -> bool:
    scope = site.function if site.function is not None else module.tree
    parents = {id(child): node for node in ast.walk(scope) for child in ast.iter_child_nodes(node)}
    holders: set[str] = set()
    parent = parents.get(id(site.call))
    if isinstance(parent, ast.Attribute) and parent.attr == "add_done_callback":
        holders.add("<chained>")
    if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        holders.update(d for d in (dotted(t) for t in targets) if d)
    collection = _collection_of(site.call, parent)
    for node in ast.walk(scope):
        if collection is not None and isinstance(node, (ast.For, ast.AsyncFor)) and _iterated(node.iter) == collection \
                and isinstance(node.target, ast.Name) and _loop_adds_logging_callback(index, module, site, node):
            return True
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_done_callback" and node.args):
            continue
        receiver = node.func.value
        if (receiver is site.call and "<chained>" in holders) or dotted(receiver) in holders:
            if _callback_logs(index, module, node.args[0], site.function, site.owner_class):
                return True
    return False


def _collection_of(call: ast.Call, parent: ast.AST | None) -> str | None:
    """The collection a task object is kept in (`tasks.add(<call>)`), by its dotted name."""
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute) \
            and parent.func.attr in TASK_COLLECTING and parent.args == [call]:
        return dotted(parent.func.value)
    return None


def _iterated(expr: ast.expr) -> str | None:
    """The dotted name a loop goes over: `tasks`, also through `list(tasks)` or `tuple(tasks)`."""
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in ("list", "tuple", "set") \
            and len(expr.args) == 1 and not expr.keywords:
        expr = expr.args[0]
    return dotted(expr)


def _loop_adds_logging_callback(index: ProjectIndex, module: ModuleInfo, site, loop: ast.For | ast.AsyncFor) -> bool:
    """`for task in tasks: task.add_done_callback(cb)`, where `cb` logs what it retrieves."""
    name = loop.target.id  # type: ignore[union-attr]
    for stmt in loop.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "add_done_callback" and node.args \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == name \
                    and _callback_logs(index, module, node.args[0], site.function, site.owner_class):
                return True
    return False


def _callback_logs(index: ProjectIndex, module: ModuleInfo, callback: ast.expr,
                   function: ast.AST | None, owner: ast.ClassDef | None) -> bool:
    if isinstance(callback, ast.Lambda) and isinstance(callback.body, ast.Call):
        callback = callback.body.func  # `lambda t: self._done(key, t)`
    elif isinstance(callback, ast.Call) and index.qualified_name(module, callback.func, function) \
            == "functools.partial" and callback.args:
        callback = callback.args[0]
    target = local_def(callback, function)
    if target is not None:
        return _retrieves_and_logs(index, module, target, depth=0)
    if not isinstance(callback, (ast.Name, ast.Attribute)):
        return False
    sym = index.resolve(module, callback, function, owner)
    return isinstance(sym, FunctionSym) and _retrieves_and_logs(index, sym.module, sym.node, depth=0)


def _joined(call: ast.Call) -> ast.Call:
    """The call inside `"".join(<call>)`, else the call itself: a helper returning the
    joined lines of `traceback.format_exception(...)` returns the traceback text."""
    if isinstance(call.func, ast.Attribute) and call.func.attr == "join" and isinstance(call.func.value, ast.Constant) \
            and len(call.args) == 1 and isinstance(call.args[0], ast.Call):
        return call.args[0]
    return call


def local_def(expr: ast.expr, function: ast.AST | None) -> ast.AST | None:
    """The nested def a name in `function` is bound to (`def run(): ...` then `run()`)."""
    if not isinstance(expr, ast.Name) or not isinstance(function, FUNCTION_TYPES):
        return None
    for binding in function_scope(function).values(expr.id):
        if isinstance(binding.node, FUNCTION_TYPES):
            return binding.node
    return None


def _retrieves_and_logs(index: ProjectIndex, module: ModuleInfo, function: ast.AST, depth: int) -> bool:
    """Calls `.exception()`/`.result()` on its task parameter and logs; a project function it
    calls may do it instead (one level: the task is then looked up, not passed)."""
    model = guard_model(index, module)
    owner = module.owner_class.get(id(function))
    params = {arg.arg for arg, _ in parameters(function)} - {"self", "cls"}
    retrieves = logs = False
    for node in walk_local(list(function.body)):  # type: ignore[attr-defined]
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in RETRIEVE_METHODS and not node.args \
                and (depth > 0 or (isinstance(func.value, ast.Name) and func.value.id in params)):
            retrieves = True
        elif log_call(node, model.loggers, function, owner, unresolved=True) is not None:
            logs = True
    if retrieves and logs:
        return True
    if depth > 0:
        return False
    for node in walk_local(list(function.body)):  # type: ignore[attr-defined]
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            sym = index.resolve(module, node.func, function, owner)
            if isinstance(sym, FunctionSym) and sym.node is not function \
                    and _retrieves_and_logs(index, sym.module, sym.node, depth + 1):
                return True
    return False


# --- the acquire/try/finally idiom ---------------------------------------------------------


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
