"""`bgtask-lint fix` end to end: the example app, cross-module facts, --diff, encodings,
line endings, permissions, and the LibCST command line."""

from __future__ import annotations

import ast
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgtask_lint.cli import main
from bgtask_lint.config import Settings
from bgtask_lint.runner import check_paths
from projects import ENDPOINT_MODULE, TASK_MODULE, write_app

REPO = Path(__file__).parent.parent
EXAMPLES = REPO / "examples"

def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture()
def app_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    monkeypatch.chdir(tmp_path)
    return target


def _statement_spans(source: str) -> list[tuple[int, int, ast.AST]]:
    tree = ast.parse(source)
    return [(n.lineno, n.end_lineno, n) for n in ast.walk(tree) if isinstance(n, (ast.stmt, ast.excepthandler))]


def _smallest_statement(spans, line: int) -> tuple[int, int]:
    containing = [(s, e) for s, e, _ in spans if s <= line <= e]
    return min(containing, key=lambda span: span[1] - span[0])


def test_fix_example_app_leaves_only_unfixable_findings(app_copy: Path) -> None:
    before = {p: p.read_text() for p in app_copy.rglob("*.py")}
    fixable_before = [f for f in check_paths([app_copy], Settings()).findings if f.fix == "safe"]
    assert fixable_before

    result = run("fix", str(app_copy))
    assert result.exit_code == 1  # unfixable findings remain
    assert "Fixed" in result.stderr

    after_check = check_paths([app_copy], Settings())
    assert after_check.findings and all(f.fix != "safe" for f in after_check.findings)
    for path in app_copy.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")

    # only the statements a fix touched changed; elsewhere lines were only added (imports)
    import difflib

    for finding_path in {f.path for f in fixable_before}:
        old = before[Path(finding_path)].splitlines()
        new = Path(finding_path).read_text().splitlines()
        spans = _statement_spans(before[Path(finding_path)])
        allowed = [_smallest_statement(spans, f.line) for f in fixable_before if f.path == finding_path]
        matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        for tag, i1, i2, _, _ in matcher.get_opcodes():
            if tag in ("replace", "delete"):
                for line in range(i1 + 1, i2 + 1):
                    if tag == "delete" and old[line - 1].startswith(("import ", "from ")):
                        continue  # an import the fix made unused (V2.9)
                    assert any(s <= line <= e for s, e in allowed), f"{finding_path}:{line} changed"

    snapshot = {p: p.read_bytes() for p in app_copy.rglob("*.py")}
    again = run("fix", str(app_copy))
    assert "Fixed 0 findings" in again.stderr
    assert {p: p.read_bytes() for p in app_copy.rglob("*.py")} == snapshot


def test_diff_writes_nothing(app_copy: Path) -> None:
    snapshot = {p: p.read_bytes() for p in app_copy.rglob("*.py")}
    result = run("fix", "--diff", str(app_copy))
    assert result.exit_code == 1
    assert "+    task = asyncio.create_task(" in result.stdout
    assert {p: p.read_bytes() for p in app_copy.rglob("*.py")} == snapshot


def test_check_fix_is_fix(app_copy: Path) -> None:
    result = run("check", "--fix", str(app_copy))
    assert "Fixed" in result.stderr
    assert all(f.fix != "safe" for f in check_paths([app_copy], Settings()).findings)


def _project(tmp_path: Path, tasks: str = TASK_MODULE, endpoint: str = ENDPOINT_MODULE) -> Path:
    return write_app(tmp_path, {"tasks": tasks, "main": endpoint}, name="x")


def test_cross_module_fix_in_one_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = run("fix", "app")
    assert result.exit_code == 0, result.output
    # BGT101 in main.py made refresh a task, so tasks.py got its guard in the same run
    assert "background_tasks.add_task(refresh, user_id)" in (app / "main.py").read_text()
    tasks = (app / "tasks.py").read_text()
    assert 'logger.exception("background task %s failed", "refresh")' in tasks
    assert "await asyncio.sleep(1)" in tasks
    assert run("fix", "app").stderr.startswith("Fixed 0 findings")


