"""BGT103: keep a strong reference to a task created as a statement, and log its exception.

`asyncio.create_task(work())` becomes::

    task = asyncio.create_task(work())
    _background_tasks.add(task)
    task.add_done_callback(_background_task_done)

with, at module level, the asyncio documentation's registry and a done-callback that
also retrieves the exception (the rule says it is lost; the fix must not lose it)::

    _background_tasks: set = set()  # strong references: the event loop keeps only weak ones


    def _background_task_done(task) -> None:
        _background_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %r failed", task, exc_info=task.exception())

Both names are the module's own: an existing `_background_tasks = set()` (bound nowhere
else) and a def this fix wrote are reused; a name the module uses for anything else (a
list, an import, a parameter of the def around the task) is left alone for
`_background_tasks_1`, `_background_task_done_1`, ...

The logger is one provably bound in the module (bgtask_lint/log_fixes.py chooses it, as
for BGT401; loguru and structlog get their own idiom). When none is bound and the name
`logger` is free, `logger = logging.getLogger(__name__)` is added; when `logger` is taken
by something that is not provably a logger, the callback logs through
`logging.getLogger(__name__)`, importing logging inside itself if the module's
`logging` is something else.
"""

from __future__ import annotations

import ast

import libcst as cst
from libcst.metadata import PositionProvider

from bgtask_lint.codemods._base import FindingFix, header_end, module_defines
from bgtask_lint.codemods._loggers import add_module_logger
from bgtask_lint.log_fixes import LoggerChoice, NoFix, choose_logger, module_binds, module_quote
from bgtask_lint.names import bound_name, walk_statements, walked

REGISTRY = "_background_tasks"
CALLBACK = "_background_task_done"
REGISTRY_LINE = f"{REGISTRY}: set = set()  # strong references: the event loop keeps only weak ones"
CALLBACK_TEMPLATE = '''def {name}(task) -> None:
    """Drop the strong reference; log the exception, which nothing else retrieves."""
{prelude}    {registry}.discard(task)
    if not task.cancelled() and task.exception() is not None:
        {log}
'''


def log_statement(logger: str, kind: str, quote: str = '"') -> str:
    """The task's exception with its traceback, in the logger's own idiom (and the quotes
    the module writes its strings in)."""
    q = quote
    if kind == "loguru":
        return f'{logger}.opt(exception=task.exception()).error({q}background task {{!r}} failed{q}, task)'
    if kind == "structlog":
        return f'{logger}.error({q}background task failed{q}, task=repr(task), exc_info=task.exception())'
    return f'{logger}.error({q}background task %r failed{q}, task, exc_info=task.exception())'


class _FunctionNames:
    """A def being visited, and the names it uses once asked for."""

    __slots__ = ("first", "names")

    def __init__(self, first: int) -> None:
        self.first = first  # the line of its `def`, in the text the fix sees
        self.names: set[str] | None = None


