"""Small helpers for reading names out of `ast` expressions."""

from __future__ import annotations

import ast


def _subclasses(*bases: type) -> frozenset[type]:
    found: set[type] = set()
    pending = list(bases)
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return frozenset(found)


# nodes that bind nothing, use no name and have no child: the Load/Store contexts and the
# operators (about one node in four); walks that look for names and calls need not enter them
MARKER_TYPES = _subclasses(ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)


def dotted_name(expr: ast.AST) -> list[str] | None:
    """`a.b.c` -> ["a", "b", "c"]; None for anything that is not a plain name chain."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
        return parts[::-1]
    return None


def dotted(expr: ast.AST) -> str | None:
    parts = dotted_name(expr)
    return ".".join(parts) if parts else None


def last_name(expr: ast.AST) -> str | None:
    """The rightmost identifier of a name, attribute or call: `a.b()` -> "b"."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Name):
        return expr.id
    return None


def keyword(call: ast.Call, name: str) -> ast.keyword | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw
    return None


def has_star_kwargs(call: ast.Call) -> bool:
    return any(kw.arg is None for kw in call.keywords)


def is_literal_constant(expr: ast.AST) -> bool:
    return isinstance(expr, ast.Constant) and isinstance(expr.value, (str, bytes, int, float, complex))