def test_fixing_one_file_uses_the_whole_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _project(tmp_path, endpoint=ENDPOINT_MODULE.replace("add_task(refresh(user_id))", "add_task(refresh, user_id)"))
    monkeypatch.chdir(tmp_path)
    before_main = (app / "main.py").read_bytes()
    run("fix", "app/tasks.py")
    assert "logger.exception" in (app / "tasks.py").read_text()
    assert (app / "main.py").read_bytes() == before_main


def test_crlf_latin1_cookie_and_permissions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = (
        "# -*- coding: latin-1 -*-\r\n"
        "# caf\xe9 cr\xe8me\r\n"
        "import asyncio\r\n"
        "\r\n"
        "async def handler():\r\n"
        "    asyncio.create_task(work('\xe9t\xe9'))\r\n"
    )
    path = tmp_path / "legacy.py"
    path.write_bytes(source.encode("latin-1"))
    os.chmod(path, 0o640)
    monkeypatch.chdir(tmp_path)
    result = run("fix", "legacy.py")
    assert result.exit_code == 0, result.output
    raw = path.read_bytes()
    text = raw.decode("latin-1")
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert text.startswith("# -*- coding: latin-1 -*-\r\n# caf\xe9 cr\xe8me\r\n")
    assert "    task = asyncio.create_task(work('\xe9t\xe9'))\r\n" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    compile(raw, "legacy.py", "exec")


def test_bom_and_tabs_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = (
        "\ufeffimport time\n"
        "from fastapi import BackgroundTasks\n\n"
        "async def task(x):\n\tawait work(x)\n\ttime.sleep(1)\n\n"
        "def endpoint(background_tasks: BackgroundTasks):\n\tbackground_tasks.add_task(task, 1)\n"
    )
    path = tmp_path / "tabs.py"
    path.write_bytes(source.encode("utf-8"))
    monkeypatch.chdir(tmp_path)
    assert run("fix", "tabs.py").exit_code == 0
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfimport asyncio\nimport logging\nfrom fastapi")  # `time` went unused
    text = raw.decode("utf-8-sig")
    assert "\ttry:\n\t\tawait work(x)\n\t\tawait asyncio.sleep(1)\n\texcept Exception:\n" in text
    assert "    " not in text


def test_a_progress_bar_counts_the_files_fixed_by_every_process(tmp_path: Path) -> None:
    """On a terminal, many files to fix show a bar that this process moves as it and its
    workers fix files, and that ends full."""
    from terminal import on_a_terminal

    from bgtask_lint.fix_run import MIN_PARALLEL_FIXES, PROGRESS_THRESHOLD

    count = max(PROGRESS_THRESHOLD, MIN_PARALLEL_FIXES) + 5
    app = write_app(tmp_path, {f"m{n}": "import asyncio\n\n\nasync def job():\n    pass\n\n\n"
                                         "async def go():\n    asyncio.create_task(job())\n" for n in range(count)})
    code, output = on_a_terminal(["fix", "--no-cache", "--jobs", "2", app.name], tmp_path)
    assert code == 0, output
    shown = [int(percent) for percent in re.findall(r"fixing +\[[#-]+\] +(\d+)%", output)]
    assert len(shown) > 2 and shown == sorted(shown) and shown[-1] == 100, output
    assert f"Fixed {count} findings (BGT103: {count}) in {count} files." in output


