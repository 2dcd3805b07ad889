"""The language server's state, free of pygls: the open documents, one `Project` per
project root with every open buffer in it in place of the file on disk (so an unsaved
edit of `main.py` changes what is a task in `tasks.py`), and the checks and fixes of
those buffers. Every project is built and updated through `Project` (load, replace,
forget, check, fix_text), as the CLI and the flake8 plugin do."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from bgtask_lint.config import ConfigError, Settings, load_settings
from bgtask_lint.files import SourceError, find_project_root, read_source, root_markers
from bgtask_lint.findings import Finding
from bgtask_lint.fix import is_fixable
from bgtask_lint.index import ModuleInfo
from bgtask_lint.lsp.dependents import ImportGraph
from bgtask_lint.project import Project

logger = logging.getLogger(__name__)

CONFIG_FILES = ("pyproject.toml",)


@dataclass
class Document:
    uri: str
    path: Path
    text: str
    version: int | None = None


@dataclass
class RootState:
    root: Path
    settings: Settings
    project: Project
    config_error: str | None = None
    graph: ImportGraph = field(default_factory=ImportGraph)  # which open documents to re-check first


@dataclass
class Check:
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None  # the buffer does not parse: why


def target_of(finding: Finding) -> list[int]:
    return [finding.line, finding.col, finding.end_line, finding.end_col]


class Service:
    """The open documents and one project index per root, kept up to date with the buffers."""

    def __init__(self, folders: Iterable[Path] = (), log: Callable[[str], None] | None = None,
                 warn: Callable[[str], None] | None = None):
        self.folders = [Path(f).resolve() for f in folders]
        self.documents: dict[Path, Document] = {}
        self.roots: dict[Path, RootState] = {}
        self.parse_errors: dict[Path, str] = {}  # open buffers that do not parse
        self.log = log or (lambda message: logger.warning("%s", message))
        self.warn = warn or self.log  # what the user should see (a broken pyproject.toml)
        self._root_of: dict[Path, Path] = {}
        # bumped on every change of an index: a cached check of an unchanged buffer
        # stays valid while it is the same
        self.generation = 0
        self._checks: dict[Path, tuple[int, str, Check]] = {}

    # roots and settings

    def root_for(self, path: Path) -> Path:
        """The project root the CLI would use, but never above the workspace folder."""
        root = self._root_of.get(path)
        if root is None:
            root = self._root_of[path] = self._find_root(path)
        return root

    def _find_root(self, path: Path) -> Path:
        found = find_project_root(path)
        marked = bool(root_markers(found))
        for folder in sorted(self.folders, key=lambda f: len(f.parts), reverse=True):
            if folder == path or folder in path.parents:
                # no marker up to the workspace folder, or only above it: the folder
                if not marked or (found != folder and found in folder.parents):
                    return folder
                return found
        return found

    def state(self, root: Path) -> RootState:
        state = self.roots.get(root)
        if state is None:
            config_error = None
            try:
                settings = load_settings(None, root)
            except ConfigError as exc:
                config_error = str(exc)
                self.warn(f"bgtask-lint: {exc}; using the default settings")
                settings = Settings()
            project = Project.load([], settings, root=root)
            state = RootState(root, settings, project, config_error)
            self.roots[root] = state
            for document in self.documents.values():
                if self.root_for(document.path) == root:
                    self._overlay(state, document)
        return state

    def excluded(self, path: Path, state: RootState) -> bool:
        return state.project.excluded(path)

    # documents

    def open(self, uri: str, path: Path, text: str, version: int | None) -> list[Path] | None:
        """Put a buffer in its project's index in place of the file on disk. Returns the
        other open documents of the project whose tasks this changed (a scheduling site
        was edited), to re-check at once with the `related` ones; None when the index did
        not change (the buffer does not parse, or is excluded): nothing else to re-check."""
        document = Document(uri, path, text, version)
        self.documents[path] = document
        root = self.root_for(path)
        state = self.roots.get(root)
        if state is None:
            self.state(root)  # loads the project, with this buffer (and the other open ones) in it
            return [p for p in self.open_paths(root) if p != path]
        tasks_before = state.project.index.task_keys()
        if not self._overlay(state, document):
            return None
        retasked = {p for p, _ in tasks_before ^ state.project.index.task_keys()}
        return [p for p in self.open_paths(root) if p != path and p in retasked]

    change = open

    def close(self, path: Path) -> None:
        self.documents.pop(path, None)
        self.parse_errors.pop(path, None)
        self._checks.pop(path, None)
        state = self.roots.get(self.root_for(path))
        if state is not None and not self.excluded(path, state):
            self._from_disk(state, path)

    def related(self, path: Path) -> list[Path]:
        """The other open documents of the project related to `path` by imports, most likely
        to change with it (see `dependents`)."""
        root = self.root_for(path)
        state = self.roots.get(root)
        if state is None:
            return []
        others = [p for p in self.open_paths(root) if p != path]
        return state.graph.related(state.project.index.by_path, path, others)

    def set_folders(self, folders: Iterable[Path]) -> None:
        self.folders = [Path(f).resolve() for f in folders]
        self._root_of.clear()

    def disk_changed(self, path: Path) -> list[Path] | None:
        """A file changed on disk (not through an open buffer): the roots whose open
        documents may see something else now (None: all of them)."""
        if path.name in CONFIG_FILES:
            # settings, and which root a file belongs to, may have changed: reindex lazily
            self.roots.clear()
            self._root_of.clear()
            self.parse_errors.clear()
            self.generation += 1
            return None
        if path in self.documents or path.suffix != ".py":
            return []
        touched = []
        for root, state in self.roots.items():
            if root in path.parents and not self.excluded(path, state):
                self._from_disk(state, path)
                touched.append(root)
        return touched

    def open_paths(self, root: Path | None = None) -> list[Path]:
        return [p for p in self.documents if root is None or self.root_for(p) == root]

    def _overlay(self, state: RootState, document: Document) -> bool:
        """Whether the index changed."""
        if self.excluded(document.path, state):
            return False
        try:
            state.project.replace(document.path, document.text)
        except SourceError as exc:
            # the index keeps the last version that parsed, for the other modules
            self.parse_errors[document.path] = str(exc)
            return False
        self.parse_errors.pop(document.path, None)
        self.generation += 1
        return True

    def _from_disk(self, state: RootState, path: Path) -> None:
        """The index follows the file on disk again (after a close, or a change outside)."""
        self.generation += 1
        try:
            state.project.replace(path, read_source(path).text)
        except SourceError:
            state.project.forget(path)

    # checking and fixing

    def check(self, path: Path) -> Check:
        document = self.documents.get(path)
        if document is None:
            return Check()
        state = self.state(self.root_for(path))
        if self.excluded(path, state):
            return Check()
        if path in self.parse_errors:
            return Check(error=self.parse_errors[path])
        module = self._module(state, document)
        if module is None:
            return Check(error=self.parse_errors.get(path, "cannot parse"))
        cached = self._checks.get(path)
        if cached is not None and cached[0] == self.generation and cached[1] == document.text:
            return cached[2]
        try:
            result = Check(findings=state.project.check(module))
        except Exception:  # a rule bug must not take the server down
            self.log(f"bgtask-lint: internal error checking {path}:\n{traceback.format_exc()}")
            return Check()
        self._checks[path] = (self.generation, document.text, result)
        return result

    def _module(self, state: RootState, document: Document) -> ModuleInfo | None:
        module = state.project.index.by_path.get(document.path)
        if module is None or module.source != document.text:
            self._overlay(state, document)
            module = state.project.index.by_path.get(document.path)
        return module if module is not None and module.source == document.text else None

    def fix_one(self, path: Path, finding: Finding) -> str | None:
        """The buffer's text with this one finding fixed (None: nothing to do, or it failed)."""
        if not is_fixable(finding, False):
            return None
        return self._fixed(path, finding)

    def fix_all(self, path: Path) -> str | None:
        """The buffer's text with every safe fix of the file applied."""
        return self._fixed(path, None)

    def _fixed(self, path: Path, only: Finding | None) -> str | None:
        document = self.documents.get(path)
        if document is None:
            return None
        state = self.state(self.root_for(path))
        if self._module(state, document) is None:
            return None
        try:
            result = state.project.fix_text(path, document.text, unsafe=False, only=only)
        except Exception as exc:
            self.log(f"bgtask-lint: cannot fix {path}: {type(exc).__name__}: {exc}")
            result = None
        finally:
            state.project.replace(path, document.text)  # the buffer is unchanged until the client applies the edit
            self.generation += 1
        if result is None or result.error is not None:
            if result is not None:
                self.log(f"bgtask-lint: {path}: {result.error}")
            return None
        return result.new_text if result.changed else None