class DanglingTaskFix(FindingFix):
    CODE = "BGT103"
    # bgtask_lint.guards.GuardModel of the whole module in its project (from fix.py, or
    # from the check of a stand-alone run)
    given_model = None
    # a skeleton's line -> the module's line, and back (from fix.py, with a skeleton)
    line_maps = None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        # a new `task` variable must not take a name the function (or a def nested in it)
        # uses: a local would shadow a global or a closure's variable. Those names are
        # gathered only for a def that gets one (a walk of every def's subtree, nested ones
        # again, was a third of the fix of litellm's 65 modules with a dropped task)
        self.function_names.append(_FunctionNames(self.get_metadata(PositionProvider, node).start.line))
        self.function_task_names.append([])

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        self.function_names.pop()
        self.function_task_names.pop()
        return updated

    def _task_name(self) -> str:
        """`task`, or `task_1`... when the function already uses that name. One name per
        function: each rewrite uses its variable only on the next two lines, so the next
        rewrite may bind it again."""
        used = self._function_names() if self.function_names else self.used_names
        ours = self.function_task_names[-1] if self.function_task_names else None
        if ours:
            return ours[0]
        name, counter = "task", 1
        while name in used:
            name = f"task_{counter}"
            counter += 1
        used.add(name)
        if ours is not None:
            ours.append(name)
        return name

    def _function_names(self) -> set[str]:
        """The names the innermost def around the statement being rewritten uses, read from
        the whole module's syntax tree, so the code a skeleton cut from it counts too (a
        walk of LibCST's nodes cost ten times as much: a third of this fix on litellm).
        Were the def not found there, every name of the module: more than it uses, never
        less."""
        entry = self.function_names[-1]
        if entry.names is None:
            function = self._ast_function(entry.first)
            entry.names = _names_in(function) if function is not None else set(self.used_names)
        return entry.names

    def _ast_function(self, line: int) -> ast.AST | None:
        """The def of the module's tree that starts on this line of the text the fix sees."""
        if self.line_maps is not None:
            line = self.line_maps[0](line)
        if self.defs_by_line is None:
            self.defs_by_line = {node.lineno: node for node in walk_statements(self.tree)
                                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        return self.defs_by_line.get(line) if line is not None else None

    def _replacement(self, expr: cst.Expr) -> list[cst.BaseSmallStatement]:
        name = self._task_name()
        assign = cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=expr.value)
        add = cst.parse_statement(f"{self.registry}.add({name})").body[0]  # type: ignore[attr-defined]
        callback = cst.parse_statement(f"{name}.add_done_callback({self.callback})").body[0]  # type: ignore[attr-defined]
        self.fixed += 1
        return [assign, add, callback]

    def _targeted(self, original: cst.BaseSmallStatement) -> bool:
        return isinstance(original, cst.Expr) and isinstance(original.value, cst.Call) \
            and self.is_target(original.value)

    def _rewrite_smalls(self, original, updated):
        body: list[cst.BaseSmallStatement] = []
        for old, new in zip(original.body, updated.body):
            if self._targeted(old):
                replacement = self._replacement(new)
                body.extend(s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for s in replacement)
            else:
                body.append(new.with_changes(semicolon=cst.MaybeSentinel.DEFAULT))
        return body

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine,
                                  updated: cst.SimpleStatementLine):
        if not any(self._targeted(s) for s in original.body):
            return updated
        if len(original.body) == 1:
            assign, add, callback = self._replacement(updated.body[0])  # type: ignore[arg-type]
            return cst.FlattenSentinel([
                updated.with_changes(body=[assign]),
                cst.SimpleStatementLine(body=[add]),
                cst.SimpleStatementLine(body=[callback]),
            ])
        return updated.with_changes(body=self._rewrite_smalls(original, updated))

    def leave_SimpleStatementSuite(self, original: cst.SimpleStatementSuite,
                                   updated: cst.SimpleStatementSuite):
        if not any(self._targeted(s) for s in original.body):
            return updated
        return updated.with_changes(body=self._rewrite_smalls(original, updated))

    # --- the module-level registry, callback and logger --------------------------------

    def transform_module(self, tree: cst.Module) -> cst.Module:
        self.tree = self.module_tree if self.module_tree is not None else ast.parse(tree.code)
        self.defs_by_line: dict[int, ast.AST] | None = None
        # the registry's and the callback's names are known before the statements that
        # refer to them are written
        self.module_names: set[str] | None = None  # (see used_names)
        source = self.given_model.module.source if self.given_model is not None else None
        if source is not None and "_background_task" not in source:
            self.registry, self.registry_exists, self.callback = REGISTRY, False, CALLBACK  # (no walk)
        else:
            names = _identifiers(self.tree)
            self.registry, self.registry_exists = _registry_name(self.tree, names)
            self.callback = _callback_name(self.tree, names, self.registry)
            self.module_names = set(names)  # the same walk, for a task made at module level
        self.function_names: list[_FunctionNames] = []
        self.function_task_names: list[list[str]] = []
        return super().transform_module(tree)

    @property
    def used_names(self) -> set[str]:
        """The names a new `task` variable at module level must not take: every identifier of
        the module (made when first needed: most tasks are created in a def)."""
        if self.module_names is None:
            self.module_names = _identifiers(self.tree)
        return self.module_names

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        if not self.fixed:
            return updated
        new: list[cst.BaseStatement] = []
        if not self.registry_exists:
            line = REGISTRY_LINE.replace(REGISTRY, self.registry, 1)
            new.append(cst.parse_statement(line, config=updated.config_for_parsing))
        choice = None
        if self.callback not in _defined_functions(updated):
            choice = _choose_logger(self.given_model)
            quote = module_quote(self.given_model) if self.given_model is not None else '"'
            new.append(_callback(self.callback, self.registry, choice, updated, quote))
        updated = _insert(updated, new, self.registry)
        if isinstance(choice, LoggerChoice):
            if choice.add:
                updated = add_module_logger(updated, choice)
            if choice.add or choice.name == "logging":
                self.needs_import("logging")
        return updated


