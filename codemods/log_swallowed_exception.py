"""The LibCST command of BGT402's fix:
`python -m libcst.tool codemod log_swallowed_exception.LogSwallowedExceptionCommand`.

What it writes, and why, is in bgtask_lint/codemods/_fixes/log_swallowed_exception.py.
"""

from bgtask_lint.codemods._command import FindingCommand
from bgtask_lint.codemods._fixes.log_swallowed_exception import LogSwallowedExceptionFix


class LogSwallowedExceptionCommand(FindingCommand):
    DESCRIPTION = "BGT402: log swallowed exceptions in background tasks with their traceback."
    FIX = LogSwallowedExceptionFix
