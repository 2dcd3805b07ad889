"""The project index: modules, imports, definitions, and which functions are background tasks.

Built in its own pass over every module of the project before any rule runs, so a
rule checking `main.py` knows that `tasks.process_csv` is scheduled as a task, and a
rule checking `tasks.py` knows it too.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Callable, Iterable, Union

from bgtask_lint.names import TreeCache, dotted, dotted_name, last_name, walk_local, walk_statements
from bgtask_lint.plain import Value
from bgtask_lint.scope import function_scope

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]
FUNCTION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)


class ImportRef(Value, frozen=True):
    """`module` is dotted; `base` is set for relative imports (the directory they start from)."""

    __slots__ = ("module", "attr", "base")

    def __init__(self, module: str, attr: str | None = None, base: Path | None = None) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "module", module)
        set_field(self, "attr", attr)
        set_field(self, "base", base)


# what a module's equality compares: every field but `derived` (plain.Value classes, not
# dataclasses: building them cost a cold check ~10 ms)
_MODULE_FIELDS = ("path", "name", "tree", "source", "is_package", "imports", "local_imports", "defs", "assigns",
                  "functions", "qualnames", "owner_class", "parents", "sites", "site_by_call")


class ModuleInfo(Value, compared=_MODULE_FIELDS):
    __slots__ = (*_MODULE_FIELDS, "derived", "__weakref__")

    def __init__(self, path: Path, name: str, tree: ast.Module, source: str, is_package: bool) -> None:
        self.path = path
        self.name = name
        self.tree = tree
        self.source = source
        self.is_package = is_package
        self.imports: dict[str, ImportRef] = {}
        self.local_imports: dict[int, dict[str, ImportRef]] = {}
        self.defs: dict[str, ast.AST] = {}  # top-level def/class by name
        self.assigns: dict[str, ast.expr] = {}  # module-level name = value
        self.functions: dict[str, FunctionNode] = {}  # qualname -> def
        self.qualnames: dict[int, str] = {}  # id(def) -> qualname
        self.owner_class: dict[int, ast.ClassDef] = {}  # id(method) -> class
        self.parents: dict[int, ast.AST] = {}  # id(function) -> enclosing function
        self.sites: list[ScheduleSite] = []
        self.site_by_call: dict[int, ScheduleSite] = {}
        # facts kept as long as the module (an edit of another module empties the index's
        # cache, not these): computed from its tree alone, or, for guards' logger facts, kept
        # with what they read of other modules and used while that holds
        self.derived: dict[str, object] = {}

    def __repr__(self) -> str:  # (the tree and the tables would fill a screen)
        return f"ModuleInfo(path={self.path!r}, name={self.name!r})"


# --- symbols -------------------------------------------------------------------------


class FunctionSym(Value, frozen=True):
    __slots__ = ("module", "node")

    def __init__(self, module: ModuleInfo, node: FunctionNode) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "node", node)

    @property
    def qualname(self) -> str:
        return self.module.qualnames[id(self.node)]

    @property
    def key(self) -> tuple[Path, str]:
        return (self.module.path, self.qualname)


class ClassSym(Value, frozen=True):
    __slots__ = ("module", "node")

    def __init__(self, module: ModuleInfo, node: ast.ClassDef) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "node", node)


class ModuleSym(Value, frozen=True):
    __slots__ = ("module",)

    def __init__(self, module: ModuleInfo) -> None:
        object.__setattr__(self, "module", module)


class ValueSym(Value, frozen=True):
    """A module-level `name = value` of the project."""

    __slots__ = ("module", "name", "value")

    def __init__(self, module: ModuleInfo, name: str, value: ast.expr) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "value", value)


class ExternalSym(Value, frozen=True):
    """Something outside the project (or a builtin): only its dotted name is known."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "name", name)


Symbol = Union[FunctionSym, ClassSym, ModuleSym, ValueSym, ExternalSym]


# --- scheduling sites ------------------------------------------------------------------


class ScheduleSite(Value):
    """One place where a callable is handed over to run in the background."""

    __slots__ = ("form", "call", "task", "args", "function", "owner_class", "is_background")

    def __init__(self, form: str, call: ast.Call, task: ast.expr, args: list[ast.expr], function: FunctionNode | None,
                 owner_class: ast.ClassDef | None, is_background: bool = True) -> None:
        self.form = form  # add_task | BackgroundTask | create_task | start_soon | run_in_executor
        self.call = call  # the scheduling call
        self.task = task  # the expression naming F (after unwrapping functools.partial)
        self.args = args  # every argument bound to the task
        self.function = function  # the function containing the site
        self.owner_class = owner_class
        self.is_background = is_background  # False for create_task whose result is awaited


# --- the index -----------------------------------------------------------------------


