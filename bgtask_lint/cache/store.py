"""Packs on disk: where they live, what they are keyed on, how they are written.

`.bgtask_lint_cache/` in the project root holds, per identity (tool source, Python, root,
settings, declared dependencies and importable fix packages), JSON files written atomically: `<id>.json`, the *main* pack (every file's
metadata and content hash, the findings of each checked file, the digests a warm run
compares), and `<id>.deps.json`, what each entry depends on (read only when something
changed). Both carry the same random token: a pair that does not match is treated as
if the deps were missing. The directory gets a `.gitignore` of `*` and a CACHEDIR.TAG.

A run that changed little of the deps (pre-commit: a few files) writes only what differs
from the deps file it read, as `<id>.delta.json` (carrying the main pack's token and the
deps file's): the tables' appended rows, the entries, parts and memo entries added
or replaced, and the keys dropped. Reading merges the two. Rewriting the whole deps file
(2-5 MB on a large app) cost such a run more than checking one of its files.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Any

    from bgtask_lint.findings import Finding

CACHE_DIR = ".bgtask_lint_cache"
# what the last cached run did (for tests and the benchmark); lives here, below check.py,
# so that the package does not import itself
LAST_RUN: dict[str, Any] = {}
SCHEMA = 5
# identities kept per cache directory (one per settings/tool version), most recently used first
MAX_PACKS = 16
# a delta holding more than this share of the deps (keys added, replaced or dropped, and
# table rows appended) is folded into a new deps file
DELTA_SHARE = 0.25


def sha(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


def tool_digest() -> str:
    """The tool's own source: any change to a rule, the index or the engine drops the cache.

    Keyed on each source file's path, size and mtime_ns (an edit changes the mtime;
    reading every file of the package would cost a warm run more than its whole check).
    The rules selected are a function of the settings and this source, so the identity
    needs neither the rule classes nor their import."""
    package = Path(__file__).resolve().parent.parent
    parts = []
    for path in sorted(_python_files(str(package))):
        try:
            st = os.stat(path)
            parts.append(f"{os.path.relpath(path, package)}\0{st.st_size}\0{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{path}\0?")
    return sha("\n".join(parts))


def _python_files(directory: str) -> list[str]:
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_dir() and entry.name != "__pycache__":
                found += _python_files(entry.path)
            elif entry.name.endswith(".py"):
                found.append(entry.path)
    return found


class Store:
    """The packs of one identity in one cache directory."""

    def __init__(self, root: Path, identity: str):
        self.directory = root / CACHE_DIR
        self.main_path = self.directory / f"{identity}.json"
        self.deps_path = self.directory / f"{identity}.deps.json"
        self.delta_path = self.directory / f"{identity}.delta.json"
        self.deps_read: _DepsRead | None = None  # the deps file as read: a delta is written against it

    def load_main(self) -> dict[str, Any]:
        data = _load(self.main_path)
        if data.get("schema") != SCHEMA or not isinstance(data.get("files"), dict):
            return {}
        return data

    def load_deps(self, token: object) -> dict[str, Any]:
        """The deps the main pack's token names: the deps file, or it merged with the delta
        written against it; {} when they do not match."""
        if not token:
            return {}
        data = _load(self.deps_path)
        if not _well_formed_deps(data):
            return {}
        deps_read = _DepsRead(data)
        if data.get("token") == token:
            self.deps_read = deps_read
            return data
        delta = _load(self.delta_path)
        if delta.get("token") != token or delta.get("base") != data.get("token"):
            return {}
        merged = _merged(data, delta)
        if merged:
            self.deps_read = deps_read
        return merged

    def save(self, main: dict[str, Any], deps: dict[str, Any], appended: bool = False) -> bool:
        """Deps first, then the main pack that points at them (by token). `appended`: the
        deps' tables are those read, with rows appended (not compacted), so a delta can say
        what changed."""
        token = os.urandom(8).hex()
        main = {"schema": SCHEMA, "token": token, **main}
        deps_read = self.deps_read
        delta = deps_read.delta(deps) if appended and deps_read is not None else None
        if not _prepare_dir(self.directory):
            return False
        try:
            if delta is not None:
                try:
                    _write_atomically(self.delta_path, _dumps({"token": token, "base": deps_read.token, **delta}))
                except OSError:  # (a directory in its place): the whole deps file, then
                    delta = None
            if delta is None:
                _write_atomically(self.deps_path, _dumps({"token": token, **deps}))
            _write_atomically(self.main_path, _dumps(main))
        except (OSError, ValueError):
            return False
        # (a delta left beside a new deps file names the old one: it is never read again, and
        # the next delta replaces it)
        LAST_RUN["delta"] = delta is not None
        _prune(self.directory, keep=self.main_path)
        return True


    def save_main(self, main: dict[str, Any]) -> bool:
        """Rewrite the main pack only (fresher metadata), keeping its token and deps file."""
        try:
            _write_atomically(self.main_path, _dumps(main))
        except (OSError, ValueError):
            return False
        return True


# the keyed sections of the deps, each written whole or as changed and dropped keys
_SECTIONS = ("entries", "parts", "memo", "outlines")


def _well_formed_deps(data: dict[str, Any]) -> bool:
    return (isinstance(data.get("paths"), list) and isinstance(data.get("lookups"), list)
            and all(isinstance(data.get(name, {}), dict) for name in _SECTIONS))


class _DepsRead:
    """The deps file as read: what a delta is taken against. The tables only grow while a
    run appends to them, so their lengths here say where its rows begin."""

    def __init__(self, data: dict[str, Any]):
        self.token = data.get("token")
        self.paths_count = len(data["paths"])
        self.lookups_count = len(data["lookups"])
        self.sections = {name: dict(data.get(name, {})) for name in _SECTIONS}

    def delta(self, deps: dict[str, Any]) -> dict[str, Any] | None:
        """What `deps` adds to, replaces in and drops from the file read; None when that is
        not small. A value counts as unchanged only when it is the very object read, or a
        new list or dict of the very objects the one read holds (carried over): so what the
        delta leaves out is exactly what the file holds."""
        paths, lookups = self.paths_count, self.lookups_count
        if len(deps["paths"]) < paths or len(deps["lookups"]) < lookups:
            return None
        delta: dict[str, Any] = {"paths": deps["paths"][paths:], "lookups": deps["lookups"][lookups:],
                                 "paths_from": paths, "lookups_from": lookups, "base_size": deps.get("base_size", 0)}
        # rows appended to the tables count too (a run appends the lookups of every entry it records)
        changed = len(delta["paths"]) + len(delta["lookups"])
        total = len(deps["paths"]) + len(deps["lookups"])
        for name in _SECTIONS:
            old, new = self.sections[name], deps[name]
            upserted = {key: value for key, value in new.items() if not _same_objects(old.get(key), value)}
            dropped = [key for key in old if key not in new]
            delta[name], delta[name + "_dropped"] = upserted, dropped
            changed += len(upserted) + len(dropped)
            total += len(new)
        return delta if changed <= DELTA_SHARE * total else None


def _same_objects(old: Any, new: Any) -> bool:
    """`new` is `old`, or a list (or dict) of the very objects `old` holds."""
    if old is new:
        return True
    if isinstance(old, list) and isinstance(new, (list, tuple)) and len(old) == len(new):
        return all(a is b for a, b in zip(old, new))
    if isinstance(old, dict) and isinstance(new, dict) and old.keys() == new.keys():
        return all(_same_objects(old[k], new[k]) for k in old)
    return False


def _merged(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The deps file with the delta written against it applied; {} on anything else."""
    if not (isinstance(delta.get("paths"), list) and isinstance(delta.get("lookups"), list)
            and delta.get("paths_from") == len(base["paths"]) and delta.get("lookups_from") == len(base["lookups"])):
        return {}
    merged: dict[str, Any] = {"token": delta["token"], "paths": base["paths"] + delta["paths"],
                              "lookups": base["lookups"] + delta["lookups"], "base_size": delta.get("base_size", 0)}
    for name in _SECTIONS:
        upserted, dropped = delta.get(name), delta.get(name + "_dropped")
        if not isinstance(upserted, dict) or not isinstance(dropped, list):
            return {}
        section = dict(base.get(name, {}))
        for key in dropped:
            if isinstance(key, str):
                section.pop(key, None)
        section.update(upserted)
        merged[name] = section
    return merged


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), check_circular=False)


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _prepare_dir(directory: Path) -> bool:
    try:
        directory.mkdir(exist_ok=True)
        ignore = directory / ".gitignore"
        if not ignore.exists():
            _write_atomically(ignore, "# created by bgtask-lint\n*\n")
        tag = directory / "CACHEDIR.TAG"
        if not tag.exists():
            _write_atomically(tag, "Signature: 8a477f597d28d172789f06886806bc55\n"
                                   "# This directory is a cache of bgtask-lint.\n")
        return True
    except OSError:
        return False


