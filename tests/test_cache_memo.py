"""The helper chains BGT302 computes (blocking.call_chain) are kept in the cache with what
they looked up, so that an edited target does not parse its helpers' modules again; a kept
answer is used only while everything it read and every import it resolved stay the same.
Each run here is compared with an uncached run (test_cache.run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_cache import DEEP, MAIN, codes, make_project, run

pytestmark = pytest.mark.usefixtures("deps_whole_and_delta")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def test_an_edited_target_uses_the_kept_chain_without_parsing_the_helpers(project: Path) -> None:
    main = project / "app" / "main.py"
    run(project, paths=[main])
    main.write_text(MAIN + "\n# edited\n")
    found, stats = run(project, paths=[main])
    assert ("app/main.py", "BGT302") in codes(found, project)
    assert stats["memo_kept"] == 1
    # main.py, and tasks.py for the task it schedules; neither helpers.py nor deep.py
    assert stats["parsed"] == 2


def test_a_kept_chain_is_dropped_when_a_module_it_read_changes(project: Path) -> None:
    main = project / "app" / "main.py"
    run(project, paths=[main])
    (project / "app" / "deep.py").write_text(DEEP.replace("time.sleep(1)", "time.ctime(1)"))
    main.write_text(MAIN + "\n# edited\n")
    found, stats = run(project, paths=[main])
    assert ("app/main.py", "BGT302") not in codes(found, project)
    assert stats["memo_kept"] == 0
    (project / "app" / "deep.py").write_text(DEEP)  # and back: a chain again
    main.write_text(MAIN + "\n# edited again\n")
    found, _ = run(project, paths=[main])
    assert ("app/main.py", "BGT302") in codes(found, project)


def test_a_kept_chain_is_dropped_when_an_import_finds_another_module(project: Path) -> None:
    main = project / "app" / "main.py"
    calls_later = MAIN.replace("from app.tasks import process\n",
                               "from app.tasks import process\nfrom app.later import later_helper\n")
    calls_later = calls_later.replace("    slow_helper()\n", "    later_helper()\n")
    main.write_text(calls_later)
    found, _ = run(project, paths=[main])
    assert ("app/main.py", "BGT302") not in codes(found, project)  # app/later.py does not exist
    (project / "app" / "later.py").write_text("import time\n\n\ndef later_helper():\n    time.sleep(1)\n")
    main.write_text(calls_later + "\n# edited\n")
    found, stats = run(project, paths=[main])
    assert ("app/main.py", "BGT302") in codes(found, project)
    assert stats["memo_kept"] == 0


def test_a_kept_chain_follows_an_edit_of_the_target_that_rebinds_the_name(project: Path) -> None:
    main = project / "app" / "main.py"
    run(project, paths=[main])
    # the same call, now of a def of the target itself that does not block
    main.write_text(MAIN.replace("from app.helpers import slow_helper\n", "")
                    + "\n\ndef slow_helper():\n    return 1\n")
    found, _ = run(project, paths=[main])
    assert ("app/main.py", "BGT302") not in codes(found, project)


def test_chains_computed_in_workers_are_kept(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bgtask_lint import parallel

    forked: list[int] = []
    counting = parallel.map_shared

    def recording(*args, **kwargs):
        done = counting(*args, **kwargs)
        forked.append(0 if done is None else 1)
        return done

    monkeypatch.setattr(parallel, "map_shared", recording)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_FILES", 2)  # five files are worth workers here
    run(project, jobs=2)
    assert forked == [1]
    main = project / "app" / "main.py"
    main.write_text(MAIN + "\n# edited\n")
    found, stats = run(project, paths=[main])
    assert ("app/main.py", "BGT302") in codes(found, project)
    assert stats["memo_kept"] == 1 and stats["parsed"] == 2


def test_a_kept_chain_answers_inside_a_chain_of_the_edited_file(project: Path) -> None:
    """The target's own helper calls an imported one: the search from the target's helper
    (its file edited, so searched again) uses the kept answer for the imported call."""
    main = project / "app" / "main.py"
    wrapped = MAIN.replace("    slow_helper()\n", "    local_wrapper()\n") + "\n\ndef local_wrapper():\n    slow_helper()\n"
    main.write_text(wrapped)
    run(project, paths=[main])
    main.write_text(wrapped + "\n# edited\n")
    found, stats = run(project, paths=[main])
    assert [f.message for f in found if f.code == "BGT302"] == [
        "async def calls a helper that blocks the event loop: local_wrapper() -> slow_helper() -> sleeper() -> time.sleep"]
    assert stats["memo_kept"] >= 1 and stats["parsed"] == 2  # neither helpers.py nor deep.py


def test_a_chain_kept_while_a_module_did_not_parse_is_dropped_once_it_does(project: Path) -> None:
    """deep.py, checked while it does not parse, is left out of the index: the chain's
    lookup of it answered None without reading it. Asked again later (deep.py known, still
    failing), the same None must not keep the entry, or fixing deep.py goes unnoticed."""
    main, deep = project / "app" / "main.py", project / "app" / "deep.py"
    deep.write_text(DEEP + "def (:\n")
    run(project, paths=[main, deep])
    main.write_text(MAIN + "# 1\n")
    run(project, paths=[main])
    deep.write_text(DEEP)
    main.write_text(MAIN + "# 2\n")
    found, _ = run(project, paths=[main])  # run() compares with an uncached run
    assert ("app/main.py", "BGT302") in codes(found, project)


def test_a_chain_search_marks_only_its_own_key() -> None:
    """blocking._known probes the larger budgets of a chain, which nothing computes then. A
    probe that marked its key would make a search of that key much later in the frame
    record everything read in between (a parallel cold run on litellm: utils.py's entry
    listed 1,056 modules read, 43 otherwise). A search cut short unmarks its own key."""
    from types import SimpleNamespace

    from bgtask_lint import blocking
    from bgtask_lint.cache.deps import Recorder, RecordingMemo

    recorder = Recorder()
    index = SimpleNamespace(cache=RecordingMemo(recorder))
    head = ("blocking-chain", ("app/tasks.py", "job"), ())
    recorder.begin()
    assert blocking._known(index, head, 2, frozenset()) is blocking._UNKNOWN
    assert (*head, 2) in recorder.marks  # the search's own key: its start
    assert not any((*head, budget) in recorder.marks for budget in range(3, blocking.MAX_CHAIN + 1))
    blocking._store(index, (*head, 2), None, {("app/other.py", "f")})  # cut short: nothing stored
    assert (*head, 2) not in recorder.marks and (*head, 2) not in index.cache
    recorder.end()
