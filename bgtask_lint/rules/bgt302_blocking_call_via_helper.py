"""BGT302 blocking-call-via-helper."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.blocking import helper_chain
from bgtask_lint.rules import Rule

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext


class BlockingCallViaHelper(Rule):
    """## What it does
    Checks for an `async def` calling a plain `def` of this project (same module or
    imported) that, directly or through further plain `def`s, makes a blocking call
    of BGT301. The message names the chain: `notify() -> send_mail() -> smtplib.SMTP`.

    ## Why is this bad?
    The blocking call runs on the event loop just as if it were written in the
    `async def`: the helper hides it from review, not from the loop.

    ## Example
    ```python
    def send_mail(to: str):
        with smtplib.SMTP("mail", timeout=10) as smtp:
            smtp.sendmail("app", to, "hi")

    async def notify(to: str):
        send_mail(to)
    ```

    ## Use instead
    ```python
    async def notify(to: str):
        await asyncio.to_thread(send_mail, to)
    ```

    The blocking calls are those of BGT301, matched the same way (through imports, and
    with the names the `blocking-calls` setting adds). Calls inside a helper's nested
    `def`s and lambdas do not count: they run only when called, often in a thread.
    Nor do calls in a branch of an `if` that tests one of the helper's own parameters
    (`if name.startswith("file/"): open(...)`), nor the operands of an `and` after one
    that tests such a parameter (`if hub is None and probe():`): whether they run
    depends on what each caller passes, which the chain does not know (on the real-world
    corpus such branches made 348 of one app's 492 BGT302 findings wrong). After `or`
    they count (`if region is None or probe():` probes whenever a region is given).

    ## Fix safety
    No automatic fix. The search follows at most five plain `def`s and stops at
    cycles.
    """

    code = "BGT302"
    name = "blocking-call-via-helper"
    words = ("async",)
    message = "async def calls a helper that blocks the event loop"

    @classmethod
    def words_for(cls, settings) -> tuple[str, ...]:
        return cls.words + tuple(name.rsplit(".", 1)[-1] for name in settings.blocking_calls)
    valid = (
        """
import asyncio, time
def pause():
    time.sleep(1)
async def task():
    await asyncio.to_thread(pause)
""",
    )
    invalid = (
        """
import time
def pause():
    time.sleep(1)
async def task():
    pause()  # BGT302
""",
    )

    def visit_Call(self, node: ast.Call, ctx: RuleContext) -> None:
        if not ctx.in_async_def():
            return
        chain = helper_chain(ctx.index, ctx.module, node.func, ctx.function, ctx.owner_class(),
                             self.settings.blocking_calls)
        if chain:
            self.report(ctx, node, f"async def calls a helper that blocks the event loop: {' -> '.join(chain)}")
