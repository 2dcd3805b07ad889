"""Where a receiver comes from: the calls and annotations a name or `self.attr` is bound from.

The catalogues ask "is `s` in `s.get(url)` a `requests.Session`?". `s` may be bound in
the function (assigned, `with ... as s`, a parameter annotated with the type), at module
level, or be `self.s` assigned in any method of the class. Names are matched through
imports only (V2.1), in the function where each value is written.
"""

from __future__ import annotations

import ast

from bgtask_lint.index import FUNCTION_TYPES, ModuleInfo, imported_name
from bgtask_lint.names import walk_statements
from bgtask_lint.scope import function_scope

# a value and the function it is written in (None: module level)
Origin = tuple[ast.expr, "ast.AST | None"]
MAX_DEPTH = 4


def _is_function(node: ast.AST | None) -> bool:
    return isinstance(node, (*FUNCTION_TYPES, ast.Lambda))


def _self_attributes(owner: ast.ClassDef) -> dict[str, list[tuple[ast.AST, ast.AST | None]]]:
    """attr -> [(assigned value or annotation statement, method)] for `self.attr = ...` and
    `self.attr: T = ...` in the methods of the class, and class-level `attr = ...`."""
    cached = getattr(owner, "_bgt_self_attrs", None)
    if cached is not None:
        return cached
    found: dict[str, list[tuple[ast.AST, ast.AST | None]]] = {}
    for stmt in owner.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append((stmt, None))
        if not isinstance(stmt, FUNCTION_TYPES):
            continue
        for node in walk_statements(stmt):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                            and target.value.id == "self"):
                        found.setdefault(target.attr, []).append((node, stmt))
    owner._bgt_self_attrs = found  # type: ignore[attr-defined]
    return found


def self_attribute_values(owner: ast.ClassDef) -> dict[str, list[Origin]]:
    """attr -> what `self.<attr>` is assigned in the methods of the class (and at class
    level), each with the method that assigns it; attributes only annotated have none."""
    return {attr: [(stmt.value, method) for stmt, method in pairs  # type: ignore[attr-defined]
                   if getattr(stmt, "value", None) is not None]
            for attr, pairs in _self_attributes(owner).items()}


def _owner(module: ModuleInfo, function: ast.AST | None) -> ast.ClassDef | None:
    return module.owner_class.get(id(function)) if function is not None else None


def origins(module: ModuleInfo, function: ast.AST | None, expr: ast.expr, depth: int = 0) -> list[Origin]:
    """The calls `expr` may hold: itself if it is a call; what a name or `self.attr` is
    bound from; both sides of `a or b` and `a if c else b`."""
    if depth > MAX_DEPTH:
        return []
    if isinstance(expr, ast.Call):
        return [(expr, function)]
    if isinstance(expr, ast.BoolOp):
        return [o for value in expr.values for o in origins(module, function, value, depth + 1)]
    if isinstance(expr, ast.IfExp):
        return origins(module, function, expr.body, depth + 1) + origins(module, function, expr.orelse, depth + 1)
    found: list[Origin] = []
    if isinstance(expr, ast.Name):
        local = function_scope(function).values(expr.id) if _is_function(function) else []
        if local:
            for binding in local:
                if binding.kind in ("assign", "with") and binding.value is not None:
                    found += origins(module, function, binding.value, depth + 1)
        elif expr.id in module.assigns:
            found += origins(module, None, module.assigns[expr.id], depth + 1)
    elif isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        owner = _owner(module, function)
        if owner is not None:
            for stmt, method in _self_attributes(owner).get(expr.attr, ()):
                value = getattr(stmt, "value", None)
                if value is not None:
                    found += origins(module, method, value, depth + 1)
    return found


def annotations(module: ModuleInfo, function: ast.AST | None, expr: ast.expr) -> list[Origin]:
    """The annotations a name (parameter, `x: T = ...`) or `self.attr` is declared with."""
    if isinstance(expr, ast.Name) and _is_function(function):
        return [(b.annotation, function) for b in function_scope(function).values(expr.id)
                if b.annotation is not None]
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        owner = _owner(module, function)
        if owner is not None:
            return [(stmt.annotation, method) for stmt, method in _self_attributes(owner).get(expr.attr, ())
                    if isinstance(stmt, ast.AnnAssign)]
    return []


def imported_modules(module: ModuleInfo) -> frozenset[str]:
    """The top-level modules imported anywhere in the module (at the top or in a function)."""
    cached = module.derived.get("imported modules")
    if cached is None:
        refs = [*module.imports.values(), *(r for refs in module.local_imports.values() for r in refs.values())]
        cached = module.derived["imported modules"] = frozenset(ref.module.split(".")[0] for ref in refs
                                                                if ref.base is None)
    return cached  # type: ignore[return-value]


def made_by(module: ModuleInfo, function: ast.AST | None, expr: ast.expr, types: set[str] | frozenset[str],
            annotated: bool = True) -> bool:
    """Is `expr` made by a call to one of `types` (dotted, through imports), or declared
    with one of them as its type?"""
    if imported_modules(module).isdisjoint(name.split(".")[0] for name in types):
        return False  # names come from imports: without one, nothing here is of these types
    for value, where in origins(module, function, expr):
        if imported_name(module, value.func, where) in types:  # type: ignore[attr-defined]
            return True
    if annotated:
        for annotation, where in annotations(module, function, expr):
            for node in ast.walk(annotation):
                if isinstance(node, (ast.Name, ast.Attribute)) and imported_name(module, node, where) in types:
                    return True
    return False