class ProjectIndex:
    # The session-flow analysis (bgtask_lint.flows) sits above the index: it uses the
    # semantics and guard models. The engine, which runs the rules that ask, registers it
    # here, so that the index never imports a layer above it.
    flow_analysis: "Callable[[ProjectIndex], dict] | None" = None

    def __init__(self, root: Path, modules: Iterable[ModuleInfo]):
        self.root = root
        self.by_path: dict[Path, ModuleInfo] = {}  # the modules parsed so far
        # the files known by path string: a project registers every file (3,000 Paths
        # made and hashed cost a small cached run ~10 ms); a Path is made when one is found
        self._by_suffix: dict[str, list[str]] = {}
        self._known: set[str] = set()
        self._failed: set[Path] = set()
        # parses a project file on first use; modules nobody imports are never parsed
        self._loader: Callable[[Path], ModuleInfo] | None = None
        self._tasks: set[tuple[Path, str]] | None = None
        self._task_paths: set[Path] | None = None
        self._origins: dict[tuple[Path, str], tuple[Path, int]] | None = None
        # modules given to `add` (targets, scheduling modules, edited buffers), as opposed to
        # those parsed lazily by resolution: project-wide scans look at these, so that their
        # result does not depend on which lookups happened first
        self._added: dict[Path, None] = {}
        self.cache: dict[object, object] = {}  # memo for analyses built on the index
        # optional: an object told of every answer of `find_module` (`found(ref_module, near,
        # base, answer)`) and `module` (`read(path, answer)`): the on-disk cache records what
        # a module's findings depend on (bgtask_lint/cache/deps.py)
        self.recorder = None
        # optional: called once, just before the next change of a module (`add`, `remove`):
        # `fix` keeps what was analysed on the state a file's fix started from (`analyses`)
        self.before_change: Callable[[], None] | None = None
        # what an analysis kept from one state of the index to the next depends on
        # (guards.module_loggers): each path's stamp, new whenever the module there is
        # replaced, and `layout`, new whenever a lookup may answer otherwise (a file
        # known, forgotten, failing to parse or parsing again); `watchers` are the open
        # collections of such an analysis, each told every module read as path -> stamp
        self.stamps: dict[Path, int] = {}
        self._last_stamp = 0
        self.layout = 0
        self.watchers: list[dict] = []
        for module in modules:
            self.add(module)

    def register(self, paths: Iterable[Path | str], loader: Callable[[Path], ModuleInfo]) -> None:
        """Make project files resolvable by import name without parsing them yet."""
        self._loader = loader
        for path in paths:
            self._know(str(path))

    def _know(self, path: str) -> None:
        if path in self._known:
            return
        self._known.add(path)
        self.layout += 1
        for suffix in _suffixes(path, self.root, path.endswith(_PACKAGE_FILE)):
            self._by_suffix.setdefault(suffix, []).append(path)

    def add(self, module: ModuleInfo) -> None:
        """Add or replace a module (a fixed text, an editor buffer)."""
        self._changing()
        self._know(str(module.path))
        if module.path in self._failed:
            self._failed.discard(module.path)
            self.layout += 1
        self._added[module.path] = None
        old = self.by_path.get(module.path)
        self.by_path[module.path] = module
        self._stamp(module.path)
        # `fix` replaces a module after every rule it fixes: keep the task table unless
        # what decides which functions are tasks changed
        if old is None or _resolution_shape(old) != _resolution_shape(module):
            self._tasks = self._task_paths = self._origins = None
        elif [s.call.lineno for s in old.sites] != [s.call.lineno for s in module.sites]:
            self._origins = None  # the same tasks, scheduled from other lines
        self.cache.clear()

    def _stamp(self, path: Path) -> None:
        self._last_stamp += 1
        self.stamps[path] = self._last_stamp

    def _changing(self) -> None:
        told, self.before_change = self.before_change, None
        if told is not None:
            told()

    def analyses(self) -> tuple:
        """The analyses memoized on this state of the index, for `bring_back` once the index
        is in this very state again: `fix` tries each module's new text, then puts the old
        module back, and the next module's fix need not analyse the project again."""
        return self.cache.copy(), self._tasks, self._task_paths, self._origins

    def bring_back(self, analyses: tuple) -> None:
        """Restore what `analyses` returned, when every module is again the one it was then."""
        memo, self._tasks, self._task_paths, self._origins = analyses
        if type(self.cache) is dict:  # a recording memo also knows who asked: start afresh
            self.cache.update(memo)

    def remove(self, path: Path) -> None:
        """Drop a module (deleted, or no longer parses on disk)."""
        self._changing()
        self._added.pop(path, None)
        self.layout += 1
        self._stamp(path)
        if self.by_path.pop(path, None) is not None:
            self._tasks = self._task_paths = None
            self._origins = None
            self.cache.clear()

    def module(self, path: Path) -> ModuleInfo | None:
        found = self._module(path)
        if self.recorder is not None:
            self.recorder.read(path, found)
        for reads in self.watchers:
            reads[path] = self.stamps.get(path, 0)
        return found

    def _module(self, path: Path) -> ModuleInfo | None:
        found = self.by_path.get(path)
        if found is not None or str(path) not in self._known or path in self._failed or self._loader is None:
            return found
        try:
            found = self._loader(path)
        except Exception:  # an unreadable or unparsable module resolves to nothing
            self._failed.add(path)
            self.layout += 1
            return None
        self.by_path[path] = found  # a lazily parsed module never has scheduling sites
        self._stamp(path)
        return found

    # modules

    def find_module(self, ref_module: str, near: ModuleInfo, base: Path | None = None) -> ModuleInfo | None:
        found = self._find_module(ref_module, near, base)
        if self.recorder is not None:
            self.recorder.found(ref_module, near, base, found)
        return found

    def _find_module(self, ref_module: str, near: ModuleInfo, base: Path | None = None) -> ModuleInfo | None:
        if base is not None:
            if not ref_module:
                return self.module(base / "__init__.py")
            target = base.joinpath(*ref_module.split("."))
            return self.module(Path(str(target) + ".py")) or self.module(target / "__init__.py")
        candidates = self._by_suffix.get(ref_module)
        if not candidates:
            return None
        if len(candidates) == 1:
            return self.module(Path(candidates[0]))
        return self.module(max(map(Path, candidates), key=lambda p: _shared_prefix(p, near.path)))

    # name resolution

    def lookup(self, module: ModuleInfo, name: str, depth: int = 0) -> Symbol | None:
        """What a module-level `name` of `module` refers to."""
        if depth > 12:
            return None
        node = module.defs.get(name)
        if isinstance(node, FUNCTION_TYPES):
            return FunctionSym(module, node)
        if isinstance(node, ast.ClassDef):
            return ClassSym(module, node)
        if name in module.assigns:
            value = module.assigns[name]
            if isinstance(value, (ast.Name, ast.Attribute)):
                target = self.resolve(module, value, depth=depth + 1)
                if target is not None:
                    return target
            return ValueSym(module, name, value)
        ref = module.imports.get(name)
        if ref is not None:
            return self._follow(module, ref, depth + 1)
        if module.is_package:
            sub = self.find_module(name, module, base=module.path.parent)
            if sub is not None:
                return ModuleSym(sub)
        return None

    def _follow(self, module: ModuleInfo, ref: ImportRef, depth: int) -> Symbol | None:
        target = self.find_module(ref.module, module, ref.base)
        if ref.attr is None:
            if target is not None:
                return ModuleSym(target)
            return ExternalSym(ref.module) if ref.base is None else None
        if target is not None:
            if target is module and ref.attr in module.imports and module.imports[ref.attr] == ref:
                return None
            found = self.lookup(target, ref.attr, depth)
            if found is not None:
                return found
        sub_name = f"{ref.module}.{ref.attr}" if ref.module else ref.attr
        sub = self.find_module(sub_name, module, ref.base)
        if sub is not None:
            return ModuleSym(sub)
        if target is None and ref.base is None:
            return ExternalSym(f"{ref.module}.{ref.attr}")
        return None

    def member(self, sym: Symbol | None, attr: str, depth: int = 0) -> Symbol | None:
        if isinstance(sym, ModuleSym):
            found = self.lookup(sym.module, attr, depth + 1)
            if found is None:
                sub = self.find_module(f"{sym.module.name}.{attr}", sym.module)
                if sub is None and sym.module.is_package:
                    sub = self.find_module(attr, sym.module, base=sym.module.path.parent)
                return ModuleSym(sub) if sub is not None else None
            return found
        if isinstance(sym, ClassSym):
            for stmt in sym.node.body:
                if isinstance(stmt, FUNCTION_TYPES) and stmt.name == attr:
                    return FunctionSym(sym.module, stmt)
                if isinstance(stmt, ast.ClassDef) and stmt.name == attr:
                    return ClassSym(sym.module, stmt)
                if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and any(
                        isinstance(t, ast.Name) and t.id == attr
                        for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])):
                    return None  # bound here to a value: not a def of a base class
            if depth > 6 or not sym.node.bases:
                return None
            for base in self._project_bases(sym):  # depth first (Python's C3 order differs in diamonds)
                found = self.member(base, attr, depth + 1)
                if found is not None:
                    return found
            return None
        if isinstance(sym, ExternalSym):
            return ExternalSym(f"{sym.name}.{attr}")
        return None

    def _project_bases(self, sym: ClassSym) -> list[ClassSym]:
        """The base classes of `sym` that are classes of the project, in order (memoized:
        member lookups ask it for every attribute a class does not define)."""
        key = ("project-bases", sym.module.path, id(sym.node))
        known = self.cache.get(key)
        if isinstance(known, tuple) and known[0] is sym.node:
            for reads in self.watchers:  # (what computing them read: see `watchers`)
                reads.update(known[2])
            return known[1]
        reads = {sym.module.path: self.stamps.get(sym.module.path, 0)}
        self.watchers.append(reads)
        try:
            bases = []
            for base in sym.node.bases:
                found = self.resolve(sym.module, base, depth=1) if isinstance(base, (ast.Name, ast.Attribute)) else None
                if isinstance(found, ClassSym) and found.node is not sym.node:
                    bases.append(found)
        finally:
            self.watchers.pop()
        for outer in self.watchers:
            outer.update(reads)
        self.cache[key] = (sym.node, bases, reads)
        return bases

    def still_holds(self, layout: int, reads: dict) -> bool:
        """Whether what an analysis read (`watchers`) at `layout` is what it would read now."""
        stamps = self.stamps
        return layout == self.layout and all(stamps.get(path, 0) == stamp for path, stamp in reads.items())

    def resolve(
        self,
        module: ModuleInfo,
        expr: ast.expr,
        function: ast.AST | None = None,
        owner_class: ast.ClassDef | None = None,
        depth: int = 0,
    ) -> Symbol | None:
        """Resolve a Name/Attribute chain to a definition of the project or an external name.
        (`import_rooted` says when this begins by following an import: keep them in step.)"""
        if isinstance(expr, ast.Name):
            ref = self._local_import(module, function, expr.id)
            if ref is not None:
                return self._follow(module, ref, depth + 1)
            if function is not None and is_local_name(module, function, expr.id):
                return None
            found = self.lookup(module, expr.id, depth)
            if found is None and expr.id not in module.defs and expr.id not in module.assigns:
                return ExternalSym(expr.id)  # a builtin, or unbound
            return found
        if isinstance(expr, ast.Attribute):
            if (
                isinstance(expr.value, ast.Name)
                and expr.value.id in ("self", "cls")
                and owner_class is not None
            ):
                return self.member(ClassSym(module, owner_class), expr.attr)
            base = self.resolve(module, expr.value, function, owner_class, depth + 1)
            if base is None:
                return None
            return self.member(base, expr.attr, depth + 1)
        return None

    def qualified_name(
        self, module: ModuleInfo, expr: ast.expr, function: ast.AST | None = None
    ) -> str | None:
        return qualified_name(module, expr, function)

    def _local_import(self, module: ModuleInfo, function: ast.AST | None, name: str) -> ImportRef | None:
        return local_import(module, function, name)

    # what a scheduled callable is (V2.2)

    def resolve_callable(
        self,
        module: ModuleInfo,
        expr: ast.expr,
        function: ast.AST | None = None,
        owner_class: ast.ClassDef | None = None,
    ) -> Symbol | None:
        """`resolve`, plus what a task expression can name inside a function: a nested
        `def` (or `name = lambda: F(...)`, which is F) of the function or an enclosing one,
        and `obj.method` where `obj` is `Class(...)` of this project bound in the function,
        or a parameter or `self` attribute annotated with such a class."""
        if isinstance(expr, ast.Name) and function is not None and local_import(module, function, expr.id) is None:
            found, local = self._local_definition(module, function, expr.id)
            if local:
                return found
        if isinstance(expr, ast.Attribute):
            cls = self.receiver_class(module, expr.value, function, owner_class)
            if cls is not None:
                return method_of(self, cls, expr.attr)
        if isinstance(expr, ast.Call):  # `add_task(make_job(db))`: a factory of partials
            factory = self.partial_factory(module, expr, function, owner_class)
            if factory is not None:
                partial = factory[1][0]
                return self.resolve_callable(factory[0].module, partial.args[0], factory[0].node)
            return None
        return self.resolve(module, expr, function, owner_class)

    def partial_factory(
        self, module: ModuleInfo, call: ast.Call, function: ast.AST | None, owner_class: ast.ClassDef | None = None
    ) -> tuple[FunctionSym, list[ast.Call]] | None:
        """The project function called, and its `functools.partial(F, ...)` returns, when
        every `return` of it is one (a partial built in another module)."""
        if not isinstance(call.func, (ast.Name, ast.Attribute)):
            return None
        sym = self.resolve_callable(module, call.func, function, owner_class)
        if not isinstance(sym, FunctionSym):
            return None
        returns = [n.value for n in walk_local(list(sym.node.body)) if isinstance(n, ast.Return)]
        partials = [r for r in returns if isinstance(r, ast.Call) and r.args
                    and qualified_name(sym.module, r.func, sym.node) == "functools.partial"]
        if not returns or len(partials) != len(returns):
            return None
        return sym, partials  # type: ignore[return-value]

    def _local_definition(self, module: ModuleInfo, function: ast.AST, name: str) -> tuple[Symbol | None, bool]:
        """(what `name` is, whether a function scope binds it) looking outwards from `function`."""
        scope: ast.AST | None = function
        while scope is not None:
            if isinstance(scope, (*FUNCTION_TYPES, ast.Lambda)):
                bindings = function_scope(scope).values(name)
                if name in function_scope(scope).globals_:
                    return None, False
                if bindings:
                    defs = [b.node for b in bindings if isinstance(b.node, FUNCTION_TYPES) and b.node is not scope]
                    if defs and len(defs) == len(bindings) and id(defs[-1]) in module.qualnames:
                        return FunctionSym(module, defs[-1]), True
                    if len(bindings) == 1 and isinstance(bindings[0].value, ast.Lambda):
                        body = bindings[0].value.body
                        if isinstance(body, ast.Call) and isinstance(body.func, (ast.Name, ast.Attribute)):
                            return self.resolve_callable(module, body.func, scope), True
                    return None, True
            scope = module.parents.get(id(scope))
        return None, False

    def receiver_class(
        self, module: ModuleInfo, expr: ast.expr, function: ast.AST | None, owner_class: ast.ClassDef | None
    ) -> ClassSym | None:
        """The project class of `obj` in `obj.method`, from a `Class(...)` binding in the
        function, an annotation (parameter, `x: Class = ...`, or a `self` attribute),
        `Class(...)` itself (`Service(db).method`), or a module-level instance the function
        does not rebind (`Users = UsersTable()`, here or imported)."""
        found: list[ClassSym] = []
        if isinstance(expr, ast.Name) and isinstance(function, (*FUNCTION_TYPES, ast.Lambda)):
            if expr.id in ("self", "cls"):
                return None  # `self.method` is resolved by `resolve`
            for binding in function_scope(function).values(expr.id):
                if binding.annotation is not None:
                    found.append(self._annotated_class(module, binding.annotation))
                elif binding.kind == "assign" and isinstance(binding.value, ast.Call):
                    sym = self.resolve(module, binding.value.func, function, owner_class)
                    found.append(sym if isinstance(sym, ClassSym) else None)  # type: ignore[arg-type]
                else:
                    found.append(None)  # type: ignore[arg-type]
            if not found and not is_local_name(module, function, expr.id):
                found = [self._instance_class(module, expr, function)]  # type: ignore[list-item]
        elif (isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self"
              and owner_class is not None):
            found = [self._annotated_class(module, a) for a in attribute_annotations(owner_class, expr.attr)]
        elif isinstance(expr, ast.Call) and isinstance(expr.func, (ast.Name, ast.Attribute)):
            sym = self.resolve(module, expr.func, function, owner_class)  # `Service(db).method`
            found = [sym] if isinstance(sym, ClassSym) else []
        classes = {id(c.node): c for c in found if c is not None}
        if len(classes) != 1 or None in found:
            return None  # unbound, bound to something else, or to two different classes
        return next(iter(classes.values()))

    def _instance_class(self, module: ModuleInfo, name: ast.Name, function: ast.AST | None) -> ClassSym | None:
        """The project class of a module-level instance (`event_bus = EventBus()`, here or
        imported from another module of the project)."""
        sym = self.resolve(module, name, function)
        if not isinstance(sym, ValueSym) or not isinstance(sym.value, ast.Call) \
                or not isinstance(sym.value.func, (ast.Name, ast.Attribute)):
            return None
        cls = self.resolve(sym.module, sym.value.func)
        return cls if isinstance(cls, ClassSym) else None

    def _annotated_class(self, module: ModuleInfo, annotation: ast.expr) -> ClassSym | None:
        """The project class an annotation names: `Service`, `Optional[Service]`, `Service | None`, "Service"."""
        target = _annotation_target(annotation)
        if target is None:
            return None
        sym = self.resolve(module, target)
        return sym if isinstance(sym, ClassSym) else None

    # tasks

    def _task_table(self) -> set[tuple[Path, str]]:
        """(module path, function qualname) of every function scheduled as a background task."""
        if self._tasks is None:
            # the keys of this index's own origins (one pass over the sites for both; not an
            # override's, so that a cached run can compare its assembled facts with these)
            self._tasks = set(ProjectIndex._task_origins(self))
        return self._tasks

    def is_task(self, module: ModuleInfo, node: ast.AST) -> bool:
        return (module.path, module.qualnames.get(id(node), "")) in self._task_table()

    def task_keys(self) -> set[tuple[Path, str]]:
        return set(self._task_table())

    def task_paths(self) -> set[Path]:
        if self._task_paths is None:
            self._task_paths = {path for path, _ in self._task_table()}
        return self._task_paths

    def task_origin(self, module: ModuleInfo, node: ast.AST) -> tuple[Path, int] | None:
        """Where the task defined by `node` is scheduled: the first background site (by path,
        then line) that hands it over; None when it is no task."""
        return self._task_origins().get((module.path, module.qualnames.get(id(node), "")))

    def _task_origins(self) -> dict[tuple[Path, str], tuple[Path, int]]:
        if self._origins is None:
            origins: dict[tuple[Path, str], tuple[Path, int]] = {}
            for module in list(self.by_path.values()):
                for key, line in scheduled_tasks(self, module):
                    if key not in origins or (module.path, line) < origins[key]:
                        origins[key] = (module.path, line)
            self._origins = origins
        return self._origins

    def task_schedulers(self, key: tuple[Path, str]) -> list[ModuleInfo] | None:
        """The modules that schedule the task `key`, when this index knows them without a
        scan (a cached run's assembled facts); None: scan the sites."""
        return None

    def resolve_task(self, module: ModuleInfo, site: ScheduleSite) -> FunctionSym | None:
        sym = self.resolve_callable(module, site.task, site.function, site.owner_class)
        return sym if isinstance(sym, FunctionSym) else None

    # project-wide facts about arguments (V2.4)

    def modules_added(self) -> list[ModuleInfo]:
        """The modules given to `add`, by path: what project-wide scans look at."""
        return [self.by_path[path] for path in sorted(self._added) if path in self.by_path]

    def session_flows(self) -> dict:
        """Request sessions that reach a task through a project helper's parameter:
        (helper path, helper qualname, parameter) -> the calls that pass one. Computed once
        per state of the index (see `bgtask_lint.flows`)."""
        key = ("session-flows",)
        if key not in self.cache:
            if ProjectIndex.flow_analysis is None:
                raise RuntimeError("no session-flow analysis registered (bgtask_lint.engine does it)")
            self.cache[key] = ProjectIndex.flow_analysis(self)
        return self.cache[key]  # type: ignore[return-value]

    def flow_summary(self) -> tuple:
        """The project-wide argument facts as a sorted tuple of plain values, for a digest:
        a module's findings depend on them and they are not reachable by its imports."""
        return tuple(sorted(
            (str(path), qualname, param, str(flow.caller_path), flow.caller, flow.line, flow.label)
            for (path, qualname, param), flows in self.session_flows().items() for flow in flows
        ))


