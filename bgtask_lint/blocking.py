"""The catalogue of blocking calls (BGT301), and the helper chains that reach them (BGT302)."""

from __future__ import annotations

import ast

from bgtask_lint.index import FUNCTION_TYPES, FunctionSym, ModuleInfo, ProjectIndex
from bgtask_lint.names import last_name
from bgtask_lint.scope import function_scope
from bgtask_lint.semantics import is_sync_session_name

BLOCKING_FUNCTIONS = {
    "open", "io.open",
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
}
BLOCKING_MODULE_PREFIXES = ("requests.", "os.wait")
PATH_IO_METHODS = {"open", "read_text", "read_bytes", "write_text", "write_bytes"}
PATH_TYPES = {"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.WindowsPath", "Path"}
PATH_RETURNING = {"resolve", "absolute", "with_suffix", "with_name", "with_stem", "joinpath",
                  "expanduser", "home", "cwd", "parent", "relative_to"}
SMTP_METHODS = {"sendmail", "send_message"}
SMTP_TYPES = {"smtplib.SMTP", "smtplib.SMTP_SSL"}
REQUESTS_SESSION = {"requests.Session", "requests.session", "requests.sessions.Session"}
HTTP_VERBS = {"get", "post", "put", "patch", "delete", "head", "options", "request"}
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
                 depth: int = 0) -> bool:
    if depth > 6:
        return False
    if isinstance(expr, ast.Call):
        qualified = index.qualified_name(module, expr.func, function)
        if qualified in PATH_TYPES and (qualified != "Path" or "Path" not in module.defs):
            return True
        if isinstance(expr.func, ast.Attribute) and expr.func.attr in PATH_RETURNING:
            return is_path_expr(index, module, function, expr.func.value, depth + 1)
        return False
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
        return is_path_expr(index, module, function, expr.left, depth + 1)
    if isinstance(expr, ast.Attribute) and expr.attr in ("parent",):
        return is_path_expr(index, module, function, expr.value, depth + 1)
    if isinstance(expr, ast.Name):
        for annotation in _annotations_of(function, expr.id):
            if last_name(annotation) in ("Path", "PurePath"):
                return True
        return any(
            is_path_expr(index, module, function if v is not module.assigns.get(expr.id) else None, v, depth + 1)
            for v in _values_of(index, module, function, expr.id)
        )
    return False


def _bound_from(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None, expr: ast.expr,
                types: set[str]) -> bool:
    """Is `expr` a call to one of `types`, or a name bound (assigned or `with ... as`) from one?"""
    if isinstance(expr, ast.Call):
        return index.qualified_name(module, expr.func, function) in types
    if isinstance(expr, ast.Name):
        return any(
            isinstance(v, ast.Call) and index.qualified_name(module, v.func, function) in types
            for v in _values_of(index, module, function, expr.id)
        )
    return False


def blocking_reason(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None,
                    call: ast.Call) -> str | None:
    """The name of the blocking API `call` is, or None."""
    qualified = index.qualified_name(module, call.func, function)
    if qualified:
        if qualified in BLOCKING_FUNCTIONS:
            return qualified
        if qualified.startswith(BLOCKING_MODULE_PREFIXES) and not qualified.startswith("requests.exceptions"):
            return qualified
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    method, receiver = func.attr, func.value
    if method in PATH_IO_METHODS and is_path_expr(index, module, function, receiver):
        return f"Path.{method}"
    if method in SMTP_METHODS and _bound_from(index, module, function, receiver, SMTP_TYPES):
        return f"smtplib.SMTP.{method}"
    if method in HTTP_VERBS and _bound_from(index, module, function, receiver, REQUESTS_SESSION):
        return f"requests.Session.{method}"
    if (
        method in SYNC_SESSION_METHODS
        and isinstance(receiver, ast.Name)
        and function is not None
        and is_sync_session_name(index, module, function, receiver.id)
    ):
        return f"Session.{method}"
    return None


def _local_calls(function: ast.AST):
    """Calls made by the function itself (not by nested defs or lambdas), in source order."""
    from bgtask_lint.guards import walk_local

    calls = [n for n in walk_local(list(function.body)) if isinstance(n, ast.Call)]  # type: ignore[attr-defined]
    return sorted(calls, key=lambda call: (call.lineno, call.col_offset))


def blocking_chain(index: ProjectIndex, sym: FunctionSym, depth: int = 0,
                   visiting: frozenset = frozenset()) -> list[str] | None:
    """For a plain def of the project: ["helper()", ..., "smtplib.SMTP"] if it blocks, else None."""
    if isinstance(sym.node, ast.AsyncFunctionDef) or depth >= MAX_CHAIN or sym.key in visiting:
        return None
    key = ("blocking-chain", sym.key)
    if key in index.cache:
        cached = index.cache[key]
        return list(cached) if cached else None  # type: ignore[arg-type]
    visiting = visiting | {sym.key}
    module, function = sym.module, sym.node
    owner = module.owner_class.get(id(function))
    found: list[str] | None = None
    calls = list(_local_calls(function))
    for call in calls:
        reason = blocking_reason(index, module, function, call)
        if reason is not None:
            found = [f"{sym.node.name}()", reason]
            break
    if found is None:
        for call in calls:
            target = index.resolve(module, call.func, function, owner)
            if isinstance(target, FunctionSym) and isinstance(target.node, ast.FunctionDef):
                chain = blocking_chain(index, target, depth + 1, visiting)
                if chain:
                    found = [f"{sym.node.name}()", *chain]
                    break
    if depth == 0 or found is not None:
        # results computed inside a cycle depend on the path, so only cache definite ones
        index.cache[key] = tuple(found) if found else ()
    return found
