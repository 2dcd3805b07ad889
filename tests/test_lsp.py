"""`bgtask-lint lsp`: the language server run as a subprocess, driven by a minimal
JSON-RPC client over its stdin/stdout (Content-Length framing), as an editor would.

Every read has a deadline, so a server that hangs or dies fails the test instead of
hanging the suite.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from bgtask_lint.cli import main
from bgtask_lint.lsp.positions import code_units, finding_range, lsp_column, minimal_edit, split_lines
from bgtask_lint.lsp.service import Service
from bgtask_lint.findings import Finding

TIMEOUT = 30.0  # seconds for any one answer of the server

TASKS = '''\
"""Background jobs."""
import asyncio
import logging

logger = logging.getLogger(__name__)
HOST = "stock.internal"
PORT = 7000


async def refresh_stock(sku: str, note: str = "naïve 🚀") -> None:
    label = "🚀 é"; reader, writer = await asyncio.open_connection(HOST, PORT)
    writer.write(sku.encode())
    logger.info("%s %s", label, note)
'''

MAIN = '''\
from fastapi import BackgroundTasks, FastAPI

from app.tasks import refresh_stock

app = FastAPI()


@app.post("/stock/{sku}")
async def reset_stock(sku: str, background_tasks: BackgroundTasks) -> dict:
    background_tasks.add_task(refresh_stock, sku)
    return {"ok": True}
'''

MAIN_NOT_SCHEDULING = MAIN.replace("    background_tasks.add_task(refresh_stock, sku)\n", "")
DEF_LINE = 9  # 0-based line of `async def refresh_stock`
CONNECT_LINE = 10


# --- a minimal LSP client ------------------------------------------------------------------


class LspClient:
    def __init__(self, cwd: Path):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bgtask_lint", "lsp"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, cwd=cwd,
        )
        self.messages: queue.Queue[dict | None] = queue.Queue()
        self.pending: list[dict] = []  # notifications read while waiting for something else
        self.next_id = 0
        self.server_requests: list[dict] = []
        self.problems: list[dict] = []  # error messages and internal-error logs of the server
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        try:
            while True:
                headers = {}
                while True:
                    line = stream.readline()
                    if not line:
                        self.messages.put(None)
                        return
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = stream.read(int(headers["content-length"]))
                self.messages.put(json.loads(body.decode("utf-8")))
        except Exception:  # the test sees the None and fails with the server's stderr
            self.messages.put(None)

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def server_output(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def _next(self, deadline: float, what: str) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out waiting for {what}; server stderr:\n{self.server_output()}")
        try:
            message = self.messages.get(timeout=remaining)
        except queue.Empty:
            raise AssertionError(f"timed out waiting for {what}; server stderr:\n{self.server_output()}") from None
        if message is None:
            raise AssertionError(f"the server closed its output waiting for {what}:\n{self.server_output()}")
        if "method" in message and "id" in message:  # a request of the server: answer it
            self.server_requests.append(message)
            self.send({"id": message["id"], "result": None})
            return self._next(deadline, what)
        if message.get("method") in ("window/showMessage", "window/logMessage") and (
                message["params"]["type"] == 1 or "internal error" in message["params"]["message"]):
            self.problems.append(message["params"])
        return message

    def request(self, method: str, params: Any, timeout: float = TIMEOUT) -> Any:
        self.next_id += 1
        request_id = self.next_id
        self.send({"id": request_id, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            message = self._next(deadline, f"the answer to {method}")
            if message.get("id") == request_id:
                assert "error" not in message, message["error"]
                return message.get("result")
            self.pending.append(message)

    def wait_for(self, method: str, match: Callable[[dict], bool], timeout: float = TIMEOUT) -> dict:
        """The first notification `method` (already read or to come) whose params match."""
        for index, message in enumerate(self.pending):
            if message.get("method") == method and match(message["params"]):
                del self.pending[index]
                return message["params"]
        deadline = time.monotonic() + timeout
        while True:
            message = self._next(deadline, method)
            if message.get("method") == method and match(message["params"]):
                return message["params"]
            self.pending.append(message)

    def diagnostics(self, uri: str, match: Callable[[dict], bool] = lambda params: True) -> list[dict]:
        return self.wait_for("textDocument/publishDiagnostics",
                             lambda params: params["uri"] == uri and match(params))["diagnostics"]

    def discard_pending(self) -> None:
        self.pending.clear()

    def initialize(self, root: Path, capabilities: dict | None = None) -> dict:
        result = self.request("initialize", {
            "processId": None,
            "rootUri": root.as_uri(),
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
            "capabilities": capabilities or {},
        })
        self.notify("initialized", {})
        return result

    def open(self, path: Path, text: str, version: int = 1) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": path.as_uri(), "languageId": "python", "version": version, "text": text}})

    def change(self, path: Path, text: str, version: int) -> None:
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": path.as_uri(), "version": version},
            "contentChanges": [{"text": text}],
        })

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.request("shutdown", None, timeout=10)
                self.notify("exit", None)
                self.proc.wait(timeout=10)
        except Exception:
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.stderr.close()


def apply_text_edits(text: str, edits: list[dict]) -> str:
    """What an editor does with TextEdits: UTF-16 positions, applied from the end."""

    def offset(position: dict) -> int:
        pieces = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", text)
        line, character = position["line"], position["character"]
        if line >= len(pieces):
            return len(text)
        start = sum(len(p) for p in pieces[:line])
        content = pieces[line].rstrip("\r\n")
        units = 0
        for index, char in enumerate(content):
            if units >= character:
                return start + index
            units += len(char.encode("utf-16-le")) // 2
        return start + len(content)

    spans = sorted(((offset(e["range"]["start"]), offset(e["range"]["end"]), e["newText"]) for e in edits),
                   reverse=True)
    for start, end, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


def apply_workspace_edit(edit: dict, uri: str, text: str) -> str:
    edits = list(edit.get("changes", {}).get(uri, []))
    for change in edit.get("documentChanges", []):
        if change["textDocument"]["uri"] == uri:
            edits.extend(change["edits"])
    assert edits, edit
    return apply_text_edits(text, edits)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def codes(diagnostics: list[dict]) -> list[str]:
    return sorted(d.get("code") for d in diagnostics)


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("", encoding="utf-8")
    (root / "app" / "tasks.py").write_text(TASKS, encoding="utf-8")
    (root / "app" / "main.py").write_text(MAIN, encoding="utf-8")
    return root


@pytest.fixture()
def client(workspace: Path):
    pytest.importorskip("pygls.lsp.server")
    lsp = LspClient(workspace)
    try:
        yield lsp
        assert lsp.problems == []
        assert "Traceback" not in lsp.server_output()
    finally:
        lsp.close()


# --- through the server -----------------------------------------------------------------------


def test_diagnostics_code_action_fix_and_recheck(client: LspClient, workspace: Path) -> None:
    result = client.initialize(workspace)
    capabilities = result["capabilities"]
    assert capabilities["codeActionProvider"]["codeActionKinds"] == ["quickfix", "source.fixAll.bgtask-lint"]
    tasks = workspace / "app" / "tasks.py"
    uri = tasks.as_uri()
    client.open(tasks, TASKS)
    diagnostics = client.diagnostics(uri)
    assert codes(diagnostics) == ["BGT401", "BGT501"]
    lines = TASKS.splitlines()
    guard = next(d for d in diagnostics if d["code"] == "BGT401")
    # the task is a task only because main.py (not open) schedules it
    assert guard["source"] == "bgtask-lint"
    assert guard["codeDescription"]["href"].endswith("#bgt401")
    assert guard["range"] == {"start": {"line": DEF_LINE, "character": 0},
                              "end": {"line": DEF_LINE, "character": utf16(lines[DEF_LINE])}}
    # positions are UTF-16 code units: the emoji before the call counts 2, its UTF-8 bytes 4
    connect = next(d for d in diagnostics if d["code"] == "BGT501")
    connect_line = lines[CONNECT_LINE]
    start = utf16(connect_line[:connect_line.index("asyncio.open_connection")])
    assert connect["range"] == {"start": {"line": CONNECT_LINE, "character": start},
                                "end": {"line": CONNECT_LINE, "character": utf16(connect_line)}}

    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": guard["range"], "context": {"diagnostics": [guard]},
    })
    titles = [a["title"] for a in actions]
    assert titles == [
        "Fix BGT401: Wrap the body in try/except that logs with logger.exception and re-raises",
        "Fix all bgtask-lint findings in file",
    ]
    assert {a["kind"] for a in actions} == {"quickfix"}
    fix_guard = actions[0]
    assert fix_guard["diagnostics"][0]["code"] == "BGT401"
    fixed = apply_workspace_edit(fix_guard["edit"], uri, TASKS)
    # that one rule's fix, and only it
    assert "    except Exception:\n        logger.exception(" in fixed
    assert "await asyncio.open_connection(HOST, PORT)" in fixed
    compile(fixed, str(tasks), "exec")

    client.change(tasks, fixed, version=2)
    diagnostics = client.diagnostics(uri, lambda params: params.get("version") == 2)
    assert codes(diagnostics) == ["BGT501"]

    # the fix-all source action (what an editor runs on save)
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": [], "only": ["source.fixAll"]},
    })
    assert [(a["title"], a["kind"]) for a in actions] == [
        ("Fix all bgtask-lint findings in file", "source.fixAll.bgtask-lint")]
    all_fixed = apply_workspace_edit(actions[0]["edit"], uri, fixed)
    assert "asyncio.wait_for(asyncio.open_connection(HOST, PORT), timeout=10.0)" in all_fixed
    client.change(tasks, all_fixed, version=3)
    assert client.diagnostics(uri, lambda params: params.get("version") == 3) == []
    # nothing is fixable any more: no actions
    assert client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": guard["range"], "context": {"diagnostics": []},
    }) is None
    # the buffer was never written
    assert tasks.read_text(encoding="utf-8") == TASKS


def test_unsaved_edit_of_main_changes_what_is_a_task(client: LspClient, workspace: Path) -> None:
    client.initialize(workspace)
    tasks, main_py = workspace / "app" / "tasks.py", workspace / "app" / "main.py"
    client.open(tasks, TASKS)
    assert "BGT401" in codes(client.diagnostics(tasks.as_uri()))

    # main.py opened with an unsaved edit: it no longer schedules refresh_stock
    client.open(main_py, MAIN_NOT_SCHEDULING)
    assert client.diagnostics(main_py.as_uri()) == []
    assert codes(client.diagnostics(tasks.as_uri())) == ["BGT501"]

    # typing it back makes it a task again
    client.change(main_py, MAIN, version=2)
    assert "BGT401" in codes(client.diagnostics(tasks.as_uri()))

    # an unsaved edit that breaks main.py: the last version that parsed still counts
    client.change(main_py, MAIN_NOT_SCHEDULING + "def broken(:\n", version=3)
    broken = client.diagnostics(main_py.as_uri(), lambda params: params.get("version") == 3)
    assert len(broken) == 1 and "does not parse" in broken[0]["message"]
    assert broken[0]["range"]["start"] == {"line": 0, "character": 0}

    # closing main.py without saving: the file on disk (which schedules the task) counts
    client.change(main_py, MAIN_NOT_SCHEDULING, version=4)
    assert codes(client.diagnostics(tasks.as_uri())) == ["BGT501"]
    client.notify("textDocument/didClose", {"textDocument": {"uri": main_py.as_uri()}})
    assert client.diagnostics(main_py.as_uri(), lambda params: "version" not in params) == []
    assert "BGT401" in codes(client.diagnostics(tasks.as_uri()))


def test_lazy_code_actions_and_files_changed_on_disk(client: LspClient, workspace: Path) -> None:
    client.initialize(workspace, {
        "workspace": {"workspaceEdit": {"documentChanges": True},
                      "didChangeWatchedFiles": {"dynamicRegistration": True}},
        "textDocument": {"codeAction": {"resolveSupport": {"properties": ["edit"]}}},
    })
    tasks = workspace / "app" / "tasks.py"
    uri = tasks.as_uri()
    client.open(tasks, TASKS, version=7)
    diagnostics = client.diagnostics(uri)
    connect = next(d for d in diagnostics if d["code"] == "BGT501")
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": connect["range"], "context": {"diagnostics": [connect]},
    })
    assert [a["title"] for a in actions] == ["Fix BGT501: Add a connect timeout",
                                             "Fix all bgtask-lint findings in file"]
    assert all("edit" not in a for a in actions)  # computed on resolve only
    resolved = client.request("codeAction/resolve", actions[0])
    (change,) = resolved["edit"]["documentChanges"]
    assert change["textDocument"] == {"uri": uri, "version": 7}
    fixed = apply_workspace_edit(resolved["edit"], uri, TASKS)
    assert "asyncio.wait_for(asyncio.open_connection(HOST, PORT), timeout=10.0)" in fixed
    assert "except Exception" not in fixed
    # the server asked to be told about files changed on disk
    assert any(r["method"] == "client/registerCapability" for r in client.server_requests)

    # main.py (not open) is changed on disk: the task is no longer scheduled
    main_py = workspace / "app" / "main.py"
    main_py.write_text(MAIN_NOT_SCHEDULING, encoding="utf-8")
    client.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": main_py.as_uri(), "type": 2}]})
    assert codes(client.diagnostics(uri)) == ["BGT501"]
    main_py.unlink()
    client.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": main_py.as_uri(), "type": 3}]})
    # nothing changed for tasks.py; the server still answers
    assert client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": connect["range"], "context": {"diagnostics": []},
    })


def test_settings_from_pyproject_and_their_changes(client: LspClient, workspace: Path) -> None:
    pyproject = workspace / "pyproject.toml"
    pyproject.write_text('[tool.bgtask-lint]\nignore = ["BGT501"]\nexclude = ["generated"]\n', encoding="utf-8")
    (workspace / "generated").mkdir()
    generated = workspace / "generated" / "jobs.py"
    generated.write_text(TASKS, encoding="utf-8")
    client.initialize(workspace)
    tasks = workspace / "app" / "tasks.py"
    client.open(tasks, TASKS)
    assert codes(client.diagnostics(tasks.as_uri())) == ["BGT401"]
    client.open(generated, TASKS)
    assert client.diagnostics(generated.as_uri()) == []

    # a broken pyproject.toml: a warning, and the default settings
    pyproject.write_text("[tool.bgtask-lint\n", encoding="utf-8")
    client.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": pyproject.as_uri(), "type": 2}]})
    assert codes(client.diagnostics(tasks.as_uri())) == ["BGT401", "BGT501"]
    warning = client.wait_for("window/showMessage", lambda params: params["type"] == 2)
    assert "invalid TOML" in warning["message"] and "default settings" in warning["message"]


HTTP_TASK = """\
import httpx


