"""The cached check: which entries still hold, re-check the rest, save.

A warm run where nothing changed (every file's metadata trusted or its bytes hashed the
same, the same known files, and the same targets or no entry that asked for a fact
computed over them) answers from the main pack alone: nothing is parsed and the deps
file is not read. Otherwise (`_Changed`):

1. the targets that must be checked anyway (changed, or never checked) are parsed, so
   which of them do not parse, and so which files the index knows, is settled;
2. the project-wide facts are assembled from per-module parts (facts.py): a part still
   holds when its module and its recorded dependencies are unchanged; stale parts are
   recomputed on modules parsed now;
3. a target's entry holds when its file, the modules it read, the answers of its lookups
   and the digests of the facts it asked for are unchanged (deps.py); the others are
   checked by `check_modules` with a project whose every check is one recorder frame.
   Memo entries kept from earlier runs (BGT302's helper chains, blocking.call_chain)
   answer those checks while what they recorded holds (asked for one by one, validated
   as an entry is); a run over a few targets keeps what its checks computed, so that a
   file edited again does not parse its helpers' modules again;
4. the packs are written, unless a file changed while the run was reading it. Every
   entry written holds for the state written with it (entries that no longer hold are
   dropped, also those of files that were not targets this time). When little of the
   deps changed, only the difference is written (store.py: the delta).

Row of the main pack, per file (path -> list): see `ROW`.
"""

from __future__ import annotations

import os
from pathlib import Path

from bgtask_lint.cache.scan import RACY_NS, FileState, Scan, read_verified, scan
from bgtask_lint.cache.identity import pack_identity
from bgtask_lint.cache.store import (
    LAST_RUN,
    Store,
    decode_findings,
    encode_findings,
    sha,
)
from bgtask_lint.files import paths_root

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

    from bgtask_lint.config import Settings
    from bgtask_lint.index import ModuleInfo
    from bgtask_lint.results import CheckResult

# a row: metadata and content of the file, then what is known for that content, then its entry
ROW = ("size", "mtime_ns", "inode", "hash", "name", "is_package", "words", "error", "known", "findings", "hidden",
       "facts")  # facts: the project-wide facts the entry asked for (its deps also list them)
HASH, NAME, PACKAGE, WORDS, ERROR, KNOWN, FINDINGS, HIDDEN, FACTS = 3, 4, 5, 6, 7, 8, 9, 10, 11


def check_cached(paths: list[Path], settings: "Settings", root: Path | None,
                 jobs: int | None, index_to: "Callable[[Any], None] | None" = None,
                 overrides: "Mapping[Path, str] | None" = None) -> "CheckResult | None":
    """`index_to`, when given, is handed the run's index when the run built one and read
    no file that changed meanwhile (`fix` fixes on it: its project-wide facts come from
    the cache's parts, so the modules that may schedule tasks need not all be parsed).
    `overrides`: texts that stand for files' content in this run (`fix --diff`'s fixes):
    what the cache holds is used as for a file edited to that text, and nothing is saved
    (the next run sees the files as they are on disk)."""
    LAST_RUN.clear()
    root = (root if root is not None else paths_root(paths)).resolve()
    store = Store(root, pack_identity(root, settings))
    main = store.load_main()
    found = scan(paths, settings, root, main)
    texts = _overridden(found, overrides) if overrides else {}
    inside = str(root).rstrip(os.sep) + os.sep
    if any(not t.startswith(inside) for t in found.targets):
        return None  # a file outside the project: its import names are not the layout's
    missing = [given for given in paths if not given.exists()]
    LAST_RUN.update(hashed=found.hashed, rehashed_same=found.rehashed_same, relisted=found.relisted,
                    files=len(found.files))
    result = _warm(root, found, main, store, missing) if not texts else None
    if result is None:
        from bgtask_lint.cache.facts import IncompleteIndex

        try:
            result = _Changed(root, settings, found, main, store, jobs, index_to, texts).run(missing)
        except IncompleteIndex:
            LAST_RUN["incomplete"] = True
            return None  # a project-wide question the cache cannot answer in parts
    return result


def _overridden(found: Scan, overrides: "Mapping[Path, str]") -> dict[str, str]:
    """Each override's text by the path the scan knows it as, its state made that of a file
    with this text (a content hash no file on disk has: never the same as a stored row's)."""
    texts: dict[str, str] = {}
    for given, text in overrides.items():
        path = str(Path(given).resolve())
        state = found.files.get(path)
        if state is not None:
            state.hash = "override:" + sha(text)
            state.raw, state.trusted = None, False
            texts[path] = text
    return texts


def _rows(main: dict[str, Any]) -> dict[str, list]:
    rows = main.get("files", {})
    return {p: r for p, r in rows.items() if isinstance(r, list) and len(r) == len(ROW)}


