"""What a value is: a request-scoped session, an ORM instance, a request object.

Shared by the BGT2xx rules (what is passed to a task) and BGT301 (sync sessions).
Every question is asked about an expression inside a given function of a module,
and answered from that function's bindings plus the project index (aliases,
models and dependencies may live in other modules).
"""

from __future__ import annotations

import ast
import re

from bgtask_lint.index import (
    ClassSym,
    ExternalSym,
    FunctionSym,
    ModuleInfo,
    ProjectIndex,
    ValueSym,
)
from bgtask_lint.guards import walk_local
from bgtask_lint.names import dotted, last_name
from bgtask_lint.plain import Value
from bgtask_lint.scope import Binding, function_scope

SESSION_TYPES = {"Session", "AsyncSession", "Connection", "AsyncConnection"}
SESSION_DEPENDENCY = re.compile(r"^(get_db|get_session|get_\w+_session|get_\w+_db)$")
SESSION_FACTORY = re.compile(r"^(SessionLocal|AsyncSessionLocal|\w*[Ss]ession_?[Ll]ocal|async_session\w*|session_factory|Session|AsyncSession)$")
NOT_DB_LIBRARIES = ("requests", "aiohttp", "httpx", "urllib3", "boto3", "botocore")
SESSIONMAKERS = {"sessionmaker", "async_sessionmaker", "scoped_session", "async_scoped_session"}
ORM_FETCH_TERMINALS = {"first", "one", "one_or_none", "get"}
RESULT_TERMINALS = {"scalar_one", "scalar_one_or_none", "scalar"}
REQUEST_TYPES = {"Request", "WebSocket", "HTTPConnection", "UploadFile"}
PLAIN_UPLOAD_TYPES = {"bytes", "str", "bytearray"}
SESSIONISH_NAME = re.compile(r"^(db|session|sess|s|conn|db_session|\w+_session|\w+_db|dbsession|async_session)$")
DECLARATIVE_BASES = {"DeclarativeBase", "DeclarativeBaseNoMeta", "Base", "AsyncAttrs"}


class Dependency(Value, frozen=True):
    """What `Depends(...)`/`Security(...)` in a parameter says."""

    __slots__ = ("type_expr", "type_module", "dependency", "dependency_module")

    def __init__(self, type_expr: ast.expr | None, type_module: ModuleInfo, dependency: ast.expr | None,
                 dependency_module: ModuleInfo) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "type_expr", type_expr)  # T in `x: T = Depends(f)` or `Annotated[T, Depends(f)]`
        set_field(self, "type_module", type_module)  # where type_expr is written (an alias may live elsewhere)
        set_field(self, "dependency", dependency)  # f
        set_field(self, "dependency_module", dependency_module)


def strip_await(expr: ast.expr | None) -> ast.expr | None:
    while isinstance(expr, ast.Await):
        expr = expr.value
    return expr


def literal_elements(expr: ast.expr, depth: int = 0) -> list[ast.expr]:
    """The expression, and what a list/tuple/set/dict literal holds, recursively (V2.4:
    a session inside `[db, order_id]` or `{"db": db}` is handed over all the same)."""
    if isinstance(expr, ast.Starred):
        expr = expr.value
    found = [expr]
    if depth > 8:
        return found
    if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
        for element in expr.elts:
            found.extend(literal_elements(element, depth + 1))
    elif isinstance(expr, ast.Dict):
        for value in expr.values:
            found.extend(literal_elements(value, depth + 1))
    return found


def is_depends_call(expr: ast.AST | None) -> bool:
    return isinstance(expr, ast.Call) and last_name(expr.func) in ("Depends", "Security")


