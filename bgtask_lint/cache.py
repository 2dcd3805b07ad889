"""The on-disk cache: the findings of files whose inputs have not changed since the last run.

Where: `.bgtask_lint_cache/` in the project root (with a `.gitignore` of `*`), one JSON
"pack" per (tool source, Python version, project root, settings, selected rules), so that
switching `--select` back and forth keeps both. Written atomically; a pack that cannot be
read or parsed is ignored and rewritten.

What a file's findings depend on, and so what its entry is keyed on:

* its own content (sha256 of its bytes) and the settings, rules, tool and Python version
  (the pack's identity);
* the modules that name resolution can reach from it. Resolution only follows import
  statements, so for every module we keep a *summary*: its import references (plus
  whether it may schedule tasks), keyed by its content hash. From the summaries and the
  file layout we build, conservatively, every module an import could resolve to (all
  files whose dotted suffix matches the imported name or lies below it, relative imports'
  directories, a package's own directory, submodules named after a module), and hash the
  graph Merkle-style: a file's *closure digest* covers the path, content hash and module
  name of every module reachable from it, so an edit anywhere in its transitive imports,
  a new file an import could now resolve to, or a deleted one, changes it;
* the project's task table (rules ask "is this function scheduled as a task anywhere?"):
  its digest covers the sorted task keys and, for every scheduling site, the resolved task
  and the dump of the scheduling call. Each module that may schedule tasks keeps its sites'
  entries in the pack, under its own closure digest (resolving a site only looks at what
  the module's imports reach).

A file is re-checked when its closure digest or the task-table digest differs from its
entry's; the rest come from the pack without parsing anything. When few scheduling modules
changed, only the files to re-check, the scheduling modules whose closure changed, and what resolution
reaches from them are parsed, from the very texts that were hashed, and the index is given
the task table assembled from the cached site entries (`_PresetTasksIndex`). Otherwise
(a first run, many changes) the project is indexed as `Project.load` does. Files that do
not parse keep their error message (it depends on the bytes alone).

Soundness rests on `_Layout.edges` covering every way `ProjectIndex` resolution can reach
another module; if resolution learns a new way, `edges` must learn it too (the random-edit
tests in tests/test_cache.py compare cached and uncached runs).

Nothing is written when any file changed while the run was reading it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from bgtask_lint.collect import SCHEDULING_NAMES
from bgtask_lint.files import SourceError, decode_source, find_project_root, iter_python_files
from bgtask_lint.findings import Finding
from bgtask_lint.index import ModuleInfo, ProjectIndex, _suffixes, module_name

from bgtask_lint.engine import parse_module
from bgtask_lint.parallel import check_modules
from bgtask_lint.project import CheckResult, FileError, Project

if TYPE_CHECKING:
    from bgtask_lint.config import Settings
    from bgtask_lint.rules import Rule

CACHE_DIR = ".bgtask_lint_cache"
SCHEMA = 2
# packs kept per cache directory (one per settings/tool version), most recently used first
MAX_PACKS = 16
# a run parses at most this many modules only to learn their imports (the rest are checked)
LIGHT_PARSE_LIMIT = 64

# what the last cached run did (for tests and the benchmark)
LAST_RUN: dict[str, Any] = {}


# --- identity -------------------------------------------------------------------------------


def _sha(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


def tool_digest() -> str:
    """The tool's own source: any change to a rule, the index or the engine drops the cache."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"?")
    return digest.hexdigest()


def pack_identity(root: Path, settings: "Settings", rule_classes: Iterable[type["Rule"]]) -> str:
    parts = [SCHEMA, tool_digest(), sys.version, sys.implementation.name, str(root), repr(settings),
             [rule.code for rule in rule_classes]]
    return _sha(json.dumps(parts))[:32]


# --- reading and writing packs ------------------------------------------------------------------


def _load_pack(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("files"), dict):
        return {}
    return data


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


