"""BGT301: blocking calls in `async def`.

- `time.sleep(x)` -> `await asyncio.sleep(x)` (safe);
- `with open(...) as f:` + `f.read()/f.write()` -> `async with aiofiles.open(...) as f:` +
  `await f.read()/await f.write()`, `for line in f` -> `async for line in f` (safe; the
  checker only offers it when `f` is used for nothing else);
- any other blocking call `g(a, k=v)` -> `await asyncio.to_thread(g, a, k=v)` (unsafe:
  it changes which thread runs the call; only with --unsafe-fixes).
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import PositionProvider, QualifiedNameProvider

from bgtask_lint.codemods._base import FindingCommand, parenthesized

FILE_IO_METHODS = {"read", "write", "readline", "readlines", "writelines", "seek", "tell", "truncate", "flush"}




class BlockingCallsCommand(FindingCommand):
    DESCRIPTION = "BGT301: replace blocking calls in async def with their async counterparts."
    CODE = "BGT301"
    METADATA_DEPENDENCIES = (PositionProvider, QualifiedNameProvider)

    def _names(self, func: cst.BaseExpression) -> set[str]:
        return {q.name for q in self.get_metadata(QualifiedNameProvider, func, set())}

    def _is_sleep(self, func: cst.BaseExpression) -> bool:
        return "time.sleep" in self._names(func)

    def _is_open(self, func: cst.BaseExpression) -> bool:
        return bool({"open", "builtins.open", "io.open"} & self._names(func))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.async_files: list[set[str]] = []  # names bound by converted `with` blocks
        self.converted_withs: set[int] = set()

    # `with open(...) as f:` -> `async with aiofiles.open(...) as f:`

    def visit_With(self, node: cst.With) -> None:
        names: set[str] = set()
        convert = node.asynchronous is None and bool(node.items)
        for item in node.items:
            call = item.item
            if not (isinstance(call, cst.Call) and self._is_open(call.func) and self.is_target(call)
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
        self.needs_import("aiofiles")
        items = []
        for item in updated.items:
            call = item.item
            assert isinstance(call, cst.Call)
            items.append(item.with_changes(item=call.with_changes(
                func=cst.Attribute(value=cst.Name("aiofiles"), attr=cst.Name("open")))))
        self.fixed += 1
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