def _depends_target(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    for kw in call.keywords:
        if kw.arg == "dependency":
            return kw.value
    return None


def annotated_parts(
    index: ProjectIndex, module: ModuleInfo, annotation: ast.expr | None, depth: int = 0
) -> tuple[ast.expr | None, list[ast.expr], ModuleInfo]:
    """Unwrap `Annotated[T, m1, m2]`, following module-level aliases across modules."""
    if annotation is None or depth > 5:
        return annotation, [], module
    if isinstance(annotation, ast.Subscript) and last_name(annotation.value) == "Annotated":
        inner = annotation.slice
        elements = inner.elts if isinstance(inner, ast.Tuple) else [inner]
        if elements:
            return elements[0], list(elements[1:]), module
    if isinstance(annotation, (ast.Name, ast.Attribute)):
        sym = index.resolve(module, annotation)
        if isinstance(sym, ValueSym) and isinstance(sym.value, ast.Subscript):
            return annotated_parts(index, sym.module, sym.value, depth + 1)
    return annotation, [], module


def parameter_dependency(
    index: ProjectIndex, module: ModuleInfo, annotation: ast.expr | None, default: ast.expr | None
) -> Dependency | None:
    base, metadata, where = annotated_parts(index, module, annotation)
    if is_depends_call(default):
        return Dependency(base, where, _depends_target(default), module)  # type: ignore[arg-type]
    for meta in metadata:
        if is_depends_call(meta):
            return Dependency(base, where, _depends_target(meta), where)  # type: ignore[arg-type]
    return None


def _type_names(expr: ast.expr | None) -> list[str]:
    """Last names of the types in an annotation: `Optional[list[UploadFile]]` -> [..., "UploadFile"]."""
    if expr is None:
        return []
    names = []
    for node in ast.walk(expr):
        if isinstance(node, (ast.Name, ast.Attribute)):
            names.append(last_name(node))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.extend(re.findall(r"\w+", node.value))
    return [n for n in names if n]


# where the request types come from: one of another library (`jina.types.request.Request`,
# a protobuf message) is no request of this server
REQUEST_LIBRARIES = {"fastapi", "starlette"}


def _request_type_names(index: ProjectIndex, module: ModuleInfo, expr: ast.expr | None) -> list[str]:
    """`_type_names`, less the names bound to a class of another library, or to a class of
    the project that does not derive from a request type (string annotations included)."""
    if expr is None:
        return []
    names = []
    for node in ast.walk(expr):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                parsed = ast.parse(node.value.strip(), mode="eval").body
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                names.extend(re.findall(r"\w+", node.value))
                continue
            names.extend(_request_type_names(index, module, parsed))
        elif isinstance(node, (ast.Name, ast.Attribute)) and _may_be_request_type(index, module, node):
            names.append(last_name(node))
    return [n for n in names if n]


def _may_be_request_type(index: ProjectIndex, module: ModuleInfo, node: ast.Name | ast.Attribute) -> bool:
    sym = index.resolve(module, node)
    if isinstance(sym, ExternalSym):
        root = sym.name.split(".", 1)[0]
        return "." not in sym.name or root in REQUEST_LIBRARIES  # a bare name: by its name
    if isinstance(sym, ClassSym):
        return any(last_name(base) in REQUEST_TYPES for base in sym.node.bases)
    return True


def _main_type_name(expr: ast.expr | None) -> str | None:
    """The type an annotation is about, looking through Optional/Union/list/`| None`."""
    if expr is None:
        return None
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
        left, right = _main_type_name(expr.left), _main_type_name(expr.right)
        return left if left not in (None, "None") else right
    if isinstance(expr, ast.Subscript):
        outer = last_name(expr.value)
        inner = expr.slice
        elements = inner.elts if isinstance(inner, ast.Tuple) else [inner]
        if outer in ("Optional", "Union", "list", "List", "Sequence", "tuple", "Tuple", "set", "Set"):
            for element in elements:
                name = _main_type_name(element)
                if name not in (None, "None"):
                    return name
        if outer == "Annotated" and elements:
            return _main_type_name(elements[0])
        return outer
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        found = re.findall(r"\w+", expr.value)
        return found[-1] if found else None
    if isinstance(expr, ast.Constant) and expr.value is None:
        return "None"
    return last_name(expr)


# --- sessions ----------------------------------------------------------------------------


def _is_session_factory_call(index: ProjectIndex, module: ModuleInfo, value: ast.expr | None,
                             function: ast.AST | None) -> bool:
    value = strip_await(value)
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    if isinstance(func, ast.Call):  # sessionmaker(...)()
        return last_name(func.func) in SESSIONMAKERS
    qualified = index.qualified_name(module, func, function) or ""
    if qualified.split(".")[0] in NOT_DB_LIBRARIES:
        return False
    sym = index.resolve(module, func, function)
    if isinstance(sym, ValueSym) and isinstance(sym.value, ast.Call):
        if last_name(sym.value.func) in SESSIONMAKERS:
            return True
    if isinstance(sym, FunctionSym) and returns_session(index, sym):
        return True
    name = last_name(func)
    return bool(name and SESSION_FACTORY.match(name))


def returns_session(index: ProjectIndex, sym: FunctionSym) -> bool:
    """A project function whose every `return` gives a new session (V2.4): `SessionLocal()`,
    `Session(engine)`, `sessionmaker(...)()`, another such function, or a name bound to one
    of these in the function. A generator (a `yield` dependency) is not one."""
    key = ("returns-session", sym.key)
    cached = index.cache.get(key)
    if cached is not None:
        return bool(cached)
    index.cache[key] = False  # cycle guard
    returns: list[ast.Return] = []
    for node in walk_local(list(sym.node.body)):
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return False
        if isinstance(node, ast.Return):
            returns.append(node)
    result = bool(returns) and all(
        _returns_new_session(index, sym.module, sym.node, strip_await(r.value)) for r in returns
    )
    index.cache[key] = result
    return result


def _returns_new_session(index: ProjectIndex, module: ModuleInfo, function: ast.AST, value: ast.expr | None) -> bool:
    if isinstance(value, ast.Name):
        bindings = function_scope(function).values(value.id)
        return bool(bindings) and all(
            b.kind == "assign" and _is_session_factory_call(index, module, b.value, function) for b in bindings
        )
    return _is_session_factory_call(index, module, value, function)


def _dependency_is_session(dep: Dependency) -> bool:
    type_name = _main_type_name(dep.type_expr)
    if type_name in SESSION_TYPES:
        return True
    name = last_name(dep.dependency) if dep.dependency is not None else None
    return bool(name and SESSION_DEPENDENCY.match(name))


def session_binding(index: ProjectIndex, module: ModuleInfo, function: ast.AST, name: str) -> Binding | None:
    """The binding that makes `name` a request-scoped DB session in `function`, if any."""
    for binding in function_scope(function).values(name):
        if binding.kind == "param":
            dep = parameter_dependency(index, module, binding.annotation, binding.default)
            if dep is not None and _dependency_is_session(dep):
                return binding
        elif binding.kind in ("assign", "with"):
            if _is_session_factory_call(index, module, binding.value, function):
                return binding
    return None


def is_request_session(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None, expr: ast.expr) -> bool:
    if isinstance(expr, ast.Attribute):
        parts = dotted(expr)
        if parts:
            pieces = parts.split(".")
            return (
                len(pieces) >= 3
                and pieces[-2] == "state"
                and pieces[-1] in ("db", "session", "db_session")
                and "app" not in pieces[:-2]  # `request.app.state.db` is app-wide (a factory or pool)
            )
        return False
    if isinstance(expr, ast.Name) and function is not None:
        return session_binding(index, module, function, expr.id) is not None
    return False


# the sync session classes themselves (a `sessionmaker()` may make async sessions too)
SYNC_SESSION_CLASSES = frozenset({"sqlalchemy.orm.Session", "sqlalchemy.orm.session.Session", "sqlmodel.Session",
                                  "sqlmodel.orm.session.Session"})


def is_sync_session_name(index: ProjectIndex, module: ModuleInfo, function: ast.AST, name: str) -> bool:
    """A name typed as a sync SQLAlchemy/SQLModel Session, or a sync `Depends(get_db)` session."""
    for binding in function_scope(function).values(name):
        if binding.kind in ("assign", "with") and isinstance(binding.value, ast.Call) \
                and index.qualified_name(module, binding.value.func, function) in SYNC_SESSION_CLASSES:
            return True  # `with Session(engine) as session:` / `session = Session(engine)`
        annotation = binding.annotation
        base, metadata, where = annotated_parts(index, module, annotation)
        type_name = _main_type_name(base)
        if type_name is not None and type_name != "Session":
            continue  # AsyncSession, Connection, ... or anything else
        if type_name == "Session":
            qualified = index.qualified_name(where, base) if isinstance(base, (ast.Name, ast.Attribute)) else None
            if qualified and qualified.split(".")[0] in NOT_DB_LIBRARIES:
                continue
            return True
        if binding.kind != "param":
            continue
        dep = parameter_dependency(index, module, annotation, binding.default)
        if dep is None or dep.dependency is None:
            continue
        dep_name = last_name(dep.dependency) or ""
        if not SESSION_DEPENDENCY.match(dep_name) or "async" in dep_name:
            continue
        target = index.resolve(dep.dependency_module, dep.dependency)
        if isinstance(target, FunctionSym) and isinstance(target.node, ast.AsyncFunctionDef):
            continue
        return True
    return False


def _looks_like_session(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None, expr: ast.expr) -> bool:
    expr = strip_await(expr)  # type: ignore[assignment]
    if isinstance(expr, ast.Name):
        if function is not None and session_binding(index, module, function, expr.id) is not None:
            return True
        return bool(SESSIONISH_NAME.match(expr.id))
    if isinstance(expr, ast.Attribute):
        return bool(SESSIONISH_NAME.match(expr.attr))
    return False


# --- ORM instances -----------------------------------------------------------------------


def is_orm_class(index: ProjectIndex, sym: ClassSym, depth: int = 0) -> bool:
    key = ("orm", sym.module.path, sym.node.lineno, sym.node.name)
    cached = index.cache.get(key)
    if cached is not None:
        return bool(cached)
    index.cache[key] = False  # cycle guard
    result = _is_orm_class(index, sym, depth)
    index.cache[key] = result
    return result


def _is_orm_class(index: ProjectIndex, sym: ClassSym, depth: int) -> bool:
    if depth > 8:
        return False
    node = sym.node
    for kw in node.keywords:
        if kw.arg == "table" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
            return True
    for base in node.bases:
        target = index.resolve(sym.module, base)
        if isinstance(target, ClassSym):
            if _is_declarative_base_class(index, target) or is_orm_class(index, target, depth + 1):
                return True
        elif isinstance(target, ValueSym):
            if isinstance(target.value, ast.Call) and last_name(target.value.func) in (
                "declarative_base",
                "generate_base",
            ):
                return True
        elif isinstance(target, ExternalSym):
            name = target.name
            last = name.rsplit(".", 1)[-1]
            if last in DECLARATIVE_BASES and last != "AsyncAttrs":
                return True
            if name in ("tortoise.models.Model", "tortoise.Model", "django.db.models.Model"):
                return True
            if name.endswith("models.Model") and name.startswith(("django", "tortoise")):
                return True
    return False


def _is_declarative_base_class(index: ProjectIndex, sym: ClassSym) -> bool:
    """`class Base(DeclarativeBase)`: a project class that is itself the declarative base."""
    for base in sym.node.bases:
        target = index.resolve(sym.module, base)
        if isinstance(target, ExternalSym) and target.name.rsplit(".", 1)[-1] in (
            "DeclarativeBase",
            "DeclarativeBaseNoMeta",
        ):
            return True
    return False


def _is_orm_type_annotation(index: ProjectIndex, module: ModuleInfo, annotation: ast.expr | None) -> bool:
    base, _, where = annotated_parts(index, module, annotation)
    candidates: list[ast.expr] = []
    if isinstance(base, (ast.Name, ast.Attribute)):
        candidates.append(base)
    elif isinstance(base, ast.BinOp) or (isinstance(base, ast.Subscript) and last_name(base.value) in ("Optional", "Union")):
        candidates.extend(n for n in ast.walk(base) if isinstance(n, (ast.Name, ast.Attribute)))
    for candidate in candidates:
        sym = index.resolve(where, candidate)
        if isinstance(sym, ClassSym) and is_orm_class(index, sym):
            return True
    return False


def _is_orm_fetch(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None, value: ast.expr | None) -> bool:
    value = strip_await(value)
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    if isinstance(func, (ast.Name, ast.Attribute)):
        sym = index.resolve(module, func, function)
        if isinstance(sym, ClassSym) and is_orm_class(index, sym):
            return True  # Model(...)
    if not isinstance(func, ast.Attribute):
        return False
    method, receiver = func.attr, strip_await(func.value)
    if method == "get" and "query" in _call_chain(receiver):
        return True  # legacy db.query(Model).get(id)
    if method == "get" and value.args:
        first = value.args[0]
        model = index.resolve(module, first, function) if isinstance(first, (ast.Name, ast.Attribute)) else None
        if isinstance(model, ClassSym) and is_orm_class(index, model):
            return True
        return _looks_like_session(index, module, function, receiver) and isinstance(receiver, ast.Name)
    if method == "scalar":
        return _looks_like_session(index, module, function, receiver)
    if method in RESULT_TERMINALS:
        # (await session.execute(...)).scalar_one()
        inner = strip_await(receiver)
        return (
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Attribute)
            and inner.func.attr == "execute"
            and _looks_like_session(index, module, function, inner.func.value)
        )
    if method in ORM_FETCH_TERMINALS:
        chain = _call_chain(receiver)
        if "mappings" in chain or "execute" in chain and "scalars" not in chain:
            return False
        return "query" in chain or "scalars" in chain
    return False


