"""Early cutoff: an entry that read a module which changed still holds when nothing the
entry could reach changed.

An entry (one file's findings) depends on every module its check read (deps.py). When
one of them, M, changed, the entry is checked again, though most edits of a module
touch what few of its readers reach: a `fix` that guards one function of a project's
`utils.py` re-checked 59 of lightrag's 172 files, for findings that could not change.

What a check reads of another module it reaches by name: an import names it, a call
names a function, a base class, an attribute, an annotation names a class. So the cache
keeps each module's *outline*, a digest of every top-level statement with the names it
binds (or, for a call or an attribute assigned at module level, the names it mentions:
`registry.add(handler)` may change what `registry` holds), and when M changed:

1. the statements of M whose digest is not matched in order (changed, added, removed,
   moved) name the *affected* names: those they bind, before or after the edit;
2. an unchanged statement of M that mentions an affected name (as a word of its text)
   is affected too (a function calling a changed one), until nothing more is;
3. an entry that read M still holds if no other module it read, and not its own file,
   mentions an affected name. A name M did not bind before the edit (an import a fix
   added) is reached only through an import of M: it counts only in a text that also
   mentions M's module name, or imports relatively (unless M has a star import or a
   module `__getattr__`, which may have bound it before).

Anything this cannot follow changes every reader, as before: a changed statement that
may bind any name (a star import, a dunder: `__all__` and `__getattr__` change what
names mean without naming them), a statement this does not know, a module whose old
outline is not known, or that no longer parses. Project-wide facts (the task table, the
session flows, with the lines they name) keep their own digests, and lookups their own
answers. The property tests (tests/test_cache_properties.py) hold a cached run to an
uncached one after any sequence of edits, these included.
"""

from __future__ import annotations

import ast
import re
from difflib import SequenceMatcher

from bgtask_lint.cache.store import sha
from bgtask_lint.files import source_lines
from bgtask_lint.names import bound_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from bgtask_lint.index import ModuleInfo

UNKNOWN = "?"  # a statement whose effect is not a set of plain names
OPENS = "*"  # ... that may bind any name: a star import, a dunder (`__getattr__`, `__all__`)
_COMPOUND = (ast.If, ast.Try, ast.With, ast.For, ast.While, ast.AsyncFor, ast.AsyncWith, ast.Match,
             *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def outline(module: "ModuleInfo") -> str:
    """Per top-level statement, `digest:names` (names joined by commas, or `?`/`*`), the
    statements joined by semicolons (no character JSON must escape: the cache reads it
    on every run that found a change)."""
    return ";".join(f"{digest}:{names}" for digest, names, _ in _statements(module))


def _statements(module: "ModuleInfo") -> list[tuple[str, str, str]]:
    """(digest, names, text) of each top-level statement, in order. The text is its lines,
    decorators included: a comment on them counts as a change (that costs a re-check only)."""
    source = module.source
    # (split at "\n" alone, in C, unless a line may end at a lone "\r")
    lines = source.split("\n") if "\r" not in source else source_lines(source)
    found = []
    for stmt in module.tree.body:  # type: ignore[attr-defined]
        decorators = getattr(stmt, "decorator_list", None)
        first = min(stmt.lineno, *(d.lineno for d in decorators)) if decorators else stmt.lineno
        text = "\n".join(lines[first - 1:stmt.end_lineno])
        digest = sha(text)[:12]
        names = bound_names(stmt)
        found.append((digest, (OPENS if _opens(stmt) else UNKNOWN) if names is None else ",".join(sorted(names)),
                      text))
    return found


def _opens(stmt: ast.stmt) -> bool:
    for node in ast.walk(stmt):
        if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
            return True
        name = node.id if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) else \
            getattr(node, "name", None) if isinstance(node, _DEFS) else None
        if name and _dunder(name):
            return True
    return False


def _dunder(name: str) -> bool:
    return name[:2] == "__" and name[-2:] == "__"


def bound_names(stmt: ast.stmt) -> set[str] | None:
    """The module-level names a top-level statement binds, or changes what they hold (a
    call or an attribute assigned: the names it mentions); None when its effect is more
    than that (or a dunder: those change what other names mean)."""
    names: set[str] = set()
    if isinstance(stmt, _DEFS):
        names.add(stmt.name)
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for alias in stmt.names:
            if alias.name == "*":
                return None
            names.add(bound_name(alias))
    elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Delete)):
        targets = stmt.targets if isinstance(stmt, (ast.Assign, ast.Delete)) else [stmt.target]
        for target in targets:
            if not _target_names(target, names):
                return None
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) or \
            isinstance(stmt, (ast.Pass, ast.Global, ast.Break, ast.Continue)):
        pass  # a docstring binds nothing and does nothing
    elif isinstance(stmt, (ast.Expr, ast.Raise, ast.Assert)):
        # a call at module level (`registry.add(handler)`, `log.setLevel(...)`) may change
        # what the names it mentions are: those
        names.update(_mentioned(stmt))
    elif isinstance(stmt, _COMPOUND):
        if not _compound_names(stmt, names):
            return None
    else:
        return None
    return None if any(_dunder(name) for name in names) else names


