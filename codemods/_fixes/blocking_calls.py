"""BGT301: blocking calls in `async def`.

- `time.sleep(x)` -> `await asyncio.sleep(x)` (safe);
- `with open(...) as f:` + `f.read()/f.write()` -> `async with aiofiles.open(...) as f:` +
  `await f.read()/await f.write()`, `for line in f` -> `async for line in f` (safe when
  the project has aiofiles; the checker decides, bgtask_lint/fix_safety.py). A module
  that imports aiofiles only inside functions gets the import inside the fixed function;
  one that imports it under `try/except ImportError` is left alone;
- any other blocking call `g(a, k=v)` -> `await asyncio.to_thread(g, a, k=v)` (unsafe:
  it changes which thread runs the call; only with --unsafe-fixes).

An import the fix made unused goes (`import time` after its only `time.sleep` became
`asyncio.sleep`), and only such an import: the module passes flake8/ruff F401 after.
"""

from __future__ import annotations

import ast
from collections import Counter

import libcst as cst

from bgtask_lint.codemods._base import FindingFix, is_docstring, parenthesized
from bgtask_lint.codemods._imports import drop_imports
from bgtask_lint.dependencies import import_statements, optional_import
from bgtask_lint.names import bound_name

FILE_IO_METHODS = {"read", "write", "readline", "readlines", "writelines", "seek", "tell", "truncate", "flush"}


def import_map(tree: ast.Module) -> dict[str, set[str]]:
    """Local name -> the dotted names it is imported as anywhere in the module. The checker
    already decided that each target is a blocking call; this only tells which kind."""
    found: dict[str, set[str]] = {}
    for node in import_statements(tree):  # (the walk `optional_import` makes and keeps)
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = bound_name(alias)
                found.setdefault(local, set()).add(alias.name if alias.asname else local)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                found.setdefault(alias.asname or alias.name, set()).add(f"{node.module}.{alias.name}")
    return found


