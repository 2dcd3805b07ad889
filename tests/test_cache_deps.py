"""What an entry depends on is what the index looked up: lookups (hits and misses), the
modules read, memoized analyses, and the project-wide facts it asked for."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bgtask_lint.cache import deps as deps_module
from test_cache import codes, run
from test_cache_metadata import _age

pytestmark = pytest.mark.usefixtures("deps_whole_and_delta")

BLOCKING_HELPER = "import time\n\n\ndef wait():\n    time.sleep(1)\n"
QUIET_HELPER = "def wait():\n    return None\n"


def _write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def shared_helper(tmp_path: Path) -> Path:
    """a.py and b.py both call helper.slow(), which calls deep.wait(): the blocking chain of
    `slow` is memoized while a.py is checked, and b.py only hits the memo."""
    caller = "from pkg.helper import slow\n\n\nasync def {name}():\n    slow()\n"
    return _write(tmp_path / "proj", {
        "pkg/__init__.py": "",
        "pkg/a.py": caller.format(name="a"),
        "pkg/b.py": caller.format(name="b"),
        "pkg/helper.py": "from pkg.deep import wait\n\n\ndef slow():\n    wait()\n",
        "pkg/deep.py": BLOCKING_HELPER,
    })


def test_a_memoized_analysis_carries_its_lookups(shared_helper: Path) -> None:
    found, _ = run(shared_helper)
    assert {("pkg/a.py", "BGT302"), ("pkg/b.py", "BGT302")} <= codes(found, shared_helper)
    (shared_helper / "pkg" / "deep.py").write_text(QUIET_HELPER)
    found, stats = run(shared_helper)  # compared with an uncached run inside
    assert not any(code == "BGT302" for _, code in codes(found, shared_helper))
    assert stats["checked"] >= 3  # a.py, b.py, deep.py (helper.py reads deep.py too)


def test_without_the_memo_record_the_hit_would_be_stale(shared_helper: Path, monkeypatch) -> None:
    """The test above can fail: with a plain dict as the memo, b.py keeps its old finding."""
    from bgtask_lint.cache import facts

    monkeypatch.setattr(facts, "RecordingMemo", lambda recorder: {})
    run(shared_helper)
    (shared_helper / "pkg" / "deep.py").write_text(QUIET_HELPER)
    with pytest.raises(AssertionError):
        run(shared_helper)


def test_memo_entry_deps_span_from_first_miss_to_store() -> None:
    recorder = deps_module.Recorder()
    memo = deps_module.RecordingMemo(recorder)
    recorder.begin()
    recorder.read(Path("/before"), None)
    assert "k" not in memo
    recorder.read(Path("/inside"), None)
    assert "j" not in memo  # nested: j is computed while k is
    recorder.read(Path("/nested"), None)
    memo["j"] = 2
    memo["k"] = 1
    recorder.read(Path("/after"), None)
    first = recorder.end()
    assert first.reads == {"/before", "/inside", "/nested", "/after"}
    recorder.begin()
    assert memo.get("k") == 1
    assert recorder.end().reads == {"/inside", "/nested"}  # the hit brings what computing it looked up
    recorder.begin()
    assert memo["j"] == 2 and "k" in memo
    assert recorder.end().reads == {"/inside", "/nested"}
    recorder.begin()
    assert memo["j"] == 2
    assert recorder.end().reads == {"/nested"}


FLOW_DB = '''\
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
'''

FLOW_HELPERS = '''\
import logging

logger = logging.getLogger(__name__)


def cleanup(db):
    try:
        db.execute("select 1")
    except Exception:
        logger.exception("cleanup failed")
        raise


def schedule_cleanup(background_tasks, db):
    background_tasks.add_task(cleanup, db)
'''

FLOW_MAIN = '''\
from fastapi import BackgroundTasks, Depends, FastAPI
from sqlalchemy.orm import Session

from app.db import get_db
from app.helpers import schedule_cleanup

app = FastAPI()


@app.post("/items")
def create_item(background_tasks: BackgroundTasks, db: Session = Depends(get_db)):
    schedule_cleanup(background_tasks, db)
    return {}
'''


@pytest.fixture
def flows_project(tmp_path: Path) -> Path:
    return _write(tmp_path / "proj", {"app/__init__.py": "", "app/db.py": FLOW_DB,
                                      "app/helpers.py": FLOW_HELPERS, "app/main.py": FLOW_MAIN})


def test_a_session_flow_follows_its_caller(flows_project: Path) -> None:
    """helpers.py neither changes nor imports main.py; its BGT201 follows main.py's call."""
    found, _ = run(flows_project)
    assert ("app/helpers.py", "BGT201") in codes(found, flows_project)
    main = flows_project / "app" / "main.py"
    main.write_text(FLOW_MAIN.replace("schedule_cleanup(background_tasks, db)", "schedule_cleanup(background_tasks, None)"))
    found, _ = run(flows_project)
    assert ("app/helpers.py", "BGT201") not in codes(found, flows_project)
    main.write_text("\n" + FLOW_MAIN)  # the message names the caller's line: it moves
    found, _ = run(flows_project)
    [message] = [f.message for f in found if f.code == "BGT201"]
    assert "app.main:13" in message