def _save_pack(directory: Path, path: Path, pack: dict[str, Any]) -> bool:
    if not _prepare_dir(directory):
        return False
    try:
        _write_atomically(path, json.dumps(pack, separators=(",", ":")))
    except OSError:
        return False
    _prune(directory, keep=path)
    return True


def _prune(directory: Path, keep: Path) -> None:
    try:
        packs = [p for p in directory.glob("*.json") if p != keep]
        packs.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in packs[MAX_PACKS - 1:]:
            old.unlink()
    except OSError:
        pass


# --- findings ---------------------------------------------------------------------------------


def _finding_fields(finding: Finding) -> tuple:
    return (str(finding.path), finding.line, finding.col, finding.code, finding.message,
            finding.end_line, finding.end_col, finding.fix, finding.fix_title)


def encode_findings(findings: list[Finding]) -> list | None:
    """JSON-ready findings, or None when one would not come back identical."""
    encoded = [list(_finding_fields(f)) for f in findings]
    try:
        again = decode_findings(json.loads(json.dumps(encoded)))
    except (TypeError, ValueError):
        return None
    if [_finding_fields(f) for f in again] != [_finding_fields(f) for f in findings]:
        return None
    return encoded


def decode_findings(encoded: list) -> list[Finding]:
    return [
        Finding(path=Path(path), line=line, col=col, code=code, message=message, end_line=end_line,
                end_col=end_col, fix=fix, fix_title=fix_title)
        for path, line, col, code, message, end_line, end_col, fix, fix_title in encoded
    ]


# --- module summaries ----------------------------------------------------------------------


def summarize(module: ModuleInfo) -> dict[str, Any]:
    """What resolution needs from a module: its import references (module-level and local)."""
    refs = set(module.imports.values())
    for local in module.local_imports.values():
        refs.update(local.values())
    imports = sorted(
        ([ref.module, ref.attr, str(ref.base) if ref.base is not None else None] for ref in refs),
        key=lambda r: (r[0], r[1] or "", r[2] or ""),
    )
    return {"imports": imports, "words": _may_schedule(module.source)}


def _may_schedule(text: str) -> bool:
    """As Project.load decides which modules to parse for the task table."""
    return any(word in text for word in SCHEDULING_NAMES)


@dataclass
class _File:
    path: Path
    hash: str | None = None  # sha256 of the bytes; None: unreadable
    raw: bytes | None = None
    text: str | None = None
    name: str = ""
    is_package: bool = False
    summary: dict[str, Any] | None = None  # {"imports": [...], "words": bool}
    error: str | None = None  # decode or parse error (depends on the bytes only)
    known: bool = False  # summary or error is valid for this content

    @property
    def schedules(self) -> bool:
        return bool(self.summary and self.summary.get("words")) and self.error is None


@dataclass
class _Layout:
    """Which files an import reference could resolve to (a superset of what the index does)."""

    exact: dict[str, list[Path]] = field(default_factory=dict)  # dotted suffix -> files
    below: dict[str, list[Path]] = field(default_factory=dict)  # dotted prefix -> files under it
    subtree: dict[Path, list[Path]] = field(default_factory=dict)  # directory -> files under it
    files: set[Path] = field(default_factory=set)

    @classmethod
    def build(cls, files: dict[Path, _File], root: Path) -> "_Layout":
        layout = cls()
        for path in files:
            layout.files.add(path)
            for suffix in _suffixes(path, root, path.name == "__init__.py"):
                layout.exact.setdefault(suffix, []).append(path)
                parts = suffix.split(".")
                for k in range(1, len(parts)):
                    layout.below.setdefault(".".join(parts[:k]), []).append(path)
            for directory in path.parents:
                layout.subtree.setdefault(directory, []).append(path)
                if directory == root:
                    break
        return layout

    def dotted(self, name: str) -> list[Path]:
        return self.exact.get(name, []) + self.below.get(name, [])

    def under(self, directory: Path) -> list[Path]:
        found = list(self.subtree.get(directory, []))
        for candidate in (directory / "__init__.py", Path(str(directory) + ".py")):
            if candidate in self.files:
                found.append(candidate)
        return found

    def edges(self, file: _File) -> set[Path]:
        found: list[Path] = []
        for module, attr, base in (file.summary or {}).get("imports", ()):
            if base is None:
                if attr is None:
                    found += self.dotted(module)
                else:
                    found += self.exact.get(module, [])
                    found += self.dotted(f"{module}.{attr}" if module else attr)
            else:
                directory = Path(base)
                if directory / "__init__.py" in self.files:
                    found.append(directory / "__init__.py")
                if module:
                    found += self.under(directory.joinpath(*module.split(".")))
                elif attr:
                    found += self.under(directory / attr)
        if file.name:  # `module.sub` looked up by the module's own dotted name
            found += self.below.get(file.name, [])
        if file.is_package:  # names looked up in a package fall back to its submodules
            found += self.subtree.get(file.path.parent, [])
        edges = set(found)
        edges.discard(file.path)
        return edges