class BlockingCallsFix(FindingFix):
    CODE = "BGT301"
    SEES_EVERY_STATEMENT = True  # an import is dropped only when no use of it is left anywhere

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.async_files: list[set[str]] = []  # names bound by converted `with` blocks
        self.converted_withs: set[int] = set()
        self.dropped: set[str] = set()  # names whose references a fix removed
        self.functions: list[list[bool]] = []  # per enclosing def: needs a local `import aiofiles`

    def visit_Module(self, node: cst.Module) -> None:
        tree = self.module_tree if self.module_tree is not None else ast.parse(node.code)
        self.imports_of = import_map(tree)
        self.aiofiles_import = optional_import(tree, "aiofiles")
        # how often each imported name is used outside imports (`x.time` is not `time`;
        # `__all__ = ["sleep"]` is): an import is removed only when a fix took its last use
        self.uses: Counter = Counter()
        self.removed_uses: Counter = Counter()
        self.in_import = 0
        self.attribute_names: set[int] = set()

    def visit_Import(self, node: cst.Import) -> None:
        self.in_import += 1

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        self.in_import -= 1
        return updated

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.in_import += 1

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        self.in_import -= 1
        return updated

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.attribute_names.add(id(node.attr))

    def visit_Name(self, node: cst.Name) -> None:
        if not self.in_import and id(node) not in self.attribute_names and node.value in self.imports_of:
            self.uses[node.value] += 1

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        text = node.value.strip("'\"")
        if text in self.imports_of:
            self.uses[text] += 1

    def _qualified(self, func: cst.BaseExpression) -> set[str]:
        if isinstance(func, cst.Name):
            return self.imports_of.get(func.value, set()) | ({"open"} if func.value == "open" else set())
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            return {f"{base}.{func.attr.value}" for base in self.imports_of.get(func.value.value, set())}
        return set()

    def _is_sleep(self, func: cst.BaseExpression) -> bool:
        return "time.sleep" in self._qualified(func)

    def _is_open(self, func: cst.BaseExpression) -> bool:
        if isinstance(func, cst.Name) and func.value == "open" and "open" not in self.imports_of:
            return True
        return bool({"io.open", "builtins.open"} & self._qualified(func))

    def _drop_reference(self, func: cst.BaseExpression) -> None:
        root = func
        while isinstance(root, cst.Attribute):
            root = root.value
        if isinstance(root, cst.Name) and root.value in self.imports_of:
            self.dropped.add(root.value)
            self.removed_uses[root.value] += 1

    # `with open(...) as f:` -> `async with aiofiles.open(...) as f:`

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append([False])

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        needs_import = self.functions.pop()[0]
        if not needs_import or not isinstance(updated.body, cst.IndentedBlock):
            return updated
        # aiofiles is imported lazily in this module: keep it lazy, inside this def
        statements = list(updated.body.body)
        at = 1 if statements and is_docstring(statements[0]) else 0
        line = cst.parse_statement("import aiofiles")
        rest = statements[at:]
        if rest and not rest[0].leading_lines:  # type: ignore[attr-defined]
            rest[0] = rest[0].with_changes(leading_lines=[cst.EmptyLine(indent=False)])  # type: ignore[attr-defined]
        return updated.with_changes(body=updated.body.with_changes(body=[*statements[:at], line, *rest]))

    def visit_With(self, node: cst.With) -> None:
        names: set[str] = set()
        convert = node.asynchronous is None and bool(node.items) and self.aiofiles_import != "guarded"
        for item in node.items:
            call = item.item
            if not (convert and isinstance(call, cst.Call) and self._is_open(call.func) and self.is_target(call)
                    and item.asname is not None and isinstance(item.asname.name, cst.Name)):
                convert = False
                break
            names.add(item.asname.name.value)
        if convert:
            self.converted_withs.add(id(node))
        self.async_files.append(names if convert else set())

    def leave_With(self, original: cst.With, updated: cst.With) -> cst.With:
        self.async_files.pop()
        if id(original) not in self.converted_withs:
            return updated
        if self.aiofiles_import == "lazy" and self.functions:
            self.functions[-1][0] = True
        else:
            self.needs_import("aiofiles")
        items = []
        for item in updated.items:
            call = item.item
            assert isinstance(call, cst.Call)
            self._drop_reference(call.func)
            items.append(item.with_changes(item=call.with_changes(
                func=cst.Attribute(value=cst.Name("aiofiles"), attr=cst.Name("open")))))
        self.fixed += len(items)  # (each open() is a finding)
        return updated.with_changes(asynchronous=cst.Asynchronous(), items=items)

    def _async_file(self, name: str) -> bool:
        return any(name in names for names in self.async_files)

    def leave_For(self, original: cst.For, updated: cst.For) -> cst.For:
        if original.asynchronous is None and isinstance(original.iter, cst.Name) \
                and self._async_file(original.iter.value):
            return updated.with_changes(asynchronous=cst.Asynchronous())
        return updated

    def leave_CompFor(self, original: cst.CompFor, updated: cst.CompFor) -> cst.CompFor:
        if original.asynchronous is None and isinstance(original.iter, cst.Name) \
                and self._async_file(original.iter.value):
            return updated.with_changes(asynchronous=cst.Asynchronous())
        return updated

    # `await` binds looser than `.attr`, `[i]` and `(...)`: `(await f.readline()).strip()`

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        return updated.with_changes(value=parenthesized(updated.value))

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript) -> cst.Subscript:
        return updated.with_changes(value=parenthesized(updated.value))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        updated = updated.with_changes(func=parenthesized(updated.func))
        func = original.func
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.attr.value in FILE_IO_METHODS
            and self._async_file(func.value.value)
        ):
            return cst.Await(expression=updated)
        if not self.is_target(original) or self._is_open(func):
            return updated  # open() outside a convertible `with` has no fix
        if self._is_sleep(func):
            self.needs_import("asyncio")
            self.fixed += 1
            self._drop_reference(func)
            sleep = cst.Attribute(value=cst.Name("asyncio"), attr=cst.Name("sleep"))
            return cst.Await(expression=updated.with_changes(func=sleep))
        if not self.unsafe_fixes:
            return updated
        self.needs_import("asyncio")
        self.fixed += 1
        to_thread = cst.Attribute(value=cst.Name("asyncio"), attr=cst.Name("to_thread"))
        args = [cst.Arg(value=updated.func, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                if updated.args else cst.Arg(value=updated.func), *updated.args]
        return cst.Await(expression=cst.Call(func=to_thread, args=args))

    def transform_module(self, tree: cst.Module) -> cst.Module:
        new_tree = super().transform_module(tree)
        if not self.dropped:
            return new_tree
        # the fixes add uses of asyncio and aiofiles only, never of a name they drop
        unused = {name for name in self.dropped if self.uses[name] == self.removed_uses[name]
                  and not self.used_elsewhere(name)}
        return drop_imports(new_tree, unused)
