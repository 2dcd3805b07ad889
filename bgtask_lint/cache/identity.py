"""A pack's identity, and what a cached run reads before it can name its pack: the
`[tool.bgtask-lint]` table of pyproject.toml and the names the project declares. Both
need TOML: importing tomllib cost every warm run 5 ms (of ~45), and parsing a project's
lock file 55 ms more (a 590 KB uv.lock).

Each is kept in `.bgtask_lint_cache/config.memo` with the metadata (size, mtime_ns,
inode) of every file it was read from, and used while that metadata holds, as the scan
trusts a source file's (cache/scan.py): it is not kept when a file was modified less
than RACY_NS before it was read. Only in a cache directory that exists (a save made
it); a run with `--no-cache` never comes here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from bgtask_lint.cache.scan import RACY_NS
from bgtask_lint.cache.store import CACHE_DIR, SCHEMA, _dumps, _load, _write_atomically, sha, tool_digest

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Any, Callable

    from bgtask_lint.config import Settings

MEMO = "config.memo"  # not *.json: the packs are those
# the packages a safe fix may import: whether one is declared by the project (or, where it
# has no declaration file, importable here) decides a finding's fix (fix_safety.py asks
# dependencies.available about them)
FIX_IMPORTS = ("aiofiles",)


def pack_identity(root: Path, settings: "Settings") -> str:
    parts = [SCHEMA, tool_digest(), sys.version, sys.implementation.name, str(root), repr(settings),
             environment(root)]
    return sha(json.dumps(parts))[:32]


def environment(root: Path) -> list:
    """What findings depend on outside the project's modules: the dependencies the project
    declares (pyproject.toml, requirements*.txt, ...) and what this interpreter can import."""
    from bgtask_lint.dependencies import available

    names = declared_names(root)  # first: it hands `dependencies` what its memo kept
    return [names, [available(root, name) for name in FIX_IMPORTS]]


def declared_names(root: Path) -> list[str]:
    """`dependencies.declared(root)`, sorted, kept while every file read for it holds (and
    handed to `dependencies`, so that the checks of this run do not read them either)."""
    from bgtask_lint.dependencies import declaration_files, read_declared, remember_declared

    files = declaration_files(root)
    memo_path = root / CACHE_DIR / MEMO
    memo = _load(memo_path)
    kept = memo.get("declared")
    if (isinstance(kept, dict) and kept.get("files") == [_meta(p) for p in files]
            and isinstance(kept.get("read"), list) and isinstance(kept.get("names"), list)
            and all(isinstance(m, list) and m and _meta(Path(m[0])) == m for m in kept["read"])
            and all(isinstance(name, str) for name in kept["names"])):
        read = [Path(m[0]) for m in kept["read"]]
        remember_declared(root, tuple((m[0], m[2]) for m in kept["files"]), read,
                          tuple((m[0], m[2]) for m in kept["read"]), frozenset(kept["names"]))
        return kept["names"]
    started = time.time_ns()
    before = [_meta(p) for p in files]
    names, read = read_declared(files)
    found = sorted(names)
    metas = [_meta(p) for p in read]
    if all(m is not None for m in before):
        remember_declared(root, tuple((m[0], m[2]) for m in before), read,
                          tuple((m[0], m[2]) if m else (str(p), 0) for p, m in zip(read, metas)), names)
    if _settled(metas, started):
        memo["declared"] = {"files": [_meta(p) for p in files], "read": metas, "names": found}
        _save(memo_path, memo)
    return found


def tool_table(path: Path, read: "Callable[[Path], dict[str, Any]]") -> "dict[str, Any]":
    """`read(path)` (config.tool_table), kept while the file's metadata holds."""
    path = path.resolve()
    memo_path = path.parent / CACHE_DIR / MEMO
    memo = _load(memo_path)
    tables = memo.get("tables") if isinstance(memo.get("tables"), dict) else {}
    kept = tables.get(str(path))
    meta = _meta(path)
    if isinstance(kept, list) and len(kept) == 2 and meta is not None and kept[0] == meta \
            and isinstance(kept[1], dict):
        return kept[1]
    started = time.time_ns()
    table = read(path)  # raises ConfigError: nothing kept
    try:
        same = json.loads(_dumps(table)) == table  # a TOML date would not come back
    except (TypeError, ValueError):
        same = False
    after = _meta(path)
    if same and after == meta and _settled([after], started):
        memo["tables"] = {**tables, str(path): [after, table]}
        _save(memo_path, memo)
    return table


def _meta(path: Path) -> list | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [str(path), st.st_size, st.st_mtime_ns, st.st_ino]


def _settled(metas: list, started: int) -> bool:
    """Every file there, and last modified well before it was read: a later change, even
    within the file system's timestamp granularity, gives it other metadata."""
    return all(m is not None and m[2] < started - RACY_NS for m in metas)


def _save(memo_path: Path, memo: dict) -> None:
    if not memo_path.parent.is_dir():
        return  # never made here: a run that saves its pack makes the directory
    try:
        _write_atomically(memo_path, _dumps(memo))
    except (OSError, ValueError):
        pass
