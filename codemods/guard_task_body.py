"""The LibCST command of BGT401's fix:
`python -m libcst.tool codemod guard_task_body.GuardTaskBodyCommand`.

What it writes, and why, is in bgtask_lint/codemods/_fixes/guard_task_body.py.
"""

from bgtask_lint.codemods._command import FindingCommand
from bgtask_lint.codemods._fixes.guard_task_body import GuardTaskBodyFix


class GuardTaskBodyCommand(FindingCommand):
    DESCRIPTION = "BGT401: wrap background task bodies in try/except that logs the traceback and re-raises."
    FIX = GuardTaskBodyFix
