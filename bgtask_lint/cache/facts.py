"""Project-wide facts: what a module's findings depend on beyond what its lookups reach.

The rules ask "is this function a background task anywhere in the project?" (the task
table: `is_task`, `task_keys`, `task_paths`) and "does a caller anywhere pass a request
session to this helper's parameter?" (`session_flows`, V2.4). Neither answer is reachable
from the module's own imports, so an entry records which facts it asked for (the run's
index tells the recorder) and is keyed on their digests.

So that a warm run with a few changed files does not parse every module such a fact is
computed from, each fact is assembled from per-module *parts*, each part computed by the
index's own code on one module and cached under the lookups made while computing it:

* `tasks`: for a module that may schedule tasks, the keys its background sites resolve
  to (`ProjectIndex.resolve_task`); the table is their union.
  The same parts give `origins`: where each task is first scheduled (path, line), which
  cross-module findings name; only the entries that name one depend on it.
* `sites`: which modules may schedule tasks. A scan of every scheduling site (iterating
  `by_path`, as guards.task_sites does) first loads each of them through `module()`,
  so the scan's frame records reading them all, and asks for this fact.
* `helpers`, `flows` (the two per-module halves of `flows.compute_session_flows`): for a
  module that may schedule tasks, `helper_parameters(module)`; for every module added to
  the index (the targets and the modules that may schedule tasks, as `Project.load` adds
  them), `session_calls(index, module, helper names)`, which depends on the helpers'
  digest. The flows are their join.

A complete run (every added module parsed) also asks the index for each fact the usual
way and compares; a difference means an assumption above no longer holds, and nothing is
stored (`LAST_RUN["facts_mismatch"]`).

A new project-wide fact plugs in here: a part function, an assembly, a preset in
`RunIndex` and a name for the recorder. A project-wide scan this module does not know
(`modules_added` called on an incomplete index) raises `IncompleteIndex`, and the run
falls back to checking without the cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from bgtask_lint import flows
from bgtask_lint.cache.deps import Recorder, RecordingMemo
from bgtask_lint.cache.store import sha
from bgtask_lint.index import ModuleInfo, ProjectIndex, scheduled_tasks



class IncompleteIndex(Exception):
    """A project-wide question asked of an index that holds only part of the project."""


class RunIndex(ProjectIndex):
    """The index of a cached run: project-wide facts come from the assembled parts (or,
    in a complete run before they are assembled, from the index itself), and every use
    of one is told to the recorder."""

    def __init__(self, root: Path, recorder: Recorder, complete: bool):
        super().__init__(root, [])
        self.recorder = recorder
        self.cache = RecordingMemo(recorder)
        self.by_path = _ScannedModules(self)
        self.complete = complete
        self.preset: dict[str, Any] = {}
        self.scheduling: list[str] = []  # the modules that may schedule tasks (and parse)
        self._paths_of: object = None
        self._paths: set[Path] = set()

    # every way the rules ask about the task table (task_paths memoizes its answer)
    def is_task(self, module: ModuleInfo, node: Any) -> bool:
        self.recorder.fact("tasks")
        return super().is_task(module, node)

    def task_keys(self) -> set[tuple[Path, str]]:
        self.recorder.fact("tasks")
        return super().task_keys()

    def task_paths(self) -> set[Path]:
        self.recorder.fact("tasks")
        table = self._task_table()
        if self._paths_of is not table:  # memoized per table (the preset may be replaced)
            self._paths_of, self._paths = table, {path for path, _ in table}
        return self._paths

    def _fact(self, name: str, own: Callable[[], Any]) -> Any:
        """A project-wide fact, told to the recorder: the assembled one, or in a complete run
        before assembly the index's own."""
        self.recorder.fact(name)
        if name in self.preset:
            return self.preset[name]
        if not self.complete:
            raise IncompleteIndex(name)
        return own()

    def _task_table(self) -> set[tuple[Path, str]]:
        return self._fact("tasks", super()._task_table)

    def _task_origins(self) -> dict[tuple[Path, str], tuple[Path, int]]:
        return self._fact("origins", super()._task_origins)

    def session_flows(self) -> dict:
        return self._fact("flows", super().session_flows)

    def modules_added(self) -> list[ModuleInfo]:
        if not self.complete:
            raise IncompleteIndex("modules_added")
        return super().modules_added()

    def scanned(self) -> None:
        """A project-wide scan of `by_path` (guards.task_sites reads every scheduling site):
        it must see every module that may schedule tasks, as Project.load parses them all up
        front, and what it finds depends on each of them (read here, so recorded) and on
        which they are (the `sites` fact)."""
        self.recorder.fact("sites")
        for path in self.scheduling:
            self.module(Path(path))

    def own_facts(self) -> dict[str, Any]:
        """Each fact as the index computes it (complete runs, outside any frame)."""
        schedulers: dict[tuple[Path, str], list[str]] = {}
        for module in list(self.by_path.values()):
            for key, _ in scheduled_tasks(self, module):
                schedulers.setdefault(key, []).append(str(module.path))
        return {"tasks": ProjectIndex._task_table(self), "origins": ProjectIndex._task_origins(self),
                "flows": ProjectIndex.session_flows(self), "schedulers": schedulers}

    def task_schedulers(self, key: tuple[Path, str]) -> list[ModuleInfo] | None:
        """The modules that schedule the task `key`, from the assembled tasks parts: a
        question about one task's sites need not read every scheduling module (a
        pre-commit run on litellm parsed 177 of them to ask about one task)."""
        found = self.preset.get("schedulers")
        if found is None:
            return None
        self.recorder.fact("schedulers")
        modules = (self.module(Path(path)) for path in found.get(key, ()))
        return [module for module in modules if module is not None]