def scheduled_tasks(index: ProjectIndex, module: ModuleInfo) -> list[tuple[tuple[Path, str], int]]:
    """The tasks a module schedules in the background, each with the line of its first site there."""
    first: dict[tuple[Path, str], int] = {}
    for site in module.sites:
        if site.is_background:
            sym = index.resolve_task(module, site)
            if sym is not None and (sym.key not in first or site.call.lineno < first[sym.key]):
                first[sym.key] = site.call.lineno
    return sorted(first.items(), key=lambda item: (str(item[0][0]), item[0][1]))


def _resolution_shape(module: ModuleInfo) -> tuple:
    """What of a module can change which functions are tasks: its names, imports and
    module-level values (aliases), and its scheduling sites."""
    return (
        tuple(module.functions),
        tuple(sorted(module.imports.items(), key=lambda item: item[0])),
        tuple(sorted(
            (module.qualnames.get(key, ""), tuple(sorted(refs.items()))) for key, refs in module.local_imports.items()
        )),
        tuple(sorted(module.defs)),
        # only name chains resolve any further (ast.dump would recurse on deep expressions)
        tuple(sorted((name, dotted(value) or "") for name, value in module.assigns.items())),
        tuple((s.form, dotted(s.task) or "", s.is_background, module.qualnames.get(id(s.function), ""),
               s.owner_class.name if s.owner_class else "", _task_head_shape(s)) for s in module.sites),
    )