def test_checking_one_file_keeps_the_others_entries(flows_project: Path) -> None:
    """The flows depend on which files are checked (the targets are scanned for callers);
    an entry that did not ask for them survives a run over other targets."""
    run(flows_project)
    run(flows_project, paths=[flows_project / "app" / "db.py"])
    _, stats = run(flows_project)
    assert stats["hits"] >= 2  # __init__.py and db.py asked nothing of the flows


def test_an_unrelated_new_file_keeps_every_entry(flows_project: Path) -> None:
    run(flows_project)
    (flows_project / "app" / "unrelated.py").write_text("VALUE = 1\n")
    _, stats = run(flows_project)
    assert not stats["layout_same"] and stats["reasked"] > 0
    assert stats["hits"] == 4 and stats["checked"] == 1


def test_a_failed_lookup_that_now_succeeds(tmp_path: Path) -> None:
    """`from app.later import wait` resolves to nothing, then to a new file."""
    root = _write(tmp_path / "proj", {
        "app/__init__.py": "",
        "app/main.py": "from app.later import wait\n\n\nasync def f():\n    wait()\n",
    })
    found, _ = run(root)
    assert not codes(found, root)
    (root / "app" / "later.py").write_text(BLOCKING_HELPER)
    found, _ = run(root)
    assert ("app/main.py", "BGT302") in codes(found, root)


def test_a_new_package_marker_renames_modules(tmp_path: Path) -> None:
    """An `__init__.py` appearing above the walked directory changes import names, and
    BGT201's message names the caller's module."""
    outer = tmp_path / "outer"
    root = _write(outer / "proj", {"__init__.py": "", "app/__init__.py": "", "app/db.py": FLOW_DB,
                                   "app/helpers.py": FLOW_HELPERS,
                                   "app/main.py": FLOW_MAIN})
    found, _ = run(root)
    assert any("(proj.app.main:12)" in f.message for f in found)
    _age(root)  # nothing below the root is racily clean: only the new marker says "changed"
    run(root)
    (outer / "__init__.py").write_text("")
    found, stats = run(root)  # compared with an uncached run inside
    assert not stats["relisted"]
    assert any("(outer.proj.app.main:12)" in f.message for f in found)


def test_hidden_test_findings_are_restored(tmp_path: Path) -> None:
    from bgtask_lint.config import Settings
    from bgtask_lint.runner import check_paths

    root = _write(tmp_path / "proj", {"tests/test_x.py": "import time\n\n\nasync def test_f():\n    time.sleep(1)\n"})
    for _ in range(2):
        result = check_paths([root], Settings(), root=root, cache=True)
        assert result.hidden_in_tests == 1 and not result.findings
    from bgtask_lint.cache import LAST_RUN

    assert LAST_RUN["hits"] == 1


