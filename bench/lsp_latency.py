#!/usr/bin/env python
"""Editor latency of `bgtask-lint lsp` (issue 13): `python bench/lsp_latency.py [--root DIR | --app N]`.

The target: "single file in the editor (language server, unsaved edit to a task module):
diagnostics for the changed file and its dependents within 100 ms after the first check."

The server runs as a subprocess and is driven over real stdio JSON-RPC, as an editor
drives it. The project is a real one (`--root`, e.g. an app of the dev corpus) or the
generated FastAPI app of bench/run.py (`--app N` modules, the default). The changed file
is the task module (a module defining a scheduled task) that the most modules import,
unless `--changed` names one. The editor has `--open` documents open: the changed file,
up to `--dependents` modules that import it, up to two project modules it imports, then
other modules of the project, evenly spread.

After the first check (every open document's diagnostics received), each of `--edits`
unsaved edits of the changed file is timed, alternating two kinds:

* comment  a comment line appended (what a task is does not change)
* new def  a function appended (the module's names change: the task table is rebuilt)

Two times per edit, from sending `didChange`:

* changed  until the diagnostics of the changed file (with the edit's version) arrive
* handled  until the server has handled the change: the answer to a request sent right
           after it, which the server reads only then (diagnostics of other documents are
           only sent when they changed, so their arrival cannot be waited for). Since the
           server re-checks at once only the open documents related to the changed one by
           imports (the dependents), and the others once the edits pause, this is the time
           to the dependents' diagnostics; before that change it included every open one.

Printed: the median, 90th percentile and maximum per kind, in milliseconds; `--json FILE`
writes them too.

`--each-task-module` measures every task module of the project instead, one after the
other in one server: each is opened alone, edited `--edits` times (a comment appended),
and closed. Printed: how many are within the target (their median "changed"), the
median, 90th percentile and maximum over the modules, and the slowest ones with their
size. (The target names "a task module"; the default mode's one module is the most
imported, which in a large app is often one of its largest.)
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TARGET_MS = 100.0
TIMEOUT = 120.0  # seconds for any one answer (the first check of a large project is slow)


# --- a minimal LSP client (Content-Length framed JSON-RPC over the server's stdio) --------


class Client:
    def __init__(self) -> None:
        self.stderr = tempfile.TemporaryFile()
        # not the project directory: `python -m` puts the working directory on sys.path, and
        # a package there (prefect/logging/) would shadow the standard library
        self.proc = subprocess.Popen([sys.executable, "-m", "bgtask_lint", "lsp"], cwd=REPO,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        self.messages: queue.Queue[tuple[float, dict] | None] = queue.Queue()
        self.next_id = 0
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
                    if not line.strip():
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = stream.read(int(headers["content-length"]))
                self.messages.put((time.perf_counter(), json.loads(body)))  # stamped on arrival
        except Exception:
            self.messages.put(None)

    def send(self, message: dict) -> float:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.proc.stdin is not None
        sent = time.perf_counter()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()
        return sent

    def notify(self, method: str, params: Any) -> float:
        return self.send({"method": method, "params": params})

    def request(self, method: str, params: Any) -> int:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.next_id

    def until(self, done: Callable[[dict], bool]) -> float:
        """Read messages until one satisfies `done`; its arrival time. Requests of the
        server are answered with null."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                item = self.messages.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise SystemExit(f"timed out; server stderr:\n{self.server_output()}") from None
            if item is None:
                raise SystemExit(f"the server stopped; its stderr:\n{self.server_output()}")
            arrived, message = item
            if "method" in message and "id" in message:
                self.send({"id": message["id"], "result": None})
                continue
            if message.get("method") == "window/logMessage" and "internal error" in message["params"]["message"]:
                raise SystemExit(message["params"]["message"])
            if done(message):
                return arrived

    def server_output(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def close(self) -> None:
        try:
            request_id = self.request("shutdown", None)
            self.until(lambda m: m.get("id") == request_id)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        except (Exception, SystemExit):
            self.proc.kill()
            self.proc.wait(timeout=10)


def published(uri: str, version: int | None = None) -> Callable[[dict], bool]:
    def match(message: dict) -> bool:
        params = message.get("params") or {}
        return (message.get("method") == "textDocument/publishDiagnostics" and params.get("uri") == uri
                and (version is None or params.get("version") == version))
    return match


# --- choosing the files ---------------------------------------------------------------------


def pick_files(root: Path, changed: Path | None, count: int, most_dependents: int) -> tuple[Path, list[Path], list[Path]]:
    """(changed file, its dependents, the files to open, changed first), from the index
    the CLI would build (every module parsed here, so importers are complete)."""
    from bgtask_lint.config import load_settings
    from bgtask_lint.files import iter_python_files
    from bgtask_lint.project import Project

    project = Project.load([], load_settings(None, root), root=root)
    index = project.index
    paths = sorted(p.resolve() for p in iter_python_files([root], project.settings.excludes, root))
    modules = [m for m in (index.module(p) for p in paths) if m is not None]
    imports: dict[Path, set[Path]] = {}
    for module in modules:
        refs = list(module.imports.values()) + [r for scope in module.local_imports.values() for r in scope.values()]
        targets = set()
        for ref in refs:
            for name in (ref.module, f"{ref.module}.{ref.attr}" if ref.attr else None):
                found = index.find_module(name, module, ref.base) if name is not None else None
                if found is not None and found.path != module.path:
                    targets.add(found.path)
        imports[module.path] = targets

    def importers(path: Path) -> list[Path]:
        return sorted(p for p, targets in imports.items() if path in targets)

    if changed is None:
        candidates = sorted(index.task_paths())
        if not candidates:
            raise SystemExit(f"no module of {root} defines a background task: name one with --changed")
        changed = max(candidates, key=lambda p: (len(importers(p)), str(p)))
    changed = changed.resolve()
    dependents = importers(changed)
    chosen = [changed] + dependents[: min(most_dependents, count - 1)]
    chosen += [p for p in sorted(imports.get(changed, ())) if p not in chosen][: min(2, max(count - len(chosen), 0))]
    rest = [p for p in paths if p not in chosen]
    step = max(1, len(rest) // max(count - len(chosen), 1))
    chosen += rest[::step][: max(count - len(chosen), 0)]
    return changed, [d for d in dependents if d in chosen], chosen


# --- the measurement ------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "p90": percentile(values, 0.9), "max": max(values)}


def started_client(root: Path) -> Client:
    client = Client()
    request_id = client.request("initialize", {
        "processId": os.getpid(), "rootUri": root.as_uri(),
        "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}], "capabilities": {},
    })
    client.until(lambda m: m.get("id") == request_id)
    client.notify("initialized", {})
    return client


def barrier(client: Client) -> int:
    """A request the server answers only once it has handled what was sent before it."""
    return client.request("textDocument/codeAction", {
        "textDocument": {"uri": "untitled:bench"}, "context": {"diagnostics": []},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}})


def measure(root: Path, changed_arg: Path | None, open_count: int, most_dependents: int, edits: int) -> dict:
    changed, dependents, chosen = pick_files(root, changed_arg, open_count, most_dependents)
    texts = {p: p.read_text(encoding="utf-8") for p in chosen}
    client = started_client(root)
    try:
        started = time.perf_counter()
        for path in chosen:
            client.notify("textDocument/didOpen", {"textDocument": {
                "uri": path.as_uri(), "languageId": "python", "version": 1, "text": texts[path]}})
        waiting = barrier(client)
        first_check = (client.until(lambda m: m.get("id") == waiting) - started) * 1000

        times: dict[str, dict[str, list[float]]] = {"comment": {"changed": [], "handled": []},
                                                    "new def": {"changed": [], "handled": []}}
        uri = changed.as_uri()
        for number in range(edits):
            kind = "comment" if number % 2 == 0 else "new def"
            extra = (f"\n# edit {number}\n" if kind == "comment"
                     else f"\n\ndef _bench_edit_{number}(value):\n    return value\n")
            version = number + 2
            sent = client.notify("textDocument/didChange", {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"text": texts[changed] + extra}]})
            waiting = barrier(client)
            times[kind]["changed"].append((client.until(published(uri, version)) - sent) * 1000)
            times[kind]["handled"].append((client.until(lambda m: m.get("id") == waiting) - sent) * 1000)
    finally:
        client.close()
    relative = (lambda p: str(p.relative_to(root)))
    return {
        "root": str(root),
        "python_files": sum(1 for _ in root.rglob("*.py")),
        "changed": relative(changed),
        "dependents_open": [relative(p) for p in dependents],
        "open": [relative(p) for p in chosen],
        "first_check_ms": first_check,
        "load_average": os.getloadavg()[0],
        "edits": {kind: {what: summary(values) for what, values in found.items() if values}
                  for kind, found in times.items() if found["changed"]},
    }