def _task_head_shape(site: ScheduleSite) -> tuple:
    """What the local bindings of a task's head name say (nested def, `Class(...)`,
    annotation): `resolve_callable` reads them."""
    parts = dotted_name(site.task)
    if not parts or site.function is None:
        return ()
    return tuple(
        (b.kind, type(b.node).__name__, dotted(b.value.func) if isinstance(b.value, ast.Call) else "",
         ast.dump(b.annotation) if b.annotation is not None else "")
        for b in function_scope(site.function).values(parts[0])
    )


def attribute_annotations(owner: ast.ClassDef, attr: str) -> list[ast.expr]:
    """What annotates `self.<attr>`: `attr: T` in the class body, `self.attr: T = ...` in a
    method, or an `__init__` parameter annotated `T` that is assigned to `self.attr`."""
    found = _CLASS_ANNOTATIONS.get(owner)
    if found is None:  # every attribute of the class in one pass, not one pass per question
        found = _CLASS_ANNOTATIONS.put(owner, _annotations_by_attribute(owner))
    return list(found.get(attr, ()))


# a class's attribute -> annotations (a big class was walked whole for every attribute asked)
_CLASS_ANNOTATIONS = TreeCache(1024)


def _annotations_by_attribute(owner: ast.ClassDef) -> dict[str, list[ast.expr]]:
    found: dict[str, list[ast.expr]] = {}
    for stmt in owner.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            found.setdefault(stmt.target.id, []).append(stmt.annotation)
        if not isinstance(stmt, FUNCTION_TYPES):
            continue
        params = {a.arg: a.annotation for a in [*stmt.args.posonlyargs, *stmt.args.args, *stmt.args.kwonlyargs]}
        for node in walk_statements(stmt):
            if isinstance(node, ast.AnnAssign) and _self_attribute(node.target):
                found.setdefault(node.target.attr, []).append(node.annotation)  # type: ignore[attr-defined]
            elif stmt.name == "__init__" and isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
                annotation = params.get(node.value.id)
                if annotation is not None:
                    for attr in dict.fromkeys(t.attr for t in node.targets if _self_attribute(t)):  # type: ignore[attr-defined]
                        found.setdefault(attr, []).append(annotation)
    return found


