"""The project index: modules, imports, definitions, and which functions are background tasks.

Built in its own pass over every module of the project before any rule runs, so a
rule checking `main.py` knows that `tasks.process_csv` is scheduled as a task, and a
rule checking `tasks.py` knows it too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Union

from bgtask_lint.names import dotted, dotted_name

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]
FUNCTION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)
SCOPE_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass(frozen=True)
class ImportRef:
    """`module` is dotted; `base` is set for relative imports (the directory they start from)."""

    module: str
    attr: str | None = None
    base: Path | None = None


@dataclass
class ModuleInfo:
    path: Path
    name: str
    tree: ast.Module
    source: str
    is_package: bool
    imports: dict[str, ImportRef] = field(default_factory=dict)
    local_imports: dict[int, dict[str, ImportRef]] = field(default_factory=dict)
    defs: dict[str, ast.AST] = field(default_factory=dict)  # top-level def/class by name
    assigns: dict[str, ast.expr] = field(default_factory=dict)  # module-level name = value
    functions: dict[str, FunctionNode] = field(default_factory=dict)  # qualname -> def
    qualnames: dict[int, str] = field(default_factory=dict)  # id(def) -> qualname
    owner_class: dict[int, ast.ClassDef] = field(default_factory=dict)  # id(method) -> class
    parents: dict[int, ast.AST] = field(default_factory=dict)  # id(function) -> enclosing function
    sites: list["ScheduleSite"] = field(default_factory=list)
    site_by_call: dict[int, "ScheduleSite"] = field(default_factory=dict)


# --- symbols -------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSym:
    module: ModuleInfo
    node: FunctionNode

    @property
    def qualname(self) -> str:
        return self.module.qualnames[id(self.node)]

    @property
    def key(self) -> tuple[Path, str]:
        return (self.module.path, self.qualname)


@dataclass(frozen=True)
class ClassSym:
    module: ModuleInfo
    node: ast.ClassDef


@dataclass(frozen=True)
class ModuleSym:
    module: ModuleInfo


@dataclass(frozen=True)
class ValueSym:
    """A module-level `name = value` of the project."""

    module: ModuleInfo
    name: str
    value: ast.expr


@dataclass(frozen=True)
class ExternalSym:
    """Something outside the project (or a builtin): only its dotted name is known."""

    name: str


Symbol = Union[FunctionSym, ClassSym, ModuleSym, ValueSym, ExternalSym]


# --- scheduling sites ------------------------------------------------------------------


@dataclass
class ScheduleSite:
    """One place where a callable is handed over to run in the background."""

    form: str  # add_task | BackgroundTask | create_task | start_soon
    call: ast.Call  # the scheduling call
    task: ast.expr  # the expression naming F (after unwrapping functools.partial)
    args: list[ast.expr]  # every argument bound to the task
    function: FunctionNode | None  # the function containing the site
    owner_class: ast.ClassDef | None
    is_background: bool = True  # False for create_task whose result is awaited


# --- the index -----------------------------------------------------------------------


class ProjectIndex:
    def __init__(self, root: Path, modules: Iterable[ModuleInfo]):
        self.root = root
        self.by_path: dict[Path, ModuleInfo] = {}  # the modules parsed so far
        self._by_suffix: dict[str, list[Path]] = {}
        self._known: set[Path] = set()
        self._failed: set[Path] = set()
        # parses a project file on first use; modules nobody imports are never parsed
        self._loader: Callable[[Path], ModuleInfo] | None = None
        self._tasks: set[tuple[Path, str]] | None = None
        self._task_paths: set[Path] | None = None
        self.cache: dict[object, object] = {}  # memo for analyses built on the index
        for module in modules:
            self.add(module)

    def register(self, paths: Iterable[Path], loader: Callable[[Path], ModuleInfo]) -> None:
        """Make project files resolvable by import name without parsing them yet."""
        self._loader = loader
        for path in paths:
            self._know(path)

    def _know(self, path: Path) -> None:
        if path in self._known:
            return
        self._known.add(path)
        for suffix in _suffixes(path, self.root, path.name == "__init__.py"):
            self._by_suffix.setdefault(suffix, []).append(path)

    def add(self, module: ModuleInfo) -> None:
        """Add or replace a module (a fixed text, an editor buffer)."""
        self._know(module.path)
        self._failed.discard(module.path)
        old = self.by_path.get(module.path)
        self.by_path[module.path] = module
        # `fix` replaces a module after every rule it fixes: keep the task table unless
        # what decides which functions are tasks changed
        if old is None or _resolution_shape(old) != _resolution_shape(module):
            self._tasks = self._task_paths = None
        self.cache.clear()

    def remove(self, path: Path) -> None:
        """Drop a module (deleted, or no longer parses on disk)."""
        if self.by_path.pop(path, None) is not None:
            self._tasks = self._task_paths = None
            self.cache.clear()

    def module(self, path: Path) -> ModuleInfo | None:
        found = self.by_path.get(path)
        if found is not None or path not in self._known or path in self._failed or self._loader is None:
            return found
        try:
            found = self._loader(path)
        except Exception:  # an unreadable or unparsable module resolves to nothing
            self._failed.add(path)
            return None
        self.by_path[path] = found  # a lazily parsed module never has scheduling sites
        return found

    # modules

    def find_module(self, ref_module: str, near: ModuleInfo, base: Path | None = None) -> ModuleInfo | None:
        if base is not None:
            if not ref_module:
                return self.module(base / "__init__.py")
            target = base.joinpath(*ref_module.split("."))
            return self.module(Path(str(target) + ".py")) or self.module(target / "__init__.py")
        candidates = self._by_suffix.get(ref_module)
        if not candidates:
            return None
        if len(candidates) == 1:
            return self.module(candidates[0])
        return self.module(max(candidates, key=lambda p: _shared_prefix(p, near.path)))

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
            return None
        if isinstance(sym, ExternalSym):
            return ExternalSym(f"{sym.name}.{attr}")
        return None

    def resolve(
        self,
        module: ModuleInfo,
        expr: ast.expr,
        function: ast.AST | None = None,
        owner_class: ast.ClassDef | None = None,
        depth: int = 0,
    ) -> Symbol | None:
        """Resolve a Name/Attribute chain to a definition of the project or an external name."""
        if isinstance(expr, ast.Name):
            ref = self._local_import(module, function, expr.id)
            if ref is not None:
                return self._follow(module, ref, depth + 1)
            if function is not None and _is_local_name(module, function, expr.id):
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

    # tasks

    def _task_table(self) -> set[tuple[Path, str]]:
        """(module path, function qualname) of every function scheduled as a background task."""
        if self._tasks is None:
            table: set[tuple[Path, str]] = set()
            for module in list(self.by_path.values()):
                for site in module.sites:
                    if not site.is_background:
                        continue
                    sym = self.resolve(module, site.task, site.function, site.owner_class)
                    if isinstance(sym, FunctionSym):
                        table.add(sym.key)
            self._tasks = table
        return self._tasks

    def is_task(self, module: ModuleInfo, node: ast.AST) -> bool:
        return (module.path, module.qualnames.get(id(node), "")) in self._task_table()

    def task_keys(self) -> set[tuple[Path, str]]:
        return set(self._task_table())

    def task_paths(self) -> set[Path]:
        if self._task_paths is None:
            self._task_paths = {path for path, _ in self._task_table()}
        return self._task_paths

    def resolve_task(self, module: ModuleInfo, site: ScheduleSite) -> FunctionSym | None:
        sym = self.resolve(module, site.task, site.function, site.owner_class)
        return sym if isinstance(sym, FunctionSym) else None


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
               s.owner_class.name if s.owner_class else "") for s in module.sites),
    )


def local_import(module: ModuleInfo, function: ast.AST | None, name: str) -> ImportRef | None:
    scope = function
    while scope is not None:
        ref = module.local_imports.get(id(scope), {}).get(name)
        if ref is not None:
            return ref
        scope = module.parents.get(id(scope))
    return None


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
        if function is not None and _is_local_name(module, function, head):
            return None
        ref = module.imports.get(head)
    if ref is not None:
        prefix = ref.module if ref.base is None else "." + ref.module
        dotted = f"{prefix}.{ref.attr}" if ref.attr else prefix
        return ".".join([dotted, *rest])
    if head in module.defs or head in module.assigns:
        return ".".join([module.name, *parts]) if module.name else ".".join(parts)
    return ".".join(parts)


def _is_local_name(module: ModuleInfo, function: ast.AST, name: str) -> bool:
    """True when `name` is a parameter or assigned inside `function` (shadowing globals)."""
    from bgtask_lint.scope import function_scope

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
    scope = function
    while scope is not None:
        if head in module.local_imports.get(id(scope), {}):
            return qualified_name(module, expr, function)
        if _is_local_name(module, scope, head):
            return None
        scope = module.parents.get(id(scope))
    return qualified_name(module, expr, function) if head in module.imports else None


def _suffixes(path: Path, root: Path, is_package: bool) -> list[str]:
    try:
        parts = list(path.relative_to(root).parts)
    except ValueError:
        parts = list(path.parts[-4:])
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
