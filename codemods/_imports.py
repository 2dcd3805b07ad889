"""Add `import x` where isort would put it: by section (future, stdlib, third party,
local), plain imports before `from` imports, alphabetical within a section."""

from __future__ import annotations

import sys

import libcst as cst

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