def _same(state: FileState, row: list | None) -> bool:
    """The content and import name the row describes."""
    return (row is not None and state.hash is not None and row[HASH] == state.hash
            and row[NAME] == state.name and row[PACKAGE] == state.is_package)


def _digest(paths: list[str]) -> str:
    return sha("\0".join(paths))


def _result(missing: list[Path]) -> "CheckResult":
    from bgtask_lint.results import CheckResult, FileError

    return CheckResult(errors=[FileError(given, "no such file or directory") for given in missing])


def _add_problems(result: "CheckResult", found: Scan) -> None:
    """After the targets' own errors, as Project.load reports them."""
    from bgtask_lint.results import FileError

    result.errors.extend(FileError(path, problem) for path, problem in found.problems)


# --- nothing changed ------------------------------------------------------------------------


def _warm(root: Path, found: Scan, main: dict[str, Any], store: Store, missing: list[Path]) -> "CheckResult | None":
    """The result from the main pack alone, or None when anything may have changed."""
    from bgtask_lint.cache.deps import BY_TARGETS
    from bgtask_lint.results import FileError

    rows = _rows(main)
    if not main or set(rows) != set(found.files):
        return None
    if any(not _same(state, rows.get(path)) for path, state in found.files.items()):
        return None
    if main.get("targets") != _digest(found.targets) and any(
            not isinstance(rows[p][FACTS], list) or not BY_TARGETS.isdisjoint(rows[p][FACTS]) for p in found.targets):
        return None  # other targets, and an entry asked for a fact computed over them
    targets = set(found.targets)
    known = sorted(p for p in found.files if not (p in targets and rows[p][ERROR] is not None))
    known_set = set(known)
    if main.get("layout") != _digest(known) or any(rows[p][KNOWN] != (p in known_set) for p in rows):
        return None
    result = _result(missing)
    for path in found.targets:
        row = rows[path]
        if isinstance(row[ERROR], str):
            result.errors.append(FileError(Path(path), row[ERROR]))
            continue
        if not isinstance(row[FINDINGS], list) or not isinstance(row[HIDDEN], int):
            return None
        if row[FINDINGS]:
            try:
                result.findings.extend(decode_findings(row[FINDINGS], path))
            except (TypeError, ValueError):
                return None
        result.hidden_in_tests += row[HIDDEN]
        result.files_checked += 1
    _add_problems(result, found)
    result.findings.sort()
    LAST_RUN.update(fast=True, hits=result.files_checked, checked=0, misses=0, errors=len(result.errors),
                    raced=False, incremental=True, wrote=False)
    # remember what was re-hashed (touched, or racily clean before) so that it is trusted next time
    if _worth_saving(found, main, rows):
        for path, state in found.files.items():
            rows[path][0:3] = _stored_meta(state)
        updated = {**main, "files": rows, "stamp": found.stamp, "listings": found.listings,
                   "outside": found.outside}
        LAST_RUN["wrote"] = store.save_main(updated)
    return result


def _stored_meta(state: FileState) -> list[int]:
    return list(state.meta) if state.meta is not None else [-1, -1, -1]


def _worth_saving(found: Scan, main: dict[str, Any], rows: dict[str, list]) -> bool:
    """Whether a warm run's pack would tell the next run more than the stored one does. A
    file re-hashed with its metadata unchanged and still too new to be trusted from this
    run's stamp would be re-hashed again anyway: such a save (~8 ms over the standard
    library) changes nothing but the stamp. Not saving can never make a run trust more."""
    if found.refreshed or main.get("listings") != found.listings or main.get("outside") != found.outside:
        return True
    for path, state in found.files.items():
        if state.trusted:
            continue
        if rows[path][0:3] != _stored_meta(state):
            return True  # touched: record its new metadata
        if state.meta is not None and state.meta[1] < found.stamp - RACY_NS:
            return True  # old enough now: trusted next time from this stamp
    return False


# --- something changed -----------------------------------------------------------------------


