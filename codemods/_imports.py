"""Add `import x` where isort would put it: by section (future, stdlib, third party,
local), plain imports before `from` imports, alphabetical within a section; and drop the
imports a fix left unused."""

from __future__ import annotations

import sys

import libcst as cst

from bgtask_lint.noqa import noqa_in

STDLIB = set(getattr(sys, "stdlib_module_names", ())) | {"asyncio", "logging", "typing"}


def _module_of(stmt: cst.CSTNode) -> tuple[str, bool, int] | None:
    """(dotted module, is `from` import, relative level) of an import line, else None."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    small = stmt.body[0]
    if isinstance(small, cst.Import):
        return cst.Module([]).code_for_node(small.names[0].name), False, 0
    if isinstance(small, cst.ImportFrom):
        name = cst.Module([]).code_for_node(small.module) if small.module is not None else ""
        return name, True, len(small.relative)
    return None


def _key(module: str, is_from: bool, level: int) -> tuple[int, int, str]:
    top = module.split(".")[0]
    if module == "__future__":
        section = -1
    elif level:
        section = 3
    elif top in STDLIB:
        section = 0
    else:
        section = 1
    return section, int(is_from), module.lower()


def has_plain_import(module: cst.Module, name: str) -> bool:
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Import) and any(
                    alias.asname is None and cst.Module([]).code_for_node(alias.name) == name
                    for alias in small.names
                ):
                    return True
    return False


def _apart_from_imports(stmt: cst.CSTNode) -> cst.CSTNode:
    """The first statement after an import that now opens the module, set apart from it as
    pycodestyle wants (two blank lines before a def or a class, E302; one before other
    code), where it was not already."""
    wanted = 2 if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) else 1
    lines = list(stmt.leading_lines)  # type: ignore[attr-defined]
    blank = next((i for i, line in enumerate(lines) if line.comment is not None), len(lines))
    if blank >= wanted:
        return stmt
    return stmt.with_changes(leading_lines=[cst.EmptyLine()] * (wanted - blank) + lines)  # type: ignore[attr-defined]


def add_import(module: cst.Module, name: str) -> cst.Module:
    if has_plain_import(module, name):
        return module
    body = list(module.body)
    new_key = _key(name, False, 0)
    new_line = cst.parse_statement(f"import {name}", config=module.config_for_parsing)
    imports: list[tuple[int, tuple[int, int, str]]] = []
    for index, stmt in enumerate(body):
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            break
        found = _module_of(stmt)
        if found is not None:
            imports.append((index, _key(*found)))
    if not imports:
        at = 1 if body and isinstance(body[0], cst.SimpleStatementLine) and isinstance(body[0].body[0], cst.Expr) else 0
        lines = [cst.EmptyLine()] if at else []
        new_line = new_line.with_changes(leading_lines=lines)
        if at < len(body):
            body[at] = _apart_from_imports(body[at])
        return module.with_changes(body=body[:at] + [new_line] + body[at:])
    for position, (index, key) in enumerate(imports):
        if key > new_key:
            before = body[index]
            lines = list(before.leading_lines)  # type: ignore[attr-defined]
            previous = imports[position - 1][1] if position else None
            if key[0] != new_key[0] and previous is not None and previous[0] == new_key[0]:
                # the last of its section: right after the previous import, the blank line
                # that ends the section stays where it is
                new_line = new_line.with_changes(leading_lines=[])
                return module.with_changes(body=body[:index] + [new_line] + body[index:])
            if key[0] == new_key[0]:
                # the new import opens the section: the section's comment moves above it
                new_line = new_line.with_changes(leading_lines=lines)
                body[index] = before.with_changes(leading_lines=[])  # type: ignore[attr-defined]
            else:
                # a section of its own: the next section keeps its comment, after a blank line
                first_comment = next((i for i, line in enumerate(lines) if line.comment is not None), len(lines))
                new_line = new_line.with_changes(leading_lines=lines[:first_comment])
                body[index] = before.with_changes(  # type: ignore[attr-defined]
                    leading_lines=[cst.EmptyLine(), *lines[first_comment:]])
            return module.with_changes(body=body[:index] + [new_line] + body[index:])
    last_index, last_key = imports[-1]
    if last_key[0] != new_key[0]:
        new_line = new_line.with_changes(leading_lines=[cst.EmptyLine()])
    return module.with_changes(body=body[: last_index + 1] + [new_line] + body[last_index + 1:])


def kept_on_purpose(comment: str) -> bool:
    """An import kept though unused, as its comment tells the linters: a bare `# noqa`,
    `# noqa: F401`, pylint's `unused-import`."""
    noqa = noqa_in(comment)
    return (noqa is not None and (not noqa[0] or "F401" in noqa[0])) or "unused-import" in comment


class _DropImports(cst.CSTTransformer):
    """Remove the aliases binding `names` (only those) from import statements."""

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.removed: set[int] = set()  # id() of the statement lines removed whole

    def on_visit(self, node: cst.CSTNode) -> bool:
        # imports are statements: no need to walk the expressions
        if isinstance(node, cst.SimpleStatementLine):
            comment = node.trailing_whitespace.comment
            if comment is not None and kept_on_purpose(comment.value):
                return False  # `import time  # noqa: F401` (a re-export) stays, as the linter is told
        return not isinstance(node, cst.BaseExpression)

    def _bound(self, alias: cst.ImportAlias, is_from: bool) -> str:
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            return alias.asname.name.value
        name = alias.name
        while isinstance(name, cst.Attribute):
            name = name.value
        return name.value if isinstance(name, cst.Name) else ""

    def _keep(self, node, is_from: bool):
        if isinstance(node.names, cst.ImportStar):
            return node
        kept = [a for a in node.names if self._bound(a, is_from) not in self.names]
        if len(kept) == len(node.names):
            return node
        if not kept:
            return cst.RemoveFromParent()
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return node.with_changes(names=kept)

    def leave_Import(self, original: cst.Import, updated: cst.Import):
        return self._keep(updated, False)

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom):
        if updated.module is not None and cst.Module([]).code_for_node(updated.module) == "__future__":
            return updated
        return self._keep(updated, True)

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        if original.body and not updated.body:
            self.removed.add(id(original))
            return cst.RemoveFromParent()
        return updated

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        # a block that started with the removed import starts with the next statement,
        # without the blank line that separated the two
        if original.body and id(original.body[0]) in self.removed and updated.body:
            first = updated.body[0]
            lines = list(first.leading_lines)  # type: ignore[attr-defined]
            while lines and lines[0].comment is None:
                lines.pop(0)
            return updated.with_changes(body=[first.with_changes(leading_lines=lines), *updated.body[1:]])
        return updated


def drop_imports(tree: cst.Module, names: set[str]) -> cst.Module:
    """`tree` without the import aliases binding `names` (but those kept on purpose)."""
    return tree.visit(_DropImports(names)) if names else tree