def test_two_files_to_fix_are_fixed_by_two_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process fixes files in turn with one worker: two files are worth the fork."""
    from bgtask_lint import parallel

    shared = []
    original = parallel.map_shared

    def counting(project, function, items, *args, **kwargs):
        done = original(project, function, items, *args, **kwargs)
        shared.append((getattr(function, "func", function).__name__, len(items), done is not None))
        return done

    monkeypatch.setattr(parallel, "map_shared", counting)
    app = write_app(tmp_path, {name: "import asyncio\n\n\nasync def job():\n    pass\n\n\n"
                                     "async def go():\n    asyncio.create_task(job())\n" for name in ("a", "b")})
    monkeypatch.chdir(tmp_path)
    result = run("fix", "--no-cache", "--jobs", "2", app.name)
    assert result.exit_code == 0, result.output
    assert ("_fix_one", 2, True) in shared, shared
    assert all("add_done_callback" in (app / f"{name}.py").read_text() for name in ("a", "b"))


def test_libcst_tool_runs_our_commands(tmp_path: Path) -> None:
    target = tmp_path / "svc.py"
    target.write_text("import asyncio\n\nasync def handler():\n    asyncio.create_task(work())\n")
    proc = subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", "dangling_task.DanglingTaskCommand", str(target)],
        cwd=REPO, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    text = target.read_text()
    assert "_background_tasks.add(task)" in text and "task.add_done_callback(_background_task_done)" in text
    # LibCST's own commands stay available through the same configuration
    proc = subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", "noop.NOOPCommand", str(target)],
        cwd=REPO, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr


def _many_modules(root: Path) -> Path:
    modules = {f"tasks_{i}": TASK_MODULE.replace("refresh", f"refresh_{i}") for i in range(6)}
    imports = "".join(f"from app.tasks_{i} import refresh_{i}\n" for i in range(6))
    calls = "".join(f"    background_tasks.add_task(refresh_{i}(user_id))\n" for i in range(6))
    modules["main"] = ("from fastapi import BackgroundTasks\n\n" + imports
                       + "\n\ndef endpoint(background_tasks: BackgroundTasks, user_id: int):\n" + calls)
    return write_app(root, modules)


def test_files_fixed_in_workers_write_what_one_process_writes(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    written = {}
    for jobs in ("1", "2"):
        root = tmp_path / f"jobs{jobs}"
        app = _many_modules(root)
        monkeypatch.chdir(root)
        result = run("fix", "--jobs", jobs, "app")
        assert result.exit_code == 0, result.output
        written[jobs] = {p.name: p.read_text() for p in sorted(app.glob("*.py"))}
        # BGT101 in main.py made each refresh_i a task: their guards came in the same run
        assert all('logger.exception("background task %s failed"' in written[jobs][f"tasks_{i}.py"]
                   for i in range(6))
        assert result.stderr.startswith("Fixed 18 findings"), result.stderr
    assert written["1"] == written["2"]


def _dropped_tasks_elsewhere(root: Path) -> Path:
    """main.py drops four tasks defined in modules named to sort before and after it."""
    names = ("a_tasks", "b_tasks", "y_tasks", "z_tasks")
    modules = {name: ("import logging\n\nlogger = logging.getLogger(__name__)\n\n\n"
                      f"async def flush_{name}(items):\n    for item in items:\n        await item.save()\n")
               for name in names}
    modules["main"] = ("import asyncio\n\n" + "".join(f"from app.{name} import flush_{name}\n" for name in names)
                       + "\n\nasync def endpoint(items):\n"
                       + "".join(f"    asyncio.create_task(flush_{name}(items))\n" for name in names))
    return write_app(root, modules)


@pytest.mark.parametrize("cache", [["--no-cache"], []])
def test_a_scheduling_fix_in_one_module_decides_the_guard_in_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: list[str]) -> None:
    from bgtask_lint import fix_run

    monkeypatch.setattr(fix_run, "MIN_PARALLEL_FIXES", 2)  # workers even for these few files
    written = {}
    for jobs in ("1", "2"):
        root = tmp_path / f"jobs{jobs}"
        app = _dropped_tasks_elsewhere(root)
        monkeypatch.chdir(root)
        before = {f.path.name: f.code for f in check_paths([app], Settings(), root=root).findings}
        assert set(before.values()) == {"BGT103", "BGT401"}  # each task body: no guard yet
        result = run("fix", "--jobs", jobs, *cache, "app")
        assert result.exit_code == 0, result.output
        written[jobs] = {p.name: p.read_text() for p in sorted(app.glob("*.py"))}
        # the done-callback logs each task's exception: a wrapped body would log it twice,
        # whichever order the files sort in, in one process or in workers
        assert "task.add_done_callback(_background_task_done)" in written[jobs]["main.py"]
        assert not any("try:" in text for name, text in written[jobs].items() if name != "main.py")
        assert result.stderr.startswith("Fixed 4 findings"), result.stderr
    assert written["1"] == written["2"]


def test_files_whose_fixes_cannot_decide_each_other_are_fixed_in_one_stage(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduling fixes go first only when one can decide another module's task-body
    fix: here main.py drops a task defined in main.py, and the unguarded task of jobs.py
    is scheduled from elsewhere; one stage, and what is written is the same."""
    from bgtask_lint import fix_run

    app = write_app(tmp_path, {
        "main": "import asyncio\n\n\nasync def job(x):\n    await asyncio.sleep(0)\n\n\n"
                "async def go():\n    asyncio.create_task(job(1))\n",
        "jobs": "import logging\n\nlogger = logging.getLogger(__name__)\n\n\n"
                "async def flush(items):\n    for item in items:\n        await item.save()\n",
        "routes": "from fastapi import BackgroundTasks\nfrom app.jobs import flush\n\n\n"
                  "async def endpoint(background_tasks: BackgroundTasks, items: list):\n"
                  "    background_tasks.add_task(flush, items)\n",
    })
    stages = []
    original = fix_run._fix_files
    monkeypatch.setattr(fix_run, "_fix_files", lambda *a, **k: stages.append(a[1]) or original(*a, **k))
    monkeypatch.chdir(tmp_path)
    result = run("fix", "--jobs", "1", "--no-cache", "app")
    assert result.exit_code == 0, result.output
    assert "add_done_callback" in (app / "main.py").read_text() and "try:" in (app / "jobs.py").read_text()
    assert [sorted(p.name for p in paths) for paths in stages] == [["jobs.py", "main.py"]]