def _defined_functions(module: cst.Module) -> set[str]:
    return {stmt.name.value for stmt in module.body if isinstance(stmt, cst.FunctionDef)}


def _identifiers(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in walked(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.alias):
            found.add(bound_name(node))
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            found.update(node.names)
    return found


# the type parameters of Python 3.12 (`def f[T]()`), where the interpreter has them
_TYPE_PARAMS = tuple(getattr(ast, name) for name in ("TypeVar", "ParamSpec", "TypeVarTuple") if hasattr(ast, name))


def _names_in(stmt: ast.stmt) -> set[str]:
    """The identifiers LibCST would hold in `Name` nodes: names, attributes, parameters,
    keywords, defs and the parts of imported names (but True, False and None, which are
    constants here and names there: no fix chooses those)."""
    names: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        elif isinstance(node, ast.MatchClass):
            names.update(node.kwd_attrs)
        elif isinstance(node, _TYPE_PARAMS):
            names.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, ast.alias):
            names.update(node.name.split("."))
            if node.asname:
                names.add(node.asname)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update(node.module.split("."))
    return names


def _registry_name(tree: ast.Module, used: set[str]) -> tuple[str, bool]:
    """`_background_tasks` (or `_background_tasks_1`, ...): the first such name the module
    uses nowhere, or that is its own set of tasks (see `_only_binding`); and whether the
    module binds it already. A name bound to anything else (a list, an import, a def), or
    also bound in a function, would make `.add(task)` fail or reach the wrong object.
    `used`: every identifier of the module."""
    name, counter = REGISTRY, 1
    while True:
        if name not in used:
            return name, False
        binding = _only_binding(tree, name)
        if isinstance(binding, (ast.Assign, ast.AnnAssign)) and _is_empty_set(binding.value) \
                and not module_binds(tree, "set"):
            return name, True
        name = f"{REGISTRY}_{counter}"
        counter += 1


def _callback_name(tree: ast.Module, used: set[str], registry: str) -> str:
    """`_background_task_done` (or `_background_task_done_1`, ...): the first such name the
    module uses nowhere, or that is the callback this fix wrote for `registry` earlier. A
    task's line names it inside a def, where a local of that name would be called instead."""
    name, counter = CALLBACK, 1
    while name in used and not _is_our_callback(_only_binding(tree, name), registry):
        name = f"{CALLBACK}_{counter}"
        counter += 1
    return name