def closure_digests(files: dict[Path, _File], layout: _Layout, roots: Iterable[Path]) -> dict[Path, str | None]:
    """Merkle digests over the import graph (strongly connected components first).

    A node whose reachable set contains a module with no known summary gets None.
    """
    edges: dict[Path, list[Path]] = {}

    def successors(path: Path) -> list[Path]:
        found = edges.get(path)
        if found is None:
            file = files[path]
            found = sorted(layout.edges(file)) if file.known and file.error is None else []
            edges[path] = found
        return found

    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    on_stack: set[Path] = set()
    stack: list[Path] = []
    digest: dict[Path, str | None] = {}

    def enter(node: Path) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)

    for start in roots:  # Tarjan's algorithm, without recursion
        if start in index:
            continue
        enter(start)
        calls = [(start, iter(successors(start)))]
        while calls:
            node, pending = calls[-1]
            descended = False
            for nxt in pending:
                if nxt not in index:
                    enter(nxt)
                    calls.append((nxt, iter(successors(nxt))))
                    descended = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if descended:
                continue
            calls.pop()
            if calls:
                parent = calls[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] != index[node]:
                continue
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            member_set = set(members)
            unknown = any(not files[m].known for m in members)
            outside: set[str] = set()
            for m in members:
                for nxt in successors(m):
                    if nxt not in member_set:
                        d = digest[nxt]
                        if d is None:
                            unknown = True
                        else:
                            outside.add(d)
            value = None
            if not unknown:
                leaves = sorted(
                    [str(m), files[m].hash or "", files[m].error is not None, files[m].name, files[m].is_package]
                    for m in members
                )
                value = _sha(json.dumps([leaves, sorted(outside)]))
            for m in members:
                digest[m] = value
    return digest


def _reachable_unknown(files: dict[Path, _File], layout: _Layout, roots: Iterable[Path]) -> set[Path]:
    seen: set[Path] = set()
    unknown: set[Path] = set()
    todo = list(roots)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        file = files[path]
        if not file.known:
            unknown.add(path)
            continue
        if file.error is None:
            todo.extend(layout.edges(file) - seen)
    return unknown


def _light_parse(file: _File, root: Path) -> None:
    """Learn a module's imports (or its error) by parsing it, without checking it."""
    if file.hash is None or file.text is None:
        return
    try:
        module = parse_module(file.path, root, file.text)
    except SourceError as exc:
        file.error = str(exc)
    else:
        file.summary = summarize(module)
    file.known = True


def site_entries(index, module: ModuleInfo) -> list[list]:
    """One module's part of the task table: each scheduling site, and the task it resolves to."""
    entries = []
    for site in module.sites:
        sym = index.resolve_task(module, site) if site.is_background else None
        entries.append([site.form, site.is_background,
                        [str(sym.key[0]), sym.key[1]] if sym is not None else None, ast.dump(site.call)])
    entries.sort(key=json.dumps)
    return entries