def test_reasker_uses_the_real_resolver(tmp_path: Path) -> None:
    root = _write(tmp_path / "proj", {"app/__init__.py": "", "app/tasks.py": "", "other/tasks.py": ""})
    files = [str(p.resolve()) for p in root.rglob("*.py")]
    names = {p: ("", False) for p in files}
    near = str((root / "app" / "__init__.py").resolve())
    asker = deps_module.Reasker(root.resolve(), files, set(), names)
    app_tasks = str((root / "app" / "tasks.py").resolve())
    assert asker.same_answer(("tasks", near, None, app_tasks))  # the nearer of two candidates
    assert not asker.same_answer(("tasks", near, None, str((root / "other" / "tasks.py").resolve())))
    assert asker.same_answer(("missing", near, None, None))
    failing = deps_module.Reasker(root.resolve(), files, {app_tasks}, names)
    # it would not parse, so the index answers None; but an answer that consulted a file
    # that does not parse is never "the same": the recorded one may not have read it (below)
    assert not failing.same_answer(("tasks", near, None, None))
    assert failing.same_answer(("missing", near, None, None))


def test_an_old_file_changed_with_its_metadata_restored_is_trusted(tmp_path: Path) -> None:
    """The price of trusting metadata (as ruff and git do): documented, not a bug."""
    root = _write(tmp_path / "proj", {"a.py": "import time\n\n\nasync def f():\n    time.sleep(1)\n"})
    path = root / "a.py"
    when = time.time_ns() - 100 * 10**9
    os.utime(path, ns=(when, when))
    os.utime(root, ns=(when, when))
    run(root)
    run(root)
    with open(path, "r+") as handle:
        handle.write(handle.read().replace("sleep", "ctime"))
    os.utime(path, ns=(when, when))
    from bgtask_lint.config import Settings
    from bgtask_lint.runner import check_paths

    stale = check_paths([root], Settings(), root=root, cache=True)
    assert [f.code for f in stale.findings] == ["BGT301"]


GUARDS = Path(__file__).parent / "fixtures" / "projects" / "guards_v2"


def test_a_done_callback_in_another_module(tmp_path: Path) -> None:
    """tasks.py neither changes nor imports main.py; whether warm_cache is guarded follows
    the done-callback main.py attaches where it creates the task (a scan of every site)."""
    import shutil

    root = tmp_path / "guards_v2"
    shutil.copytree(GUARDS, root)
    (root / "pyproject.toml").write_text("")
    found, _ = run(root)
    warm_line = next(n for n, line in enumerate((root / "svc" / "tasks.py").read_text().splitlines(), 1)
                     if "async def warm_cache" in line)
    assert ("svc/tasks.py", warm_line) not in {(p, f.line) for f in found
                                                for p in [f.path.relative_to(root.resolve()).as_posix()]}
    main = root / "svc" / "main.py"
    main.write_text(main.read_text().replace("warm.add_done_callback(log_task_failure)", "warm.add_done_callback(forget)"))
    found, stats = run(root)  # compared with an uncached run inside
    assert any(f.code == "BGT401" and f.line == warm_line for f in found)
    assert stats["hits"] >= 1


def test_an_edited_gitignore_changes_the_listing(tmp_path: Path) -> None:
    from test_cache_metadata import _age

    root = _write(tmp_path / "proj", {"app/__init__.py": "", ".gitignore": "# nothing yet\n",
                                      "app/generated.py": "import time\n\n\nasync def f():\n    time.sleep(1)\n"})
    (root / ".git").mkdir()
    run(root)
    _age(root)
    run(root)
    _, stats = run(root)
    assert not stats["relisted"]
    (root / ".gitignore").write_text("generated.py\n")
    found, stats = run(root)  # compared with an uncached run inside
    assert stats["relisted"] and not found


