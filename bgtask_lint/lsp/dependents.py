"""Which open documents to re-check first after an edit: those related by imports to the
changed module. They import it (its dependents), or it imports them (a helper's findings
can depend on its callers); a package `__init__.py` in between counts as a re-export, so
the relation goes on through it. Modules further away are rarely affected.

Only an order, not a soundness condition: the server re-checks every other open document
too, once the edits pause. So the graph may be approximate, and it is built without
parsing anything: its nodes are the modules the index has already parsed (every module a
check looked into is among them), its edges match import names against module names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from bgtask_lint.index import ImportRef, ModuleInfo


class ImportGraph:
    """Import edges between parsed modules, remembered per module object (a module that
    is replaced in the index gets its edges computed again)."""

    def __init__(self) -> None:
        self._edges: dict[Path, tuple[ModuleInfo, int, frozenset[Path]]] = {}

    def related(self, modules: Mapping[Path, ModuleInfo], changed: Path, candidates: Iterable[Path]) -> list[Path]:
        """The candidates that import `changed`, or that it imports (directly, or through
        package `__init__.py` modules)."""
        names = _names(modules)
        forward = {path: self._targets(module, modules, names) for path, module in modules.items()}
        backward: dict[Path, set[Path]] = {}
        for path, targets in forward.items():
            for target in targets:
                backward.setdefault(target, set()).add(path)
        near = _closure(changed, forward) | _closure(changed, backward)
        return [path for path in candidates if path in near]

    def _targets(self, module: ModuleInfo, modules: Mapping[Path, ModuleInfo],
                 names: dict[str, list[Path]]) -> frozenset[Path]:
        known = self._edges.get(module.path)
        # the set of parsed modules only grows between replacements: its size says when
        # an import may now match a module parsed since
        if known is not None and known[0] is module and known[1] == len(modules):
            return known[2]
        targets: set[Path] = set()
        refs = list(module.imports.values()) + [r for scope in module.local_imports.values() for r in scope.values()]
        for ref in refs:
            targets.update(p for p in _candidates(ref, names) if p in modules)
        targets.discard(module.path)
        found = frozenset(targets)
        self._edges[module.path] = (module, len(modules), found)
        return found


def _names(modules: Mapping[Path, ModuleInfo]) -> dict[str, list[Path]]:
    """Every dotted suffix of every module's import name (`app.tasks.jobs`, `tasks.jobs`,
    `jobs`), as the index matches imports against a project laid out below its root."""
    names: dict[str, list[Path]] = {}
    for path, module in modules.items():
        parts = module.name.split(".") if module.name else []
        for start in range(len(parts)):
            names.setdefault(".".join(parts[start:]), []).append(path)
    return names


def _candidates(ref: ImportRef, names: dict[str, list[Path]]) -> list[Path]:
    if ref.base is not None:  # relative: files below the directory it starts from
        directory = ref.base.joinpath(*ref.module.split(".")) if ref.module else ref.base
        found = [directory / "__init__.py", Path(f"{directory}.py")]
        if ref.attr:
            found += [directory / f"{ref.attr}.py", directory / ref.attr / "__init__.py"]
        return found
    dotted = [ref.module] + ([f"{ref.module}.{ref.attr}"] if ref.attr else [])
    return [path for name in dotted for path in names.get(name, ())]


def _closure(start: Path, edges: Mapping[Path, Iterable[Path]]) -> set[Path]:
    """`start`, its neighbours, and theirs as long as the way goes through packages'
    `__init__.py` (the usual re-exports)."""
    seen = {start}
    pending = [start]
    while pending:
        for target in edges.get(pending.pop(), ()):
            if target not in seen:
                seen.add(target)
                if target.name == "__init__.py":
                    pending.append(target)
    return seen