class _Changed:
    def __init__(self, root: Path, settings: "Settings", found: Scan, main: dict[str, Any], store: Store,
                 jobs: int | None, index_to: "Callable[[Any], None] | None" = None,
                 overrides: dict[str, str] | None = None):
        from bgtask_lint.cache import deps as deps_module
        from bgtask_lint.cache import facts

        self.root, self.settings, self.found, self.main, self.store, self.jobs = root, settings, found, main, store, jobs
        self.index_to = index_to
        self.overrides = overrides or {}  # path -> the text standing for its content; nothing is saved
        self.facts = facts
        self.rows = _rows(main)
        self.files = found.files
        self.targets = found.targets
        self.target_set = set(found.targets)
        self.raced = False
        self.parsed = 0
        self.errors: dict[str, str] = {}  # path -> why it does not parse (known for its content)
        self.words: dict[str, bool] = {}
        self.modules: dict[str, "ModuleInfo"] = {}  # parsed in this run, not yet in the index
        self.recorder = deps_module.Recorder()
        self.deps_module = deps_module
        self.old_entries, self.old_parts, self.old_memo, self.tables = self._load_deps()
        self.memo_asked: set[str] = set()  # keys of old_memo asked for in this run
        self.new_memo: dict[tuple, tuple] = {}  # key -> (value, Deps): recorded or kept in this run's checks
        self.memo_recorded = False  # whether this run's checks record memo entries
        self.reasker = None
        self.reasked: dict[int, bool] = {}  # lookup id -> same answer now
        self.index = None  # the run's index, once built
        self.affected: dict[str, Any] = {}  # changed path -> cutoff.Affected, or None (see _cut_off)
        self.reaches: dict[tuple[str, str], bool] = {}  # (changed path, reader's read) -> mentions it
        # the files whose row describes their current content (so its words and error hold)
        self.same = {p for p, state in self.files.items() if _same(state, self.rows.get(p))}

    # -- reading what is known ---------------------------------------------------------------

    def _load_deps(self):
        deps = self.store.load_deps(self.main.get("token")) if self.main else {}
        tables = self.deps_module.DepsTables.load(deps) if deps else None
        if tables is None:
            self.store.deps_read = None  # nothing read to write a delta against
            self.old_outlines = {}
            return {}, {}, {}, self.deps_module.DepsTables()
        entries = deps.get("entries") if isinstance(deps.get("entries"), dict) else {}
        parts = deps.get("parts") if isinstance(deps.get("parts"), dict) else {}
        memo = deps.get("memo") if isinstance(deps.get("memo"), dict) else {}
        outlines = deps.get("outlines")
        self.old_outlines = outlines if isinstance(outlines, dict) else {}
        return entries, parts, memo, tables

    def _text(self, path: str) -> str | None:
        """The decoded text of a file read in this run (None: cannot be decoded or read)."""
        from bgtask_lint.files import SourceError, decode_source

        if path in self.overrides:
            return self.overrides[path]
        state = self.files[path]
        raw = read_verified(state)
        if raw is None:
            if state.hash is not None:
                self.raced = True
            return None
        try:
            return decode_source(Path(path), raw).text
        except SourceError as exc:
            self.errors[path] = str(exc)
            return None

    def _parse(self, path: str) -> "ModuleInfo | None":
        """Parse one file (from the bytes this run hashed); its error is remembered."""
        from bgtask_lint.engine import parse_module
        from bgtask_lint.files import SourceError, read_source

        if path in self.modules:
            return self.modules[path]
        if path in self.errors:
            return None
        state = self.files[path]
        if state.hash is None:  # unreadable: the message the uncached run gives
            try:
                read_source(Path(path))
            except SourceError as exc:
                self.errors[path] = str(exc)
            else:
                self.raced = True
                self.errors[path] = "changed while being checked"
            return None
        text = self._text(path)
        if text is None:
            return None
        self.parsed += 1
        try:
            module = parse_module(Path(path), self.root, text)
        except SourceError as exc:
            self.errors[path] = str(exc)
            return None
        if (module.name, module.is_package) != (state.name, state.is_package):
            self.raced = True
        state.raw = None  # the module keeps the text
        self.modules[path] = module
        return module

    def _load(self, path: Path) -> "ModuleInfo":
        """The index's loader: a module nobody parsed yet, from verified bytes."""
        from bgtask_lint.files import SourceError

        module = self.modules.pop(str(path), None) or self._parse(str(path))
        if module is None:
            raise SourceError(self.errors.get(str(path), "cannot be read"))
        return module

    def _may_schedule(self, path: str) -> bool:
        """As Project.load decides which modules to parse for the task table."""
        from bgtask_lint.collect import SCHEDULING_NAMES

        if path not in self.words:
            row = self.rows.get(path)
            if path in self.same and isinstance(row[WORDS], bool):
                self.words[path] = row[WORDS]
                if isinstance(row[ERROR], str):
                    self.errors.setdefault(path, row[ERROR])
            else:
                module = self.modules.get(path)
                text = module.source if module is not None else self._text(path)
                self.words[path] = text is not None and any(word in text for word in SCHEDULING_NAMES)
                if not self.words[path]:
                    self.files[path].raw = None  # parsed lazily if at all (read again, and verified)
        return self.words[path]

    def _error(self, path: str) -> str | None:
        if path in self.errors:
            return self.errors[path]
        if path in self.same:
            error = self.rows[path][ERROR]
            return error if isinstance(error, str) else None
        return None

    # -- what changed ------------------------------------------------------------------------

    def _settle_known(self) -> None:
        """Parse the targets that will be checked anyway, then say which files the index
        knows (every file but the targets that do not parse, as Project.load has it)."""
        for path in self.targets:
            row = self.rows.get(path)
            if not (path in self.same and (isinstance(row[FINDINGS], list) or isinstance(row[ERROR], str))):
                self._parse(path)
        self.known = [p for p in self.files if not (p in self.target_set and self._error(p) is not None)]
        self.known_set = set(self.known)
        self.layout_same = bool(self.main) and self.main.get("layout") == _digest(sorted(self.known))

        def fingerprint_now(path: str):
            state = self.files.get(path)
            return (state.hash, state.name, state.is_package) if path in self.known_set else None

        def fingerprint_then(path: str):
            row = self.rows.get(path)
            return (row[HASH], row[NAME], row[PACKAGE]) if row is not None and row[KNOWN] else None

        self.changed = {p for p in {*self.rows, *self.files} if fingerprint_now(p) != fingerprint_then(p)}
        self.changed_ids = {i for i, p in enumerate(self.tables.paths) if p in self.changed}

    def _holds(self, path: str, encoded: Any, digests: dict[str, str | None], reader: bool = False) -> bool:
        """Whether a result stored for `path` with these deps (as the deps file has them) still
        holds. `reader`: a file's findings, which hold too when the modules they read changed
        only where the file cannot reach (cutoff.py)."""
        if path in self.changed or path not in self.files:
            return False
        return self._deps_hold(encoded, digests, path if reader else None)

    def _deps_hold(self, encoded: Any, digests: dict[str, str | None], reader: str | None = None) -> bool:
        """Whether what a result looked up (as the deps file has it) still gives the same answers."""
        if not self.deps_module.well_formed(encoded):
            return False
        reads, lookups, used = encoded
        old = self.main.get("facts") if isinstance(self.main.get("facts"), dict) else {}
        try:
            if max(reads, default=0) >= len(self.tables.paths):
                return False
            changed = not self.changed_ids.isdisjoint(reads)
            if changed and reader is None:
                return False
            if any(old.get(name) is None or old.get(name) != digests.get(name) for name in used):
                return False
            if not (self.layout_same or all(self._same_answer(i) for i in lookups)):
                return False
            return not changed or self._cut_off(reader, reads)  # (last: it reads texts)
        except (TypeError, ValueError, IndexError):
            return False

    def _same_answer(self, lookup_id: int) -> bool:
        found = self.reasked.get(lookup_id)
        if found is None:
            if self.reasker is None:
                failing = {p for p in self.files if self._error(p) is not None}
                names = {p: (s.name, s.is_package) for p, s in self.files.items()}
                self.reasker = self.deps_module.Reasker(self.root, self.known, failing, names)
            found = self.reasked[lookup_id] = self.reasker.same_answer(self.tables.lookup(lookup_id))
        return found

    def _cut_off(self, reader: str, reads: list[int]) -> bool:
        """Whether every module `reader`'s entry read that changed since changed only what
        neither `reader` nor another module it read mentions (cutoff.py)."""
        paths = self.tables.paths
        read_paths = [paths[i] for i in reads]
        for changed in (p for i, p in zip(reads, read_paths) if i in self.changed_ids):
            edit = self._affected(changed)
            if edit is None:
                return False
            if not edit.changed and not edit.added:  # (a comment, blank lines: nothing to reach)
                continue
            for other in {reader, *read_paths}:
                if other == changed:
                    continue
                key = (changed, other)
                found = self.reaches.get(key)
                if found is None:
                    text = self._read_text(other)
                    found = self.reaches[key] = text is None or edit.reaches(text)
                if found:
                    return False
        LAST_RUN["cut_off"] = LAST_RUN.get("cut_off", 0) + 1
        return True

    def _affected(self, path: str):
        """What the edit of `path` changed for its readers (cutoff.Affected); None: anything
        (its outline then is not known, or it no longer parses, or is no longer known)."""
        if path not in self.affected:
            from bgtask_lint.cache import cutoff

            stored = self.old_outlines.get(path)
            old_hash, _, old = stored.partition("|") if isinstance(stored, str) else ("", "", "")
            row = self.rows.get(path)
            module = self._indexed(path)
            state = self.files.get(path)
            usable = (bool(old_hash) and row is not None and old_hash == row[HASH] and module is not None
                      and path in self.known_set and state is not None and state.hash is not None
                      # the same import name: a module that moved is read otherwise
                      and (row[NAME], row[PACKAGE]) == (state.name, state.is_package))
            self.affected[path] = cutoff.affected(old, module) if usable else None
        return self.affected[path]

    def _indexed(self, path: str) -> "ModuleInfo | None":
        """The module of `path` in this run's index, once built."""
        return self.index.by_path.get(Path(path)) if self.index is not None else None

    def _read_text(self, path: str) -> str | None:
        """A known file's current text: its module's, when parsed in this run."""
        module = self._indexed(path) or self.modules.get(path)
        if module is not None:
            return module.source
        if path not in self.files:
            return None
        return self._text(path)

    # -- the run ---------------------------------------------------------------------------

    def run(self, missing: list[Path]) -> "CheckResult":
        from bgtask_lint.results import FileError

        self._settle_known()
        word_modules = [p for p in self.known if self._may_schedule(p)]
        added = list(dict.fromkeys([*(t for t in self.targets if self._error(t) is None), *word_modules]))
        index = self.index = self._index(added)
        digests, parts = self._facts(index, word_modules, added)
        hits, checked, carried = self._check(index, digests)

        result = _result(missing)
        for path in self.targets:
            error = self._error(path) if path not in checked and path not in hits else None
            if error is not None:
                result.errors.append(FileError(Path(path), error))
        _add_problems(result, self.found)
        for findings, hidden in [*hits.values(), *((f, h) for f, h, _ in checked.values())]:
            result.findings.extend(findings)
            result.hidden_in_tests += hidden
        result.files_checked = len(hits) + len(checked)
        result.findings.sort()
        LAST_RUN.update(fast=False, hits=len(hits), checked=len(checked), misses=len(checked),
                        errors=len(result.errors), raced=self.raced, incremental=not index.complete,
                        parsed=self.parsed, reasked=len(self.reasked), layout_same=self.layout_same,
                        stale_task_modules=self.stale_parts, wrote=False)
        if not self.raced and parts is not None and not self.overrides:
            LAST_RUN["wrote"] = self._save(digests, parts, checked, carried)
        if self.index_to is not None and not self.raced:
            self.index_to(index)
        return result

    def _index(self, added: list[str]):
        """The run's index: the added modules parsed now, every other known file registered.

        A run is complete when every added module is parsed (a first run, or a fact that
        cannot be assembled from parts); then the index computes the facts itself."""
        facts = self.facts
        stale = [p for p in added if not self._part_holds_by_content(p)]
        complete = not self.rows or not self.old_parts or len(stale) == len(added)
        index = facts.RunIndex(self.root, self.recorder, complete)
        for path in added if complete else [*self.modules]:
            module = self._parse(path) if path not in self.modules else self.modules[path]
            if module is not None:
                index.add(module)
        self.modules = {p: m for p, m in self.modules.items() if p not in index.by_path}
        index.register(self.known, self._load)  # (the modules added are known already)
        return index

    def _part_holds_by_content(self, path: str) -> bool:
        """A cheap first look: the module is unchanged and its parts were stored."""
        return path not in self.changed and isinstance(self.old_parts.get(path), dict)

    def _module(self, index, path: str) -> "ModuleInfo | None":
        module = index.by_path.get(Path(path))
        if module is None:
            module = self._parse(path)
            if module is not None:
                index.add(module)
                self.modules.pop(path, None)
        return module

    def _facts(self, index, word_modules: list[str], added: list[str]):
        """Each fact's digest (and preset in the index), and the parts to store (None:
        store nothing)."""
        facts = self.facts
        parts: dict[str, dict[str, Any]] = {}
        self.stale_parts = 0

        def part(path: str, name: str, compute, digests: dict[str, str | None]):
            old = self.old_parts.get(path)
            old = old.get(name) if isinstance(old, dict) else None
            if isinstance(old, list) and len(old) == 2 and self._holds(path, old[1], digests):
                parts.setdefault(path, {})[name] = (old[0], old[1])
                return old[0]
            module = self._module(index, path)
            if module is None:
                return None
            self.stale_parts += 1
            value, deps = self.recorder.frame(lambda: compute(module))
            if not facts.encodable(value):
                raise _Unstorable(name)
            parts.setdefault(path, {})[name] = (value, deps)
            return value

        digests: dict[str, str | None] = {}
        try:
            task_parts = [part(p, "tasks", lambda m: facts.tasks_part(index, m), digests) for p in word_modules]
            index.preset["tasks"] = facts.assemble_tasks([t for t in task_parts if t is not None])
            digests["tasks"] = facts.tasks_digest(index.preset["tasks"])
            index.preset["origins"] = facts.assemble_origins(
                [(p, t) for p, t in zip(word_modules, task_parts) if t is not None])
            digests["origins"] = facts.origins_digest(index.preset["origins"])
            index.preset["schedulers"] = facts.assemble_schedulers(
                [(p, t) for p, t in zip(word_modules, task_parts) if t is not None])
            digests["schedulers"] = facts.schedulers_digest(index.preset["schedulers"])
            index.scheduling = [p for p in word_modules if self._error(p) is None]
            digests["sites"] = facts.sites_digest(index.scheduling)
            helper_parts = [part(p, "helpers", lambda m: facts.helpers_part(index, m), digests)
                            for p in word_modules]
            helpers = facts.assemble_helpers([h for h in helper_parts if h is not None])
            digests["helpers"] = facts.helpers_digest(helpers)

            from bgtask_lint.flows import helper_names
            from bgtask_lint.index import module_name

            by_module = helper_names(helpers, lambda path: module_name(path, self.root)[0])

            def calls(module):
                self.recorder.fact("helpers")
                return facts.calls_part(index, module, by_module)

            call_parts = [part(p, "calls", calls, digests) for p in added]
            index.preset["flows"] = facts.assemble_flows([c for c in call_parts if c is not None], helpers)
            digests["flows"] = facts.flows_digest(index)
        except _Unstorable as exc:
            LAST_RUN["unstorable"] = str(exc)
            parts = None
        if index.complete:
            own = index.own_facts()
            if own["tasks"] != index.preset.get("tasks") or own["origins"] != index.preset.get("origins") \
                    or not facts.same_flows(own["flows"], index.preset.get("flows", {})) \
                    or facts.schedulers_digest(own["schedulers"]) != digests.get("schedulers"):
                LAST_RUN["facts_mismatch"] = True
                parts = None
            index.preset.update(own)  # the index's own answers are the ones used
            # what they memoized was computed outside any frame (no deps recorded): forget it
            index.cache.clear()
            digests["tasks"] = facts.tasks_digest(own["tasks"])
            digests["origins"] = facts.origins_digest(own["origins"])
            digests["schedulers"] = facts.schedulers_digest(own["schedulers"])
            digests["flows"] = facts.flows_digest(index)
        elif parts is None:
            from bgtask_lint.cache.facts import IncompleteIndex

            raise IncompleteIndex("a part that cannot be stored")
        return digests, parts

    def _check(self, index, digests: dict[str, str | None]):
        """Hits (from the pack), the targets checked now, and the other entries that still hold."""
        from bgtask_lint.parallel import MIN_PARALLEL_LOADING, check_modules

        hits: dict[str, tuple[list, int]] = {}
        carried: dict[str, list] = {}  # path -> [findings, hidden, deps] kept in the pack
        misses: list["ModuleInfo"] = []
        for path, row in self.rows.items():
            if path in self.target_set or not isinstance(row[FINDINGS], list):
                continue
            deps = self.old_entries.get(path)
            if self._holds(path, deps, digests, reader=True):
                carried[path] = [row[FINDINGS], row[HIDDEN], deps]
        for path in self.targets:
            if self._error(path) is not None:
                continue
            row = self.rows.get(path)
            if row is not None and isinstance(row[FINDINGS], list) and isinstance(row[HIDDEN], int):
                deps = self.old_entries.get(path)
                if self._holds(path, deps, digests, reader=True):
                    try:
                        hits[path] = (decode_findings(row[FINDINGS], path) if row[FINDINGS] else [], row[HIDDEN])
                        carried[path] = [row[FINDINGS], row[HIDDEN], deps]
                        continue
                    except (TypeError, ValueError):
                        pass
            module = self._module(index, path)
            if module is not None:
                misses.append(module)
        # a whole-project run would keep ~10,000 entries (litellm): +3 s, +6 MB of deps
        self._keep_memo(index, digests, record=len(misses) < MIN_PARALLEL_LOADING)
        project = _recording_project(self.root, self.settings, index, lambda: self.raced)
        # an incremental run has parsed only what it read so far: each check may load many more
        min_parallel = None if index.complete else MIN_PARALLEL_LOADING
        checked = check_modules(project, misses, self.jobs, min_parallel) if misses else {}
        # a worker that read a file changed since the scan says so (its own `raced` is lost)
        self.raced = self.raced or any(raced for _, _, _, raced, _ in checked.values())
        for *_, kept in checked.values():  # the memo entries to keep, also from workers
            self.new_memo.update((key, (value, deps)) for key, value, deps in kept)
        return hits, {str(p): (f, h, d) for p, (f, h, d, _, _) in checked.items()}, carried

    def _keep_memo(self, index, digests: dict[str, str | None], record: bool) -> None:
        """Let the index's memo ask for the kept entries (blocking._call_chain's): an edited
        target can use them without parsing the helpers' modules again. Each is validated
        when first asked, not all up front. `record`: keep what this run's checks compute
        (a run over a few targets: pre-commit, a save in the editor)."""
        from bgtask_lint.blocking import _UNKNOWN, HELPER_CHAIN, chain_from_json

        if not isinstance(index.cache, self.deps_module.RecordingMemo):
            return  # a memo that records nothing (a test's) cannot keep anything either
        LAST_RUN["memo_kept"] = 0

        by_key: dict[tuple, str] | None = None  # key -> its JSON form in old_memo, once asked

        def kept(key: object):
            nonlocal by_key
            if not (isinstance(key, tuple) and key and key[0] == HELPER_CHAIN):
                return None
            if by_key is None:  # each miss of the search asks: a dict lookup, not a json.dumps
                by_key = {}
                for stored_key in self.old_memo:
                    found = _memo_key(stored_key)
                    if found is not None:
                        by_key[found] = stored_key
            stored_key = by_key.get(key)
            if stored_key is None or stored_key in self.memo_asked:
                return None
            stored = self.old_memo[stored_key]
            self.memo_asked.add(stored_key)
            if not (_memo_entry(stored) and self._deps_hold(stored[1], digests)):
                return None
            value = chain_from_json(stored[0])
            try:
                deps = self.tables.decode(stored[1])
            except (TypeError, ValueError, IndexError):
                return None
            if value is _UNKNOWN:
                return None
            LAST_RUN["memo_kept"] += 1
            return value, deps

        index.cache.kept = kept if self.old_memo else None
        self.memo_recorded = record
        index.cache.keep_kinds = frozenset({HELPER_CHAIN}) if record else frozenset()

    def _carried_memo(self, digests: dict[str, str | None]) -> dict[str, list]:
        """The kept entries that still hold, as stored, but for those this run recorded
        again (asked for, when it records). Only when no file came or went: re-asking their
        lookups would cost more than recomputing them."""
        if not self.layout_same:
            return {}
        again = self.memo_asked if self.memo_recorded else set()
        return {key: stored for key, stored in self.old_memo.items()
                if key not in again and _memo_entry(stored) and self._deps_hold(stored[1], digests)}

    # -- saving ----------------------------------------------------------------------------

    def _save(self, digests: dict[str, str | None], parts: dict[str, dict[str, Any]],
              checked: dict[str, tuple], carried: dict[str, list]) -> bool:
        """Rows for every file; entries and parts with their deps: what held keeps its ids
        in the old tables, what was recorded now is appended (the tables are rebuilt once
        they grew enough: DepsTables.needs_compacting)."""
        from bgtask_lint.cache.deps import Deps, DepsTables
        from bgtask_lint.parallel import MIN_PARALLEL_LOADING

        carried_memo = self._carried_memo(digests)
        merged = self._other_parts(parts, digests)
        for path, found in parts.items():
            merged.setdefault(path, {}).update(found)
        parts = merged
        tables = self.tables
        # a run that checked many files appended many rows: its delta would be folded anyway
        if tables.needs_compacting(eager=len(checked) >= MIN_PARALLEL_LOADING):
            old, tables = tables, DepsTables()
            try:
                carried = {p: [f, h, tables.encode(old.decode(d))] for p, (f, h, d) in carried.items()}
                carried_memo = {key: [value, tables.encode(old.decode(d))] for key, (value, d) in carried_memo.items()}
                parts = {p: {name: (value, d if isinstance(d, Deps) else old.decode(d))
                             for name, (value, d) in found.items()} for p, found in parts.items()}
            except (TypeError, ValueError, IndexError):  # not what this module wrote: keep only the new
                carried, carried_memo = {}, {}
                parts = {p: {n: v for n, v in found.items() if isinstance(v[1], Deps)} for p, found in parts.items()}
        rows: dict[str, list] = {}
        entries: dict[str, list] = {}
        for path, state in self.files.items():
            row = [*(state.meta if state.meta is not None else (-1, -1, -1)), state.hash, state.name,
                   state.is_package, self.words.get(path), self._error(path), path in self.known_set, None, 0, None]
            old_row = self.rows.get(path)
            if row[WORDS] is None and path in self.same and isinstance(old_row[WORDS], bool):
                row[WORDS] = old_row[WORDS]
            if path in checked:
                findings, hidden, deps = checked[path]
                encoded = encode_findings(findings, path)
                if encoded is not None:
                    row[FINDINGS], row[HIDDEN] = encoded, hidden
                    entries[path] = tables.encode(deps)
                    row[FACTS] = entries[path][2]
            elif path in carried:
                row[FINDINGS], row[HIDDEN], entries[path] = carried[path]
                row[FACTS] = entries[path][2]
            rows[path] = row
        stored_parts = {path: {name: [value, tables.encode(d) if isinstance(d, Deps) else d]
                               for name, (value, d) in found.items()} for path, found in parts.items()}
        if tables.base_size == 0:
            tables.base_size = len(tables.lookups)
        main = {"stamp": self.found.stamp, "listings": self.found.listings, "outside": self.found.outside,
                "layout": _digest(sorted(self.known)), "targets": _digest(self.targets), "facts": digests,
                "files": rows}
        memo = {**carried_memo, **_stored_memo(self.new_memo, tables)}
        return self.store.save(main, {**tables.dump(), "entries": entries, "parts": stored_parts, "memo": memo,
                                      "outlines": self._outlines(_read_by_others(entries, tables))},
                               appended=tables is self.tables)

    def _outlines(self, read: set[str]) -> dict[str, str]:
        """The outline of each known file that `read` names (read by another file's check),
        with the hash of the content it describes (cutoff.py): carried while the content is
        the same, else made for the modules parsed in this run."""
        from bgtask_lint.cache import cutoff

        outlines: dict[str, str] = {}  # path -> "<content hash>|<outline>"
        for path, state in self.files.items():
            if state.hash is None or path not in read or path not in self.known_set:
                continue
            old = self.old_outlines.get(path)
            if isinstance(old, str) and old.startswith(state.hash + "|"):
                outlines[path] = old
                continue
            module = self._indexed(path) or self.modules.get(path)
            if module is not None:
                outlines[path] = f"{state.hash}|{cutoff.outline(module)}"
        return outlines


    def _other_parts(self, parts: dict[str, dict[str, Any]], digests: dict[str, str | None]) -> dict:
        """The stored parts this run did not need that still hold (a run over a few targets
        needs the flows parts of those targets only; the next full run needs them all)."""
        kept: dict[str, dict[str, Any]] = {}
        for path, old in self.old_parts.items():
            if not isinstance(old, dict):
                continue
            for name, stored in old.items():
                if name in parts.get(path, {}) or not (isinstance(stored, list) and len(stored) == 2):
                    continue
                if self._holds(path, stored[1], digests):
                    kept.setdefault(path, {})[name] = (stored[0], stored[1])
        return kept


