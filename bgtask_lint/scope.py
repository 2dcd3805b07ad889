"""What names a function binds, and where it uses them (one walk per function, cached)."""

from __future__ import annotations

import ast

from bgtask_lint.names import LEAF_TYPES, MARKER_TYPES, NESTED_SCOPES, bound_name, child_nodes
from bgtask_lint.plain import Value


class Binding(Value, frozen=True):
    __slots__ = ("kind", "node", "value", "annotation", "default", "is_async_with")

    def __init__(self, kind: str, node: ast.AST, value: ast.expr | None = None, annotation: ast.expr | None = None,
                 default: ast.expr | None = None, is_async_with: bool = False) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "kind", kind)  # "param" | "assign" | "with" | "for" | "other"
        set_field(self, "node", node)  # the ast.arg, or the statement that binds
        set_field(self, "value", value)  # the assigned value / context manager expression
        set_field(self, "annotation", annotation)
        set_field(self, "default", default)
        set_field(self, "is_async_with", is_async_with)


class FunctionScope(Value):
    __slots__ = ("bindings", "globals_", "uses")

    def __init__(self) -> None:
        self.bindings: dict[str, list[Binding]] = {}
        self.globals_: set[str] = set()
        # every Load of a name in the function (nested scopes included): (name node, parent)
        self.uses: dict[str, list[tuple[ast.Name, ast.AST]]] = {}

    def param(self, name: str) -> Binding | None:
        for binding in self.bindings.get(name, ()):
            if binding.kind == "param":
                return binding
        return None

    def values(self, name: str) -> list[Binding]:
        return self.bindings.get(name, [])


def _params(function: ast.AST) -> list[tuple[ast.arg, ast.expr | None]]:
    args = function.args  # type: ignore[attr-defined]
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(positional, defaults))
    pairs += list(zip(args.kwonlyargs, args.kw_defaults))
    if args.vararg:
        pairs.append((args.vararg, None))
    if args.kwarg:
        pairs.append((args.kwarg, None))
    return pairs


def parameters(function: ast.AST) -> list[tuple[ast.arg, ast.expr | None]]:
    """Every parameter with its default (None when it has none)."""
    return _params(function)


def _bind_target(scope: FunctionScope, target: ast.AST, binding: Binding) -> None:
    if isinstance(target, ast.Name):
        scope.bindings.setdefault(target.id, []).append(binding)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _bind_target(scope, element, Binding("other", binding.node))
    elif isinstance(target, ast.Starred):
        _bind_target(scope, target.value, Binding("other", binding.node))


def function_scope(function: ast.AST) -> FunctionScope:
    cached = getattr(function, "_bgt_scope", None)
    if cached is not None:
        return cached
    scope = FunctionScope()
    if not isinstance(function, ast.ClassDef):
        for arg, default in _params(function):
            scope.bindings.setdefault(arg.arg, []).append(
                Binding("param", arg, annotation=arg.annotation, default=default)
            )
    body = function.body if isinstance(function.body, list) else [function.body]  # type: ignore[attr-defined]
    # (node, parent, inside_nested_scope)
    stack: list[tuple[ast.AST, ast.AST, bool]] = [(stmt, function, False) for stmt in reversed(body)]
    Name, Load = ast.Name, ast.Load
    binders, nested_scopes = _BINDING_TYPES, _NESTED_SCOPE_TYPES
    leaves = LEAF_TYPES  # no binding, no nested scope, no child: only a name's use to note
    while stack:
        node, parent, nested = stack.pop()
        kind = type(node)
        if kind in leaves:
            if kind is Name and type(node.ctx) is Load:
                scope.uses.setdefault(node.id, []).append((node, parent))
            continue
        if not nested and kind in binders:
            _collect_binding(scope, node)
        child_nested = nested or kind in nested_scopes
        if kind in nested_scopes and not nested:
            # a nested def binds its own name here
            if kind is not ast.Lambda:
                scope.bindings.setdefault(node.name, []).append(Binding("other", node))
        stack.extend((child, node, child_nested) for child in child_nodes(node, MARKER_TYPES))
    function._bgt_scope = scope  # type: ignore[attr-defined]
    return scope


# the nodes `_collect_binding` looks at (by exact type: the ast classes have no subclasses)
_BINDING_TYPES = frozenset({
    ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor,
    ast.comprehension, ast.Import, ast.ImportFrom, ast.ExceptHandler, ast.Global, ast.Nonlocal,
})
_NESTED_SCOPE_TYPES = frozenset(NESTED_SCOPES)


def _collect_binding(scope: FunctionScope, node: ast.AST) -> None:
    if isinstance(node, ast.Assign):
        for target in node.targets:
            _bind_target(scope, target, Binding("assign", node, value=node.value))
    elif isinstance(node, ast.AnnAssign):
        _bind_target(scope, node.target, Binding("assign", node, value=node.value, annotation=node.annotation))
    elif isinstance(node, ast.AugAssign):
        _bind_target(scope, node.target, Binding("other", node))
    elif isinstance(node, ast.NamedExpr):
        _bind_target(scope, node.target, Binding("assign", node, value=node.value))
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        for item in node.items:
            if item.optional_vars is not None:
                _bind_target(
                    scope,
                    item.optional_vars,
                    Binding("with", node, value=item.context_expr, is_async_with=isinstance(node, ast.AsyncWith)),
                )
    elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
        _bind_target(scope, node.target, Binding("for", node, value=node.iter))
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            name = bound_name(alias)
            scope.bindings.setdefault(name, []).append(Binding("other", node))
    elif isinstance(node, ast.ExceptHandler) and node.name:
        scope.bindings.setdefault(node.name, []).append(Binding("other", node))
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        scope.globals_.update(node.names)
