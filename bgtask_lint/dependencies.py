"""What a project declares it depends on, and what a module imports only optionally.

A safe fix never imports a package the project does not declare (where a project has no
declaration file at all, one that is importable where the fix runs will do: V2.9), and
never makes an optional import mandatory.
The declarations are read from the project root (or, when the root has none, the
nearest directory above it that has some, so an unpacked wheel's `*.dist-info` counts):
`pyproject.toml` (PEP 621 dependencies and every optional group, PEP 735 dependency
groups, Poetry, PDM and uv tables), `requirements*.txt` (and `requirements/*.txt`,
following `-r`), `setup.cfg`, `setup.py` (its string literals), `Pipfile`,
`poetry.lock`/`uv.lock`/`pdm.lock`, and `PKG-INFO`/`*.dist-info/METADATA`.
Pure standard library; cached per root until one of those files changes.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from bgtask_lint.config import toml_parser
from bgtask_lint.names import TreeCache, caught_types, child_statements, last_name

AIOFILES_MISSING = "aiofiles is not a dependency of this project: add it, or use --unsafe-fixes"
LOOK_UP = 3  # directories above the root searched when the root declares nothing
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_CACHE: dict[Path, tuple[tuple, tuple, list[Path], frozenset[str]]] = {}


def normalized(name: str) -> str:
    """PEP 503: `Foo_Bar.baz` and `foo-bar-baz` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(text: str) -> str | None:
    """`aiofiles>=23; python_version>'3.8'` -> `aiofiles`."""
    text = text.strip()
    if not text or text.startswith(("#", "-", "git+", "http:", "https:", "file:", ".", "/")):
        return None
    match = _NAME.match(text)
    return normalized(match.group(1)) if match else None


def declared(root: Path) -> frozenset[str]:
    """Every distribution name the project at `root` declares, normalized; read once per
    process while every file read for it keeps its modification time."""
    root = root.resolve()
    files = declaration_files(root)
    if not files:
        return frozenset()
    cached = _CACHE.get(root)
    if cached is not None and cached[0] == _mtimes(files) and cached[1] == _mtimes(cached[2]):
        return cached[3]
    before = _mtimes(files)
    names, read = read_declared(files)
    remember_declared(root, before, read, _mtimes(read), names)
    return names


def remember_declared(root: Path, files: tuple, read: list[Path], read_mtimes: tuple, names: frozenset[str]) -> None:
    """What `declared(root)` answers while the declaration files and every file read keep
    these modification times (`files`, `read_mtimes`: `_mtimes` of them). The cache
    (cache/identity.py) hands what it kept, having found every file as it was then."""
    _CACHE[root.resolve()] = (files, read_mtimes, read, names)


def declaration_files(root: Path) -> list[Path]:
    """The declaration files of the root, or of the nearest directory above it with any."""
    for directory in [root, *list(root.parents)[:LOOK_UP]]:
        files = _declaration_files(directory)
        if files:
            return files
    return []


def read_declared(files: list[Path]) -> tuple[frozenset[str], list[Path]]:
    """The names `files` declare, and every file read for them (those and the files their
    `-r`/`-c` lines include)."""
    names: set[str] = set()
    included: set[Path] = set()
    for path in files:
        try:
            names |= _read(path, included)
        except (OSError, UnicodeError, ValueError, SyntaxError):  # TOMLDecodeError is a ValueError
            continue  # a broken file declares nothing we can trust
    return frozenset(names), sorted({*files, *included})


def project_declares(root: Path, distribution: str) -> bool:
    return normalized(distribution) in declared(root)