def _call_chain(expr: ast.expr | None) -> list[str]:
    """Method names along `a.b(...).c(...).d`: ["b", "c", "d"] (outermost last)."""
    names: list[str] = []
    while expr is not None:
        expr = strip_await(expr)
        if isinstance(expr, ast.Call):
            expr = expr.func
        elif isinstance(expr, ast.Attribute):
            names.append(expr.attr)
            expr = expr.value
        else:
            break
    return names[::-1]


def is_orm_instance(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None, expr: ast.expr) -> bool:
    if _is_orm_fetch(index, module, function, expr):
        return True
    if not isinstance(expr, ast.Name) or function is None:
        return False
    for binding in function_scope(function).values(expr.id):
        if binding.kind == "param":
            if _is_orm_type_annotation(index, module, binding.annotation):
                return True
        elif binding.kind == "assign":
            if binding.annotation is not None and _is_orm_type_annotation(index, module, binding.annotation):
                return True
            if _is_orm_fetch(index, module, function, binding.value):
                return True
    return False


# --- request objects -----------------------------------------------------------------------


def request_object_type(index: ProjectIndex, module: ModuleInfo, function: ast.AST | None,
                        expr: ast.expr) -> str | None:
    """"UploadFile", "Request", ... when `expr` is (or holds) a request-bound object."""
    if isinstance(expr, ast.Attribute) and expr.attr == "file" and isinstance(expr.value, ast.Name):
        if request_object_type(index, module, function, expr.value) == "UploadFile":
            return "UploadFile.file"
        return None
    if not isinstance(expr, ast.Name) or function is None:
        return None
    for binding in function_scope(function).values(expr.id):
        if binding.kind != "param":
            continue
        base, metadata, where = annotated_parts(index, module, binding.annotation)
        type_names = set(_request_type_names(index, where, base))
        for name in ("UploadFile", "WebSocket", "HTTPConnection", "Request"):
            if name in type_names:
                return name
        has_file_default = any(
            isinstance(m, ast.Call) and last_name(m.func) == "File" for m in [binding.default, *metadata]
        )
        if has_file_default and not (type_names & PLAIN_UPLOAD_TYPES):
            return "UploadFile"
    return None

