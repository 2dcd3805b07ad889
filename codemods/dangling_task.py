"""The LibCST command of BGT103's fix:
`python -m libcst.tool codemod dangling_task.DanglingTaskCommand`.

What it writes, and why, is in bgtask_lint/codemods/_fixes/dangling_task.py.
"""

from bgtask_lint.codemods._command import FindingCommand
from bgtask_lint.codemods._fixes.dangling_task import DanglingTaskFix


class DanglingTaskCommand(FindingCommand):
    DESCRIPTION = "BGT103: keep a strong reference to tasks created with asyncio.create_task(), and log their exceptions."
    FIX = DanglingTaskFix
