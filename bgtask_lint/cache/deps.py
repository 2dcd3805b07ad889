"""What one file's results depend on, recorded while they are computed, and whether that
still holds.

While a module is checked (or one module's part of a project-wide fact is computed) a
*frame* of the `Recorder` is open, and `ProjectIndex` tells it every answer it gives:

* `find_module(ref_module, near, base)` and its answer (a path or None): a miss counts as
  much as a hit, since a file that appears can turn it into one;
* `module(path)`: the module whose content was read (or that failed to parse);
* the project-wide facts asked for (`tasks`, `flows`, ...; see facts.py).

Analyses memoized in `index.cache` would hide the lookups behind an answer computed while
another module was checked, so the cache is a `RecordingMemo`: an entry remembers (by
reference) what was recorded from the first time its key was missed to the time it was
stored, and a hit adds that to the frame. (A memo key names its subject, e.g. a function's key; whoever
asks for it obtained that subject through its own recorded lookups.)

An entry is valid when its own file and every module it read are unchanged (same content
hash and import name, still known to the index), every fact it asked for has the same
digest, and, when the set of project files changed, every lookup gives the same answer
when asked again of the real `ProjectIndex.find_module` over the current files (registered
without parsing: `Reasker`). So the cache cannot drift from the resolver.
"""

from __future__ import annotations

from pathlib import Path

from bgtask_lint.plain import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

Lookup = tuple[str, str, "str | None", "str | None"]  # ref_module, near path, base, answer path

# project-wide facts (facts.py) computed over the modules added to the index, which include
# the targets: an entry that asked for one holds only for the same targets
BY_TARGETS = frozenset({"flows"})


class Deps(Value, frozen=True):
    __slots__ = ("reads", "lookups", "facts")

    def __init__(self, reads: frozenset[str], lookups: frozenset[Lookup], facts: frozenset[str]) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "reads", reads)  # paths passed to `module()`
        set_field(self, "lookups", lookups)
        set_field(self, "facts", facts)  # names of the project-wide facts asked for

    @staticmethod
    def of(items: Iterable[tuple]) -> "Deps":
        reads, lookups, facts = set(), set(), set()
        for item in items:
            if item[0] == "r":
                reads.add(item[1])
            elif item[0] == "l":
                lookups.add(item[1:])
            else:
                facts.add(item[1])
        return Deps(frozenset(reads), frozenset(lookups), frozenset(facts))


EMPTY = Deps(frozenset(), frozenset(), frozenset())


class Recorder:
    """The frames: what the index answered while one result was computed.

    A frame is a list of *chunks*: sets of items (("r", path), ("l", ref, near, base,
    answer), ("f", name)), and references `(chunks, start, end)` to what an earlier
    computation recorded (a memo entry's deps). Marking a position starts a new chunk, so
    what a memo entry recorded from its first miss to its store is a reference made in
    constant time, and a hit adds that reference; the sets are joined once, at the end
    of the frame (recording is on every lookup: it has to be cheap)."""

    def __init__(self) -> None:
        self.chunks: list | None = None
        self.marks: dict[object, int] = {}  # memo key -> the chunk where it was first missed

    def begin(self) -> None:
        self.chunks, self.marks = [set()], {}

    def end(self) -> Deps:
        chunks, self.chunks, self.marks = self.chunks or [], None, {}
        return Deps.of(_joined(chunks, 0, len(chunks)))

    def frame(self, compute: Callable[[], Any]) -> tuple[Any, Deps]:
        self.begin()
        try:
            value = compute()
        finally:
            deps = self.end()
        return value, deps

    def mark(self) -> int:
        """Where what is recorded next begins."""
        chunks = self.chunks
        if chunks[-1]:
            chunks.append(set())
        return len(chunks) - 1

    def since(self, start: int) -> tuple:
        """A reference to what was recorded from `start` on (later records go elsewhere)."""
        chunks = self.chunks
        reference = (chunks, start, len(chunks))
        chunks.append(set())
        return reference

    def absorb(self, reference: tuple) -> None:
        self.chunks.append(reference)
        self.chunks.append(set())

    # told by ProjectIndex
    def read(self, path: Path, found: object) -> None:
        if self.chunks is not None:
            self.chunks[-1].add(("r", str(path)))

    def found(self, ref_module: str, near: Any, base: Path | None, found: Any) -> None:
        if self.chunks is not None:
            self.chunks[-1].add(("l", ref_module, str(near.path), None if base is None else str(base),
                                 None if found is None else str(found.path)))

    # told by the run's index (facts.py)
    def fact(self, name: str) -> None:
        if self.chunks is not None:
            self.chunks[-1].add(("f", name))


def _joined(chunks: list, start: int, end: int) -> set:
    """Every item in chunks[start:end], following references (each chunk joined once)."""
    items: set = set()
    seen: set[int] = set()
    pending = [(chunks, start, end)]
    while pending:
        found, a, b = pending.pop()
        for i in range(a, b):
            chunk = found[i]
            if id(chunk) in seen:
                continue
            seen.add(id(chunk))
            if isinstance(chunk, set):
                items |= chunk
            else:
                pending.append(chunk)
    return items