def test_files_with_no_task_body_fix_are_fixed_with_the_scheduling_fixes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the scheduling fixes go first, the files no scheduling fix can decide are
    fixed in the same stage, whole: client.py (a connect timeout), and jobs.py, whose task
    body is to guard but whose task no fix schedules (routes.py adds it with add_task);
    only the task-body fixes that a dropped task's fix decides wait for the second stage.
    What is written is the same as fixing them after."""
    from bgtask_lint import fix_run

    app = _dropped_tasks_elsewhere(tmp_path)
    (app / "client.py").write_text("import requests\n\n\ndef fetch(url):\n    return requests.get(url)\n")
    (app / "jobs.py").write_text("import logging\n\nlogger = logging.getLogger(__name__)\n\n\n"
                                 "async def flush(items):\n    for item in items:\n        await item.save()\n")
    (app / "routes.py").write_text("from fastapi import BackgroundTasks\nfrom app.jobs import flush\n\n\n"
                                   "async def endpoint(background_tasks: BackgroundTasks, items: list):\n"
                                   "    background_tasks.add_task(flush, items)\n")
    stages = []
    original = fix_run._fix_files
    monkeypatch.setattr(fix_run, "_fix_files", lambda *a, **k: stages.append(sorted(p.name for p in a[1]))
                        or original(*a, **k))
    monkeypatch.chdir(tmp_path)
    result = run("fix", "--jobs", "1", "--no-cache", "app")
    assert result.exit_code == 0, result.output
    assert stages[:2] == [["client.py", "jobs.py", "main.py"],
                          ["a_tasks.py", "b_tasks.py", "y_tasks.py", "z_tasks.py"]]
    assert "requests.get(url, timeout=" in (app / "client.py").read_text()
    assert "add_done_callback" in (app / "main.py").read_text()
    assert "try:" not in (app / "a_tasks.py").read_text()  # guarded by the done-callback
    assert "try:" in (app / "jobs.py").read_text()
    assert result.stderr.startswith("Fixed 6 findings"), result.stderr


def test_fix_parses_each_text_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first check, the fix and the last check share the modules parsed from one text:
    a file the fix leaves alone is parsed once in the whole run, a fixed one once more."""
    from bgtask_lint import engine
    from projects import ENDPOINT_MODULE, TASK_MODULE, write_app

    app = write_app(tmp_path, {
        "tasks": "import asyncio\n\nasync def job(x):\n    await asyncio.sleep(0)\n",
        "main": "import asyncio\nfrom app.tasks import job\n\nasync def go():\n    asyncio.create_task(job(1))\n",
        "other": "def helper():\n    return 1\n",
    })
    parsed: list[tuple[Path, str]] = []
    original = engine._parse_module

    def counting(path, root, text):
        parsed.append((path, text))
        return original(path, root, text)

    monkeypatch.setattr(engine, "_parse_module", counting)
    result = CliRunner().invoke(main, ["fix", "--jobs", "1", str(tmp_path)])
    assert result.exit_code in (0, 1), result.output
    assert "add_done_callback" in (app / "main.py").read_text()  # fixed (BGT103)
    repeated = [path.name for path, text in set(parsed) if parsed.count((path, text)) > 1]
    assert not repeated, repeated
    assert (app / "other.py", (app / "other.py").read_text()) in parsed


