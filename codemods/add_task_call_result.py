"""The LibCST command of BGT101's fix:
`python -m libcst.tool codemod add_task_call_result.AddTaskCallResultCommand`.

What it writes, and why, is in bgtask_lint/codemods/_fixes/add_task_call_result.py.
"""

from bgtask_lint.codemods._command import FindingCommand
from bgtask_lint.codemods._fixes.add_task_call_result import AddTaskCallResultFix


class AddTaskCallResultCommand(FindingCommand):
    DESCRIPTION = "BGT101: pass the task function and its arguments to add_task instead of calling it."
    FIX = AddTaskCallResultFix
