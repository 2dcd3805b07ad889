"""BGT103: keep a strong reference to a task created as a statement.

`asyncio.create_task(work())` becomes::

    task = asyncio.create_task(work())
    _background_tasks.add(task)
    task.add_done_callback(_background_tasks.discard)

with a module-level `_background_tasks: set = set()` (the asyncio documentation's pattern).
"""

from __future__ import annotations

import libcst as cst

from bgtask_lint.codemods._base import FindingCommand, insert_after_header, module_defines

REGISTRY = "_background_tasks"


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


class DanglingTaskCommand(FindingCommand):
    DESCRIPTION = "BGT103: keep a strong reference to tasks created with asyncio.create_task()."
    CODE = "BGT103"

    def visit_Module(self, node: cst.Module) -> None:
        collector = _Names()
        node.visit(collector)
        self.used_names = collector.names

    def _task_name(self) -> str:
        name, counter = "task", 1
        while name in self.used_names:
            name = f"task_{counter}"
            counter += 1
        self.used_names.add(name)
        return name

    def _replacement(self, expr: cst.Expr) -> list[cst.BaseSmallStatement]:
        name = self._task_name()
        assign = cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=expr.value)
        add = cst.parse_statement(f"{REGISTRY}.add({name})").body[0]  # type: ignore[attr-defined]
        callback = cst.parse_statement(f"{name}.add_done_callback({REGISTRY}.discard)").body[0]  # type: ignore[attr-defined]
        self.fixed += 1
        return [assign, add, callback]

    def _targeted(self, original: cst.BaseSmallStatement) -> bool:
        return isinstance(original, cst.Expr) and isinstance(original.value, cst.Call) \
            and self.is_target(original.value)

    def _rewrite_smalls(self, original, updated):
        body: list[cst.BaseSmallStatement] = []
        for old, new in zip(original.body, updated.body):
            if self._targeted(old):
                replacement = self._replacement(new)
                body.extend(s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for s in replacement)
            else:
                body.append(new.with_changes(semicolon=cst.MaybeSentinel.DEFAULT))
        return body

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine,
                                  updated: cst.SimpleStatementLine):
        if not any(self._targeted(s) for s in original.body):
            return updated
        if len(original.body) == 1:
            assign, add, callback = self._replacement(updated.body[0])  # type: ignore[arg-type]
            return cst.FlattenSentinel([
                updated.with_changes(body=[assign]),
                cst.SimpleStatementLine(body=[add]),
                cst.SimpleStatementLine(body=[callback]),
            ])
        return updated.with_changes(body=self._rewrite_smalls(original, updated))

    def leave_SimpleStatementSuite(self, original: cst.SimpleStatementSuite,
                                   updated: cst.SimpleStatementSuite):
        if not any(self._targeted(s) for s in original.body):
            return updated
        return updated.with_changes(body=self._rewrite_smalls(original, updated))

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        if not self.fixed or module_defines(updated, REGISTRY):
            return updated
        registry = cst.parse_statement(
            f"{REGISTRY}: set = set()  # strong references: the event loop keeps only weak ones",
            config=updated.config_for_parsing,
        )
        return insert_after_header(updated, [registry])
