"""Finding Python files and reading them the way the interpreter does."""

from __future__ import annotations

import bisect
import errno
import fnmatch
import io
import os
import re
import stat
from pathlib import Path

from bgtask_lint.gitignore import IgnoreRules
from bgtask_lint.plain import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Iterable, Iterator

DEFAULT_EXCLUDES = (
    ".git",
    ".venv",
    "venv",
    "env",
    "site-packages",
    "node_modules",
    "build",
    "dist",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".bgtask_lint_cache",
)

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")


class SourceError(Exception):
    """A file that cannot be read or decoded; the message is one line for the user."""


class Source(Value, frozen=True):
    __slots__ = ("path", "text", "encoding")

    def __init__(self, path: Path, text: str, encoding: str) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "path", path)
        set_field(self, "text", text)
        set_field(self, "encoding", encoding)


def read_file_bytes(path: Path | str) -> bytes:
    """The bytes of a regular file. Anything else named `.py` (a FIFO, a device) raises
    OSError instead of being read: reading a FIFO waits for a writer, forever."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory")
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file")
        handle = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with handle:
        return handle.read()


def read_source(path: Path) -> Source:
    """Decode bytes as Python does: PEP 263 coding cookie, UTF-8 BOM, else UTF-8."""
    try:
        raw = read_file_bytes(path)
    except FileNotFoundError:
        raise SourceError("no such file") from None
    except IsADirectoryError:
        raise SourceError("is a directory") from None
    except OSError as exc:
        raise SourceError(exc.strerror or str(exc)) from None
    return decode_source(path, raw)


def decode_source(path: Path, raw: bytes) -> Source:
    from tokenize import detect_encoding  # here: a warm check that reads no file does not import it

    try:
        encoding, _ = detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as exc:
        raise SourceError(f"cannot decode: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc.reason if hasattr(exc, 'reason') else exc}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return Source(path=path, text=text, encoding=encoding)


_LINE_END = re.compile(r"(\r\n|\r|\n)")


def line_within(sorted_lines: list[int], first: int, last: int) -> bool:
    """Whether one of `sorted_lines` is within first..last (by bisection: callers ask this
    of every statement of a module)."""
    at = bisect.bisect_left(sorted_lines, first)
    return at < len(sorted_lines) and sorted_lines[at] <= last


def source_lines(text: str, keepends: bool = False) -> list[str]:
    """The physical lines as Python numbers them: only \\n, \\r\\n and \\r end a line.

    (`str.splitlines()` also splits at form feeds, \\v, \\x1c-\\x1e, \\x85, \\u2028 and
    \\u2029, which would shift every line number after them.)
    """
    parts = _LINE_END.split(text)
    lines = [parts[i] + parts[i + 1] if keepends else parts[i] for i in range(0, len(parts) - 1, 2)]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _excluded(path: Path, patterns: tuple[str, ...], root: Path | None,
              named: frozenset[str] = frozenset()) -> bool:
    """`path` (absolute, for the patterns that are paths) matches a pattern by its name or by
    its path relative to `root`; `named` are patterns that path-match a directory given on
    the command line, which do not apply below it."""
    name = path.name
    rel = None
    if root is not None:
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError:
            rel = None
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatchcase(name, pattern):
            return True
        if rel is not None and pattern not in named and (
                fnmatch.fnmatchcase(rel, pattern) or rel.startswith(pattern + "/")):
            return True
    return False


def excluded_below_root(path: Path, excludes: tuple[str, ...], root: Path) -> bool:
    """Whether discovery from `root` would skip `path`: an exclude pattern matches it or one
    of its directories below the root (what `--force-exclude` applies to named paths)."""
    try:
        rel = _resolve(path).relative_to(root)
    except ValueError:
        return False
    current = root
    for part in rel.parts:
        current = current / part
        if _excluded(current, excludes, root):
            return True
    return False


def _named_patterns(directory: Path, patterns: tuple[str, ...], root: Path | None) -> frozenset[str]:
    """The patterns that path-match `directory` (absolute) or one of its parents below `root`."""
    if root is None:
        return frozenset()
    try:
        parts = directory.relative_to(root).parts
    except ValueError:
        return frozenset()
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return frozenset(
        p.rstrip("/") for p in patterns if any(fnmatch.fnmatchcase(prefix, p.rstrip("/")) for prefix in prefixes)
    )


class ExcludePatterns(tuple):
    """Exclude patterns that also say whether `.gitignore` files apply: they travel
    together (`Settings.excludes`), so every walk of a project (the index, the cache, the
    targets) skips the same files."""

    respect_gitignore: bool = True

    def __new__(cls, patterns: Iterable[str], respect_gitignore: bool = True) -> "ExcludePatterns":
        made = super().__new__(cls, patterns)
        made.respect_gitignore = respect_gitignore
        return made


def _resolve(path: Path) -> Path:
    """`path.resolve()`, or its absolute path where a symlink loop makes that fail."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def resolved_path(path: Path | str, directories: dict[str, Path]) -> Path:
    """`_resolve(path)`, resolving each directory once (`directories` remembers them): a
    file that is no symlink is its resolved directory plus its name. Thousands of files
    named (pre-commit's `--all-files`) each cost a stat per part of their path otherwise."""
    directory, name = os.path.split(os.path.abspath(path))
    if not name or os.path.islink(path):
        return _resolve(Path(path))
    if directory not in directories:
        directories[directory] = _resolve(Path(directory))
    return directories[directory] / name


