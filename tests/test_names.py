"""names.walk_local: one function's own nodes, not its nested scopes'."""

from __future__ import annotations

import ast

from bgtask_lint.names import walk_local

SOURCE = """
def factory(x):
    def describe():
        return "inner"
    class Holder:
        value = "in class"
    total = [y for y in range(3)]
    return lambda: x
"""


def _strings(nodes) -> set[str]:
    return {node.value for node in nodes if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_a_body_list_yields_its_nested_scopes_without_entering_them() -> None:
    function = ast.parse(SOURCE).body[0]
    walked = list(walk_local(list(function.body)))
    assert {type(node) for node in walked} >= {ast.FunctionDef, ast.ClassDef, ast.ListComp}
    assert _strings(walked) == set()  # neither "inner" nor "in class"
    assert not any(isinstance(node, ast.Lambda) for node in walked)  # (below the body: not even yielded)
    assert [node for node in walked if isinstance(node, ast.Return)] == [function.body[-1]]


def test_a_single_node_given_is_walked_whatever_it_is() -> None:
    function = ast.parse(SOURCE).body[0]
    nested = function.body[0]
    assert _strings(walk_local(nested)) == {"inner"}
    assert _strings(walk_local(function)) == set()  # its own body, not its nested defs'