class RecordingMemo(dict):
    """`index.cache` that keeps, per key, what computing its value looked up (see above)."""

    def __init__(self, recorder: Recorder):
        super().__init__()
        self.recorder = recorder
        self.deps: dict[object, tuple] = {}  # key -> a reference into the frame that computed it
        # asked on a miss: an entry kept from an earlier run whose deps still hold, as
        # (value, Deps), or None (cache/check.py sets it)
        self.kept: Callable[[object], tuple[Any, Deps] | None] | None = None
        self.keep_kinds: frozenset[str] = frozenset()  # keys `(kind, ...)` a run may keep
        self.touched: list[object] = []  # such keys stored or kept in a frame, in order

    def _present(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        if self.kept is not None:
            found = self.kept(key)
            if found is not None:
                self.preset(key, *found)
                return True
        return False

    def _hit(self, key: object) -> None:
        if self.recorder.chunks is not None:
            found = self.deps.get(key)
            if found is not None:
                self.recorder.absorb(found)

    def _miss(self, key: object) -> None:
        recorder = self.recorder
        if recorder.chunks is not None and key not in recorder.marks:
            recorder.marks[key] = recorder.mark()

    def __contains__(self, key: object) -> bool:
        present = self._present(key)
        self._hit(key) if present else self._miss(key)
        return present

    def __getitem__(self, key: object) -> Any:
        if not self._present(key):
            self._miss(key)
            raise KeyError(key)
        self._hit(key)
        return dict.__getitem__(self, key)

    def get(self, key: object, default: Any = None) -> Any:
        if self._present(key):
            self._hit(key)
            return dict.__getitem__(self, key)
        self._miss(key)
        return default

    def peek(self, key: object, default: Any = None) -> Any:
        """`get` for a probe that computes nothing on a miss: a miss marks nothing. (A key
        first missed by a probe, and computed much later in the frame, would record
        everything read in between: blocking._known probes the larger budgets of a chain.)"""
        if self._present(key):
            self._hit(key)
            return dict.__getitem__(self, key)
        return default

    def unmark(self, key: object) -> None:
        """The computation that missed `key` stores nothing (a search cut short): a later
        one in this frame records from its own miss."""
        if self.recorder.chunks is not None:
            self.recorder.marks.pop(key, None)

    def setdefault(self, key: object, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def __setitem__(self, key: object, value: Any) -> None:
        recorder = self.recorder
        if recorder.chunks is not None:  # (what is stored outside a frame is cleared before any check)
            self.deps[key] = recorder.since(recorder.marks.get(key, 0))
            self._touch(key)
        dict.__setitem__(self, key, value)

    def _touch(self, key: object) -> None:
        if isinstance(key, tuple) and key and key[0] in self.keep_kinds:
            self.touched.append(key)

    def clear(self) -> None:
        dict.clear(self)
        self.deps.clear()

    def preset(self, key: object, value: Any, deps: Deps) -> None:
        """An entry kept from an earlier run whose deps still hold: a hit adds them."""
        items = {("r", path) for path in deps.reads} | {("l", *lookup) for lookup in deps.lookups}
        dict.__setitem__(self, key, value)
        self.deps[key] = ([items | {("f", name) for name in deps.facts}], 0, 1)
        self._touch(key)

    def touched_since(self, start: int) -> list[tuple[object, Any, Deps]]:
        """The keepable entries stored or kept since `len(self.touched)` was `start`, each
        with its value and what computing it looked up."""
        found = []
        for key in dict.fromkeys(self.touched[start:]):
            deps = self.recorded(key)
            if deps is not None and dict.__contains__(self, key):
                found.append((key, dict.__getitem__(self, key), deps))
        return found

    def recorded(self, key: object) -> Deps | None:
        """What computing `key`'s value looked up (None: stored outside any frame)."""
        reference = self.deps.get(key)
        return None if reference is None else Deps.of(_joined(*reference))


class Reasker:
    """Asks recorded lookups again of the real `ProjectIndex.find_module`, over the files of
    this run, without parsing anything: the loader returns an empty stand-in module, or
    fails for a file known to fail to parse."""

    def __init__(self, root: Path, known: Iterable[str], failing: set[str], names: dict[str, tuple[str, bool]]):
        from bgtask_lint.index import ProjectIndex

        self.names = names
        self.failing = failing
        self.index = ProjectIndex(root, [])
        self.index.register(known, self._stand_in)
        self.index.recorder = self  # told of every module() it consults (read), and of lookups (found)
        self.nears: dict[str, Any] = {}
        self.consulted_failing = False

    def read(self, path: Path, found: object) -> None:
        if str(path) in self.failing:
            self.consulted_failing = True

    def found(self, ref_module: str, near: Any, base: Path | None, found: Any) -> None:
        pass

    def _stand_in(self, path: Path) -> Any:
        if str(path) in self.failing:
            raise ValueError("does not parse")
        return self._module(str(path))

    def _module(self, path: str) -> Any:
        import ast  # a warm check that re-asks nothing does not import it

        from bgtask_lint.index import ModuleInfo

        name, is_package = self.names.get(path, ("", False))
        return ModuleInfo(path=Path(path), name=name, tree=ast.Module(body=[], type_ignores=[]), source="",
                          is_package=is_package)

    def same_answer(self, lookup: Lookup) -> bool:
        """Whether the lookup gives the same answer now. Not when answering it consulted a
        file that does not parse: the recorded answer may come from a run where that file
        was a target left out of the index, and then what was recorded does not include
        reading it, so fixing it later would not be noticed."""
        ref_module, near, base, answer = lookup
        stand_in = self.nears.get(near)
        if stand_in is None:
            stand_in = self.nears[near] = self._module(near)
        self.consulted_failing = False
        try:
            found = self.index.find_module(ref_module, stand_in, None if base is None else Path(base))
        except Exception:  # a resolver that wants more than a stand-in: not the same answer
            return False
        return not self.consulted_failing and (None if found is None else str(found.path)) == answer


# --- on disk: tables of paths and lookups, entries as indexes into them ------------------------


class DepsTables:
    """The deps file's shared tables: paths, and lookups as [ref_module, near, base, answer]
    (path ids, -1 for none). An entry's deps are stored as [read path ids, lookup ids, fact
    names] and validated in that form. A run appends what it recorded (an entry that still
    holds keeps its ids), and `compacted` rebuilds the tables once they doubled."""

    def __init__(self, paths: list[str] | None = None, lookups: list[list] | None = None, base_size: int = 0):
        self.paths = paths if paths is not None else []
        self.lookups = lookups if lookups is not None else []
        self.base_size = base_size  # len(lookups) after the last compaction
        self._path_ids: dict[str, int] | None = None
        self._lookup_ids: dict[Lookup, int] = {}  # those added in this run

    @classmethod
    def load(cls, data: dict[str, Any]) -> "DepsTables | None":
        paths, lookups, base_size = data.get("paths"), data.get("lookups"), data.get("base_size", 0)
        if not isinstance(paths, list) or not isinstance(lookups, list) or not isinstance(base_size, int):
            return None
        if not all(isinstance(p, str) for p in paths):
            return None
        return cls(paths, lookups, base_size)

    def path_id(self, path: str) -> int:
        if self._path_ids is None:
            self._path_ids = {p: i for i, p in enumerate(self.paths)}
        found = self._path_ids.get(path)
        if found is None:
            found = self._path_ids[path] = len(self.paths)
            self.paths.append(path)
        return found

    def encode(self, deps: Deps) -> list:
        lookups = []
        for lookup in deps.lookups:
            found = self._lookup_ids.get(lookup)
            if found is None:
                ref_module, near, base, answer = lookup
                found = self._lookup_ids[lookup] = len(self.lookups)
                self.lookups.append([ref_module, self.path_id(near), -1 if base is None else self.path_id(base),
                                     -1 if answer is None else self.path_id(answer)])
            lookups.append(found)
        return [sorted(self.path_id(p) for p in deps.reads), sorted(lookups), sorted(deps.facts)]

    def lookup(self, i: int) -> Lookup:
        """Raises IndexError, TypeError or ValueError on anything this class did not write."""
        ref_module, near, base, answer = self.lookups[i]
        if not isinstance(ref_module, str) or min(near, base, answer) < -1 or near < 0:
            raise ValueError(i)
        paths = self.paths
        return (ref_module, paths[near], None if base < 0 else paths[base], None if answer < 0 else paths[answer])

    def decode(self, encoded: list) -> Deps:
        reads, lookups, facts = encoded
        return Deps(frozenset(self.paths[i] for i in reads), frozenset(self.lookup(i) for i in lookups),
                    frozenset(facts))

    def needs_compacting(self, eager: bool = False) -> bool:
        """Once the lookups grew to twice their size after the last rebuild (plus 1,000);
        `eager` (a run that checked many files, whose delta would be folded into a whole
        deps file anyway) at 1.5 times, so that the small runs after it can write a delta
        instead of paying for the rebuild. In integers: `base_size` is read from disk."""
        return 2 * len(self.lookups) > (3 if eager else 4) * self.base_size + 2000

    def dump(self) -> dict[str, Any]:
        return {"paths": self.paths, "lookups": self.lookups, "base_size": self.base_size}


def well_formed(encoded: Any) -> bool:
    """An entry's deps as DepsTables.encode writes them (ids are checked where used)."""
    return (isinstance(encoded, list) and len(encoded) == 3
            and all(isinstance(part, list) for part in encoded))
