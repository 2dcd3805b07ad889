"""Whether a BGT101 or BGT301 finding has a safe fix, and if not, why (V2.9).

Asked by the rules while checking (pure `ast`), so the finding says what `fix` will do
and the codemod never has to guess: a safe fix changes nothing but the failure its rule
names. Returns `(applicability, why)`: applicability "default" (the rule's own), "safe",
"unsafe" or None; `why` is appended to the message when the fix is not the safe one.
"""

from __future__ import annotations

import ast
from pathlib import Path

from bgtask_lint.dependencies import AIOFILES_MISSING, available, optional_import
from bgtask_lint.log_fixes import imports_the_module, module_binds
from bgtask_lint.scope import function_scope

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from bgtask_lint.index import ModuleInfo

# keyword parameters of the scheduling call itself: a task keyword of that name would
# land on the scheduler, not on the task (starlette: add_task(self, func, *args, **kwargs),
# BackgroundTask.__init__(self, func, *args, **kwargs); anyio: start_soon(func, *args, name=None))
SCHEDULER_KEYWORDS = {
    "add_task": frozenset({"self", "func"}),
    "BackgroundTask": frozenset({"self", "func"}),
    "start_soon": None,  # takes no keyword arguments for the task at all
}
# calls whose result is used for more blocking I/O: running only this call in a thread
# leaves the rest (starttls/login, queries, reads, the `with` block's exit) on the loop
STATEFUL_RESULTS = frozenset({
    "smtplib.SMTP", "smtplib.SMTP_SSL", "psycopg2.connect", "sqlite3.connect", "pymysql.connect",
    "mysql.connector.connect", "httpx.Client", "zipfile.ZipFile", "tarfile.open", "Path.open",
    "os.popen", "urllib.request.urlopen", "open", "io.open",
})
WHOLE_BLOCK = ("running only this call in a worker thread would leave the calls on its result on the "
               "event loop: move the whole block into a plain def and await asyncio.to_thread on it")


def module_name_taken(module: "ModuleInfo", function: ast.AST | None, name: str) -> bool:
    """Whether `name` in `function`'s body would be something else than the module `name` a
    fix imports and calls (`asyncio.sleep`, `aiofiles.open`): a parameter or local of the
    function or of a def around it, or a module-level binding other than `import name`
    (`asyncio = None`, `import trio as asyncio`, `global asyncio` in a def)."""
    scope = function
    while scope is not None:
        bindings = () if isinstance(scope, ast.ClassDef) else function_scope(scope).bindings.get(name, ())
        # in the function itself any binding makes the name local, also an import after the
        # call (UnboundLocalError); in a def around it, an `import name` is the module
        if bindings and (scope is function or not all(imports_the_module(b.node, name) for b in bindings)):
            return True
        scope = module.parents.get(id(scope))
    key = f"module-name-taken:{name}"  # the module-level part: once per module
    taken = module.derived.get(key)
    if taken is None:
        taken = module.derived[key] = module_binds(module.tree, name, but_the_module=True)
    return bool(taken)


def needs_partial(inner: ast.Call, form: str) -> bool:
    """`add_task(job(func=x))`: moving `func=x` onto add_task would hand it to add_task;
    `**options` may hold such a name. `functools.partial(job, ...)` keeps them the task's."""
    keywords = SCHEDULER_KEYWORDS.get(form, frozenset())
    if keywords is None:
        return bool(inner.keywords)
    return any(kw.arg is None or kw.arg in keywords for kw in inner.keywords)


def add_task_fix(call: ast.Call, task: ast.Call, form: str, through_run: bool = False) -> tuple[str | None, str]:
    """BGT101: `call` schedules `task` (`add_task(task)`, `add_task(func=task)`, or with
    `through_run`, `add_task(asyncio.run, task)`). Moving the call's arguments onto the
    scheduler is safe only when the scheduler gets no other arguments: those go to the
    call's result (or to asyncio.run) today, and would go to the task after the fix."""
    name = _name(task.func)
    own = [kw for kw in call.keywords if form == "start_soon" and kw.arg == "name"]  # start_soon's own
    if through_run:
        others = len(call.args) - 2 + len(call.keywords) - len(own)
    elif call.args and call.args[0] is task:
        others = len(call.args) - 1 + len(call.keywords) - len(own)
    else:  # add_task(func=job(x))
        others = len(call.args) + len(call.keywords) - 1 - len(own)
    if others > 0:
        target = "asyncio.run" if through_run else f"the result of {name}()"
        return None, (f"; no automatic fix: the other arguments of this call go to {target}, not to {name}; "
                      f"pass {name} and every argument it should get")
    return "default", ""


def blocking_fix(reason: str, node: ast.Call, parent: ast.AST | None, module_tree: ast.Module,
                 root: Path, convertible_with: bool) -> tuple[str | None, str]:
    """BGT301: what the fix of the blocking call `node` (named `reason`) may do."""
    if reason == "time.sleep":
        return "safe", ""
    if reason in ("open", "io.open") and convertible_with:
        how = optional_import(module_tree, "aiofiles")
        if how == "guarded":
            return None, ("; no automatic fix: this module imports aiofiles under try/except ImportError, "
                          "so aiofiles.open may be missing here")
        if not available(root, "aiofiles"):
            return "unsafe", f"; {AIOFILES_MISSING}"
        return "safe", ""
    if isinstance(parent, ast.withitem) or reason in STATEFUL_RESULTS:
        return None, f"; no automatic fix: {WHOLE_BLOCK}"
    if _streams(node):
        return None, f"; no automatic fix: the response is streamed, {WHOLE_BLOCK}"
    return "unsafe", ""


def _streams(node: ast.Call) -> bool:
    return any(kw.arg == "stream" and not (isinstance(kw.value, ast.Constant) and not kw.value.value)
               for kw in node.keywords)


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return "the task"