def test_other_targets_reuse_what_did_not_ask_for_the_flows(flows_project: Path) -> None:
    """The session flows are computed over the targets (and the scheduling modules): a run
    over other targets keeps every entry that did not ask for them, without the deps file."""
    db = flows_project / "app" / "db.py"
    helpers = flows_project / "app" / "helpers.py"
    run(flows_project)
    _, stats = run(flows_project, paths=[db])
    assert stats["fast"] and stats["hits"] == 1
    found, stats = run(flows_project, paths=[helpers])  # it asked: the flows are worked out again
    assert not stats["fast"] and ("app/helpers.py", "BGT201") in codes(found, flows_project)


def test_declaring_a_dependency_changes_the_fix(tmp_path: Path, monkeypatch) -> None:
    """A BGT301 fix that needs aiofiles is safe only where the project declares it (or it
    is importable): the declarations are part of what the entries are keyed on."""
    from bgtask_lint import dependencies

    monkeypatch.setattr(dependencies, "importable", lambda name: False)  # as if aiofiles were missing
    root = _write(tmp_path / "proj", {"app.py": "async def f(path):\n    with open(path) as handle:\n"
                                                "        return handle.read()\n"})
    before, _ = run(root)
    (root / "requirements.txt").write_text("aiofiles>=23\n")
    after, _ = run(root)  # compared with an uncached run inside
    assert [f.fix for f in before] == ["unsafe"] and [f.fix for f in after] == ["safe"]


def test_a_declaration_file_appearing_changes_the_fix(tmp_path: Path) -> None:
    """With no declaration file, an importable aiofiles makes the fix safe; an empty
    requirements.txt (no name in it: the declared names stay the same) makes the project
    one that declares its dependencies, and the fix unsafe. The cache must see it."""
    root = tmp_path / "script"
    root.mkdir()
    (root / "app.py").write_text("async def f(path):\n    with open(path) as handle:\n        return handle.read()\n")
    before, _ = run(root)  # compared with an uncached run inside
    (root / "requirements.txt").write_text("# pinned by the deploy image\n")
    after, _ = run(root)
    assert [f.fix for f in before] == ["safe"] and [f.fix for f in after] == ["unsafe"]


def test_a_run_over_a_few_targets_keeps_the_others_parts(flows_project: Path) -> None:
    """pre-commit names the changed files; the next full run still has every module's part
    of the session flows (nothing to parse again)."""
    run(flows_project)
    db = flows_project / "app" / "db.py"
    db.write_text(FLOW_DB + "# changed\n")
    run(flows_project, paths=[db])
    _, stats = run(flows_project)
    assert stats["hits"] == 4 and stats["parsed"] == 0


def test_a_git_work_tree_appearing_applies_its_gitignore(tmp_path: Path) -> None:
    """A `.git` created above the project (not in any directory the walk lists) makes its
    `.gitignore` apply: the listing is done again."""
    from test_cache_metadata import _age

    root = _write(tmp_path / "outer" / "proj", {".gitignore": "generated.py\n",
                                                "generated.py": "import time\n\n\nasync def f():\n    time.sleep(1)\n"})
    found, _ = run(root)
    assert found  # not a git work tree: .gitignore means nothing yet
    _age(root)
    run(root)
    (tmp_path / "outer" / ".git").mkdir()
    found, stats = run(root)  # compared with an uncached run inside
    assert stats["relisted"] and not found


def test_an_entry_recorded_while_a_package_did_not_parse_is_checked_again_once_it_does(tmp_path: Path) -> None:
    """The same for a file's own entry: b.py's lookup of `app` answered None while
    app/__init__.py was a target that did not parse (left out of the index, not read)."""
    from projects import write_app
    from test_cache import run

    app = write_app(tmp_path, {"b": "import app.c\n\n\nasync def e():\n    app.c.c1()\n",
                               "c": "import time\n\n\ndef c1():\n    time.sleep(1)\n"})
    (app / "__init__.py").write_text("def (:\n")
    run(tmp_path)
    run(tmp_path, paths=[app / "b.py"])
    (app / "__init__.py").write_text("")
    run(tmp_path, paths=[app / "c.py"])
    found, _ = run(tmp_path, paths=[app / "b.py"])  # run() compares with an uncached run
    assert any(f.code == "BGT302" for f in found)