def task_table(contributions: dict[Path, list[list]]) -> tuple[set[tuple[Path, str]], str]:
    """The task keys and the task-table digest, from every scheduling module's site entries."""
    keys = {(Path(entry[2][0]), entry[2][1]) for sites in contributions.values() for entry in sites
            if entry[1] and entry[2] is not None}
    digest = _sha(json.dumps([sorted([str(p), q] for p, q in keys),
                              sorted([str(path), sites] for path, sites in contributions.items())]))
    return keys, digest


class _PresetTasksIndex(ProjectIndex):
    """An index whose task table is given (from the cache) instead of computed from every
    scheduling module, so that only the modules being checked, and what they import, are parsed."""

    def __init__(self, root: Path, modules: Iterable[ModuleInfo], tasks: set[tuple[Path, str]]):
        super().__init__(root, modules)
        self._preset = set(tasks)

    def _task_table(self):  # the rules only ask which functions are tasks (is_task, task_keys, task_paths)
        return self._preset


# --- the cached check -----------------------------------------------------------------------


def _scan(paths: list[Path], settings: "Settings", root: Path):
    targets = [p.resolve() for p in iter_python_files([p for p in paths if p.exists()], settings.excludes, root)]
    project_files = [p.resolve() for p in iter_python_files([root], settings.excludes, root)]
    files: dict[Path, _File] = {}
    for path in [*targets, *project_files]:
        if path in files:
            continue
        file = _File(path)
        try:
            file.raw = path.read_bytes()
        except OSError:
            files[path] = file
            continue
        file.hash = _sha(file.raw)
        try:
            file.text = decode_source(path, file.raw).text
        except SourceError as exc:
            file.error = str(exc)
            file.known = True
        file.name, file.is_package = module_name(path, root)
        files[path] = file
    return targets, files


def _rehash_unchanged(files: dict[Path, _File]) -> bool:
    for path, file in files.items():
        try:
            current = _sha(path.read_bytes())
        except OSError:
            current = None
        if current != file.hash:
            return False
    return True