_LOOP = "symbolic link loop"


def path_problem(path: Path) -> str | None:
    """Why a path named on the command line cannot be used, in a few words; None if it can."""
    try:
        os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return f"broken symbolic link: {os.readlink(path)}: no such file or directory"
        return "no such file or directory"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return _LOOP
        return exc.strerror or str(exc)
    return None


def iter_python_files(
    paths: Iterable[Path], excludes: tuple[str, ...], root: Path | None = None,
    visited: list[tuple[str, os.stat_result]] | None = None,
    problems: list[tuple[Path, str]] | None = None,
) -> Iterator[Path]:
    """Yield each `.py` file under `paths` once; excludes apply below the given paths, and so
    do `.gitignore` files (in a git work tree) unless `excludes.respect_gitignore` is false.

    A path named explicitly is always used (as ruff does), so that
    `bgtask-lint check build/gen.py` still checks it. `visited` (optional) receives each
    directory walked and its stat, so the cache can tell when a listing may have changed.
    `problems` (optional) receives each `.py` symlink found in a directory that cannot be
    opened (broken, or a loop), under its own name, instead of yielding it.
    """
    seen: set[Path] = set()
    gitignore = getattr(excludes, "respect_gitignore", True)
    directories: dict[str, Path] = {}
    for given in paths:
        if not given.is_dir():  # a file, or what its reader reports: missing, a FIFO
            resolved = resolved_path(given, directories)
            if resolved not in seen:
                seen.add(resolved)
                yield given
            continue
        visited_dirs: set[tuple[int, int]] = set()
        # patterns match absolute paths (a relative `given` is below the cwd, not the root);
        # a directory named on the command line is walked even if a pattern matches it
        base = Path(os.path.abspath(given))
        if root is not None and not base.is_relative_to(root):  # e.g. a symlink in the cwd's path
            base = _resolve(given)
        named = _named_patterns(base, excludes, root)
        ignore_rules = {str(base): IgnoreRules.for_directory(base)} if gitignore else {}
        for dirpath, dirnames, filenames in os.walk(given, followlinks=True):
            current = Path(dirpath)
            here = base / os.path.relpath(dirpath, given)
            rules = ignore_rules.pop(str(here), None)
            try:
                st = current.stat()
            except OSError:
                dirnames[:] = []
                continue
            key = (st.st_dev, st.st_ino)
            if key in visited_dirs:  # a symlink loop
                dirnames[:] = []
                continue
            visited_dirs.add(key)
            if visited is not None:
                visited.append((dirpath, st))
            dirnames[:] = sorted(
                d for d in dirnames if not _excluded(here / d, excludes, root, named)
                and not (rules is not None and rules.ignored(str(here / d), True))
            )
            if rules is not None:
                for d in dirnames:
                    ignore_rules[str(here / d)] = rules.entering(here / d)
            for filename in sorted(filenames):
                if not filename.endswith(".py"):
                    continue
                file_path = current / filename
                if _excluded(here / filename, excludes, root, named):
                    continue
                if rules is not None and rules.ignored(str(here / filename), False):
                    continue
                if os.path.islink(file_path):
                    problem = path_problem(file_path)
                    # a loop is never yielded (resolving it raises); without `problems`, a
                    # broken link is, as before, and its reader reports it
                    if problem is not None and (problems is not None or problem == _LOOP):
                        if problems is not None:
                            problems.append((file_path, problem))
                        continue
                resolved = _resolve(file_path)
                if resolved in seen:
                    continue
                seen.add(resolved)
                yield file_path


def find_marked_root(start: Path) -> Path | None:
    """The nearest ancestor of `start` holding a project marker, if any."""
    start = start.resolve()
    if start.is_file() or not start.exists():
        start = start.parent
    for candidate in (start, *start.parents):
        if root_markers(candidate):
            return candidate
    return None


