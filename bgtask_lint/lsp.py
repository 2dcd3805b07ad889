"""`bgtask-lint lsp`: a language server over stdio (pygls), with the engine of the CLI.

The server keeps one project index per project root (`Project.load` once, like the
flake8 plugin), and puts every open editor buffer in it in place of the file on disk,
so an unsaved edit of `main.py` changes what is a task in `tasks.py`. Whenever a
buffer changes, its diagnostics are published, and those of the other open documents
of the same project are republished when they changed.

Code actions: one quickfix per safely fixable finding ("Fix BGT401: ..."), which applies
that one fix, and "Fix all bgtask-lint findings in file" (kind `quickfix` where a
fixable finding is, and `source.fixAll.bgtask-lint` when the client asks for source
actions, e.g. on save). When the client can resolve code actions lazily, the edit is
only computed once an action is chosen.

Everything but `create_server` is free of pygls, so that `bgtask-lint lsp` can say
that pygls is missing instead of failing with a traceback.
"""

from __future__ import annotations

import logging
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from bgtask_lint.config import ConfigError, Settings, load_settings
from bgtask_lint.files import ROOT_MARKERS, SourceError, find_project_root, read_source
from bgtask_lint.findings import Finding
from bgtask_lint.fix import is_fixable
from bgtask_lint.index import ModuleInfo
from bgtask_lint.project import Project

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'bgtask-lint[lsp]'"
SOURCE = "bgtask-lint"
QUICKFIX = "quickfix"
FIX_ALL_KIND = "source.fixAll.bgtask-lint"
FIX_ALL_TITLE = "Fix all bgtask-lint findings in file"
CONFIG_FILES = ("pyproject.toml",)


class PyglsMissing(Exception):
    """pygls cannot be imported (or is a version this server does not speak)."""


# --- positions -----------------------------------------------------------------------

# the line breaks of both ast and LSP (str.splitlines also splits on \f, \v, \x1c...)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_WITH_BREAK = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str) -> list[str]:
    """The lines of `text` without their breaks, numbered as ast and LSP number them."""
    return _LINE_BREAK.split(text)