def _target_names(target: ast.AST, names: set[str]) -> bool:
    if isinstance(target, ast.Name):
        names.add(target.id)
        return True
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(_target_names(element, names) for element in target.elts)
    if isinstance(target, ast.Starred):
        return _target_names(target.value, names)
    if isinstance(target, (ast.Attribute, ast.Subscript)):
        names.update(_mentioned(target))  # `app.state.db = ...`: changes what `app` holds
        return True
    return False


def _mentioned(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _compound_names(stmt: ast.stmt, names: set[str]) -> bool:
    """The names an `if`, `try`, `with`, loop or `match` at module level binds, through every
    statement it holds (a def's name, not its body); False when one of those does more
    than bind names."""
    pending: list[ast.AST] = [stmt]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.For, ast.AsyncFor)) and not _target_names(node.target, names):
            return False
        if isinstance(node, (ast.With, ast.AsyncWith)) and not all(
                _target_names(item.optional_vars, names) for item in node.items if item.optional_vars is not None):
            return False
        if isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        if isinstance(node, ast.match_case):
            for part in ast.walk(node.pattern):
                names.update(value for value in (getattr(part, "name", None), getattr(part, "rest", None))
                             if isinstance(value, str))
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (*_COMPOUND, ast.excepthandler, ast.match_case)):
                pending.append(child)
            elif isinstance(child, ast.stmt):
                found = bound_names(child)
                if found is None:
                    return False
                names |= found
    # `if (match := pattern.search(x)):` binds too (inside a def it binds there: a superset)
    names.update(node.target.id for node in ast.walk(stmt)
                 if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name))
    return True


class Affected:
    """What an edit of one module changed, for its readers: `reaches(text)`."""

    def __init__(self, changed: set[str], added: set[str], module_name: str):
        self.changed = changed
        self.added = added
        self._changed = _words(changed)
        self._added = _words(added)
        # how a text names the module: its last dotted part (a package: its own name), or
        # a relative import
        self._module = re.compile(rf"\b{re.escape(module_name.rsplit('.', 1)[-1])}\b|\bfrom\s+\.") if module_name \
            else None

    def reaches(self, text: str) -> bool:
        """Whether `text` mentions a name the edit changed (or, with the module, one it added).
        (A substring test first: most texts name none, and a search for words is slower.)"""
        if self._changed is not None and any(name in text for name in self.changed) and self._changed.search(text):
            return True
        if self._added is not None and any(name in text for name in self.added) and self._added.search(text):
            return self._module is None or self._module.search(text) is not None
        return False


def _words(names: set[str]) -> re.Pattern[str] | None:
    if not names:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(name) for name in sorted(names)) + r")\b")


def _split(names: str) -> list[str]:
    return [name for name in names.split(",") if name]


def affected(old_outline: str, module: "ModuleInfo") -> Affected | None:
    """What changed between the module whose outline was `old_outline` and `module` (None:
    anything, for every reader)."""
    old = [entry.split(":", 1) for entry in old_outline.split(";") if entry]
    if any(len(entry) != 2 for entry in old):
        return None
    new = _statements(module)
    matched_old: set[int] = set()
    matched_new: set[int] = set()
    matcher = SequenceMatcher(None, [d for d, _ in old], [d for d, _, _ in new], autojunk=False)
    for block in matcher.get_matching_blocks():
        matched_old.update(range(block.a, block.a + block.size))
        matched_new.update(range(block.b, block.b + block.size))
    touched = [old[i][1] for i in range(len(old)) if i not in matched_old] + \
              [new[i][1] for i in range(len(new)) if i not in matched_new]
    if UNKNOWN in touched or OPENS in touched:
        return None
    before = {name for _, names in old if names not in (UNKNOWN, OPENS) for name in _split(names)}
    named = {name for names in touched for name in _split(names)}
    added = {name for names in (new[i][1] for i in range(len(new)) if i not in matched_new)
             for name in _split(names)} - before
    if any(names == OPENS for _, names in old):
        added = set()  # (a star import or a module `__getattr__` may have bound them before: changed, then)
    changed = named - added
    # what the module's unchanged statements reach of it: affected too
    unchanged = [new[i] for i in sorted(matched_new)]
    grown = True
    while grown:
        grown = False
        words = _words(changed | added)
        if words is None:
            break
        for _, names, text in unchanged:
            if words.search(text):
                if names in (UNKNOWN, OPENS):
                    return None
                fresh = set(_split(names)) - changed
                if fresh:
                    changed |= fresh
                    grown = True
    return Affected(changed, added, module.name)
