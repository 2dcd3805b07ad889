"""BGT302 blocking-call-via-helper."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from bgtask_lint.blocking import blocking_chain, call_chain, is_generator
from bgtask_lint.guards import local_def
from bgtask_lint.index import FunctionSym
from bgtask_lint.names import walk_local
from bgtask_lint.scope import function_scope
from bgtask_lint.rules import Rule

if TYPE_CHECKING:
    from bgtask_lint.context import RuleContext

# what runs a generator to its end (or, `next`, to its first `yield`) where it is called
CONSUMERS = {"list", "tuple", "set", "frozenset", "sorted", "sum", "any", "all", "min", "max", "dict", "next"}
# what hands a generator on lazily: iterated only when its own result is
LAZY_WRAPPERS = {"enumerate", "zip", "map", "filter", "iter", "reversed"}
CONSUMING_METHODS = {"join", "extend", "update", "writelines"}


def _iterated(expr: ast.expr, ancestors: list[ast.AST], function: ast.AST | None) -> bool:
    """Whether the value of `expr` (whose parent is ancestors[-1]) is iterated where it
    stands: `for x in gen()`, `[x for x in gen()]`, `list(gen())`, `"".join(gen())`,
    `f(*gen())`; through `enumerate`/`zip`/... when their result is; `rows = gen()` then
    one of those on `rows` in the same function."""
    parent = ancestors[-1] if ancestors else None
    if isinstance(parent, (ast.For, ast.comprehension)) and parent.iter is expr:
        return True
    if isinstance(parent, (ast.Starred, ast.YieldFrom)):
        return True
    if isinstance(parent, ast.Compare) and expr in parent.comparators \
            and any(isinstance(op, (ast.In, ast.NotIn)) for op in parent.ops):
        return True  # `x in gen()`
    if isinstance(parent, (ast.Assign, ast.NamedExpr)) and isinstance(
            parent.targets[0] if isinstance(parent, ast.Assign) else parent.target, (ast.Tuple, ast.List)):
        return True  # `a, b = gen()`
    if isinstance(parent, ast.Call) and expr in parent.args:
        func = parent.func
        if isinstance(func, ast.Name) and func.id in CONSUMERS:
            return True
        if isinstance(func, ast.Attribute) and func.attr in CONSUMING_METHODS:
            return True
        if isinstance(func, ast.Name) and func.id in LAZY_WRAPPERS:
            return _iterated(parent, ancestors[:-1], function)
    if isinstance(parent, (ast.Assign, ast.AnnAssign)) and function is not None:
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            # bound once: a name bound again (`rows = await to_thread(list, rows)`) is not followed
            return len(function_scope(function).values(targets[0].id)) == 1 \
                and _name_iterated(targets[0].id, function)
    return False


def _name_iterated(name: str, function: ast.AST) -> bool:
    """Whether the function iterates `name` somewhere, as `_iterated` sees a use."""
    parents: dict[int, ast.AST] = {}
    for node in walk_local(list(function.body)):  # type: ignore[attr-defined]
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    for node in walk_local(list(function.body)):  # type: ignore[attr-defined]
        if isinstance(node, ast.Name) and node.id == name and id(node) in parents:
            # the ancestors `_iterated` may look at: the parent, and what lazy wrappers lead to
            ancestors = [parents[id(node)]]
            while id(ancestors[0]) in parents and isinstance(ancestors[0], ast.Call) \
                    and isinstance(ancestors[0].func, ast.Name) and ancestors[0].func.id in LAZY_WRAPPERS:
                ancestors.insert(0, parents[id(ancestors[0])])
            if _iterated(node, ancestors, None):
                return True
    return False


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
    `def`s and lambdas do not count: they run only when called, often in a thread. A
    plain `def` nested in the `async def` itself and called there in place is followed
    as any helper is (`def copy(): shutil.copyfile(a, b)` then `copy()`).
    Nor do calls in a branch of an `if` that tests one of the helper's own parameters
    (`if name.startswith("file/"): open(...)`), nor the operands of an `and` after one
    that tests such a parameter (`if hub is None and probe():`): whether they run
    depends on what each caller passes, which the chain does not know (on the real-world
    corpus such branches made 348 of one app's 492 BGT302 findings wrong). After `or`
    they count (`if region is None or probe():` probes whenever a region is given), and
    so does a function that every branch of such an `if` calls (`if name:
    scan(name) else: scan(DEFAULT)` scans whatever the caller passes).
    A generator function called from the `async def` counts only where it is iterated
    there (`for line in read_lines(p)`, `list(...)`, `"".join(...)`, or the variable it
    was assigned to, iterated later in the function): calling it runs none of its body,
    so `chunks = read_lines(p)` handed to `asyncio.to_thread(next, chunks)` blocks nothing.

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
        found = call_chain(ctx.index, ctx.module, node.func, ctx.function, ctx.owner_class(),
                           self.settings.blocking_calls) or self._nested_chain(node, ctx)
        if found is None:
            return
        chain, generator = found
        # calling a generator function runs none of its body: only iterating it does
        # (`chunks = read_lines(p)` handed to `asyncio.to_thread(next, chunks)` blocks nothing)
        if not generator or _iterated(node, ctx.stack, ctx.function):
            self.report(ctx, node, f"async def calls a helper that blocks the event loop: {' -> '.join(chain)}")

    def _nested_chain(self, node: ast.Call, ctx: RuleContext) -> tuple[list[str], bool] | None:
        """A plain def nested in the async def, called there in place (`def copy(): shutil.
        copyfile(a, b)` then `copy()`): it runs on the loop as any helper does."""
        nested = local_def(node.func, ctx.function)
        if not isinstance(nested, ast.FunctionDef) or len(function_scope(ctx.function).values(nested.name)) != 1:
            return None  # (one def of that name: with two, which one runs depends on the path)
        chain = blocking_chain(ctx.index, FunctionSym(ctx.module, nested), self.settings.blocking_calls)
        return (chain, is_generator(nested)) if chain else None