CLASS_LOGGER = """\
from app.factory import get_logger


class Service:
    def __init__(self):
        self.logger = get_logger()

    def report_b(self, message):
        self.logger.exception(message)

    def report_c(self, message):
        self.logger.exception(message)
"""
FACTORY = "import logging\n\n\ndef get_logger():\n    return logging.getLogger('app')\n"
CLASS_TASK = """\
from fastapi import BackgroundTasks
from payments import charge

from app.service import Service


class Job(Service):
    def run_{name}(self, sku):
        try:
            charge(sku)
        except Exception:
            self.report_{name}("failed")


def endpoint(background_tasks: BackgroundTasks):
    background_tasks.add_task(Job().run_{name}, 1)
"""


def test_a_class_judged_for_another_file_carries_what_it_read(tmp_path: Path) -> None:
    """b.py and c.py each log through a method of app.service.Service, whose `self.logger`
    a factory of app.factory makes. The class's attributes are judged once, while b.py is
    checked; c.py finds them judged, and depends on factory.py all the same."""
    root = _write(tmp_path / "proj", {
        "app/__init__.py": "", "app/factory.py": FACTORY, "app/service.py": CLASS_LOGGER,
        "app/b.py": CLASS_TASK.format(name="b"), "app/c.py": CLASS_TASK.format(name="c"),
    })
    found, _ = run(root)
    assert not any(code == "BGT402" for _, code in codes(found, root))
    (root / "app" / "factory.py").write_text(FACTORY.replace("logging.getLogger('app')", "{}"))
    found, _ = run(root)  # compared with an uncached run inside
    assert {("app/b.py", "BGT402"), ("app/c.py", "BGT402")} <= codes(found, root)


REPORT = "import logging\n\nlogger = logging.getLogger(__name__)\n\n\ndef report(exc):\n    logger.exception('failed')\n"
GUARDED_HELPER = """\
from payments import charge

from app.report import report


def helper(sku):
    try:
        charge(sku)
    except Exception as exc:
        report(exc)
"""
HELPED_TASK = """\
from fastapi import BackgroundTasks, FastAPI

from app.{module} import {call}

app = FastAPI()


def task_{name}(sku):
    {call}(sku)


@app.post("/{name}")
def endpoint_{name}(sku: str, tasks: BackgroundTasks):
    tasks.add_task(task_{name}, sku)
"""


def test_a_handler_judged_for_another_file_carries_what_it_read(tmp_path: Path) -> None:
    """a.py's task calls helper.helper (one level down), b.py's calls middle.mid, which
    calls it (two levels down: another memo entry). Both are guarded because the handler
    in helper.py logs the traceback through report.py. The handler is judged while a.py
    is checked; b.py finds it judged, and depends on report.py all the same."""
    root = _write(tmp_path / "proj", {
        "app/__init__.py": "", "app/report.py": REPORT, "app/helper.py": GUARDED_HELPER,
        "app/middle.py": "from app.helper import helper\n\n\ndef mid(sku):\n    helper(sku)\n",
        "app/a.py": HELPED_TASK.format(module="helper", call="helper", name="a"),
        "app/b.py": HELPED_TASK.format(module="middle", call="mid", name="b"),
    })
    found, _ = run(root)
    assert not any(code == "BGT401" for _, code in codes(found, root))
    (root / "app" / "report.py").write_text("def report(exc):\n    print('failed')\n")
    found, _ = run(root)  # compared with an uncached run inside
    assert {("app/a.py", "BGT401"), ("app/b.py", "BGT401")} <= codes(found, root)
