"""The catalogue of blocking calls (BGT301), and the helper chains that reach them (BGT302).

A module-level API (`requests.get`, `time.sleep`, `subprocess.run`, ...) matches only when
its name is bound by an import in that scope (V2.1): a parameter called `time` or a local
list called `requests` is not the library. `open` is the builtin unless something else
binds the name. The setting `blocking-calls` adds dotted names (a project's own sync SDKs).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterable

from bgtask_lint.index import (
    FUNCTION_TYPES,
    FunctionSym,
    ModuleInfo,
    ProjectIndex,
    attribute_annotations,
    import_rooted,
    imported_name,
)
from bgtask_lint.names import (
    LEAF_TYPES,
    MARKER_TYPES,
    NESTED_SCOPES,
    NOT_ENTERED,
    child_nodes,
    dotted,
    last_name,
    walk_local,
)
from bgtask_lint.receivers import imported_modules, made_by, origins, self_attribute_values
from bgtask_lint.scope import function_scope, parameters
from bgtask_lint.semantics import is_sync_session_name, request_object_type

BUILTINS = {"open"}  # matched when nothing else binds the name
FILE_OPENERS = {"open", "io.open", "builtins.open"}
HTTP_VERBS = {"get", "post", "put", "patch", "delete", "head", "options", "request"}
BLOCKING_FUNCTIONS = {
    "io.open",
    "shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree", "shutil.move", "shutil.rmtree",
    "time.sleep",
    "urllib.request.urlopen",
    "httpx.get", "httpx.post", "httpx.put", "httpx.patch", "httpx.delete", "httpx.head",
    "httpx.request", "httpx.stream", "httpx.Client",
    "subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output",
    "subprocess.getoutput", "subprocess.getstatusoutput",
    "os.system", "os.popen",
    "psycopg2.connect", "sqlite3.connect", "pymysql.connect", "mysql.connector.connect",
    "smtplib.SMTP", "smtplib.SMTP_SSL",
    "pandas.read_csv", "pandas.read_excel", "pandas.read_json", "pandas.read_parquet",
    "zipfile.ZipFile", "tarfile.open",
    *(f"requests.{verb}" for verb in HTTP_VERBS),
    *(f"requests.api.{verb}" for verb in HTTP_VERBS),
}
# the os functions that wait for a child (not `os.waitstatus_to_exitcode`, a conversion)
OS_WAITS = frozenset({"os.wait", "os.waitpid", "os.wait3", "os.wait4", "os.waitid"})
# readers that do no file I/O when handed an in-memory buffer (what is left is CPU work)
BUFFER_READERS = {
    "zipfile.ZipFile": "file", "tarfile.open": "fileobj", "pandas.read_csv": "filepath_or_buffer",
    "pandas.read_excel": "io", "pandas.read_json": "path_or_buf", "pandas.read_parquet": "path",
}
IN_MEMORY_BUFFERS = frozenset({"io.BytesIO", "io.StringIO"})
PATH_IO_METHODS = {"open", "read_text", "read_bytes", "write_text", "write_bytes"}
PATH_TYPES = {"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.WindowsPath", "Path"}
PATH_RETURNING = {"resolve", "absolute", "with_suffix", "with_name", "with_stem", "joinpath",
                  "expanduser", "home", "cwd", "parent", "relative_to"}
SMTP_METHODS = {"sendmail", "send_message"}
SMTP_TYPES = frozenset({"smtplib.SMTP", "smtplib.SMTP_SSL"})
# `requests.Session()` itself does not block (V2.5); its request methods do
REQUESTS_SESSION = frozenset({"requests.Session", "requests.session", "requests.sessions.Session"})
SESSION_METHODS = HTTP_VERBS | {"send"}
UPLOAD_FILE_METHODS = {"read", "write", "seek"}
BOTO_FACTORIES = frozenset({"boto3.client", "boto3.resource"})
BOTO_SESSIONS = frozenset({"boto3.Session", "boto3.session.Session"})
# methods of boto3 clients that do no I/O (signing, pagination and waiter objects, close)
BOTO_LOCAL_METHODS = {"generate_presigned_url", "generate_presigned_post", "get_paginator", "get_waiter",
                      "can_paginate", "close"}
SYNC_SESSION_METHODS = {"query", "execute", "commit", "flush", "refresh", "scalar", "scalars", "get"}
MAX_CHAIN = 5


def _values_of(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None, name: str) -> list[ast.expr]:
    if function is not None and isinstance(function, (*FUNCTION_TYPES, ast.Lambda)):
        bindings = function_scope(function).values(name)
        if bindings:
            return [b.value for b in bindings if b.value is not None]
    value = module.assigns.get(name)
    return [value] if value is not None else []


def _annotations_of(function: ast.AST | None, name: str) -> list[ast.expr]:
    if function is None or not isinstance(function, (*FUNCTION_TYPES, ast.Lambda)):
        return []
    return [b.annotation for b in function_scope(function).values(name) if b.annotation is not None]


def is_path_expr(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None, expr: ast.expr,
                 depth: int = 0, self_paths: frozenset[str] | None = None) -> bool:
    """Whether `expr` is a `pathlib` path. `self_paths`: the attributes of the class known to
    hold one, while they are being found (`_path_attributes`)."""
    if depth > 6:
        return False
    if isinstance(expr, ast.Call):
        qualified = index.qualified_name(module, expr.func, function)
        if qualified in PATH_TYPES and (qualified != "Path" or "Path" not in module.defs):
            return True
        if isinstance(expr.func, ast.Attribute) and expr.func.attr in PATH_RETURNING:
            return is_path_expr(index, module, function, expr.func.value, depth + 1, self_paths)
        return _returns_path(index, module, function, expr.func)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
        return is_path_expr(index, module, function, expr.left, depth + 1, self_paths)
    if isinstance(expr, ast.Attribute) and expr.attr in ("parent",):
        return is_path_expr(index, module, function, expr.value, depth + 1, self_paths)
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        # `self.inventory = Path(...)` in `__init__`, or `self.inventory: Path`
        if self_paths is None:
            owner = module.owner_class.get(id(function)) if function is not None else None
            if owner is None:
                return False
            self_paths = _path_attributes(index, module, owner)
        return expr.attr in self_paths
    if isinstance(expr, ast.Name):
        for annotation in _annotations_of(function, expr.id):
            if last_name(annotation) in ("Path", "PurePath"):
                return True
        return any(
            is_path_expr(index, module, function if v is not module.assigns.get(expr.id) else None, v, depth + 1,
                         self_paths)
            for v in _values_of(index, module, function, expr.id)
        )
    return False


def _returns_path(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None, func: ast.expr) -> bool:
    """A project function annotated `-> Path` (`node_path = _safe_path(...)`)."""
    if not isinstance(func, (ast.Name, ast.Attribute)):
        return False
    owner = module.owner_class.get(id(function)) if function is not None else None
    sym = index.resolve(module, func, function, owner)
    returns = getattr(sym.node, "returns", None) if isinstance(sym, FunctionSym) else None
    return returns is not None and last_name(returns) in ("Path", "PurePath")


def _path_attributes(index: ProjectIndex, module: ModuleInfo, owner: ast.ClassDef) -> frozenset[str]:
    """The attributes of a class that hold a path: annotated `Path`, or assigned one, also
    from another such attribute (`self.spool = self.root / "spool"`). Found together, to a
    fixed point, so that attributes assigned from each other cost one pass per attribute
    found (following each assignment down would branch at every one), and the answer does
    not depend on which attribute is asked about first. Kept in the index's memo, not with
    the module: an assignment from another module's `-> Path` function depends on that
    module (and the memo records, for the cache, what computing it read)."""
    key = ("path-attributes", module.path, id(owner))
    found = index.cache.get(key)
    if found is None:
        assigned = self_attribute_values(owner)
        paths = {attr for attr in assigned
                 if any(last_name(annotation) in ("Path", "PurePath") for annotation in attribute_annotations(owner, attr))}
        grew = True
        while grew:
            grew = False
            for attr, values in assigned.items():
                if attr not in paths and any(is_path_expr(index, module, where, value, 0, frozenset(paths))
                                             for value, where in values):
                    paths.add(attr)
                    grew = True
        found = index.cache[key] = frozenset(paths)  # (the memo empties on any change: the id names this class)
    return found  # type: ignore[return-value]


def is_upload_file(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None, expr: ast.expr) -> bool:
    """An `UploadFile` parameter (or `File(...)`), or a loop variable over a list of them."""
    if request_object_type(index, module, function, expr) == "UploadFile":
        return True
    if isinstance(expr, ast.Name) and isinstance(function, (*FUNCTION_TYPES, ast.Lambda)):
        return any(
            b.kind == "for" and b.value is not None
            and request_object_type(index, module, function, b.value) == "UploadFile"
            for b in function_scope(function).values(expr.id)
        )
    return False


def _is_upload_stream(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None, expr: ast.expr) -> bool:
    """`upload.file` on an UploadFile, or a name bound from it."""
    candidates = [expr]
    if isinstance(expr, ast.Name) and isinstance(function, (*FUNCTION_TYPES, ast.Lambda)):
        candidates += [b.value for b in function_scope(function).values(expr.id)
                       if b.kind == "assign" and b.value is not None]
    return any(
        isinstance(c, ast.Attribute) and c.attr == "file" and is_upload_file(index, module, function, c.value)
        for c in candidates
    )


def is_boto_object(module: ModuleInfo, function: ast.AST | None, expr: ast.expr, depth: int = 0) -> bool:
    """A boto3 client or resource (`boto3.client(...)`, `boto3.resource(...)`,
    `<boto3 session>.client(...)`), or a sub-resource made from one (`dynamodb.Table(...)`)."""
    if depth > 3 or "boto3" not in imported_modules(module):
        return False
    for value, where in origins(module, function, expr):
        func = value.func  # type: ignore[attr-defined]
        if imported_name(module, func, where) in BOTO_FACTORIES:
            return True
        if isinstance(func, ast.Attribute):
            if func.attr in ("client", "resource") and made_by(module, where, func.value, BOTO_SESSIONS):
                return True
            if func.attr[:1].isupper() and is_boto_object(module, where, func.value, depth + 1):
                return True
    return False


# kernel-backed files: reading them never waits on a disk (a reviewer's verdict on 21 real
# BGT302 findings: /proc/<pid>/stat, boot_id, cgroup limits), and /dev/null
VIRTUAL_FILE_PREFIXES = ("/proc/", "/sys/", "/dev/null")


def _virtual_file(expr: ast.expr | None, depth: int = 0) -> bool:
    """`"/proc/self/stat"`, `f"/proc/{pid}/stat"`, `Path("/sys/fs/cgroup") / name`, `os.devnull`."""
    if expr is None or depth > 4:
        return False
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value.startswith(VIRTUAL_FILE_PREFIXES) or expr.value in ("/proc", "/sys")
    if isinstance(expr, ast.JoinedStr) and expr.values:
        return _virtual_file(expr.values[0], depth + 1)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Div, ast.Mod)):
        return _virtual_file(expr.left, depth + 1)
    if isinstance(expr, ast.Attribute) and expr.attr == "devnull":
        return True
    if isinstance(expr, ast.Call):
        if isinstance(expr.func, ast.Attribute) and expr.func.attr == "format":
            return _virtual_file(expr.func.value, depth + 1)
        return bool(expr.args) and _virtual_file(expr.args[0], depth + 1)
    return False


def _no_hang(call: ast.Call) -> bool:
    """`os.waitpid(pid, os.WNOHANG)` returns at once."""
    return any(isinstance(node, (ast.Name, ast.Attribute)) and last_name(node) == "WNOHANG"
               for arg in [*call.args, *(kw.value for kw in call.keywords)] for node in ast.walk(arg))


def _reads_memory(module: ModuleInfo, function: ast.AST | None, call: ast.Call, keyword: str) -> bool:
    """`zipfile.ZipFile(io.BytesIO(data))`, `tarfile.open(fileobj=buffer)`, `pd.read_csv(buffer)`."""
    sources = [kw.value for kw in call.keywords if kw.arg == keyword]
    if keyword != "fileobj" and call.args:
        sources.append(call.args[0])
    return any(made_by(module, function, source, IN_MEMORY_BUFFERS, annotated=False) for source in sources)


def _configured(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None, call: ast.Call,
                extra: tuple[str, ...]) -> str | None:
    """A name listed in `blocking-calls`: through imports, or a function of this project."""
    qualified = imported_name(module, call.func, function)
    if qualified in extra:
        return qualified
    target = index.resolve(module, call.func, function, module.owner_class.get(id(function)))
    if isinstance(target, FunctionSym):
        name = f"{target.module.name}.{target.qualname}"
        if name in extra:
            return name
    return None


def blocking_reason(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None,
                    call: ast.Call, extra: tuple[str, ...] = ()) -> str | None:
    """The name of the blocking API `call` is, or None. `extra`: the `blocking-calls` setting."""
    qualified = imported_name(module, call.func, function)
    if qualified is None and isinstance(call.func, ast.Name) and call.func.id in BUILTINS:
        qualified = index.qualified_name(module, call.func, function)  # None or "mod.open" when rebound
    if qualified:
        if qualified in BUFFER_READERS and _reads_memory(module, function, call, BUFFER_READERS[qualified]):
            return None
        if qualified in BLOCKING_FUNCTIONS or qualified in BUILTINS:
            if qualified in FILE_OPENERS and call.args and _virtual_file(call.args[0]):
                return None
            return qualified
        if qualified in OS_WAITS and not _no_hang(call):
            return qualified
    if extra and last_name(call.func) in {name.rsplit(".", 1)[-1] for name in extra}:
        configured = _configured(index, module, function, call, extra)
        if configured:
            return configured
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    method, receiver = func.attr, func.value
    if method in PATH_IO_METHODS and is_path_expr(index, module, function, receiver):
        return None if _virtual_file(receiver) else f"Path.{method}"
    if method in SMTP_METHODS and made_by(module, function, receiver, SMTP_TYPES, annotated=False):
        return f"smtplib.SMTP.{method}"
    if method in SESSION_METHODS and made_by(module, function, receiver, REQUESTS_SESSION):
        return f"requests.Session.{method}"
    if method in UPLOAD_FILE_METHODS and _is_upload_stream(index, module, function, receiver):
        return f"UploadFile.file.{method}"
    if (method not in BOTO_LOCAL_METHODS and not method[:1].isupper()
            and is_boto_object(module, function, receiver)):
        return f"boto3 client {dotted(receiver) or '<client>'}.{method}"
    if (
        method in SYNC_SESSION_METHODS
        and isinstance(receiver, ast.Name)
        and function is not None
        and is_sync_session_name(index, module, function, receiver.id)
    ):
        return f"Session.{method}"
    return None


def _local_calls(function: ast.AST):
    """Calls made by the function itself (not by nested defs or lambdas), in source order.

    The branches of an `if` whose test reads a parameter are left out, and so are the
    operands of `and` after one that reads a parameter (`hub is None and probe()`):
    whether they run
    depends on what the caller passes, which a helper's chain cannot know (a reviewer found
    348 of 492 BGT302 findings in one app behind `if name.startswith("oidc/"):` in a
    secrets helper that every caller called with a plain environment variable name).
    But a function that both branches call runs whatever the caller passes (`if name:
    scan(name) else: scan(DEFAULT)`): that call is kept. One walk, which does not enter
    those branches."""
    names = {arg.arg for arg, _ in parameters(function)} - {"self", "cls"}
    # a nested def in the body is not entered either: it runs when called (often in a thread)
    calls = _calls_in(function.body, names)  # type: ignore[attr-defined]
    return sorted(calls, key=lambda call: (call.lineno, call.col_offset))


def _calls_in(nodes: list, names: set[str]) -> list[ast.Call]:
    def reads_parameter(node: ast.AST) -> bool:
        pending = [node]
        while pending:
            found = pending.pop()
            if type(found) is ast.Name and found.id in names:
                return True
            pending.extend(child_nodes(found, MARKER_TYPES))
        return False

    stack = [node for node in nodes if not isinstance(node, NESTED_SCOPES)]
    calls = []
    leaves = LEAF_TYPES
    while stack:
        node = stack.pop()
        if type(node) in leaves:  # no call, and nothing to enter
            continue
        if isinstance(node, ast.Call):
            calls.append(node)
        children: Iterable[ast.AST]
        if isinstance(node, ast.If) and names and reads_parameter(node.test):
            children = (node.test,)
            if node.orelse:
                calls.extend(_called_by_both(_unconditional_calls(node.body), _unconditional_calls(node.orelse)))
        elif isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And) and names:
            # `param is None and probe()`: what follows an operand that reads a parameter
            # runs only for some callers, as an `if` on it does (not after `or`:
            # `not isinstance(model, str) or model in catalog()` is the common path)
            children = []
            for value in node.values:
                children.append(value)
                if reads_parameter(value):
                    break
        else:  # (lists, not ast.iter_child_nodes's generator: this walks every helper's body)
            stack.extend(child_nodes(node, NOT_ENTERED))
            continue
        stack.extend(child for child in children if not isinstance(child, NESTED_SCOPES))
    return calls


def _unconditional_calls(stmts: list[ast.stmt]) -> list[ast.Call]:
    """The calls of a branch that no further `if` decides (`if blocking: time.sleep(t)`
    in both branches still depends on the caller), but for those every branch of that
    `if` makes: loops, `with` and `try` are entered."""
    stack: list[ast.AST] = [stmt for stmt in stmts if not isinstance(stmt, NESTED_SCOPES)]
    calls = []
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            calls.append(node)
        if isinstance(node, ast.If):
            children: Iterable[ast.AST] = (node.test,)
            if node.orelse:  # made by every branch (`elif` chains too): made whatever the test says
                calls.extend(_called_by_both(_unconditional_calls(node.body), _unconditional_calls(node.orelse)))
        elif isinstance(node, ast.IfExp):
            children = (node.test,)
        elif type(node).__name__ == "Match":  # only the subject runs whatever the case
            children = (node.subject,)  # type: ignore[attr-defined]
        elif isinstance(node, ast.BoolOp):
            children = node.values[:1]
        else:
            stack.extend(child_nodes(node, NOT_ENTERED))
            continue
        stack.extend(child for child in children if not isinstance(child, NESTED_SCOPES))
    return calls


def _called_by_both(body: list[ast.Call], orelse: list[ast.Call]) -> list[ast.Call]:
    """The calls of `body` to a function (by its dotted name) that `orelse` calls too."""
    other = {dotted(call.func) for call in orelse} - {None}
    seen: set[str] = set()
    both = []
    for call in sorted(body, key=lambda c: (c.lineno, c.col_offset)):
        name = dotted(call.func)
        if name in other and name not in seen:
            seen.add(name)
            both.append(call)
    return both


def _kept_local_calls(module: ModuleInfo, function: ast.AST) -> list[ast.Call]:
    """`_local_calls`, kept with the module: a function of the def's own tree, which an edit
    of another module (emptying the index's cache) does not change."""
    kept: dict = module.derived.setdefault("local-calls", {})  # type: ignore[assignment]
    found = kept.get(id(function))
    if found is None:  # (kept with the def itself: while it lives, its id names no other node)
        found = kept[id(function)] = (function, _local_calls(function))
    return found[1]


def blocking_chain(index: ProjectIndex, sym: FunctionSym, extra: tuple[str, ...] = ()) -> list[str] | None:
    """For a plain def of the project: ["helper()", ..., "smtplib.SMTP"] if it blocks, else None.

    The first chain in call order that reaches a blocking call within MAX_CHAIN plain defs,
    never entering a def twice on one path. The answer is the same whatever was asked
    before it (in this run, in a worker that checked other files first, or in an earlier
    run whose answers the cache kept): see `_chain`."""
    found, _ = _chain(index, sym, extra, MAX_CHAIN, frozenset())
    return list(found[0]) if found else None


def call_chain(index: ProjectIndex, module: ModuleInfo, func: ast.expr, function: ast.AST | None,
               owner: ast.ClassDef | None, extra: tuple[str, ...] = ()) -> tuple[list[str], bool] | None:
    """BGT302's question about a call in `module`: the blocking chain of the plain def of the
    project it calls, if any (as `blocking_chain` of that def), and whether that def is a
    generator function (undecorated): calling one runs none of its body, only iterating
    it does."""
    found, _ = _call_chain(index, module, func, function, owner, extra, MAX_CHAIN, frozenset())
    return (list(found[0]), found[2]) if found else None


_UNKNOWN = object()
_ABSENT = object()
Chain = tuple  # (names, keys of the defs on it, whether the first def is a generator function)

# the memo key of `_call_chain` for a call reached through an import (cache/check.py keeps
# these entries from run to run: the key names everything the answer depends on that its
# recorded deps do not, so it holds while those deps do)
HELPER_CHAIN = "helper-chain"


def _chain(index: ProjectIndex, sym: FunctionSym, extra: tuple[str, ...], budget: int,
           visiting: frozenset) -> tuple[Chain | None, frozenset]:
    """The first chain from `sym` through at most `budget` defs, none of them in `visiting`
    (the path so far), or None; and the defs of `visiting` where the search was cut.

    An answer is memoized by (def, budget) only when no cut hit `visiting`: then it is the
    same for any path that leads here. A memoized answer serves a later question when the
    search it stands for would give it (`_known`). (Answers memoized by def alone, as
    before, made a chain found from one def longer than allowed when reached deeper from
    another, and which one was asked first decided the findings.)"""
    if isinstance(sym.node, ast.AsyncFunctionDef) or budget <= 0:
        return None, frozenset()
    if sym.key in visiting:
        return None, frozenset({sym.key})
    head = ("blocking-chain", sym.key, extra)
    known = _known(index, head, budget, visiting)
    if known is not _UNKNOWN:
        return known, frozenset()  # type: ignore[return-value]
    inner = visiting | {sym.key}
    module, function = sym.module, sym.node
    owner = module.owner_class.get(id(function))
    name = f"{function.name}()"
    found: Chain | None = None
    cuts: set = set()
    calls = list(_kept_local_calls(module, function))
    generator = is_generator(function)
    for call in calls:
        reason = blocking_reason(index, module, function, call, extra)
        if reason is not None:
            found = ((name, reason), (sym.key,), generator)
            break
    if found is None and budget > 1:
        for call in calls:
            chain, cut = _call_chain(index, module, call.func, function, owner, extra, budget - 1, inner)
            cuts |= cut
            if chain is not None:
                found = ((name, *chain[0]), (sym.key, *chain[1]), generator)
                break
    cuts.discard(sym.key)
    _store(index, (*head, budget), found, cuts)
    return found, frozenset(cuts)


def _call_chain(index: ProjectIndex, module: ModuleInfo, func: ast.expr, function: ast.AST | None,
                owner: ast.ClassDef | None, extra: tuple[str, ...], budget: int,
                visiting: frozenset) -> tuple[Chain | None, frozenset]:
    """`_chain` of the plain def a call in `module` calls (none: no chain). A callee reached
    through one of the module's imports (`helper()`, `utils.helper()`, as
    ProjectIndex.resolve decides it) is memoized by the import, the attributes after it
    and the module's path, not by the call: the answer depends on the module only through
    where the import is resolved from and, when resolution leads back into it, its
    content, which resolution then reads (and the recorder notes). So the entry outlives
    an edit of `module`, and a kept one answers without parsing the callee's module."""
    rooted = import_rooted(module, func, function, owner)
    if rooted is None:
        return _resolved_chain(index, module, func, function, owner, extra, budget, visiting)
    ref, attributes = rooted
    head = (HELPER_CHAIN, str(module.path), ref.module, ref.attr, None if ref.base is None else str(ref.base),
            attributes, extra)
    known = _known(index, head, budget, visiting)
    if known is not _UNKNOWN:
        return known, frozenset()  # type: ignore[return-value]
    found, cuts = _resolved_chain(index, module, func, function, owner, extra, budget, visiting)
    _store(index, (*head, budget), found, cuts)
    return found, cuts


def _store(index: ProjectIndex, key: tuple, found: Chain | None, cuts: set | frozenset) -> None:
    """Memoize a search's answer when no cut made it depend on the path; else let a later
    search of the key record from its own start (a recording memo's `unmark`)."""
    if not cuts:
        index.cache[key] = found
    else:
        _unmark(index.cache, key)


# a recording memo (cache/deps.py: RecordingMemo) marks where a key's search began; a plain
# dict (an uncached run) records nothing
def _peek(cache: dict, key: tuple) -> object:
    return cache.peek(key, _ABSENT) if hasattr(cache, "peek") else cache.get(key, _ABSENT)


def _unmark(cache: dict, key: tuple) -> None:
    if hasattr(cache, "unmark"):
        cache.unmark(key)


def _resolved_chain(index: ProjectIndex, module: ModuleInfo, func: ast.expr, function: ast.AST | None,
                    owner: ast.ClassDef | None, extra: tuple[str, ...], budget: int,
                    visiting: frozenset) -> tuple[Chain | None, frozenset]:
    target = index.resolve(module, func, function, owner)
    if not isinstance(target, FunctionSym) or not isinstance(target.node, ast.FunctionDef):
        return None, frozenset()
    return _chain(index, target, extra, budget, visiting)


def _known(index: ProjectIndex, head: tuple, budget: int, visiting: frozenset) -> object:
    """A memoized answer (`(*head, stored budget)`) that is the search's answer here, or
    _UNKNOWN: no chain within b defs means none within fewer either; a chain found within b
    is the first within fewer too, if it is short enough and none of its defs is on the path."""
    cache = index.cache
    for stored_budget in range(budget, MAX_CHAIN + 1):
        key = (*head, stored_budget)
        if stored_budget == budget:  # the search's own key: a miss is its start
            if key not in cache:
                continue
            known = cache[key]
        else:  # a probe: nothing is computed under this key now
            known = _peek(cache, key)
            if known is _ABSENT:
                continue
        if known is None or (len(known[1]) <= budget and visiting.isdisjoint(known[1])):  # type: ignore[index]
            if stored_budget != budget:
                _unmark(cache, (*head, budget))  # answered by a probe: the search's own key is not computed
            return known
    return _UNKNOWN


PLAIN_DECORATORS = {"staticmethod", "classmethod"}  # they do not drive a generator


def is_generator(function: ast.AST) -> bool:
    """A plain generator function; a decorated one may be driven by its decorator on the
    call (`@contextmanager`: `with lock():` runs it up to its `yield`). Kept on the node:
    every chain search through a helper asks (litellm: 16,000 times in a cold check)."""
    known = getattr(function, "_bgt_generator", None)
    if known is None:
        known = isinstance(function, ast.FunctionDef) \
            and all(last_name(d) in PLAIN_DECORATORS for d in function.decorator_list) \
            and any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in walk_local(list(function.body)))
        function._bgt_generator = known  # type: ignore[attr-defined]
    return known


def chain_to_json(found: Chain | None) -> list | None:
    """A memoized answer as the cache stores it."""
    if found is None:
        return None
    names, defs, generator = found
    return [list(names), [[str(path), qualname] for path, qualname in defs], generator]


def chain_from_json(stored: object) -> object:
    """What `chain_to_json` wrote, back; _UNKNOWN for anything else."""
    if stored is None:
        return None
    if not (isinstance(stored, list) and len(stored) == 3 and isinstance(stored[0], list)
            and isinstance(stored[1], list) and all(isinstance(name, str) for name in stored[0])
            and all(isinstance(d, list) and len(d) == 2 and all(isinstance(x, str) for x in d) for d in stored[1])
            and isinstance(stored[2], bool)):
        return _UNKNOWN
    return tuple(stored[0]), tuple((Path(path), qualname) for path, qualname in stored[1]), stored[2]
