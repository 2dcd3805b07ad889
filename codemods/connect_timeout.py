"""The LibCST command of BGT501's fix:
`python -m libcst.tool codemod connect_timeout.ConnectTimeoutCommand`.

What it writes, and why, is in bgtask_lint/codemods/_fixes/connect_timeout.py.
"""

from bgtask_lint.codemods._command import FindingCommand
from bgtask_lint.codemods._fixes.connect_timeout import ConnectTimeoutFix


class ConnectTimeoutCommand(FindingCommand):
    DESCRIPTION = "BGT501: bound network connects with a connect timeout."
    FIX = ConnectTimeoutFix