def test_a_pre_commit_fix_on_a_warm_cache_parses_only_what_it_needs(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`fix` of one changed file, the cache warm: it fixes on the index of the cached check,
    whose task table and session flows come from the cache's parts, so the other modules
    that schedule tasks are not all parsed again (a pre-commit fix on litellm parsed 300
    of them: 2.3 s against 0.8 s now). What it writes is what a run without the cache writes."""
    from bgtask_lint import engine

    modules = {f"routes_{n}": ("from fastapi import BackgroundTasks\nfrom app.jobs import flush\n\n\n"
                               "async def endpoint(background_tasks: BackgroundTasks, items: list):\n"
                               "    background_tasks.add_task(flush, items)\n") for n in range(20)}
    modules["jobs"] = ("import logging\n\nlogger = logging.getLogger(__name__)\n\n\n"
                       "async def flush(items):\n    for item in items:\n        await item.save()\n")
    modules["main"] = "import asyncio\n\n\nasync def work():\n    pass\n"
    app = write_app(tmp_path / "cached", modules)
    write_app(tmp_path / "plain", modules)
    monkeypatch.chdir(tmp_path / "cached")
    assert run("check", "app").exit_code == 1  # the cache is warm (jobs.py: BGT401)
    changed = modules["main"] + "\n\nasync def start():\n    asyncio.create_task(work())\n"
    for root in ("cached", "plain"):
        (tmp_path / root / "app" / "main.py").write_text(changed)
    parsed: list[Path] = []
    original = engine._parse_module

    def counting(path, root, text):
        parsed.append(path)
        return original(path, root, text)

    monkeypatch.setattr(engine, "_parse_module", counting)
    result = run("fix", "--jobs", "1", "app/main.py")
    assert result.exit_code == 0, result.output
    assert not any(path.name.startswith("routes_") for path in parsed), sorted({p.name for p in parsed})
    monkeypatch.chdir(tmp_path / "plain")
    assert run("fix", "--jobs", "1", "--no-cache", "app/main.py").exit_code == 0
    assert (app / "main.py").read_text() == (tmp_path / "plain" / "app" / "main.py").read_text()
    assert "add_done_callback" in (app / "main.py").read_text()


@pytest.mark.parametrize("cache", [["--no-cache"], []])
def test_fix_checks_each_text_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: list[str]) -> None:
    """The fix's check of a file's fixable codes is the run's first check, filtered (with
    the cache: the cached check's findings, as they are): a file fixed in one pass has its
    rules run twice (before, and on the fixed text)."""
    from bgtask_lint import project as project_module

    app = write_app(tmp_path, {
        "main": "import asyncio\n\nasync def job(x):\n    await asyncio.sleep(0)\n\n"
                "async def go():\n    asyncio.create_task(job(1))\n",
    })
    checked: list[str] = []
    original = project_module.check_module

    def counting(module, *args, **kwargs):
        if module.path.name == "main.py":
            checked.append(module.source)
        return original(module, *args, **kwargs)

    monkeypatch.setattr(project_module, "check_module", counting)
    result = CliRunner().invoke(main, ["fix", *cache, "--jobs", "1", str(tmp_path)])
    assert result.exit_code in (0, 1), result.output
    fixed = (app / "main.py").read_text()
    assert "add_done_callback" in fixed
    before = "import asyncio\n\nasync def job(x):\n    await asyncio.sleep(0)\n\nasync def go():\n    asyncio.create_task(job(1))\n"
    assert checked == [before, fixed]


def test_the_command_line_spares_the_exit_its_last_collection(tmp_path: Path) -> None:
    """`bgtask-lint` ends with the collector's objects frozen (a 1 MB module's fix spent
    1.3 s collecting after its work was done)."""
    (tmp_path / "app.py").write_text("x = 1\n")
    probe = ("import atexit, gc\n"
             "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
             "from bgtask_lint.launch import run\nrun()\n")
    done = subprocess.run([sys.executable, "-c", probe, "check", "--no-cache", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "frozen True"


def test_a_fix_keeps_no_syntax_tree_once_done(tmp_path: Path) -> None:
    """The caches of per-tree facts (the codemods' shared walk, imports, defs) let go of
    their trees when a file's fix ends (a language server that fixes a big module must
    not keep its tree)."""
    from bgtask_lint import names
    from bgtask_lint.project import Project

    app = write_app(tmp_path, {
        "main": "import asyncio\n\nasync def job(x):\n    await asyncio.sleep(0)\n\n"
                "async def go():\n    asyncio.create_task(job(1))\n",
    })
    project = Project.load([tmp_path], Settings())
    path = app / "main.py"
    result = project.fix_text(path, path.read_text())
    assert "add_done_callback" in result.new_text
    assert len(names.TreeCache.made) >= 3 and not any(names.TreeCache.made)


@pytest.mark.parametrize("rounds", [1, 3])
def test_the_last_rounds_check_stands_for_the_remaining_findings_only_when_current(tmp_path: Path,
                                                                                   rounds: int) -> None:
    """fix_project hands back the findings of its last check (so that `fix` need not check
    every target again) only when no fix changed the index after that check."""
    from bgtask_lint.console import Console
    from bgtask_lint.fix_run import fix_project
    from bgtask_lint.project import Project
    from bgtask_lint.report import Display

    write_app(tmp_path, {"tasks": TASK_MODULE, "endpoints": ENDPOINT_MODULE})
    project = Project.load([tmp_path], Settings(), tmp_path)
    checked_last: dict = {}
    fixes, failed = fix_project(project, False, Console(Display()), rounds=rounds, checked_last=checked_last)
    assert fixes and not failed
    if rounds == 1:  # the one round fixed: its check is out of date
        assert checked_last == {}
    else:
        assert set(checked_last) == set(project.targets)
        for path in project.targets:  # what a check of the fixed texts says
            assert checked_last[path] == project.check(project.index.by_path[path])


@pytest.mark.parametrize("cache", [["--no-cache"], []])
def test_files_fixed_one_after_another_share_the_projects_analyses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   cache: list[str]) -> None:
    """Each file's fix tries its new text and then puts the old module back: the index is
    in the state it was, and its project-wide analyses (here the task sites, which
    BGT401 asks) are not computed again for the next file, whether the run's first check
    computed them on this index (--no-cache) or the first file's fix did (with the cache,
    the first check is the cache's). On litellm that recomputation was more than half of
    `fix`'s time."""
    from bgtask_lint import guards

    names = [f"tasks_{i}" for i in range(6)]
    modules = {name: ("import logging\n\nlogger = logging.getLogger(__name__)\n\n\n"
                      f"async def flush_{name}(items):\n    for item in items:\n        await item.save()\n")
               for name in names}
    modules["main"] = ("from fastapi import BackgroundTasks\n\n"
                       + "".join(f"from app.{name} import flush_{name}\n" for name in names)
                       + "\n\nasync def endpoint(background_tasks: BackgroundTasks, items):\n"
                       + "".join(f"    background_tasks.add_task(flush_{name}, items)\n" for name in names))
    app = write_app(tmp_path, modules)
    computed = []
    original = guards.task_sites

    def counting(index):
        if ("task-sites",) not in index.cache:
            computed.append(len(index.by_path))
        return original(index)

    monkeypatch.setattr(guards, "task_sites", counting)
    monkeypatch.chdir(tmp_path)
    result = run("fix", "--jobs", "1", *cache, "app")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Fixed 6 findings (BGT401: 6)"), result.stderr
    assert all("try:" in (app / f"{name}.py").read_text() for name in names)
    # for the first check, the fixes and the check of the fixed texts: not once per file
    # (with the cache, the fixes run on the cached check's index, whose facts say which
    # modules schedule each task: no scan of every site at all)
    assert len(computed) <= 3 and (bool(computed) or not cache), computed


