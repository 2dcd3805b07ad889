"""Packs on disk: where they live, what they are keyed on, how they are written.

`.bgtask_lint_cache/` in the project root holds, per identity (tool source, Python, root,
settings, declared dependencies and importable fix packages), two JSON files written atomically: `<id>.json`, the *main* pack (every file's
metadata and content hash, the findings of each checked file, the digests a warm run
compares), and `<id>.deps.json`, what each entry depends on (read only when something
changed). Both carry the same random token: a pair that does not match is treated as
if the deps were missing. The directory gets a `.gitignore` of `*` and a CACHEDIR.TAG.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Any

    from bgtask_lint.config import Settings
    from bgtask_lint.findings import Finding

CACHE_DIR = ".bgtask_lint_cache"
# what the last cached run did (for tests and the benchmark); lives here, below check.py,
# so that the package does not import itself
LAST_RUN: dict[str, Any] = {}
SCHEMA = 4
# identities kept per cache directory (one per settings/tool version), most recently used first
MAX_PACKS = 16


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


# the packages a safe fix may import: whether one is declared by the project or importable
# here decides a finding's fix (fix_safety.py asks dependencies.available about them)
FIX_IMPORTS = ("aiofiles",)


def environment(root: Path) -> list:
    """What findings depend on outside the project's modules: the dependencies the project
    declares (pyproject.toml, requirements*.txt, ...) and what this interpreter can import."""
    from bgtask_lint.dependencies import declared, importable  # reads the declaration files

    return [sorted(declared(root)), [importable(name) for name in FIX_IMPORTS]]


def pack_identity(root: Path, settings: "Settings") -> str:
    parts = [SCHEMA, tool_digest(), sys.version, sys.implementation.name, str(root), repr(settings),
             environment(root)]
    return sha(json.dumps(parts))[:32]


class Store:
    """The packs of one identity in one cache directory."""

    def __init__(self, root: Path, identity: str):
        self.directory = root / CACHE_DIR
        self.main_path = self.directory / f"{identity}.json"
        self.deps_path = self.directory / f"{identity}.deps.json"

    def load_main(self) -> dict[str, Any]:
        data = _load(self.main_path)
        if data.get("schema") != SCHEMA or not isinstance(data.get("files"), dict):
            return {}
        return data

    def load_deps(self, token: object) -> dict[str, Any]:
        data = _load(self.deps_path)
        if not token or data.get("token") != token:
            return {}
        return data

    def save(self, main: dict[str, Any], deps: dict[str, Any]) -> bool:
        """Deps first, then the main pack that points at them (by token)."""
        token = os.urandom(8).hex()
        main = {"schema": SCHEMA, "token": token, **main}
        deps = {"token": token, **deps}
        if not _prepare_dir(self.directory):
            return False
        try:
            _write_atomically(self.deps_path, _dumps(deps))
            _write_atomically(self.main_path, _dumps(main))
        except (OSError, ValueError):
            return False
        _prune(self.directory, keep=self.main_path)
        return True


    def save_main(self, main: dict[str, Any]) -> bool:
        """Rewrite the main pack only (fresher metadata), keeping its token and deps file."""
        try:
            _write_atomically(self.main_path, _dumps(main))
        except (OSError, ValueError):
            return False
        return True


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


def _prune(directory: Path, keep: Path) -> None:
    """Keep the MAX_PACKS most recently written identities (a main pack and its deps)."""
    try:
        mains = [p for p in directory.glob("*.json") if p != keep and not p.name.endswith(".deps.json")]
        mains.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in mains[MAX_PACKS - 1:]:
            old.unlink()
            old.with_name(old.name[:-len(".json")] + ".deps.json").unlink(missing_ok=True)
        for deps in directory.glob("*.deps.json"):  # orphans (their main pack was pruned or lost)
            if not deps.with_name(deps.name[:-len(".deps.json")] + ".json").exists():
                deps.unlink()
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