def importable(module: str) -> bool:
    """Whether `module` can be imported by the interpreter running the fix."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def available(root: Path, module: str, distribution: str | None = None) -> bool:
    """A fix may import `module`: the project declares it; or it has no declaration file
    at all (a loose script) and `module` is importable here. A project whose declarations
    leave `module` out, or that declares its dependencies where we cannot read them
    (`dynamic = ["dependencies"]`), would have it only by luck (a transitive dependency,
    or the tool's own environment): V2.9 forbids less, and a stricter "safe" is still safe."""
    if not declaration_files(root):
        return importable(module)
    return normalized(distribution or module) in declared(root)


def optional_import(tree: ast.Module, module: str) -> str | None:
    """How a module imports `module` when it does so optionally: "guarded" (under a
    `try` whose handler catches ImportError/ModuleNotFoundError), "lazy" (only inside
    functions), else None (imported at module level, or not at all)."""
    sites = [(in_function, guarded) for node, in_function, guarded in _import_sites(tree) if _imports(node, module)]
    if any(guarded for _, guarded in sites):
        return "guarded"
    return "lazy" if sites and all(in_function for in_function, _ in sites) else None


ImportSite = tuple["ast.Import | ast.ImportFrom", bool, bool]  # the import, in a function, under a guard


def import_statements(tree: ast.Module) -> list["ast.Import | ast.ImportFrom"]:
    """Every import statement of the tree (statements only are walked: an import is one)."""
    return [node for node, _, _ in _import_sites(tree)]


def _import_sites(tree: ast.Module) -> list[ImportSite]:
    """Every import statement of the tree, found in one walk (the fixes ask about several
    modules of one tree); the last few trees are remembered."""
    cached = _SITES.get(tree)
    return cached if cached is not None else _SITES.put(tree, _walk_imports(tree))


_SITES = TreeCache(16)


def _walk_imports(tree: ast.Module) -> list[ImportSite]:
    found: list[ImportSite] = []
    stack: list[tuple[ast.AST, bool, bool]] = [(node, False, False) for node in tree.body]
    while stack:
        node, in_function, guarded = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append((node, in_function, guarded))
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            in_function = True
        if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            body_guarded = guarded or any(_catches_import_error(h) for h in node.handlers)  # type: ignore[attr-defined]
            stack.extend((child, in_function, body_guarded) for child in node.body)  # type: ignore[attr-defined]
            rest = [*node.handlers, *node.orelse, *node.finalbody]  # type: ignore[attr-defined]
            stack.extend((child, in_function, guarded) for child in rest)
            continue
        # no statement (so no import) inside an expression: blocks only
        stack.extend((child, in_function, guarded) for child in child_statements(node))
    return found


def _imports(node: ast.Import | ast.ImportFrom, module: str) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name == module or alias.name.startswith(module + ".") for alias in node.names)
    return not node.level and node.module is not None and (
        node.module == module or node.module.startswith(module + "."))


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = {last_name(t) for t in caught_types(handler)}
    return bool(names & {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


# --- reading the files -------------------------------------------------------------------


def _mtimes(paths: list[Path]) -> tuple:
    return tuple((str(p), _mtime(p)) for p in paths)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _declaration_files(directory: Path) -> list[Path]:
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        name = entry.name
        if name in ("pyproject.toml", "setup.cfg", "setup.py", "Pipfile", "poetry.lock", "uv.lock",
                    "pdm.lock", "PKG-INFO") or (name.startswith("requirements") and name.endswith(".txt")):
            found.append(entry)
        elif name == "requirements" and entry.is_dir():
            found.extend(sorted(entry.glob("*.txt")))
        elif name.endswith((".dist-info", ".egg-info")) and entry.is_dir():
            found.extend(p for p in (entry / "METADATA", entry / "PKG-INFO", entry / "requires.txt") if p.exists())
    return [p for p in found if p.is_file()]


def _read(path: Path, included: set[Path]) -> set[str]:
    name = path.name
    if name == "pyproject.toml":
        return _from_pyproject(_toml(path))
    if name == "Pipfile":
        data = _toml(path)
        return {normalized(n) for table in ("packages", "dev-packages") for n in data.get(table, {})}
    if name.endswith(".lock"):
        return {normalized(p["name"]) for p in _toml(path).get("package", []) if isinstance(p, dict) and "name" in p}
    if name == "setup.cfg":
        return _from_setup_cfg(path)
    if name == "setup.py":
        return _from_setup_py(path)
    if name in ("METADATA", "PKG-INFO"):
        return {n for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("Requires-Dist:")
                if (n := requirement_name(line[len("Requires-Dist:"):])) is not None}
    return _from_requirements(path, included)


def _toml(path: Path) -> dict:
    with path.open("rb") as handle:
        return toml_parser().load(handle)


def _requirement_list(value: object) -> set[str]:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, dict):  # {group: [...]}
        return {n for item in value.values() for n in _requirement_list(item)}
    if not isinstance(value, list):
        return set()
    return {n for item in value if isinstance(item, str) and (n := requirement_name(item)) is not None}


def _from_pyproject(data: dict) -> set[str]:
    names: set[str] = set()
    project = data.get("project", {})
    names |= _requirement_list(project.get("dependencies", []))
    names |= _requirement_list(project.get("optional-dependencies", {}))
    names |= _requirement_list(data.get("dependency-groups", {}))
    tool = data.get("tool", {})
    poetry = tool.get("poetry", {})
    for table in (poetry.get("dependencies", {}), poetry.get("dev-dependencies", {}),
                  *(group.get("dependencies", {}) for group in poetry.get("group", {}).values()
                    if isinstance(group, dict))):
        if isinstance(table, dict):
            names |= {normalized(n) for n in table if n.lower() != "python"}
    names |= _requirement_list(tool.get("pdm", {}).get("dev-dependencies", {}))
    names |= _requirement_list(tool.get("uv", {}).get("dev-dependencies", []))
    return names


def _from_requirements(path: Path, seen: set[Path]) -> set[str]:
    if path in seen:
        return set()
    seen.add(path)
    names: set[str] = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith(("-r ", "--requirement ", "-c ", "--constraint ")):
            included = path.parent / line.split(None, 1)[1].strip()
            if included.is_file():
                names |= _from_requirements(included, seen)
            continue
        if line.startswith("-e ") and "#egg=" in line:
            line = line.split("#egg=", 1)[1]
        name = requirement_name(line)
        if name is not None:
            names.add(name)
    return names


def _from_setup_cfg(path: Path) -> set[str]:
    import configparser  # here: only a project with a setup.cfg pays for it (a warm check is ~70 ms)

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise ValueError(f"{path.name}: {exc}") from None
    names: set[str] = set()
    if parser.has_option("options", "install_requires"):
        names |= {n for line in parser.get("options", "install_requires").splitlines()
                  if (n := requirement_name(line)) is not None}
    if parser.has_section("options.extras_require"):
        for _, value in parser.items("options.extras_require"):
            names |= {n for line in value.splitlines() if (n := requirement_name(line)) is not None}
    return names


def _from_setup_py(path: Path) -> set[str]:
    """Every string literal that reads as a requirement (setup.py builds its lists freely)."""
    tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    return {n for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and " " not in node.value.strip().split(";")[0].split("[")[0].strip()
            and (n := requirement_name(node.value)) is not None}
