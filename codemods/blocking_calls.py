"""The LibCST command of BGT301's fix:
`python -m libcst.tool codemod blocking_calls.BlockingCallsCommand`.

What it writes, and why, is in bgtask_lint/codemods/_fixes/blocking_calls.py.
"""

from bgtask_lint.codemods._command import FindingCommand
from bgtask_lint.codemods._fixes.blocking_calls import BlockingCallsFix


class BlockingCallsCommand(FindingCommand):
    DESCRIPTION = "BGT301: replace blocking calls in async def with their async counterparts."
    FIX = BlockingCallsFix