class _ScannedModules(dict):
    """`RunIndex.by_path`: lookups by path as usual; iterating it is a project-wide scan."""

    def __init__(self, index: RunIndex):
        super().__init__()
        self._index = index

    def values(self):  # type: ignore[override]
        self._index.scanned()
        return dict.values(self)

    def items(self):  # type: ignore[override]
        self._index.scanned()
        return dict.items(self)

    def keys(self):  # type: ignore[override]
        self._index.scanned()
        return dict.keys(self)

    def __iter__(self):
        self._index.scanned()
        return dict.__iter__(self)


class _OnlyModules:
    """The run's index as if only `modules` had been added: one module's part of a scan."""

    def __init__(self, index: ProjectIndex, modules: list[ModuleInfo]):
        self._index = index
        self._modules = modules

    def modules_added(self) -> list[ModuleInfo]:
        return list(self._modules)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)


# --- parts (JSON values) ---------------------------------------------------------------------


def tasks_part(index: ProjectIndex, module: ModuleInfo) -> list:
    """The tasks the module schedules, each with its first site's line (`scheduled_tasks`)."""
    return [[str(path), qualname, line] for (path, qualname), line in scheduled_tasks(index, module)]


def helpers_part(index: ProjectIndex, module: ModuleInfo) -> list:
    """The module's helper parameters (`flows.helper_parameters`)."""
    found = flows.helper_parameters(module)
    return sorted([str(module.path), qualname, sorted(params)] for qualname, params in found.items())


def calls_part(index: ProjectIndex, module: ModuleInfo, by_module: flows.HelperNames) -> list:
    """The calls of the module that pass a request session to a function named like a
    helper (`flows.session_calls`, narrowed as compute_session_flows narrows it: to the
    names `flows.callee_names` gives, from `helper_names` of the assembled helpers; with
    every helper's name, each of litellm's 3,135 modules was searched for 69: 0.7 s)."""
    names = flows.callee_names(module, by_module)
    if not names:
        return []
    part = [[str(path), qualname, param, _encode_flow(flow)]
            for (path, qualname, param), flow in flows.session_calls(index, module, names)]
    part.sort(key=json.dumps)
    return part


def _encode_flow(flow: Any) -> list:
    return [{"path": str(v)} if isinstance(v, Path) else v for v in (getattr(flow, name) for name in flow._fields)]


def _decode_flow(values: list) -> Any:
    return flows.SessionFlow(*[Path(v["path"]) if isinstance(v, dict) else v for v in values])


# --- assembly ----------------------------------------------------------------------------------


def assemble_tasks(parts: list[list]) -> set[tuple[Path, str]]:
    return {(Path(p), q) for part in parts for p, q, _ in part}


def assemble_schedulers(parts: list[tuple[str, list]]) -> dict[tuple[Path, str], list[str]]:
    """(scheduling module, its tasks part) pairs -> the modules that schedule each task."""
    found: dict[tuple[Path, str], list[str]] = {}
    for scheduler, part in parts:
        for p, q, _ in part:
            found.setdefault((Path(p), q), []).append(scheduler)
    return found


def schedulers_digest(schedulers: dict[tuple[Path, str], list[str]]) -> str:
    return sha(json.dumps(sorted([str(p), q, sorted(s)] for (p, q), s in schedulers.items())))


def assemble_origins(parts: list[tuple[str, list]]) -> dict[tuple[Path, str], tuple[Path, int]]:
    """(scheduling module, its tasks part) pairs -> each task's first site, as `_task_origins`."""
    origins: dict[tuple[Path, str], tuple[Path, int]] = {}
    for scheduler, part in parts:
        for p, q, line in part:
            key, origin = (Path(p), q), (Path(scheduler), line)
            if key not in origins or origin < origins[key]:
                origins[key] = origin
    return origins


def assemble_helpers(parts: list[list]) -> dict:
    helpers: dict = {}
    for part in parts:
        for path, qualname, params in part:
            helpers.setdefault((Path(path), qualname), set()).update(params)
    return helpers


def assemble_flows(parts: list[list], helpers: dict) -> dict:
    """The join compute_session_flows makes: a call counts where it fills a helper's parameter."""
    flows: dict = {}
    for part in parts:
        for path, qualname, param, values in part:
            if param in helpers.get((Path(path), qualname), ()):
                flows.setdefault((Path(path), qualname, param), []).append(_decode_flow(values))
    for found in flows.values():
        found.sort()
    return flows


def encodable(part: Any) -> bool:
    """A part comes back identical from JSON (flows hold dataclasses: checked on decode)."""
    try:
        return json.loads(json.dumps(part)) == part
    except (TypeError, ValueError):
        return False


# --- digests --------------------------------------------------------------------------------


def tasks_digest(tasks: set[tuple[Path, str]]) -> str:
    return sha(json.dumps(sorted([str(p), q] for p, q in tasks)))


def origins_digest(origins: dict[tuple[Path, str], tuple[Path, int]]) -> str:
    return sha(json.dumps(sorted([str(p), q, str(at), line] for (p, q), (at, line) in origins.items())))


def helpers_digest(helpers: dict) -> str:
    return sha(json.dumps(sorted([str(p), q, sorted(params)] for (p, q), params in helpers.items())))


def sites_digest(scheduling: list[str]) -> str:
    return sha(json.dumps(sorted(scheduling)))


def flows_digest(index: ProjectIndex) -> str:
    """Of the index's own summary (`flow_summary`) of the flows preset in it."""
    return sha(json.dumps(index.flow_summary(), default=str))


def same_flows(a: dict, b: dict) -> bool:
    return {k: sorted(v) for k, v in a.items() if v} == {k: sorted(v) for k, v in b.items() if v}
