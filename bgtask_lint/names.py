"""Small helpers for reading names out of `ast` expressions."""

from __future__ import annotations

import ast

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Iterator


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
# node types with no child node at all (a Name's only child is its Load/Store context): a
# walk that looks for anything but these need not enter them
LEAF_TYPES = MARKER_TYPES | {ast.Constant, ast.Name, ast.alias, ast.Pass, ast.Break, ast.Continue}

# the nodes that open a scope of their own: a walk of one function's body stops at them
NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def child_nodes(node: ast.AST, skipped: frozenset[type]) -> list[ast.AST]:
    """`ast.iter_child_nodes(node)` as a list, without the nodes whose type is in `skipped`
    (no generator: every walk of the checker calls this once per node)."""
    found: list[ast.AST] = []
    AST = ast.AST
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, AST):
            if type(value) not in skipped:
                found.append(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, AST) and type(item) not in skipped:
                    found.append(item)
    return found


# the fields that hold statements (a block, except handlers, match cases); no other does
BLOCK_FIELDS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
# what those fields hold: the statement-level nodes
STATEMENT_LEVEL = (ast.stmt, ast.excepthandler, ast.match_case)


def child_statements(node: ast.AST) -> list[ast.AST]:
    """The statements (and handlers, match cases) directly in `node`'s blocks, in field
    order: `ast.iter_child_nodes` without the expressions, never entered."""
    found: list[ast.AST] = []
    for name in node._fields:
        if name in BLOCK_FIELDS:
            value = getattr(node, name, None)
            if isinstance(value, list):
                found.extend(value)
    return found


def walk_statements(node: ast.AST) -> list[ast.AST]:
    """`node` and every statement (and handler, match case) below it, nested scopes
    included, in `ast.walk`'s order: `[n for n in ast.walk(node) if <a statement>]` without
    entering a single expression (no statement is inside one)."""
    found = [node]
    at = 0
    while at < len(found):  # breadth first, level by level, as ast.walk
        found.extend(child_statements(found[at]))
        at += 1
    return found


# nested scopes, and the contexts and operators (no walk_local caller looks for those; the
# walks of a helper's calls in blocking.py skip them too)
NOT_ENTERED = MARKER_TYPES | set(NESTED_SCOPES)
_SCOPE_TYPES = frozenset(NESTED_SCOPES)


def walk_local(nodes: list[ast.AST] | ast.AST) -> Iterator[ast.AST]:
    """Like ast.walk, but depth first, not entering nested functions, lambdas or classes
    (one of the `nodes` listed, a def in a body, is yielded but not entered; a single
    node given is walked, whatever it is), and yielding no Load/Store context or operator."""
    given = None if isinstance(nodes, list) else nodes
    stack = [nodes] if given is not None else list(nodes)
    leaves = LEAF_TYPES
    scopes = _SCOPE_TYPES
    while stack:
        node = stack.pop()
        yield node
        kind = type(node)
        # (a leaf has no child but its context; a scope is found here only where listed)
        if kind not in leaves and (kind not in scopes or node is given):
            stack.extend(child_nodes(node, NOT_ENTERED))


class TreeCache:
    """Facts about syntax trees, keyed by a tree's id. The tree is held with its facts (so
    that the id stays its own), at most `size` trees, oldest out first; a fix lets go of
    every cache's trees when it ends (`release_trees`: a language server lives on, and a
    big module's tree is tens of MB)."""

    made: list["TreeCache"] = []

    def __init__(self, size: int):
        self.size = size
        self._entries: dict[int, tuple[ast.AST, object]] = {}
        TreeCache.made.append(self)

    def get(self, tree: ast.AST):
        entry = self._entries.get(id(tree))
        return entry[1] if entry is not None and entry[0] is tree else None

    def put(self, tree: ast.AST, facts):
        if len(self._entries) >= self.size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[id(tree)] = (tree, facts)
        return facts

    def __len__(self) -> int:
        return len(self._entries)


def release_trees() -> None:
    for cache in TreeCache.made:
        cache._entries.clear()


_WALKED = TreeCache(1)


def walked(tree: ast.AST) -> list[ast.AST]:
    """The nodes of `tree` in `ast.walk`'s order, without the contexts and operators; one
    walk for the tree asked about last (a fix asks a big module's tree the same sort of
    question from several places, each once a walk)."""
    cached = _WALKED.get(tree)
    if cached is not None:
        return cached
    found: list[ast.AST] = [tree]
    at = 0
    while at < len(found):  # breadth first, as ast.walk: a node's children follow in field order
        node = found[at]
        at += 1
        if type(node) not in LEAF_TYPES:
            found.extend(child_nodes(node, MARKER_TYPES))
    return _WALKED.put(tree, found)


def bound_name(alias: ast.alias) -> str:
    """The name an import alias binds: `import a.b` binds `a`, `import a.b as c` and
    `from a import b as c` bind `c`, `from a import b` binds `b`."""
    return alias.asname or alias.name.split(".")[0]


def caught_types(handler: ast.ExceptHandler) -> list[ast.expr]:
    """The exception types an `except` names (`except (A, b.B):` -> A, b.B); none for a
    bare `except:`."""
    if handler.type is None:
        return []
    return list(handler.type.elts) if isinstance(handler.type, ast.Tuple) else [handler.type]


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