def check_cached(paths: list[Path], settings: "Settings", rule_classes: tuple[type["Rule"], ...],
                 root: Path | None, jobs: int | None) -> "CheckResult | None":
    """check_paths with the cache; None when the cache cannot be used for these paths."""
    LAST_RUN.clear()
    if root is None:
        root = find_project_root(paths[0] if paths else Path.cwd())
    root = root.resolve()
    missing = [FileError(given, "no such file or directory") for given in paths if not given.exists()]
    targets, files = _scan(paths, settings, root)
    if any(not path.is_relative_to(root) for path in targets):
        return None  # a file outside the project: its suffixes are not the layout's

    directory = root / CACHE_DIR
    pack_path = directory / f"{pack_identity(root, settings, rule_classes)}.json"
    pack = _load_pack(pack_path)
    entries: dict[str, Any] = pack.get("files", {})
    for path, file in files.items():
        entry = entries.get(str(path))
        if not isinstance(entry, dict) or file.hash is None or entry.get("hash") != file.hash or file.known:
            continue
        if isinstance(entry.get("error"), str):
            file.error, file.known = entry["error"], True
        elif isinstance(entry.get("summary"), dict):
            file.summary, file.known = entry["summary"], True

    layout = _Layout.build(files, root)
    word_modules = [p for p, f in files.items() if f.text is not None and _may_schedule(f.text)]
    roots = [*targets, *word_modules]
    if entries:  # a first run checks everything anyway; later ones parse a few to learn imports
        parsed = 0
        while parsed <= LIGHT_PARSE_LIMIT:
            unknown = _reachable_unknown(files, layout, roots)
            if not unknown or parsed + len(unknown) > LIGHT_PARSE_LIMIT:
                break
            for path in unknown:
                _light_parse(files[path], root)
            parsed += len(unknown)
    digests = closure_digests(files, layout, roots)

    # the task table: each scheduling module's sites, cached under its closure digest
    contributions: dict[Path, list] = {}
    stale: list[Path] = []
    for path in word_modules:
        file, entry = files[path], entries.get(str(path))
        if file.known and file.error is not None:
            continue  # does not parse: no sites
        if (digests.get(path) is not None and isinstance(entry, dict) and entry.get("hash") == file.hash
                and entry.get("scd") == digests[path] and isinstance(entry.get("sites"), list)):
            contributions[path] = entry["sites"]
        else:
            stale.append(path)

    def valid_entry(path: Path) -> bool:
        entry = entries.get(str(path))
        return (isinstance(entry, dict) and files[path].hash is not None and entry.get("hash") == files[path].hash
                and digests.get(path) is not None and entry.get("cd") == digests[path]
                and isinstance(entry.get("findings"), list))

    result = CheckResult()
    errors: dict[Path, str] = {}
    candidates: list[Path] = []  # targets whose findings are cached, if the task table is unchanged
    misses: list[Path] = []
    for path in targets:
        file = files[path]
        if file.known and file.error is not None:
            errors[path] = file.error
        elif valid_entry(path):
            candidates.append(path)
        else:
            misses.append(path)

    fast = bool(entries) and len(stale) <= LIGHT_PARSE_LIMIT and all(
        files[p].known or p in stale for p in word_modules)
    if fast:
        run = _check_incremental(root, files, targets, misses, candidates, stale, contributions, entries,
                                 settings, rule_classes, jobs)
    else:
        run = _check_full(root, files, word_modules, misses, candidates, entries, settings, rule_classes, jobs)
    checked, (cached_findings, cached_hidden), hits, td_now, contributions, new_errors, raced = run
    errors.update(new_errors)
    result.findings.extend(cached_findings)
    result.hidden_in_tests += cached_hidden
    for findings, hidden in checked.values():
        result.findings.extend(findings)
        result.hidden_in_tests += hidden
    result.errors = missing + [FileError(path, errors[path]) for path in targets if path in errors]
    result.files_checked = hits + len(checked)
    result.findings.sort()
    LAST_RUN.update(hits=hits, checked=len(checked), misses=len(misses), stale_task_modules=len(stale),
                    errors=len(errors), raced=raced, incremental=fast, wrote=False)
    learned = any(f.known and (entries.get(str(p)) or {}).get("hash") != f.hash for p, f in files.items())
    if raced or not (checked or stale or learned or not set(entries) <= {str(p) for p in files}):
        return result

    # remember: summaries of everything known, findings of what was checked, site entries
    digests = closure_digests(files, layout, roots)
    new_entries: dict[str, Any] = {}
    for path, file in files.items():
        if file.hash is None or not file.known:
            continue
        old = entries.get(str(path))
        same = isinstance(old, dict) and old.get("hash") == file.hash
        entry: dict[str, Any] = {"hash": file.hash}
        if file.error is not None:
            entry["error"] = file.error
            new_entries[str(path)] = entry
            continue
        entry["summary"] = file.summary
        if path in checked:
            findings, hidden = checked[path]
            encoded = encode_findings(findings)
            if encoded is not None and digests.get(path) is not None and td_now is not None:
                entry.update(cd=digests[path], td=td_now, findings=encoded, hidden=hidden)
        elif same and "findings" in old:
            entry.update(cd=old.get("cd"), td=old.get("td"), findings=old["findings"], hidden=old.get("hidden", 0))
        if path in contributions and digests.get(path) is not None:
            entry.update(scd=digests[path], sites=contributions[path])
        new_entries[str(path)] = entry
    LAST_RUN["wrote"] = _save_pack(directory, pack_path, {"schema": SCHEMA, "files": new_entries})
    return result


def _decode_cached(entries: dict[str, Any], path: Path) -> tuple[list[Finding], int] | None:
    try:
        entry = entries[str(path)]
        hidden = entry.get("hidden", 0)
        if not isinstance(hidden, int):
            return None
        return decode_findings(entry["findings"]), hidden
    except (TypeError, ValueError, KeyError):
        return None


