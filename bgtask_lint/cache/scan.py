"""What is on disk now: which files, their metadata, and (only where needed) their content.

Warm runs trust file metadata, as ruff and git do. Per file the pack keeps (size,
mtime_ns, inode) and the sha256 of the bytes; a file whose metadata is unchanged is not
read at all, unless it is *racily clean*: its mtime is not older than the start of the
run that wrote the pack (minus the timestamp granularity, RACY_NS), so a change made in
the same timestamp tick as that run's read would be invisible to its metadata. Such a
file is re-hashed.

Listings are trusted the same way: a walk remembers every directory it entered with its
stat and a digest of the entries a walk looks at (`.py` files, subdirectories, where links
lead), and the `.gitignore` files (and `.git` markers) its exclusions read. A directory
whose stat changed (a file created, deleted or renamed in it changes its mtime) is listed
again, and only when those entries differ is the whole walk done again, matching every
exclude pattern (a tool writing its own cache, `.ruff_cache`, does not cost a walk). The
names every walk skips (the default excludes: `__pycache__`, `.bgtask_lint_cache`...) are
no entries: this run's own cache, made after the first listing of a project, or the
`__pycache__` a test run leaves, does not cost one either.
A module's import name also depends on which ancestor directories hold an `__init__.py`:
for directories the walk entered that is part of their listing; for the others (above
the walk) the pack keeps whether the file exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from bgtask_lint.files import DEFAULT_EXCLUDES, read_file_bytes
from bgtask_lint.plain import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Any

    from bgtask_lint.config import Settings

# filesystem timestamp granularity allowed for (FAT: 2 s; ext4, APFS, NTFS: far finer)
RACY_NS = 2_000_000_000

Meta = tuple[int, int, int]  # size, mtime_ns, inode


class FileState(Value):
    __slots__ = ("path", "meta", "hash", "name", "is_package", "trusted", "raw")

    def __init__(self, path: str, meta: Meta | None, hash: str | None = None, name: str = "",
                 is_package: bool = False, trusted: bool = False, raw: bytes | None = None) -> None:
        self.path = path  # resolved, absolute
        self.meta = meta  # None: cannot be stat'ed
        self.hash = hash  # sha256 of the bytes; None: cannot be read
        self.name = name
        self.is_package = is_package
        self.trusted = trusted  # metadata unchanged and old enough: not read in this run
        self.raw = raw  # the bytes, when read in this run and still needed


class Scan(Value):
    __slots__ = ("stamp", "targets", "files", "listings", "outside", "problems", "relisted", "refreshed",
                 "hashed", "rehashed_same")

    def __init__(self, stamp: int, targets: list[str], files: dict[str, FileState],
                 listings: dict[str, Any] | None = None, outside: dict[str, bool] | None = None,
                 problems: list[tuple[Path, str]] | None = None, relisted: bool = False,
                 refreshed: bool = False, hashed: int = 0, rehashed_same: int = 0) -> None:
        self.stamp = stamp  # time.time_ns() before anything was looked at
        self.targets = targets  # resolved, in discovery order
        self.files = files  # the targets and every file of the project
        self.listings = {} if listings is None else listings  # to store: key -> listing
        self.outside = {} if outside is None else outside  # dir -> has __init__.py (dirs not walked)
        self.problems = [] if problems is None else problems  # .py links under the targets that cannot be read
        self.relisted = relisted  # some listing was walked again
        self.refreshed = refreshed  # some directory was listed again, and found the same
        self.hashed = hashed  # files read and hashed in this run
        self.rehashed_same = rehashed_same  # ... whose content turned out unchanged (touched, or racily clean)


def scan(paths: list[Path], settings: "Settings", root: Path, stored: dict[str, Any]) -> Scan:
    stamp = time.time_ns()
    old_stamp = stored.get("stamp") if isinstance(stored.get("stamp"), int) else 0
    old_listings = stored.get("listings") if isinstance(stored.get("listings"), dict) else {}
    rows = stored.get("files") if isinstance(stored.get("files"), dict) else {}
    present = [p for p in paths if p.exists()]
    given = [os.path.abspath(p) for p in present]
    listings: dict[str, Any] = {}
    project_key = _key([str(root)])
    project, project_state = _listing([root], settings, root, old_listings.get(project_key), old_stamp)
    listings[project_key] = project
    if given == [str(root)]:
        listing, targets_state = project, project_state
    else:
        key = _key(given)
        listing, targets_state = _listing(present, settings, root, old_listings.get(key), old_stamp)
        listings[key] = listing
    targets = list(listing["files"])
    result = Scan(stamp, targets, {}, listings, relisted=project_state is None or targets_state is None,
                  refreshed=bool(project_state) or bool(targets_state))
    result.problems = [(Path(path), problem) for path, problem in listing["problems"]]

    all_paths = list(dict.fromkeys([*targets, *project["files"]]))
    old_outside = stored.get("outside") if isinstance(stored.get("outside"), dict) else None
    if result.relisted or old_outside is None or set(listings) != set(old_listings):
        walked = {d[0] for listing in listings.values() for d in listing["dirs"]}
        result.outside = _outside_flags(all_paths, walked)
    else:  # the same listings: the same directories above them
        result.outside = {d: os.path.exists(os.path.join(d, "__init__.py")) for d in old_outside}
    # import names follow the package layout: the directories walked (their entries are in
    # the listings) and those above them (`outside`). A listing of named files walks no
    # directory (the pre-commit case: new names every commit), so it changes no name.
    project_dirs = {d[0] for d in project["dirs"]}
    new_dirs = targets_state is None and any(d[0] not in project_dirs for d in listing["dirs"])
    names_may_change = project_state is None or new_dirs or old_outside != result.outside

    for path in all_paths:
        row = rows.get(path)
        row = row if isinstance(row, list) and len(row) >= 6 else None
        try:
            st = os.stat(path)
            meta: Meta | None = (st.st_size, st.st_mtime_ns, st.st_ino)
        except OSError:
            meta = None
        state = FileState(path, meta)
        if row is not None and not names_may_change and isinstance(row[4], str):
            state.name, state.is_package = row[4], bool(row[5])
        else:
            from bgtask_lint.index import module_name  # imported here: a warm run knows every name

            state.name, state.is_package = module_name(Path(path), root)
        if (row is not None and meta is not None and list(meta) == row[0:3] and isinstance(row[3], str)
                and meta[1] < old_stamp - RACY_NS):
            state.hash, state.trusted = row[3], True
        else:
            _read(state)
            result.hashed += 1
            if row is not None and state.hash is not None and state.hash == row[3]:
                result.rehashed_same += 1
        result.files[path] = state
    return result


def _key(given: list[str]) -> str:
    return "\0".join(given)


def _listing(present: list[Path], settings: "Settings", root: Path, old: Any,
             old_stamp: int) -> tuple[dict[str, Any], bool]:
    """The files under the paths (resolved) and what the listing rests on; and None when
    walked now, else whether the stored listing's directory stats were refreshed.

    Walked with the paths as given, so that a problem (a broken `.py` link in a directory)
    is named as the uncached run names it; a listing with problems is never reused (a
    link's target can appear without any directory here changing)."""
    if isinstance(old, dict):
        before = json.dumps(old["dirs"]) if isinstance(old.get("dirs"), list) else None
        if _listing_unchanged(old, old_stamp):
            return old, json.dumps(old["dirs"]) != before  # unchanged, perhaps with fresher stats
    from bgtask_lint.files import iter_python_files

    visited: list[tuple[str, os.stat_result]] = []
    problems: list[tuple[Path, str]] = []
    files = [str(p.resolve()) for p in iter_python_files(present, settings.excludes, root, visited, problems)]
    dirs = [[real, st.st_mtime_ns, st.st_ino, st.st_size, _entries(real)]
            for real, st in ((os.path.realpath(d), st) for d, st in visited)]
    kinds = [[g, _kind(g)] for g in (os.path.abspath(p) for p in present)]
    bases = [g for g, kind in kinds if kind.startswith("dir")]
    gitignore = getattr(settings.excludes, "respect_gitignore", True)
    inputs = [[path, _signature(path)] for path in (_ignore_files(bases, [d[0] for d in dirs]) if gitignore else [])]
    return {"dirs": dirs, "given": kinds, "inputs": inputs, "files": list(dict.fromkeys(files)),
            "problems": [[str(path), problem] for path, problem in problems]}, None


def _leads_to_directory(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a symlink loop
        return False


# matched by name wherever they are (`files._excluded`), and always among the excludes
ALWAYS_SKIPPED = frozenset(DEFAULT_EXCLUDES)


def _entries(directory: str) -> str:
    """What of a directory's listing a walk looks at: the names of its `.py` files and of
    its subdirectories, and where its symbolic links lead (other files do not matter)."""
    found = []
    try:
        entries = os.scandir(directory)
    except OSError:  # unreadable (as the walk found it, or it would list it again)
        return "?"
    with entries:
        for entry in entries:
            if entry.name in ALWAYS_SKIPPED:  # a walk neither enters nor lists it, whatever it is
                continue
            if entry.is_symlink():
                if entry.name.endswith(".py") or _leads_to_directory(entry):
                    try:
                        found.append(f"{entry.name}\0l\0{os.readlink(entry.path)}")
                    except OSError:  # gone since it was listed
                        found.append(f"{entry.name}\0l")
            elif entry.is_dir():
                found.append(f"{entry.name}\0d")
            elif entry.name.endswith(".py"):
                found.append(f"{entry.name}\0f")
    found.sort()
    return hashlib.sha1("\n".join(found).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _ignore_files(bases: list[str], walked: list[str]) -> list[str]:
    """What a walk's exclusions also read (files.py with gitignore.py): the `.gitignore` of
    every directory walked and of every directory above where it started, whether those
    hold a `.git` (the work tree's top), and the top's `.git/info/exclude`. Outside a work
    tree no `.gitignore` applies: then only whether a `.git` appears above."""
    markers: list[str] = []
    ignores: list[str] = []
    for base in bases:
        directory = base
        while True:
            markers.append(os.path.join(directory, ".git"))
            ignores += [os.path.join(directory, ".gitignore"), os.path.join(directory, ".git", "info", "exclude")]
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
    if not any(os.path.exists(marker) for marker in markers):
        return list(dict.fromkeys(markers))
    return list(dict.fromkeys([*markers, *ignores, *(os.path.join(d, ".gitignore") for d in walked)]))


def _signature(path: str) -> list | str | None:
    """A file's metadata; for `.git` only what it is (its mtime moves with every git command)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if os.path.basename(path) == ".git":
        return "dir" if os.path.isdir(path) else "file"
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _listing_unchanged(old: dict[str, Any], old_stamp: int) -> bool:
    try:
        if old["problems"]:
            return False
        for entry in old["dirs"]:
            directory, mtime_ns, ino, size, entries = entry
            st = os.stat(directory)
            if (st.st_mtime_ns, st.st_ino, st.st_size) != (mtime_ns, ino, size) or mtime_ns >= old_stamp - RACY_NS:
                # written to (a tool's cache, a log) or too recent to trust: list it again
                if st.st_ino != ino or _entries(directory) != entries:
                    return False
                entry[1:4] = [st.st_mtime_ns, st.st_ino, st.st_size]  # stored again if anything is
        if any(_kind(g) != kind for g, kind in old["given"]):
            return False
        for path, signature in old["inputs"]:
            if _signature(path) != signature or (isinstance(signature, list) and signature[1] >= old_stamp - RACY_NS):
                return False
        return isinstance(old["files"], list) and all(isinstance(f, str) for f in old["files"])
    except (OSError, TypeError, ValueError, KeyError):
        return False


def _kind(path: str) -> str:
    """A path named on the command line: a file is used as is, a directory is walked."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"dir {st.st_ino}" if os.path.isdir(path) else "file"


def _outside_flags(paths: list[str], walked: set[str]) -> dict[str, bool]:
    """Whether each ancestor directory the walks did not enter holds an `__init__.py`."""
    flags: dict[str, bool] = {}
    seen: set[str] = set()
    for directory in {os.path.dirname(p) for p in paths}:
        while directory not in seen:
            seen.add(directory)
            if directory not in walked:
                flags[directory] = os.path.exists(os.path.join(directory, "__init__.py"))
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
    return flags


def _read(state: FileState) -> None:
    try:
        state.raw = read_file_bytes(state.path)  # as files.read_source reads
    except OSError:
        state.raw = state.hash = None
        return
    state.hash = hashlib.sha256(state.raw).hexdigest()


def read_verified(state: FileState) -> bytes | None:
    """The bytes of a file whose hash this run relies on; None when they are not the bytes
    that hash was taken of (the file changed during the run)."""
    if state.raw is not None:
        return state.raw
    try:
        raw = read_file_bytes(state.path)
    except OSError:
        return None
    return raw if hashlib.sha256(raw).hexdigest() == state.hash else None
