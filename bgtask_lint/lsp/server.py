"""The pygls language server: `BgtaskLanguageServer` creates a pygls `LanguageServer`
and registers its own methods as the handlers (as Fixit's lsp.py does); the work is the
`Service`'s. pygls is imported only when a server is created (`load_pygls`), so that
`bgtask-lint lsp` can say in one line that pygls is missing.

Diagnostics: whenever a buffer changes, its diagnostics are published, then those of the
open documents related to it by imports (or whose tasks it changed) when they changed;
the other open documents of the project are re-checked once no edit came for
`RECHECK_DELAY` seconds, one per turn of the event loop, so typing never waits for them.

Code actions: one quickfix per safely fixable finding ("Fix BGT401: ..."), which applies
that one fix, and "Fix all bgtask-lint findings in file" (kind `quickfix` where a
fixable finding is, and `source.fixAll.bgtask-lint` when the client asks for source
actions, e.g. on save). When the client can resolve code actions lazily, the edit is
only computed once an action is chosen.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

from bgtask_lint.findings import Finding
from bgtask_lint.fix import is_fixable
from bgtask_lint.lsp.positions import Range, finding_range, kind_allowed, minimal_edit, ranges_touch, split_lines
from bgtask_lint.lsp.service import CONFIG_FILES, Document, Service, target_of

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'bgtask-lint[lsp]'"
SOURCE = "bgtask-lint"
QUICKFIX = "quickfix"
FIX_ALL_KIND = "source.fixAll.bgtask-lint"
FIX_ALL_TITLE = "Fix all bgtask-lint findings in file"
ENCODINGS = ("utf-8", "utf-16", "utf-32")
RECHECK_DELAY = 0.3  # seconds without an edit before the unrelated open documents are re-checked
# The index's syntax trees are millions of objects the cyclic collector would walk in every
# full collection, in the middle of an edit's check (open-webui: the 90th percentile of an
# edit's diagnostics 312 ms with it, 58 ms without). So what outlives a change is frozen
# (kept out of collections), and once this many changes went by, a full collection runs
# when the edits pause, so that cyclic garbage among the frozen objects is freed too.
FULL_COLLECTION_EDITS = 200


class PyglsMissing(Exception):
    """pygls cannot be imported (or is a version this server does not speak)."""


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


class BgtaskLanguageServer:
    """The pygls server (`self.server`), its handlers, and what it remembers of the client."""

    def __init__(self) -> None:
        LanguageServer, types = load_pygls()
        from pygls.uris import to_fs_path

        from bgtask_lint.plugin import __version__

        self.types = types
        self._to_fs_path = to_fs_path
        self.server = LanguageServer("bgtask-lint", __version__)
        self.service = Service(log=self.log, warn=self.warn)
        self.published: dict[str, list[Any]] = {}  # uri -> the diagnostics last sent
        self.client: dict[str, Any] = {"document_changes": False, "resolve": False, "watch": False}
        self.stale: dict[Path, None] = {}  # open documents to re-check when the edits pause (ordered)
        self._edits = 0  # counts buffer changes: a pending re-check of the stale ones yields to a newer one
        self._changes = 0  # buffer changes handled (for the full collection)
        self._collected_at = 0  # self._changes at the last full collection
        self._register()

    def _register(self) -> None:
        types = self.types

        def feature(name: str, method: Callable[[Any], Any], options: Any = None) -> None:
            # pygls marks a handler with attributes, which a bound method cannot carry
            def handler(params: Any) -> Any:
                return method(params)

            handler.__name__ = method.__name__
            self.server.feature(name, options)(handler)

        feature(types.INITIALIZE, self.initialize)
        feature(types.INITIALIZED, self.initialized)
        feature(types.TEXT_DOCUMENT_DID_OPEN, self.did_open)
        feature(types.TEXT_DOCUMENT_DID_CHANGE, self.did_change)
        feature(types.TEXT_DOCUMENT_DID_SAVE, self.did_save)
        feature(types.TEXT_DOCUMENT_DID_CLOSE, self.did_close)
        feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES, self.did_change_watched_files)
        feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS, self.did_change_folders)
        feature(types.TEXT_DOCUMENT_CODE_ACTION, self.code_action, types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND], resolve_provider=True))
        feature(types.CODE_ACTION_RESOLVE, self.code_action_resolve)

    def start_io(self) -> None:
        self.server.start_io()

    # --- messages to the user --------------------------------------------------------------

    def log(self, message: str) -> None:
        types = self.types
        try:
            self.server.window_log_message(types.LogMessageParams(type=types.MessageType.Warning, message=message))
        except Exception:  # no client yet
            logger.warning("%s", message)

    def warn(self, message: str) -> None:
        types = self.types
        try:
            self.server.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))
        except Exception:
            logger.warning("%s", message)

    # --- conversions -------------------------------------------------------------------------

    def encoding(self) -> str:
        try:
            value = self.server.workspace.position_encoding
        except Exception:
            return "utf-16"
        value = getattr(value, "value", value)
        return value if value in ENCODINGS else "utf-16"

    def path_of(self, uri: str) -> Path | None:
        if not uri.startswith("file:"):
            return None  # untitled buffers, notebook cells: not part of a project
        fs_path = self._to_fs_path(uri)
        return Path(fs_path).resolve() if fs_path else None

    def python_path(self, uri: str, language_id: str | None) -> Path | None:
        path = self.path_of(uri)
        if path is None:
            return None
        if path.suffix == ".py" or (language_id or "").lower() == "python":
            return path
        return None

    def lsp_range(self, value: Range) -> Any:
        types = self.types
        (line, character), (end_line, end_character) = value
        return types.Range(start=types.Position(line=line, character=character),
                           end=types.Position(line=end_line, character=end_character))

    def diagnostic(self, finding: Finding, lines: list[str]) -> Any:
        types = self.types
        return types.Diagnostic(
            range=self.lsp_range(finding_range(finding, lines, self.encoding())),
            message=finding.message,
            severity=types.DiagnosticSeverity.Warning,
            code=finding.code,
            code_description=types.CodeDescription(href=finding.url),
            source=SOURCE,
            data={"fix": finding.fix},
        )

    # --- diagnostics -------------------------------------------------------------------------

    def diagnostics(self, path: Path) -> list[Any]:
        types = self.types
        document = self.service.documents[path]
        result = self.service.check(path)
        if result.error is not None:
            return [types.Diagnostic(
                range=self.lsp_range(((0, 0), (0, 0))),
                message=f"bgtask-lint: not checked, this file does not parse ({result.error})",
                severity=types.DiagnosticSeverity.Information,
                source=SOURCE,
            )]
        lines = split_lines(document.text)
        return [self.diagnostic(f, lines) for f in result.findings]

    def publish(self, path: Path, force: bool) -> None:
        self.stale.pop(path, None)
        document = self.service.documents.get(path)
        if document is None:
            return
        found = self.diagnostics(path)
        if not force and self.published.get(document.uri) == found:
            return
        self.published[document.uri] = found
        self.server.text_document_publish_diagnostics(self.types.PublishDiagnosticsParams(
            uri=document.uri, diagnostics=found, version=document.version))

    def refresh(self, roots: Iterable[Path] | None) -> None:
        """Republish the open documents of `roots` (None: of all) whose diagnostics changed."""
        wanted = set(roots) if roots is not None else None
        for path in list(self.service.documents):
            if wanted is None or self.service.root_for(path) in wanted:
                self.publish(path, force=False)

    def recheck_later(self, paths: Iterable[Path]) -> None:
        """Re-check `paths` (and those still waiting) once no edit came for RECHECK_DELAY."""
        self.stale.update(dict.fromkeys(paths))
        self._edits += 1
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside the server's event loop: at once
            while self.stale:
                self.publish(next(iter(self.stale)), force=False)
            return
        loop.call_later(RECHECK_DELAY, self._recheck_next, self._edits)

    def _recheck_next(self, edits: int) -> None:
        if edits != self._edits or not self.stale:
            return  # edited since: that edit's own call takes over
        path = next(iter(self.stale))
        try:
            self.publish(path, force=False)
        except Exception:
            self.stale.pop(path, None)
            self.log(f"bgtask-lint: internal error re-checking {path}:\n{traceback.format_exc()}")
        if self.stale:  # one document per turn: a message that came meanwhile goes first
            asyncio.get_running_loop().call_soon(self._recheck_next, edits)
        else:
            self.collect_when_due()

    # --- lifecycle and documents --------------------------------------------------------------

    def initialize(self, params: Any) -> None:
        folders = [f.uri for f in (params.workspace_folders or [])]
        if not folders and params.root_uri:
            folders = [params.root_uri]
        paths = [self._to_fs_path(uri) for uri in folders]
        if not paths and params.root_path:
            paths = [params.root_path]
        self.service.set_folders(Path(p) for p in paths if p)
        capabilities = params.capabilities
        workspace_edit = getattr(getattr(capabilities, "workspace", None), "workspace_edit", None)
        self.client["document_changes"] = bool(getattr(workspace_edit, "document_changes", False))
        code_action = getattr(getattr(capabilities, "text_document", None), "code_action", None)
        resolve = getattr(code_action, "resolve_support", None)
        self.client["resolve"] = resolve is not None and "edit" in (resolve.properties or [])
        watched = getattr(getattr(capabilities, "workspace", None), "did_change_watched_files", None)
        self.client["watch"] = bool(getattr(watched, "dynamic_registration", False))

    def initialized(self, params: Any) -> None:
        if not self.client["watch"]:
            return
        types = self.types
        watchers = [types.FileSystemWatcher(glob_pattern="**/*.py"),
                    types.FileSystemWatcher(glob_pattern="**/pyproject.toml")]
        self.server.client_register_capability(types.RegistrationParams(registrations=[types.Registration(
            id="bgtask-lint-watched-files",
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
        )]))

    def buffer_changed(self, uri: str, language_id: str | None, version: int | None) -> None:
        path = self.python_path(uri, language_id)
        if path is None:
            return
        try:
            text = self.server.workspace.get_text_document(uri).source
            first = self.service.change(uri, path, text, version)  # whose tasks changed
            self.publish(path, force=True)
            if first is None:
                return  # the index is unchanged: so are the other documents' findings
            first += [p for p in self.service.related(path) if p not in first]
            for other in first:
                self.publish(other, force=False)
            root = self.service.root_for(path)
            self.recheck_later(p for p in self.service.open_paths(root) if p != path and p not in first)
        except Exception:
            self.log(f"bgtask-lint: internal error on {uri}:\n{traceback.format_exc()}")
        finally:
            gc.freeze()
            self._changes += 1
            self._collect_when_idle()

    def _collect_when_idle(self) -> None:
        """Once FULL_COLLECTION_EDITS changes went by, a full collection when the edits
        pause (and no other document waits to be re-checked: that queue calls it at its end)."""
        if self._changes - self._collected_at < FULL_COLLECTION_EDITS:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside the server's event loop: at once
            self.collect_when_due()
            return
        loop.call_later(RECHECK_DELAY, self._collect_if_idle, self._changes)

    def _collect_if_idle(self, changes: int) -> None:
        if changes == self._changes and not self.stale:  # else a later change or the queue calls it
            self.collect_when_due()

    def collect_when_due(self) -> None:
        """A full collection, frozen objects included, once FULL_COLLECTION_EDITS changes
        went by."""
        if self._changes - self._collected_at >= FULL_COLLECTION_EDITS:
            self._collected_at = self._changes
            gc.unfreeze()
            gc.collect()
            gc.freeze()

    def did_open(self, params: Any) -> None:
        document = params.text_document
        self.buffer_changed(document.uri, document.language_id, document.version)

    def did_change(self, params: Any) -> None:
        document = params.text_document
        if self.path_of(document.uri) in self.service.documents:
            self.buffer_changed(document.uri, "python", document.version)

    def did_save(self, params: Any) -> None:
        uri = params.text_document.uri
        path = self.path_of(uri)
        if path is not None and path.name in CONFIG_FILES:
            self.refresh(self.service.disk_changed(path))
            return
        if path in self.service.documents:
            self.buffer_changed(uri, "python", self.service.documents[path].version)

    def did_close(self, params: Any) -> None:
        uri = params.text_document.uri
        path = self.path_of(uri)
        if path not in self.service.documents:
            return
        try:
            root = self.service.root_for(path)
            self.service.close(path)
            self.published.pop(uri, None)
            self.server.text_document_publish_diagnostics(
                self.types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
            self.refresh([root])
        except Exception:
            self.log(f"bgtask-lint: internal error on {uri}:\n{traceback.format_exc()}")

    def did_change_watched_files(self, params: Any) -> None:
        touched: set[Path] | None = set()
        try:
            for change in params.changes:
                path = self.path_of(change.uri)
                if path is None:
                    continue
                roots = self.service.disk_changed(path)
                if roots is None:
                    touched = None
                elif touched is not None:
                    touched.update(roots)
            if touched is None or touched:
                self.refresh(touched)
        except Exception:
            self.log(f"bgtask-lint: internal error on changed files:\n{traceback.format_exc()}")

    def did_change_folders(self, params: Any) -> None:
        to_fs_path = self._to_fs_path
        removed = {Path(p).resolve() for p in (to_fs_path(f.uri) for f in params.event.removed or []) if p}
        added = [Path(p) for p in (to_fs_path(f.uri) for f in params.event.added or []) if p]
        self.service.set_folders([f for f in self.service.folders if f not in removed] + added)

    # --- code actions ------------------------------------------------------------------------

    def workspace_edit(self, document: Document, new_text: str) -> Any:
        types = self.types
        (start, end), replacement = minimal_edit(document.text, new_text, self.encoding())
        edit = types.TextEdit(range=self.lsp_range((start, end)), new_text=replacement)
        if self.client["document_changes"]:
            return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=document.uri, version=document.version),
                edits=[edit],
            )])
        return types.WorkspaceEdit(changes={document.uri: [edit]})

    def fixed_text(self, path: Path, data: dict[str, Any]) -> str | None:
        target = data.get("target")
        if target is None:
            return self.service.fix_all(path)
        for finding in self.service.check(path).findings:
            if finding.code == data.get("code") and target_of(finding) == list(target):
                return self.service.fix_one(path, finding)
        return None  # the buffer changed and the finding is gone

    def action(self, document: Document, title: str, kind: str, data: dict[str, Any],
               diagnostics: list[Any]) -> Any | None:
        data = {"uri": document.uri, **data}
        found = self.types.CodeAction(title=title, kind=kind, diagnostics=diagnostics or None, data=data)
        if self.client["resolve"]:
            return found
        new_text = self.fixed_text(document.path, data)
        if new_text is None:
            return None
        found.edit = self.workspace_edit(document, new_text)
        return found

    def code_action(self, params: Any) -> list[Any] | None:
        path = self.path_of(params.text_document.uri)
        document = self.service.documents.get(path) if path is not None else None
        if document is None:
            return None
        try:
            fixable = [f for f in self.service.check(path).findings if is_fixable(f, False)]
            if not fixable:
                return None
            only = params.context.only
            lines = split_lines(document.text)
            requested = ((params.range.start.line, params.range.start.character),
                         (params.range.end.line, params.range.end.character))
            actions = []
            if kind_allowed(QUICKFIX, only, default=True):
                here = [(f, self.diagnostic(f, lines)) for f in fixable
                        if ranges_touch(finding_range(f, lines, self.encoding()), requested)]
                for finding, diag in here:
                    actions.append(self.action(
                        document, f"Fix {finding.code}: {finding.fix_title or 'apply the fix'}", QUICKFIX,
                        {"code": finding.code, "target": target_of(finding)}, [diag]))
                if here:
                    actions.append(self.action(document, FIX_ALL_TITLE, QUICKFIX, {"target": None}, []))
            if kind_allowed(FIX_ALL_KIND, only, default=False):
                actions.append(self.action(document, FIX_ALL_TITLE, FIX_ALL_KIND, {"target": None}, []))
            return [a for a in actions if a is not None] or None
        except Exception:
            self.log(f"bgtask-lint: internal error in code actions:\n{traceback.format_exc()}")
            return None

    def code_action_resolve(self, params: Any) -> Any:
        data = params.data if isinstance(params.data, dict) else {}
        path = self.path_of(data.get("uri", ""))
        document = self.service.documents.get(path) if path is not None else None
        if document is None or params.edit is not None:
            return params
        try:
            new_text = self.fixed_text(path, data)
        except Exception:
            self.log(f"bgtask-lint: internal error resolving a code action:\n{traceback.format_exc()}")
            new_text = None
        if new_text is not None:
            params.edit = self.workspace_edit(document, new_text)
        return params


def serve() -> None:
    """Run the server on stdin/stdout until the client says exit."""
    BgtaskLanguageServer().start_io()