def code_units(text: str, encoding: str = "utf-16") -> int:
    """The length of `text` in the code units of an LSP position encoding."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def lsp_column(line_text: str, byte_col: int, encoding: str = "utf-16") -> int:
    """An ast column (UTF-8 bytes into the line) as an LSP character offset."""
    prefix = line_text.encode("utf-8")[: max(byte_col, 0)].decode("utf-8", "ignore")
    return code_units(prefix, encoding)


Position = tuple[int, int]  # 0-based line, character in the negotiated encoding
Range = tuple[Position, Position]


def finding_range(finding: Finding, lines: list[str], encoding: str = "utf-16") -> Range:
    """Where to underline a finding. A finding that spans several lines (a whole task
    function for BGT401, an `except` block for BGT402) is underlined on its first line
    only, from its column to the end of that line, as editors show long ranges badly."""

    def text(index: int) -> str:
        return lines[index] if 0 <= index < len(lines) else ""

    line = max(finding.line - 1, 0)
    start = (line, lsp_column(text(line), finding.col, encoding))
    end_line = max((finding.end_line or finding.line) - 1, line)
    if end_line > line:
        end = (line, max(code_units(text(line).rstrip(), encoding), start[1]))
    else:
        end = (line, max(lsp_column(text(line), finding.end_col, encoding), start[1]))
    return start, end


def document_end(text: str, encoding: str = "utf-16") -> Position:
    lines = split_lines(text)
    return len(lines) - 1, code_units(lines[-1], encoding)


def minimal_edit(old: str, new: str, encoding: str = "utf-16") -> tuple[Range, str]:
    """One edit turning `old` into `new` that replaces only the lines that changed (the
    editor keeps the cursor, folds and marks of the others)."""
    if old == new:
        return (document_end(old, encoding), document_end(old, encoding)), ""
    old_lines = _LINE_WITH_BREAK.findall(old)
    new_lines = _LINE_WITH_BREAK.findall(new)
    shortest = min(len(old_lines), len(new_lines))
    prefix = 0
    while prefix < shortest and old_lines[prefix] == new_lines[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and old_lines[-1 - suffix] == new_lines[-1 - suffix]:
        suffix += 1
    # a line that ends without a line break is the last one, so a kept suffix always
    # starts at the beginning of a line, and (prefix, 0) is a position of `old`
    end = (len(old_lines) - suffix, 0) if suffix else document_end(old, encoding)
    return ((prefix, 0), end), "".join(new_lines[prefix:len(new_lines) - suffix])


def ranges_touch(a: Range, b: Range) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def kind_allowed(kind: str, only: Iterable[str] | None, *, default: bool) -> bool:
    """LSP code action kinds are hierarchical: `source` allows `source.fixAll.x`."""
    if only is None:
        return default
    return any(o == "" or kind == o or kind.startswith(o + ".") for o in only)


# --- the service: documents, project indexes, checks and fixes (no pygls here) -------------


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
        marked = any((found / marker).exists() for marker in ROOT_MARKERS)
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

    def open(self, uri: str, path: Path, text: str, version: int | None) -> None:
        document = Document(uri, path, text, version)
        self.documents[path] = document
        state = self.roots.get(self.root_for(path))
        if state is None:
            self.state(self.root_for(path))  # loads the project, with this buffer in it
        else:
            self._overlay(state, document)

    change = open

    def close(self, path: Path) -> None:
        self.documents.pop(path, None)
        self.parse_errors.pop(path, None)
        self._checks.pop(path, None)
        state = self.roots.get(self.root_for(path))
        if state is not None and not self.excluded(path, state):
            self._from_disk(state, path)

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

    def _overlay(self, state: RootState, document: Document) -> None:
        if self.excluded(document.path, state):
            return
        try:
            state.project.replace(document.path, document.text)
        except SourceError as exc:
            # the index keeps the last version that parsed, for the other modules
            self.parse_errors[document.path] = str(exc)
            return
        self.parse_errors.pop(document.path, None)
        self.generation += 1

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


# --- the pygls server ---------------------------------------------------------------------


def load_pygls() -> tuple[Any, Any]:
    """(LanguageServer class, lsprotocol.types), or PyglsMissing with a one-line reason."""
    try:
        import pygls  # noqa: F401
    except ImportError:
        raise PyglsMissing(f"pygls is not installed: {INSTALL_HINT}") from None
    try:
        from lsprotocol import types
        from pygls.lsp.server import LanguageServer
    except ImportError:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("pygls")
        except PackageNotFoundError:
            found = "?"
        raise PyglsMissing(f"pygls {found} is not supported (pygls 2.x is needed): {INSTALL_HINT}") from None
    return LanguageServer, types


def create_server():
    LanguageServer, types = load_pygls()
    from pygls.uris import to_fs_path

    from bgtask_lint.plugin import __version__

    server = LanguageServer("bgtask-lint", __version__)
    service = Service(log=lambda message: _log(message), warn=lambda message: _warn(message))
    published: dict[str, list[Any]] = {}
    client: dict[str, Any] = {"document_changes": False, "resolve": False}

    def _log(message: str) -> None:
        try:
            server.window_log_message(types.LogMessageParams(type=types.MessageType.Warning, message=message))
        except Exception:  # no client yet
            logger.warning("%s", message)

    def _warn(message: str) -> None:
        try:
            server.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))
        except Exception:
            logger.warning("%s", message)

    def encoding() -> str:
        try:
            value = server.workspace.position_encoding
        except Exception:
            return "utf-16"
        value = getattr(value, "value", value)
        return value if value in ("utf-8", "utf-16", "utf-32") else "utf-16"

    def path_of(uri: str) -> Path | None:
        if not uri.startswith("file:"):
            return None  # untitled buffers, notebook cells: not part of a project
        fs_path = to_fs_path(uri)
        return Path(fs_path).resolve() if fs_path else None

    def lsp_range(value: Range) -> Any:
        (line, character), (end_line, end_character) = value
        return types.Range(start=types.Position(line=line, character=character),
                           end=types.Position(line=end_line, character=end_character))

    def diagnostic(finding: Finding, lines: list[str]) -> Any:
        return types.Diagnostic(
            range=lsp_range(finding_range(finding, lines, encoding())),
            message=finding.message,
            severity=types.DiagnosticSeverity.Warning,
            code=finding.code,
            code_description=types.CodeDescription(href=finding.url),
            source=SOURCE,
            data={"fix": finding.fix},
        )

    def diagnostics(path: Path) -> list[Any]:
        document = service.documents[path]
        result = service.check(path)
        if result.error is not None:
            return [types.Diagnostic(
                range=lsp_range(((0, 0), (0, 0))),
                message=f"bgtask-lint: not checked, this file does not parse ({result.error})",
                severity=types.DiagnosticSeverity.Information,
                source=SOURCE,
            )]
        lines = split_lines(document.text)
        return [diagnostic(f, lines) for f in result.findings]

    def publish(path: Path, force: bool) -> None:
        document = service.documents.get(path)
        if document is None:
            return
        found = diagnostics(path)
        if not force and published.get(document.uri) == found:
            return
        published[document.uri] = found
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=document.uri, diagnostics=found, version=document.version))

    def refresh(path: Path | None, roots: Iterable[Path] | None = None) -> None:
        """Publish `path`'s diagnostics, and republish the other open documents of its
        project (without a path: of `roots`, or all) whose diagnostics changed."""
        if path is not None:
            publish(path, force=True)
            roots = [service.root_for(path)]
        wanted = set(roots) if roots is not None else None
        for other in list(service.documents):
            if other != path and (wanted is None or service.root_for(other) in wanted):
                publish(other, force=False)

    def is_python(uri: str, language_id: str | None) -> Path | None:
        path = path_of(uri)
        if path is None:
            return None
        if path.suffix == ".py" or (language_id or "").lower() == "python":
            return path
        return None

    @server.feature(types.INITIALIZE)
    def initialize(ls: Any, params: Any) -> None:
        folders = [f.uri for f in (params.workspace_folders or [])]
        if not folders and params.root_uri:
            folders = [params.root_uri]
        paths = [to_fs_path(uri) for uri in folders]
        if not paths and params.root_path:
            paths = [params.root_path]
        service.set_folders(Path(p) for p in paths if p)
        capabilities = params.capabilities
        workspace_edit = getattr(getattr(capabilities, "workspace", None), "workspace_edit", None)
        client["document_changes"] = bool(getattr(workspace_edit, "document_changes", False))
        code_action = getattr(getattr(capabilities, "text_document", None), "code_action", None)
        resolve = getattr(code_action, "resolve_support", None)
        client["resolve"] = resolve is not None and "edit" in (resolve.properties or [])
        watched = getattr(getattr(capabilities, "workspace", None), "did_change_watched_files", None)
        client["watch"] = bool(getattr(watched, "dynamic_registration", False))

    @server.feature(types.INITIALIZED)
    def initialized(ls: Any, params: Any) -> None:
        if not client.get("watch"):
            return
        watchers = [types.FileSystemWatcher(glob_pattern="**/*.py"),
                    types.FileSystemWatcher(glob_pattern="**/pyproject.toml")]
        ls.client_register_capability(types.RegistrationParams(registrations=[types.Registration(
            id="bgtask-lint-watched-files",
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
        )]))

    def buffer_changed(uri: str, language_id: str | None, version: int | None) -> None:
        path = is_python(uri, language_id)
        if path is None:
            return
        try:
            text = server.workspace.get_text_document(uri).source
            service.change(uri, path, text, version)
            refresh(path)
        except Exception:
            _log(f"bgtask-lint: internal error on {uri}:\n{traceback.format_exc()}")

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: Any, params: Any) -> None:
        document = params.text_document
        buffer_changed(document.uri, document.language_id, document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: Any, params: Any) -> None:
        document = params.text_document
        path = path_of(document.uri)
        if path in service.documents:
            buffer_changed(document.uri, "python", document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: Any, params: Any) -> None:
        uri = params.text_document.uri
        path = path_of(uri)
        if path is not None and path.name in CONFIG_FILES:
            refresh(None, service.disk_changed(path))
            return
        if path in service.documents:
            buffer_changed(uri, "python", service.documents[path].version)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: Any, params: Any) -> None:
        uri = params.text_document.uri
        path = path_of(uri)
        if path not in service.documents:
            return
        try:
            root = service.root_for(path)
            service.close(path)
            published.pop(uri, None)
            server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
            refresh(None, [root])
        except Exception:
            _log(f"bgtask-lint: internal error on {uri}:\n{traceback.format_exc()}")

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: Any, params: Any) -> None:
        touched: set[Path] | None = set()
        try:
            for change in params.changes:
                path = path_of(change.uri)
                if path is None:
                    continue
                roots = service.disk_changed(path)
                if roots is None:
                    touched = None
                elif touched is not None:
                    touched.update(roots)
            if touched is None or touched:
                refresh(None, touched)
        except Exception:
            _log(f"bgtask-lint: internal error on changed files:\n{traceback.format_exc()}")

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(ls: Any, params: Any) -> None:
        removed = {Path(p).resolve() for p in (to_fs_path(f.uri) for f in params.event.removed or []) if p}
        added = [Path(p) for p in (to_fs_path(f.uri) for f in params.event.added or []) if p]
        service.set_folders([f for f in service.folders if f not in removed] + added)

    def workspace_edit(document: Document, new_text: str) -> Any:
        (start, end), replacement = minimal_edit(document.text, new_text, encoding())
        edit = types.TextEdit(range=lsp_range((start, end)), new_text=replacement)
        if client["document_changes"]:
            return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=document.uri, version=document.version),
                edits=[edit],
            )])
        return types.WorkspaceEdit(changes={document.uri: [edit]})

    def fixed_text(path: Path, data: dict[str, Any]) -> str | None:
        target = data.get("target")
        if target is None:
            return service.fix_all(path)
        for finding in service.check(path).findings:
            if finding.code == data.get("code") and target_of(finding) == list(target):
                return service.fix_one(path, finding)
        return None  # the buffer changed and the finding is gone

    def action(document: Document, title: str, kind: str, data: dict[str, Any],
               diagnostics: list[Any]) -> Any | None:
        data = {"uri": document.uri, **data}
        found = types.CodeAction(title=title, kind=kind, diagnostics=diagnostics or None, data=data)
        if client["resolve"]:
            return found
        new_text = fixed_text(document.path, data)
        if new_text is None:
            return None
        found.edit = workspace_edit(document, new_text)
        return found

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND], resolve_provider=True))
    def code_action(ls: Any, params: Any) -> list[Any] | None:
        path = path_of(params.text_document.uri)
        document = service.documents.get(path) if path is not None else None
        if document is None:
            return None
        try:
            fixable = [f for f in service.check(path).findings if is_fixable(f, False)]
            if not fixable:
                return None
            only = params.context.only
            lines = split_lines(document.text)
            requested = ((params.range.start.line, params.range.start.character),
                         (params.range.end.line, params.range.end.character))
            actions = []
            if kind_allowed(QUICKFIX, only, default=True):
                here = [(f, diagnostic(f, lines)) for f in fixable
                        if ranges_touch(finding_range(f, lines, encoding()), requested)]
                for finding, diag in here:
                    actions.append(action(
                        document, f"Fix {finding.code}: {finding.fix_title or 'apply the fix'}", QUICKFIX,
                        {"code": finding.code, "target": target_of(finding)}, [diag]))
                if here:
                    actions.append(action(document, FIX_ALL_TITLE, QUICKFIX, {"target": None}, []))
            if kind_allowed(FIX_ALL_KIND, only, default=False):
                actions.append(action(document, FIX_ALL_TITLE, FIX_ALL_KIND, {"target": None}, []))
            return [a for a in actions if a is not None] or None
        except Exception:
            _log(f"bgtask-lint: internal error in code actions:\n{traceback.format_exc()}")
            return None

    @server.feature(types.CODE_ACTION_RESOLVE)
    def code_action_resolve(ls: Any, params: Any) -> Any:
        data = params.data if isinstance(params.data, dict) else {}
        path = path_of(data.get("uri", ""))
        document = service.documents.get(path) if path is not None else None
        if document is None or params.edit is not None:
            return params
        try:
            new_text = fixed_text(path, data)
        except Exception:
            _log(f"bgtask-lint: internal error resolving a code action:\n{traceback.format_exc()}")
            new_text = None
        if new_text is not None:
            params.edit = workspace_edit(document, new_text)
        return params

    return server


def serve() -> None:
    """Run the server on stdin/stdout until the client says exit."""
    create_server().start_io()