def _check_incremental(root, files, targets, misses, candidates, stale, contributions, entries,
                       settings, rule_classes, jobs):
    """Parse only the targets to check and the scheduling modules whose sites may have changed
    (and, lazily, what resolution reaches), from the texts read when planning."""
    errors: dict[Path, str] = {}
    parsed: dict[Path, ModuleInfo] = {}
    for path in [*misses, *stale]:
        if path in parsed:
            continue
        try:
            parsed[path] = parse_module(path, root, files[path].text)
        except SourceError as exc:
            if path in misses:
                errors[path] = str(exc)
            _light_parse(files[path], root)  # an error that depends on these bytes alone
    contributions = dict(contributions)
    index = _PresetTasksIndex(root, parsed.values(), set())
    index.register([p for p in files if p not in parsed],
                   lambda path: parse_module(path, root, files[path].text))
    for path in stale:
        if path in parsed:
            contributions[path] = site_entries(index, parsed[path])
    tasks, td_now = task_table(contributions)
    index._preset = {key: [] for key in tasks}
    index.cache.clear()  # nothing computed so far may depend on the task table, but be sure

    cached: list[Finding] = []
    hidden_total = 0
    hits = 0
    late: list[Path] = []
    for path in candidates:
        found = _decode_cached(entries, path) if entries[str(path)].get("td") == td_now else None
        if found is None:
            late.append(path)
        else:
            cached.extend(found[0])
            hidden_total += found[1]
            hits += 1
    modules = [parsed[p] for p in misses if p in parsed]
    for path in late:
        module = index.module(path)
        if module is None:
            try:
                module = parse_module(path, root, files[path].text)
            except SourceError as exc:
                errors[path] = str(exc)
                continue
        modules.append(module)
    for module in modules:  # what a miss learns about itself
        file = files[module.path]
        if not file.known:
            file.summary, file.known = summarize(module), True
    project = Project(root, settings, index)
    project.targets = [m.path for m in modules]
    checked = check_modules(project, modules, jobs) if modules else {}
    for module in list(index.by_path.values()):
        file = files[module.path]
        if not file.known:
            file.summary, file.known = summarize(module), True
    return checked, (cached, hidden_total), hits, td_now, contributions, errors, False


def _check_full(root, files, word_modules, misses, candidates, entries, settings, rule_classes, jobs):
    """Index the project as load_project does (every scheduling module parsed) and check the misses."""
    errors: dict[Path, str] = {}
    raced = False
    project = Project.load(misses, settings, root)
    index = project.index
    contributions = {path: site_entries(index, index.by_path[path]) for path in word_modules if path in index.by_path}
    tasks, td_now = task_table(contributions)
    if tasks != index.task_keys() or any(m.sites for p, m in index.by_path.items() if p not in contributions):
        raced = True  # cannot happen: the table is made of exactly these sites; do not store anything
    cached: list[Finding] = []
    hidden_total = 0
    hits = 0
    late: list[Path] = []
    for path in candidates:
        found = _decode_cached(entries, path) if entries[str(path)].get("td") == td_now else None
        if found is None:
            late.append(path)
        else:
            cached.extend(found[0])
            hidden_total += found[1]
            hits += 1
    modules = [index.by_path[path] for path in project.targets]
    for path in late:
        module = index.module(path)
        if module is None:  # it parsed when its entry was written: it changed since
            raced = True
            try:
                module = parse_module(path, root)
            except SourceError as exc:
                errors[path] = str(exc)
                continue
        modules.append(module)
    checked = check_modules(project, modules, jobs)
    for error in project.errors:
        errors[error.path] = error.message
        file = files.get(error.path)
        if file is not None and file.text is not None and not file.known:
            _light_parse(file, root)  # keep the error only if it is the one these bytes give
            if file.error != error.message:
                file.known, file.error, file.summary = False, None, None
    for module in list(index.by_path.values()):
        file = files.get(module.path)
        if file is None or file.text != module.source:
            raced = True
        elif not file.known:
            file.summary, file.known = summarize(module), True
    for path in word_modules:  # each one that parses must have been indexed
        if path not in index.by_path:
            if not files[path].known:
                _light_parse(files[path], root)
            if files[path].error is None:
                raced = True
    raced = raced or not _rehash_unchanged(files)
    return checked, (cached, hidden_total), hits, td_now, contributions, errors, raced