@pytest.mark.parametrize("cache", [["--no-cache"], []])
def test_what_a_fix_analyses_before_its_first_change_is_kept_for_the_next_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: list[str]) -> None:
    """BGT103's fix logs through the logger its module imports: to choose it, the fix asks
    for the logger bindings of that module and of the module the logger comes from, on the
    project as it was. What it found holds for the next file's fix too (the index is put
    back), not only what was known when the fix began: the shared module's bindings are
    made once, not once per fixed file (litellm: 209 such fixes)."""
    from bgtask_lint import fix_run, guards

    names = [f"jobs_{i}" for i in range(5)]
    modules = {name: ("import asyncio\n\nfrom app.log import logger\n\n\n"
                      f"async def work_{name}():\n    logger.info('working')\n\n\n"
                      f"async def endpoint_{name}():\n    asyncio.create_task(work_{name}())\n")
               for name in names}
    modules["log"] = "import logging\n\nlogger = logging.getLogger('app')\n"
    app = write_app(tmp_path, modules)
    shared = str(app / "log.py")
    made = []  # while the files are fixed
    fixing = False
    original, fix_files = guards.module_loggers, fix_run._fix_files

    def counting(index, module):
        if fixing and str(module.path) == shared and ("loggers", module.path) not in index.cache:
            made.append(module.path)
        return original(index, module)

    def in_fix_files(*args, **kwargs):
        nonlocal fixing
        fixing = True
        try:
            return fix_files(*args, **kwargs)
        finally:
            fixing = False

    monkeypatch.setattr(guards, "module_loggers", counting)
    monkeypatch.setattr(fix_run, "_fix_files", in_fix_files)
    monkeypatch.chdir(tmp_path)
    result = run("fix", "--jobs", "1", *cache, "app")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Fixed 5 findings (BGT103: 5)"), result.stderr
    assert all("logger.error(" in (app / f"{name}.py").read_text() for name in names)
    assert len(made) <= 1, made  # (none with --no-cache: its first check made them on this index)