def _self_attribute(target: ast.AST) -> bool:
    return isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"


def _annotation_target(annotation: ast.expr | None) -> ast.expr | None:
    """The one class an annotation is about, through Optional/`| None`/a string; None otherwise."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        sides = [s for s in (annotation.left, annotation.right)
                 if not (isinstance(s, ast.Constant) and s.value is None)]
        return _annotation_target(sides[0]) if len(sides) == 1 else None
    if isinstance(annotation, ast.Subscript) and (dotted(annotation.value) or "").endswith("Optional"):
        return _annotation_target(annotation.slice)
    if isinstance(annotation, (ast.Name, ast.Attribute)):
        return annotation
    return None


def positional_parameters(sym: FunctionSym, on_object: bool) -> list[str]:
    """The names a call fills by position. A method called through an object or a class
    (`self.send(x)`, `client.send(x)`: `on_object`) gets its first parameter implicitly,
    unless it is a staticmethod."""
    args = sym.node.args  # type: ignore[attr-defined]
    names = [a.arg for a in [*args.posonlyargs, *args.args]]
    if on_object and id(sym.node) in sym.module.owner_class and not any(
            last_name(d) == "staticmethod" for d in getattr(sym.node, "decorator_list", [])):
        return names[1:]
    return names


def method_of(index: "ProjectIndex", cls: ClassSym, name: str, depth: int = 0) -> FunctionSym | None:
    """`Class.name` defined in the class or a project base class; None for an abstract stub
    (the annotation names an interface: the code that runs is elsewhere)."""
    if depth > 8:
        return None
    found = index.member(cls, name)
    if isinstance(found, FunctionSym):
        return None if _is_stub(found.node) else found
    for base in cls.node.bases:
        target = index.resolve(cls.module, base)
        if isinstance(target, ClassSym):
            inherited = method_of(index, target, name, depth + 1)
            if inherited is not None:
                return inherited
    return None


def _is_stub(function: FunctionNode) -> bool:
    if any((dotted(d) or "").endswith("abstractmethod") for d in function.decorator_list):
        return True
    body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    return all(isinstance(s, ast.Pass) or (isinstance(s, ast.Raise) and "NotImplementedError" in ast.dump(s))
               for s in body)


def local_import(module: ModuleInfo, function: ast.AST | None, name: str) -> ImportRef | None:
    scope = function
    while scope is not None:
        ref = module.local_imports.get(id(scope), {}).get(name)
        if ref is not None:
            return ref
        scope = module.parents.get(id(scope))
    return None


def import_rooted(module: ModuleInfo, expr: ast.expr, function: ast.AST | None,
                  owner: ast.ClassDef | None) -> tuple[ImportRef, tuple[str, ...]] | None:
    """`(import, attributes)` when `ProjectIndex.resolve` of `expr` begins by following an
    import of `module` (`helper()` or `utils.helper()` after `from app import helper,
    utils`), as `resolve` decides it; None for anything else. It takes resolve's branches
    in resolve's order: change both together (tests/test_blocking_chain.py compares them).
    blocking._call_chain memoizes by it."""
    attributes: list[str] = []
    while isinstance(expr, ast.Attribute):
        if isinstance(expr.value, ast.Name) and expr.value.id in ("self", "cls") and owner is not None:
            return None
        attributes.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    ref = local_import(module, function, expr.id)
    if ref is None:
        if function is not None and is_local_name(module, function, expr.id):
            return None
        if expr.id in module.defs or expr.id in module.assigns:
            return None
        ref = module.imports.get(expr.id)
        if ref is None:
            return None
    return ref, tuple(reversed(attributes))


def qualified_name(module: ModuleInfo, expr: ast.expr, function: ast.AST | None = None) -> str | None:
    """The dotted name an expression refers to through imports: `sleep` -> `time.sleep`.

    Project modules keep their import name, so `asyncio.create_task` stays
    `asyncio.create_task` even when the project is the standard library. A relative
    import keeps its leading dots (`.tasks.run`), which matches no external API.
    """
    parts = dotted_name(expr)
    if parts is None:
        return None
    head, rest = parts[0], parts[1:]
    ref = local_import(module, function, head)
    if ref is None:
        if function is not None and is_local_name(module, function, head):
            return None
        ref = module.imports.get(head)
    if ref is not None:
        prefix = ref.module if ref.base is None else "." + ref.module
        dotted = f"{prefix}.{ref.attr}" if ref.attr else prefix
        return ".".join([dotted, *rest])
    if head in module.defs or head in module.assigns:
        return ".".join([module.name, *parts]) if module.name else ".".join(parts)
    return ".".join(parts)


# where the standard library defines what it re-exports: `from asyncio.tasks import create_task`
API_ALIASES = {
    "asyncio.tasks.create_task": "asyncio.create_task",
    "asyncio.tasks.ensure_future": "asyncio.ensure_future",
    "asyncio.events.get_event_loop": "asyncio.get_event_loop",
    "asyncio.events.get_running_loop": "asyncio.get_running_loop",
    "asyncio.events.new_event_loop": "asyncio.new_event_loop",
    "asyncio.runners.run": "asyncio.run",
}


def api_name(module: ModuleInfo, expr: ast.expr, function: ast.AST | None = None) -> str | None:
    """`imported_name`, with the standard library's re-exports made canonical
    (`from asyncio.tasks import create_task` is `asyncio.create_task`, and `asyncio`
    imported from another package, `from syncer import asyncio`, is asyncio); a module
    of this package (`from . import asyncio`, `from app import asyncio` in `app`)
    matches no library API."""
    name = imported_name(module, expr, function)
    if name is None or name.startswith("."):
        return None
    parts = dotted_name(expr) or []
    ref = local_import(module, function, parts[0]) or module.imports.get(parts[0])
    if (ref is not None and ref.attr == "asyncio" and ref.base is None
            and ref.module.split(".")[0] != module.name.split(".")[0]):
        # `from syncer import asyncio`: another package re-exporting the module itself (not
        # a module of this package that happens to be called asyncio)
        name = ".".join(["asyncio", *parts[1:]])
    return API_ALIASES.get(name, name)


def is_local_name(module: ModuleInfo, function: ast.AST, name: str) -> bool:
    """True when `name` is a parameter or assigned inside `function` (shadowing globals)."""
    if not isinstance(function, (*FUNCTION_TYPES, ast.Lambda)):
        return False
    scope = function_scope(function)
    return name in scope.bindings and name not in scope.globals_


def imported_name(module: ModuleInfo, expr: ast.expr, function: ast.AST | None = None) -> str | None:
    """`qualified_name`, only when the head of the name is bound by an import (V2.1): a
    parameter, a local list, a loop variable called `requests`, or no binding at all, is
    not the requests library. The innermost function that binds the head decides."""
    parts = dotted_name(expr)
    if parts is None:
        return None
    head = parts[0]
    scopes = []
    scope = function
    while scope is not None:
        scopes.append(scope)
        scope = module.parents.get(id(scope))
    if head not in module.imports and not any(head in module.local_imports.get(id(s), {}) for s in scopes):
        return None  # no import binds the name anywhere around: no need to look at the scopes
    for scope in scopes:
        if head in module.local_imports.get(id(scope), {}):
            return qualified_name(module, expr, function)
        if is_local_name(module, scope, head):
            return None
    return qualified_name(module, expr, function) if head in module.imports else None


_PACKAGE_FILE = os.sep + "__init__.py"


def _suffixes(path: Path | str, root: Path, is_package: bool) -> list[str]:
    text, base = str(path), str(root)
    prefix = base if base.endswith(os.sep) else base + os.sep
    if text.startswith(prefix):  # relative_to, as strings: a project registers every file
        parts = text[len(prefix):].split(os.sep)
    else:
        try:
            parts = list(Path(path).relative_to(root).parts)
        except ValueError:
            parts = list(Path(path).parts[-4:])
    if not parts:
        return []
    if is_package:
        parts = parts[:-1]
    else:
        parts[-1] = parts[-1][:-3]
    if not parts:
        return []
    return [".".join(parts[i:]) for i in range(len(parts))]


def _shared_prefix(a: Path, b: Path) -> int:
    count = 0
    for x, y in zip(a.parts, b.parts):
        if x != y:
            break
        count += 1
    return count


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    """The import name implied by the layout: climb while the directory is a package.

    Without `__init__.py` files (namespace packages, scripts) the path relative to the
    project root is used, minus a leading `src/`.
    """
    is_package = path.name == "__init__.py"
    parts = [] if is_package else [path.stem]
    directory = path.parent
    while (directory / "__init__.py").exists() and directory != directory.parent:
        parts.insert(0, directory.name)
        directory = directory.parent
    if len(parts) <= 1 and not is_package:
        try:
            rel = list(path.relative_to(root).with_suffix("").parts)
        except ValueError:
            rel = parts
        if rel and rel[0] == "src":
            rel = rel[1:]
        if rel:
            parts = rel
    return ".".join(parts), is_package