def _read_by_others(entries: dict[str, list], tables) -> set[str]:
    """The files the entries read (a file read by its own check only, too: cheaper than
    telling it apart): those an edit may cut off from (cutoff.py)."""
    ids: set[int] = set()
    for reads, *_ in entries.values():
        ids.update(reads)
    paths = tables.paths
    return {paths[i] for i in ids if i < len(paths)}


class _Unstorable(Exception):
    pass


def _stored_memo(memo: dict[tuple, tuple], tables) -> dict[str, list]:
    """The memo entries to keep, as the deps file has them: JSON key -> [value, deps]."""
    import json

    from bgtask_lint.blocking import chain_to_json

    return {json.dumps(key): [chain_to_json(value), tables.encode(deps)] for key, (value, deps) in memo.items()}


def _memo_key(stored: str) -> tuple | None:
    """A key as `_stored_memo` wrote it (blocking._call_chain's), back; None for anything else."""
    import json

    from bgtask_lint.blocking import HELPER_CHAIN

    try:
        kind, path, module, attr, base, attributes, extra, budget = json.loads(stored)
    except (ValueError, TypeError):
        return None
    if (kind != HELPER_CHAIN or not isinstance(path, str) or not isinstance(module, str)
            or not all(isinstance(part, (str, type(None))) for part in (attr, base))
            or not all(isinstance(names, list) and all(isinstance(n, str) for n in names)
                       for names in (attributes, extra))
            or not isinstance(budget, int) or isinstance(budget, bool)):
        return None
    return (kind, path, module, attr, base, tuple(attributes), tuple(extra), budget)


def _memo_entry(stored: Any) -> bool:
    """A memo entry as `_stored_memo` writes it: [value, deps] (each checked where used)."""
    return isinstance(stored, list) and len(stored) == 2


def _recording_project(root: Path, settings: "Settings", index, raced: "Callable[[], bool]"):
    """A Project whose every check is one recorder frame; `check_counted` returns the
    frame's Deps as a third item, fourth, whether a file read so far in this process
    changed since the scan (`raced`), and fifth, the memo entries to keep that the check
    stored or used (check_modules passes them through, also from workers)."""
    from bgtask_lint.cache.deps import RecordingMemo
    from bgtask_lint.project import Project

    class RecordingProject(Project):
        def check_counted(self, module, only=None, **options):
            memo = self.index.cache
            start = len(memo.touched) if isinstance(memo, RecordingMemo) else 0
            (findings, hidden), deps = self.index.recorder.frame(
                lambda: Project.check_counted(self, module, only, **options))
            kept = memo.touched_since(start) if isinstance(memo, RecordingMemo) else []
            return findings, hidden, deps, raced(), kept

    return RecordingProject(root, settings, index)