def _marked_root_known(path: Path, known: dict[Path, Path | None]) -> Path | None:
    """find_marked_root, asked once per directory: `pre-commit run --all-files` names
    thousands of files, and resolving each (a stat per part of its path) cost 0.25 s on
    litellm. A file that is no symlink has the marked root of its directory."""
    absolute = Path(os.path.abspath(path))
    try:
        mode = os.lstat(absolute).st_mode
    except OSError:
        mode = 0  # missing: its directory's root, as find_marked_root gives it
    if stat.S_ISLNK(mode):
        try:
            return find_marked_root(path)
        except (OSError, RuntimeError):  # a loop (said as the file's error): where it is named
            mode = 0
    directory = absolute if stat.S_ISDIR(mode) else absolute.parent
    if directory not in known:
        # climbing from the resolved directory, each directory's markers looked at once
        climbed: list[Path] = [directory]
        found: Path | None = None
        for candidate in (resolved := directory.resolve(), *resolved.parents):
            if candidate in known:
                found = known[candidate]
                break
            climbed.append(candidate)
            if root_markers(candidate):
                found = candidate
                break
        for seen in climbed:
            known[seen] = found
    return known[directory]


def root_markers(directory: Path) -> list[str]:
    """The markers that make `directory` a project root. A `setup.py` inside a package
    (beside an `__init__.py`, as `langflow/initial_setup/setup.py`, or in a namespace part
    of one) is one of its modules, not a root."""
    found = [marker for marker in ROOT_MARKERS if (directory / marker).exists()]
    if "setup.py" in found and _in_a_package(directory):
        found.remove("setup.py")
    return found


def _in_a_package(directory: Path) -> bool:
    """A package's directory, or a namespace part of one (`marimo/_mcp/` below
    `marimo/__init__.py`, whose `setup.py` sets up a server): a `setup.py` there is a module."""
    for _ in range(NAMESPACE_DEPTH):
        if (directory / "__init__.py").exists():
            return True
        if directory.parent == directory:
            return False
        directory = directory.parent
    return False


def find_project_root(start: Path) -> Path:
    """The nearest ancestor holding a project marker, else the directory that holds the
    package around `start` (`start` itself, or its directory, when it is in no package):
    the root a whole-tree `check` run from there would use, so that one file checked on
    its own (flake8, an editor) resolves its imports as the tree's run does."""
    found = find_marked_root(start)
    if found is not None:
        return found
    start = start.resolve()
    return package_home(start.parent if start.is_file() or not start.exists() else start)


NAMESPACE_DEPTH = 4  # directories without __init__.py inside a package (`open_webui/utils/`)


def package_home(directory: Path) -> Path:
    """The directory holding the outermost package around `directory`: `check app/` where
    `app/` is a package is rooted where `from app.tasks import f` resolves. A directory
    without `__init__.py` right inside a package (a namespace part, as `open_webui/utils/`
    beside `open_webui/__init__.py`) is inside that package too. Not in a package, or in
    one whose parent is a directory shared by unrelated projects (which would be walked
    whole, see `_shared_by_projects`): `directory` itself."""
    package = directory
    for _ in range(NAMESPACE_DEPTH):
        if (package / "__init__.py").exists() or package.parent == package:
            break
        package = package.parent
    if not (package / "__init__.py").exists():
        return directory
    while (package / "__init__.py").exists() and package.parent != package:
        package = package.parent
    if package.parent == package or _shared_by_projects(package):
        return directory  # `/app/__init__.py` in a container: never index the whole disk or home
    return package


def _shared_by_projects(directory: Path) -> bool:
    """The home directory, the temporary directory (`/tmp/app/__init__.py` with nothing
    marked above it: `/tmp` walked whole took 33 s where `app` alone takes 0.2 s) or an
    environment's site-packages (every installed distribution in it): where unrelated
    projects sit side by side, so none of them is rooted there."""
    if directory.name in ("site-packages", "dist-packages"):
        return True
    import tempfile  # only here: a package with no marker above it

    shared = {Path.home(), Path(tempfile.gettempdir())}
    return directory in {place.resolve() for place in shared} | shared


def projects_of(paths: list[Path]) -> list[tuple[Path, list[Path]]]:
    """The paths named on the command line, by the project each belongs to: (root, paths)
    in the order first named. A path is in the project of the nearest marker above it
    (pre-commit names the files of every service of a monorepo at once, and each is
    checked as `check` of that file alone, and flake8, would check it); the paths with no
    marker above them are one project, rooted as `paths_root` roots them."""
    by_marker: dict[Path | None, list[Path]] = {}
    known: dict[Path, Path | None] = {}  # directory -> its marked root (`--all-files`: thousands of paths)
    for path in paths:
        by_marker.setdefault(_marked_root_known(path, known), []).append(path)
    if len(by_marker) == 1:
        return [(paths_root(paths), paths)]
    return [(marked if marked is not None else paths_root(members), members) for marked, members in by_marker.items()]


def paths_root(paths: list[Path]) -> Path:
    """The project root for paths named on the command line: the marked root above the
    first path, else (no marker anywhere above it) the common directory of the paths."""
    if not paths:
        return find_project_root(Path.cwd())
    found = find_marked_root(paths[0])
    if found is not None:
        return found
    directories = [str(p if p.is_dir() else p.parent) for p in (q.resolve() for q in paths)]
    return package_home(Path(os.path.commonpath(directories)))