HELPER_CHAIN = {
    "helpers": ("import logging\n\nlogger = logging.getLogger(__name__)\n\n\n"
                "def h_a(x):\n    h_b(x)\n\n\ndef h_b(x):\n    h_c(x)\n\n\ndef h_c(x):\n    h_d(x)\n\n\n"
                "def h_d(x):\n    try:\n        work(x)\n    except Exception:\n"
                "        logger.exception(\"failed\")\n        raise\n"),
    "a_first": "import logging\n\nlogger = logging.getLogger(__name__)\n\n\ndef t0(x):\n    work(x)\n",
    "a_tasks": ("import logging\n\nfrom app.helpers import h_b\n\nlogger = logging.getLogger(__name__)\n\n\n"
                "def t1(x):\n    h_b(x)\n"),
    "b_tasks": ("import logging\n\nfrom app.helpers import h_a\n\nlogger = logging.getLogger(__name__)\n\n\n"
                "def t2(x):\n    h_a(x)\n\n\ndef t3(x):\n    work(x)\n"),
    "main": ("from fastapi import BackgroundTasks\n\nfrom app.a_first import t0\nfrom app.a_tasks import t1\n"
             "from app.b_tasks import t2, t3\n\n\ndef endpoint(background_tasks: BackgroundTasks):\n"
             + "".join(f"    background_tasks.add_task(t{i}, {i})\n" for i in range(4))),
}