def _write_atomically(path: Path, text: str) -> None:
    import tempfile  # here: a warm run that writes nothing need not import it

    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temp, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_SIDE_FILES = (".deps.json", ".delta.json")  # beside each main pack


def _prune(directory: Path, keep: Path) -> None:
    """Keep the MAX_PACKS most recently written identities (a main pack, its deps and its
    delta)."""
    try:
        mains = [p for p in directory.glob("*.json") if p != keep and not p.name.endswith(_SIDE_FILES)]
        mains.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in mains[MAX_PACKS - 1:]:
            old.unlink()
            for side in _SIDE_FILES:
                old.with_name(old.name[:-len(".json")] + side).unlink(missing_ok=True)
        for side in _SIDE_FILES:  # orphans (their main pack was pruned or lost)
            for orphan in directory.glob("*" + side):
                if not orphan.with_name(orphan.name[:-len(side)] + ".json").exists():
                    orphan.unlink()
    except OSError:
        pass


# --- findings ---------------------------------------------------------------------------------


def _finding_fields(finding: "Finding") -> tuple:
    return (str(finding.path), finding.line, finding.col, finding.code, finding.message,
            finding.end_line, finding.end_col, finding.fix, finding.fix_title)


def encode_findings(findings: list["Finding"], path: str) -> list | None:
    """JSON-ready findings of the file `path` (whose own path is left out), or None when
    one would not come back identical."""
    encoded = []
    for finding in findings:
        fields = list(_finding_fields(finding))
        fields[0] = None if fields[0] == path else fields[0]
        encoded.append(fields)
    try:
        again = decode_findings(json.loads(json.dumps(encoded)), path)
    except (TypeError, ValueError):
        return None
    if [_finding_fields(f) for f in again] != [_finding_fields(f) for f in findings]:
        return None
    return encoded


def decode_findings(encoded: list, path: str) -> list["Finding"]:
    """Raises TypeError or ValueError on anything but what encode_findings wrote."""
    from bgtask_lint.findings import Finding

    return [
        Finding(path=Path(where if where is not None else path), line=line, col=col, code=code,
                message=message, end_line=end_line, end_col=end_col, fix=fix, fix_title=fix_title)
        for where, line, col, code, message, end_line, end_col, fix, fix_title in encoded
    ]
