"""The syntax tree of a fixed module, without parsing the whole module again.

A fix edits a skeleton of the module (fix_skeleton.py); its output, with every
placeholder put back, is the new text, and the index must describe it before the next
fix. Parsing 1 MB again after each of six fixes was a fifth of `fix`'s time on such a
module. But the new text is the fix's output (small: what the fix saw) and, at each
placeholder, statements that were parsed already. So the new tree is the parse of the
output with each placeholder replaced by the statements it stands for, moved to their
new lines, and every line of the output's nodes mapped to the new text's.

This moves the old statements: the module they came from must be one no one else holds
(fix.py splices only from the modules its own edits made). Anything unexpected gives
None, and the caller parses the text.
"""

from __future__ import annotations

import ast
import warnings

from bgtask_lint.fix_skeleton import Expansion, Skeleton
from bgtask_lint.names import BLOCK_FIELDS, MARKER_TYPES, child_nodes


def spliced_tree(skeleton: Skeleton, output: str, expansion: Expansion) -> ast.Module | None:
    """The tree of `expansion.text`, which is `output` (the fix's skeleton) expanded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(output)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    placeholders: dict[int, int] = {}  # id of a placeholder statement -> its region's index
    if not _map_output_lines(tree, skeleton, expansion, placeholders):
        return None
    if not _put_back(tree, skeleton, expansion, placeholders):
        return None
    return tree


def _map_output_lines(tree: ast.Module, skeleton: Skeleton, expansion: Expansion,
                      placeholders_found: dict[int, int]) -> bool:
    """Number the output's nodes as the new text numbers their lines. A node that ends
    at a placeholder (the def or block whose last statements were cut) ends where the
    last statement put back there ends. The placeholder statements (and their parts)
    keep their numbers; they are noted in `placeholders_found`."""
    output_lines, placeholders = expansion.output_lines, expansion.placeholders
    for node in ast.walk(tree):
        if not node._attributes or not hasattr(node, "lineno"):
            continue
        line = node.lineno
        if line in placeholders:
            if isinstance(node, ast.stmt):  # a placeholder, or a statement in one
                placeholders_found[id(node)] = placeholders[line]
            continue
        new_line = output_lines.get(line)
        if new_line is None:
            return False
        node.lineno = new_line
        end = node.end_lineno
        if end is None:
            continue
        if end in placeholders:
            index = placeholders[end]
            region = skeleton.regions[index]
            last = region.statements[-1] if region.statements else None
            if last is None or last.end_col_offset is None:
                return False
            node.end_lineno = expansion.region_starts[index] + region.end - region.start
            node.end_col_offset = last.end_col_offset
        else:
            new_end = output_lines.get(end)
            if new_end is None:
                return False
            node.end_lineno = new_end
    return True


def _put_back(tree: ast.Module, skeleton: Skeleton, expansion: Expansion, placeholders: dict[int, int]) -> bool:
    """Replace each placeholder statement by the statements it stands for, moved (a walk
    of the statement lists only: expressions hold none)."""
    replaced = 0
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        for name in BLOCK_FIELDS.intersection(node._fields):
            block = getattr(node, name)
            if not any(id(stmt) in placeholders for stmt in block):
                pending.extend(block)  # (handlers and match cases hold blocks of their own)
                continue
            body: list[ast.AST] = []
            for stmt in block:
                index = placeholders.get(id(stmt))
                if index is None:
                    body.append(stmt)
                    pending.append(stmt)
                    continue
                region = skeleton.regions[index]
                if not region.statements or region.statements[0].col_offset != stmt.col_offset:
                    return False
                _move(region.statements, expansion.region_starts[index] - region.start)
                body.extend(region.statements)
                replaced += 1
            setattr(node, name, body)
    return replaced == len(skeleton.regions)


def _move(statements: list[ast.stmt], delta: int) -> None:
    if not delta:
        return
    pending: list[ast.AST] = list(statements)
    while pending:
        node = pending.pop()
        if node._attributes:
            lineno = getattr(node, "lineno", None)
            if lineno is not None:
                node.lineno = lineno + delta
                end = getattr(node, "end_lineno", None)
                if end is not None:
                    node.end_lineno = end + delta
        pending.extend(child_nodes(node, MARKER_TYPES))  # (contexts, operators: no position)