def measure_each_task_module(root: Path, edits: int) -> dict:
    """Every task module opened alone, edited `edits` times, closed: its median times."""
    from bgtask_lint.config import load_settings
    from bgtask_lint.project import Project

    tasks = sorted(Project.load([], load_settings(None, root), root=root).index.task_paths())
    if not tasks:
        raise SystemExit(f"no module of {root} defines a background task")
    client = started_client(root)
    modules = []
    try:
        for path in tasks:
            text, uri = path.read_text(encoding="utf-8"), path.as_uri()
            client.notify("textDocument/didOpen", {"textDocument": {
                "uri": uri, "languageId": "python", "version": 1, "text": text}})
            waiting = barrier(client)
            client.until(lambda m: m.get("id") == waiting)
            changed, handled = [], []
            for number in range(edits):
                version = number + 2
                sent = client.notify("textDocument/didChange", {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"text": text + f"\n# edit {number}\n"}]})
                waiting = barrier(client)
                changed.append((client.until(published(uri, version)) - sent) * 1000)
                handled.append((client.until(lambda m: m.get("id") == waiting) - sent) * 1000)
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            modules.append({"module": str(path.relative_to(root)), "kib": len(text.encode("utf-8")) // 1024,
                            "changed_ms": statistics.median(changed), "handled_ms": statistics.median(handled)})
    finally:
        client.close()
    return {"root": str(root), "python_files": sum(1 for _ in root.rglob("*.py")), "task_modules": modules,
            "load_average": os.getloadavg()[0]}