def test_a_helper_chains_verdict_does_not_depend_on_who_asked_first(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Guarded helpers are followed HELPER_DEPTH calls down. t1 reaches the guarded h_d in
    three calls, t2 in four: t2 is unguarded, whether t1 was judged first (the whole app)
    or not (b_tasks.py alone), and `fix` wraps it whichever files it fixed before. The
    memo kept a helper's verdict without the depth it was reached at (found by review)."""
    app = write_app(tmp_path, HELPER_CHAIN)
    alone = check_paths([app / "b_tasks.py"], Settings(), root=tmp_path).findings
    whole = [f for f in check_paths([app], Settings(), root=tmp_path).findings if f.path.name == "b_tasks.py"]
    assert [(f.line, f.code) for f in alone] == [(f.line, f.code) for f in whole]
    assert {f.line for f in whole if f.code == "BGT401"} == {8, 12}  # t2 and t3
    monkeypatch.chdir(tmp_path)
    for jobs in ("1", "2"):
        result = run("fix", "--diff", "--no-cache", "--jobs", jobs, "app")
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("Would fix 3 findings (BGT401: 3)"), result.stderr
        assert "+        h_a(x)\n" in result.stdout  # t2's body, wrapped


@pytest.mark.parametrize("cache", [["--no-cache"], []])
def test_a_file_a_scheduling_fix_left_nothing_to_fix_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   cache: list[str]) -> None:
    """The done-callback that BGT103's fix adds guards `flush`, so its module has nothing
    left to fix: it is not fixed, nor compiled (`def pick(a, a)` parses but does not
    compile, and is no finding of ours). Found by review."""
    from bgtask_lint import fix_run

    monkeypatch.setattr(fix_run, "MIN_PARALLEL_FIXES", 1)
    app = write_app(tmp_path, {
        "a_tasks": ("import logging\n\nlogger = logging.getLogger(__name__)\n\n\n"
                    "async def flush(items):\n    for item in items:\n        await item.save()\n\n\n"
                    "def pick(a, a):\n    return a\n"),
        "main": ("import asyncio\n\nfrom app.a_tasks import flush\n\n\n"
                 "async def endpoint(items):\n    asyncio.create_task(flush(items))\n"),
    })
    before = (app / "a_tasks.py").read_text()
    monkeypatch.chdir(tmp_path)
    result = run("fix", *cache, "app")
    assert result.exit_code == 0, result.output
    assert "error" not in result.stderr, result.stderr
    assert result.stderr.startswith("Fixed 1 finding (BGT103: 1)"), result.stderr
    assert (app / "a_tasks.py").read_text() == before



def test_a_fix_offered_but_not_made_is_called_a_bug_not_an_error(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """When a rule offers a safe fix and its codemod changes nothing, no error was printed:
    the summary must not send the user to "the errors above"."""
    from bgtask_lint.codemods._fixes import dangling_task

    monkeypatch.setattr(dangling_task.DanglingTaskFix, "leave_SimpleStatementLine",
                        lambda self, original, updated: updated)
    (tmp_path / "app.py").write_text("import asyncio\n\n\nasync def go(work):\n    asyncio.create_task(work())\n")
    result = CliRunner().invoke(main, ["fix", "--jobs", "1", str(tmp_path)])
    assert "see the errors above" not in result.output
    assert "1 not fixed: their fix changed nothing, which is a bug of bgtask-lint; please report it" in result.output