def _only_binding(tree: ast.Module, name: str) -> ast.stmt | None:
    """The module-level statement that binds `name`, when it is the one thing in the module
    that binds it (no other assignment, parameter, import, def or `global`)."""
    found: list[ast.AST] = []
    for node in walked(tree):
        if isinstance(node, ast.Name):
            if node.id == name and not isinstance(node.ctx, ast.Load):
                found.append(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler)):
            if node.name == name:
                found.append(node)
        elif isinstance(node, ast.arg):
            if node.arg == name:
                found.append(node)
        elif isinstance(node, ast.alias):
            if bound_name(node) == name:
                found.append(node)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            if name in node.names:
                found.append(node)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar) if hasattr(ast, "MatchAs") else ()):
            if node.name == name:
                found.append(node)
        elif hasattr(ast, "MatchMapping") and isinstance(node, ast.MatchMapping) and node.rest == name:
            found.append(node)
    if len(found) != 1:
        return None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and stmt.targets[0] is found[0]:
            return stmt
        if isinstance(stmt, ast.AnnAssign) and stmt.target is found[0] and stmt.value is not None:
            return stmt
        if stmt is found[0]:
            return stmt
    return None


def _is_empty_set(value: ast.expr | None) -> bool:
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "set" \
        and not value.args and not value.keywords


def _is_our_callback(stmt: ast.stmt | None, registry: str) -> bool:
    """A def written by this fix earlier: it discards the task from `registry` and reads
    the task's exception."""
    if not isinstance(stmt, ast.FunctionDef):
        return False
    discards = reads = False
    for node in ast.walk(stmt):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr == "discard" and node.value.id == registry:
                discards = True
            elif node.attr == "exception" and node.value.id == "task":
                reads = True
    return discards and reads


def _choose_logger(model) -> LoggerChoice | None:
    """A logger bound in the module (or one to add); None: log through logging.getLogger.
    `model`: the guard model of the whole module in its project (so a logger imported from
    another module of the project is known)."""
    if model is None:
        return None
    callback = ast.parse(f"def {CALLBACK}(task): pass").body[0]
    choice = choose_logger(model, callback, may_add=True)
    if isinstance(choice, NoFix):
        if model.loggers.imports.get("logging") == "logging" or not module_binds(model.module.tree, "logging"):
            return LoggerChoice("logging", "logging")  # `logging` is the module (or free: imported)
        return None
    return choice


def _callback(name: str, registry: str, choice: LoggerChoice | None, module: cst.Module,
              quote: str) -> cst.BaseStatement:
    if choice is None:
        prelude, log = "    import logging\n\n", log_statement("logging.getLogger(__name__)", "logging", quote)
    elif choice.name == "logging" and not choice.add:
        prelude, log = "", log_statement("logging.getLogger(__name__)", "logging", quote)
    else:
        prelude, log = "", log_statement(choice.name, choice.kind, quote)
    code = CALLBACK_TEMPLATE.format(name=name, prelude=prelude, registry=registry, log=log)
    return cst.parse_statement(code, config=module.config_for_parsing)


def _insert(module: cst.Module, statements: list[cst.BaseStatement], registry: str) -> cst.Module:
    """After the docstring and imports: one blank line before a plain statement, two
    around a def (PEP 8)."""
    if not statements:
        return module
    body = list(module.body)
    # before the first def or class (after the module's imports and settings), or right
    # after an existing registry
    at = next((i for i, stmt in enumerate(body) if isinstance(stmt, (cst.FunctionDef, cst.ClassDef))), len(body))
    at = max(at, header_end(body))
    for index, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine) and module_defines(module.with_changes(body=[stmt]), registry):
            at = max(at, index + 1)
    placed = []
    for stmt in statements:
        blank = 2 if isinstance(stmt, cst.FunctionDef) else 1
        if not placed and at == 0:
            blank = 0
        placed.append(stmt.with_changes(leading_lines=[cst.EmptyLine()] * blank))  # type: ignore[attr-defined]
    if at < len(body):
        following = body[at]
        wanted = 2 if isinstance(statements[-1], cst.FunctionDef) else 1
        lines = list(following.leading_lines)  # type: ignore[attr-defined]
        blanks = 0
        while blanks < len(lines) and lines[blanks].comment is None and blanks < wanted:
            blanks += 1
        if blanks < wanted:
            body[at] = following.with_changes(  # type: ignore[attr-defined]
                leading_lines=[cst.EmptyLine()] * (wanted - blanks) + lines)
    return module.with_changes(body=body[:at] + placed + body[at:])