def report_each(result: dict) -> str:
    modules = result["task_modules"]
    lines = [f"project {result['root']} ({result['python_files']} .py files): "
             f"{len(modules)} task modules, each opened alone and edited; load average {result['load_average']:.1f}",
             f"{'until':<8} {'within':>9} {'median':>8} {'p90':>8} {'max':>8}   (ms; target {TARGET_MS:.0f})"]
    for what in ("changed", "handled"):
        values = [m[f"{what}_ms"] for m in modules]
        stats = summary(values)
        within = f"{sum(v <= TARGET_MS for v in values)}/{len(values)}"
        lines.append(f"{what:<8} {within:>9} {stats['median']:8.1f} {stats['p90']:8.1f} {stats['max']:8.1f}")
    lines.append("slowest (changed):")
    for module in sorted(modules, key=lambda m: -m["changed_ms"])[:5]:
        lines.append(f"  {module['changed_ms']:7.1f} ms  {module['kib']:5d} KiB  {module['module']}")
    return "\n".join(lines)


def report(result: dict) -> str:
    lines = [
        f"project {result['root']} ({result['python_files']} .py files)",
        f"changed {result['changed']}; {len(result['open'])} documents open, "
        f"{len(result['dependents_open'])} of them dependents: {', '.join(result['dependents_open']) or '-'}",
        f"first check (all open documents): {result['first_check_ms']:.0f} ms; load average {result['load_average']:.1f}",
        f"{'edit':<9} {'until':<8} {'median':>8} {'p90':>8} {'max':>8}   (ms; target {TARGET_MS:.0f})",
    ]
    for kind, found in result["edits"].items():
        for what, stats in found.items():
            lines.append(f"{kind:<9} {what:<8} {stats['median']:8.1f} {stats['p90']:8.1f} {stats['max']:8.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--root", type=Path, help="a project directory (e.g. an app of the dev corpus)")
    where.add_argument("--app", type=int, default=200, help="modules of the generated app (default 200)")
    parser.add_argument("--changed", type=Path, help="the file to edit (default: the most imported task module)")
    parser.add_argument("--open", type=int, default=10, help="documents open in the editor (default 10)")
    parser.add_argument("--dependents", type=int, default=3, help="open modules that import the changed one (default 3)")
    parser.add_argument("--edits", type=int, default=None,
                        help="timed edits (default 40; with --each-task-module, 3 of each module)")
    parser.add_argument("--each-task-module", action="store_true",
                        help="edit every task module in turn, each open alone (see above)")
    parser.add_argument("--json", type=Path, help="also write the result as JSON")
    args = parser.parse_args()
    edits = args.edits if args.edits is not None else (3 if args.each_task_module else 40)

    def run(root: Path) -> dict:
        if args.each_task_module:
            return measure_each_task_module(root, edits)
        return measure(root, args.changed, args.open, args.dependents, edits)

    if args.root is not None:
        root = args.root.resolve()
        if not root.is_dir():
            raise SystemExit(f"lsp_latency: error: {args.root} is not a directory")
        result = run(root)
    else:
        from bench.run import generate_app_corpus

        with tempfile.TemporaryDirectory() as tmp:
            result = run(generate_app_corpus(Path(tmp).resolve() / f"app-{args.app}", args.app))
    print(report_each(result) if args.each_task_module else report(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