async def refresh_stock(sku: str) -> None:
    async with httpx.AsyncClient() as client:
        await client.post("https://stock.internal/refresh", json={"sku": sku})
"""

CALLBACK_LOGS = """\
import logging

logger = logging.getLogger(__name__)


def log_failure(task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("task failed", exc_info=task.exception())
"""

CALLBACK_SILENT = CALLBACK_LOGS.replace(
    """    if not task.cancelled() and task.exception() is not None:
        logger.error("task failed", exc_info=task.exception())
""", """    logger.info("task done")
""")

SPAWNS_WITH_CALLBACK = """\
import asyncio

from app.callbacks import log_failure
from app.tasks import refresh_stock

_running = set()


async def start(sku: str) -> None:
    task = asyncio.create_task(refresh_stock(sku))
    _running.add(task)
    task.add_done_callback(log_failure)
"""


def test_an_edit_reaches_open_documents_that_do_not_import_it(client: LspClient, workspace: Path) -> None:
    """tasks.py and callbacks.py do not import each other, yet whether the task is guarded
    depends on the done-callback that main.py (not open) takes from callbacks.py: the
    other open documents are re-checked too, once the edits pause."""
    tasks, callbacks = workspace / "app" / "tasks.py", workspace / "app" / "callbacks.py"
    tasks.write_text(HTTP_TASK, encoding="utf-8")
    callbacks.write_text(CALLBACK_LOGS, encoding="utf-8")
    (workspace / "app" / "main.py").write_text(SPAWNS_WITH_CALLBACK, encoding="utf-8")
    client.initialize(workspace)
    client.open(tasks, HTTP_TASK)
    assert client.diagnostics(tasks.as_uri()) == []
    client.open(callbacks, CALLBACK_LOGS)
    assert client.diagnostics(callbacks.as_uri()) == []
    client.change(callbacks, CALLBACK_SILENT, version=2)
    assert codes(client.diagnostics(tasks.as_uri())) == ["BGT401"]
    client.change(callbacks, CALLBACK_LOGS, version=3)
    assert client.diagnostics(tasks.as_uri()) == []


def test_a_file_that_does_not_parse_and_untitled_buffers(client: LspClient, workspace: Path) -> None:
    client.initialize(workspace)
    broken = workspace / "app" / "broken.py"
    client.open(broken, "def f(:\n    pass\n")
    (diagnostic,) = client.diagnostics(broken.as_uri())
    assert "does not parse" in diagnostic["message"] and diagnostic["source"] == "bgtask-lint"
    client.notify("textDocument/didOpen", {"textDocument": {
        "uri": "untitled:Untitled-1", "languageId": "python", "version": 1, "text": "x = (\n"}})
    client.change(broken, "def f():\n    pass\n", version=2)
    assert client.diagnostics(broken.as_uri(), lambda params: params.get("version") == 2) == []
    assert client.request("textDocument/codeAction", {
        "textDocument": {"uri": "untitled:Untitled-1"},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": []},
    }) is None


SCOPED_CONFIG = """\
[tool.bgtask-lint]
exclude = ["vendored"]

[tool.bgtask-lint.per-file-ignores]
"app/legacy.py" = ["BGT501"]
"""

PLAIN_TASKS = """\
import asyncio

HOST = "stock.internal"


async def refresh_stock(sku: str) -> None:
    reader, writer = await asyncio.open_connection(HOST, 7000)
    writer.write(sku.encode())
"""

SCHEDULES_BOTH = """\
from fastapi import BackgroundTasks, FastAPI

from app.legacy import legacy_refresh
from app.tasks import refresh_stock

app = FastAPI()


@app.post("/stock/{sku}")
async def reset_stock(sku: str, background_tasks: BackgroundTasks) -> dict:
    background_tasks.add_task(refresh_stock, sku)
    background_tasks.add_task(legacy_refresh, sku)
    return {"ok": True}
"""

TEST_FILE = """\
import asyncio

from fastapi import BackgroundTasks

from app.tasks import HOST


async def reset_fixture(sku: str) -> None:
    reader, writer = await asyncio.open_connection(HOST, 7000)
    writer.write(sku.encode())


def test_reset(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(reset_fixture("x"))
    background_tasks.add_task(reset_fixture, "y")
"""

VENDORED_SCHEDULER = """\
from fastapi import BackgroundTasks

from vendored.jobs import refresh_stock


def schedule(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(refresh_stock("x"))
"""


def test_same_findings_as_check_with_test_file_per_file_ignore_and_exclude(
        client: LspClient, workspace: Path) -> None:
    files = {
        "pyproject.toml": SCOPED_CONFIG,
        "app/tasks.py": PLAIN_TASKS,
        "app/legacy.py": PLAIN_TASKS.replace("refresh_stock", "legacy_refresh"),
        "app/main.py": SCHEDULES_BOTH,
        "tests/test_stock.py": TEST_FILE,
        "vendored/jobs.py": PLAIN_TASKS,
        "vendored/sched.py": VENDORED_SCHEDULER,
    }
    for rel, text in files.items():
        (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
        (workspace / rel).write_text(text, encoding="utf-8")
    cli = subprocess.run(
        [sys.executable, "-m", "bgtask_lint", "check", "--no-cache", "--exit-zero", "--format", "json", "."],
        cwd=workspace, capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert cli.returncode == 0, cli.stderr
    expected = sorted((f["filename"], f["location"]["row"], f["location"]["column"], f["code"], f["message"])
                      for f in json.loads(cli.stdout))

    client.initialize(workspace)
    python_files = sorted(rel for rel in files if rel.endswith(".py")) + ["app/__init__.py"]
    for rel in python_files:
        client.open(workspace / rel, (workspace / rel).read_text(encoding="utf-8"))
    served = sorted(
        (rel, d["range"]["start"]["line"] + 1, d["range"]["start"]["character"] + 1, d["code"], d["message"])
        for rel in python_files  # ASCII sources: UTF-16 characters are the CLI's byte columns
        for d in client.diagnostics((workspace / rel).as_uri())
    )
    assert served == expected
    # and what both agree on is the scope of V2.1: the test file keeps BGT1xx only, the
    # per-file ignore drops BGT501 in legacy.py, the excluded directory reports nothing
    assert [(rel, code) for rel, _, _, code, _ in served] == [
        ("app/legacy.py", "BGT401"), ("app/tasks.py", "BGT401"), ("app/tasks.py", "BGT501"),
        ("tests/test_stock.py", "BGT101")]
    assert "2 findings in test files not shown" in cli.stderr


def test_latency_bench_runs(tmp_path: Path) -> None:
    """bench/lsp_latency.py drives the server as an editor would (no timing asserted)."""
    pytest.importorskip("pygls.lsp.server")
    bench = Path(__file__).resolve().parent.parent / "bench" / "lsp_latency.py"
    out = tmp_path / "latency.json"
    run = subprocess.run([sys.executable, str(bench), "--app", "30", "--open", "4", "--edits", "2", "--json", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["changed"].startswith("app/tasks/") and result["dependents_open"]
    assert set(result["edits"]) == {"comment", "new def"}
    assert set(result["edits"]["comment"]) == {"changed", "handled"}


def test_latency_bench_edits_each_task_module(tmp_path: Path) -> None:
    pytest.importorskip("pygls.lsp.server")
    bench = Path(__file__).resolve().parent.parent / "bench" / "lsp_latency.py"
    out = tmp_path / "each.json"
    run = subprocess.run([sys.executable, str(bench), "--app", "30", "--each-task-module", "--edits", "1",
                          "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    modules = json.loads(out.read_text(encoding="utf-8"))["task_modules"]
    assert any(m["module"].startswith("app/tasks/") for m in modules)
    assert all(m["changed_ms"] > 0 and m["handled_ms"] >= m["changed_ms"] for m in modules)
    assert f"{len(modules)} task modules" in run.stdout and "slowest (changed):" in run.stdout


# --- in process -----------------------------------------------------------------------------


def test_lsp_command_without_pygls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pygls", None)  # import pygls raises ImportError
    result = CliRunner().invoke(main, ["lsp"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "bgtask-lint: error: pygls is not installed: pip install 'bgtask-lint[lsp]'"


def test_importing_the_package_needs_no_pygls() -> None:
    """A fresh interpreter: importing bgtask_lint.lsp loads no pygls, and with pygls
    unimportable `bgtask-lint lsp` says so in one line."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, bgtask_lint.lsp; print(sorted(m for m in sys.modules "
                               "if m.split('.')[0] in ('pygls', 'lsprotocol')))"],
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"
    blocked = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['pygls'] = None; sys.argv = ['bgtask-lint', 'lsp']; "
                               "from bgtask_lint.cli import main; main()"],
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert blocked.returncode == 2
    assert blocked.stderr.splitlines() == ["bgtask-lint: error: pygls is not installed: pip install 'bgtask-lint[lsp]'"]


MAIN_PLAIN_IMPORT = """\
import app.tasks
from fastapi import BackgroundTasks, FastAPI

api = FastAPI()


@api.post("/stock/{sku}")
async def reset_stock(sku: str, background_tasks: BackgroundTasks) -> dict:
    background_tasks.add_task(app.tasks.refresh_stock, sku)
    return {"ok": True}
"""


def test_service_names_the_open_documents_to_recheck_first(workspace: Path) -> None:
    """After an edit: the open documents related to it by imports, and those whose tasks it
    changed (the server re-checks the others later)."""
    app = workspace / "app"
    tasks, main_py, other, plain = app / "tasks.py", app / "main.py", app / "other.py", app / "plain.py"
    other.write_text("LIMIT = 1\n", encoding="utf-8")
    plain.write_text(MAIN_PLAIN_IMPORT, encoding="utf-8")
    service = Service([workspace])
    for path in (tasks, main_py, other, plain):
        assert service.open(path.as_uri(), path, path.read_text(encoding="utf-8"), 1) is not None

    def edit(path: Path, text: str, version: int) -> list[Path] | None:
        retasked = service.change(path.as_uri(), path, text, version)
        return None if retasked is None else retasked + [p for p in service.related(path) if p not in retasked]

    assert edit(tasks, TASKS + "# edited\n", 2) == [main_py]  # main.py imports it
    assert edit(main_py, MAIN + "# edited\n", 2) == [tasks]  # what main.py imports
    assert edit(other, "LIMIT = 2\n", 2) == []
    # `import app.tasks` is only a name `app`: plain.py is not related to tasks.py by
    # imports, but when it stops scheduling refresh_stock (main.py no longer does) the
    # task table says so
    assert edit(plain, MAIN_PLAIN_IMPORT + "# edited\n", 2) == []
    assert edit(main_py, MAIN_NOT_SCHEDULING, 3) == [tasks]
    assert "BGT401" in [f.code for f in service.check(tasks).findings]
    unscheduled = MAIN_PLAIN_IMPORT.replace("    background_tasks.add_task(app.tasks.refresh_stock, sku)\n", "")
    assert edit(plain, unscheduled, 3) == [tasks]
    assert [f.code for f in service.check(tasks).findings] == ["BGT501"]
    # a buffer that does not parse changes nothing for the others
    assert edit(tasks, "def broken(:\n", 3) is None


def test_columns_are_utf16_code_units() -> None:
    line = 'x = "é🚀"; call()'
    char_col = len('x = "é🚀"; ')  # findings count characters
    assert lsp_column(line, char_col) == 5 + 1 + 2 + 3  # é is 1 unit, 🚀 is 2
    assert lsp_column(line, char_col, "utf-32") == 5 + 1 + 1 + 3
    assert lsp_column(line, char_col, "utf-8") == len('x = "é🚀"; '.encode("utf-8"))
    assert code_units("🚀") == 2
    # the lines of ast and LSP: \r, \n and \r\n break a line, a form feed does not
    assert split_lines("a\rb\r\nc\n\x0cd") == ["a", "b", "c", "\x0cd"]
    finding = Finding(Path("x.py"), 2, 0, "BGT401", "m", end_line=5, end_col=3)
    assert finding_range(finding, ["", "def f(a='🚀'):  ", "    pass"]) == ((1, 0), (1, 14))


@pytest.mark.parametrize(("old", "new"), [
    ("a\nb\nc\n", "a\nB\nc\n"),
    ("a\nb\nc", "a\nb\nc\nd"),
    ("a\nb\nc", "x\na\nb\nc"),
    ("a\r\nb\r\n", "a\r\nx\r\nb\r\n"),
    ("", "x\n"),
    ("x = '🚀'\ny\n", "x = '🚀'\n"),
    ("a\nb", "a\nb\n"),
])
def test_minimal_edit_applies_like_an_editor(old: str, new: str) -> None:
    ((start, end), replacement) = minimal_edit(old, new)
    edit = {"range": {"start": {"line": start[0], "character": start[1]},
                      "end": {"line": end[0], "character": end[1]}}, "newText": replacement}
    assert apply_text_edits(old, [edit]) == new


def test_the_heap_is_frozen_after_a_change_and_fully_collected_when_due(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    """What outlives a change is kept out of the collector's walks (the index's trees),
    and every FULL_COLLECTION_EDITS changes a full collection frees cyclic garbage."""
    pytest.importorskip("pygls.lsp.server")
    import types as pytypes

    from bgtask_lint.lsp import server as module

    calls: list[str] = []
    fake = pytypes.SimpleNamespace(**{name: (lambda name=name: calls.append(name))
                                      for name in ("freeze", "unfreeze", "collect")})
    monkeypatch.setattr(module, "gc", fake)
    lsp = module.BgtaskLanguageServer()
    monkeypatch.setattr(lsp, "log", lambda message: None)
    module_path = tmp_path / "app.py"
    module_path.write_text("x = 1\n")
    lsp.buffer_changed(module_path.as_uri(), "python", 1)  # (no client: it fails, and is logged)
    assert calls == ["freeze"]
    calls.clear()
    for version in range(2, module.FULL_COLLECTION_EDITS + 1):  # one open document, no other
        lsp.buffer_changed(module_path.as_uri(), "python", version)
    assert calls == ["freeze"] * (module.FULL_COLLECTION_EDITS - 1) + ["unfreeze", "collect", "freeze"]
    calls.clear()
    lsp.collect_when_due()
    assert calls == []  # not again until as many more changes
