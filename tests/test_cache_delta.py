"""A run that changed little of the deps writes only its delta against the deps file it
read (bgtask_lint/cache/store.py); reading merges the two. What the delta drops must stay
dropped: the main pack, rewritten whole, then describes the new state of every file, so
a stale entry that came back would look valid. Each run is compared with an uncached run
(test_cache.run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bgtask_lint.cache import store
from test_cache import DEEP, MAIN, codes, make_project, run


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(store, "DELTA_SHARE", 10.0**9)  # a delta whenever the tables were only appended to
    return make_project(tmp_path)


def _packs(project: Path) -> tuple[Path, Path, Path]:
    directory = project / store.CACHE_DIR
    (main,) = [p for p in directory.glob("*.json") if not p.name.endswith(store._SIDE_FILES)]
    stem = main.name[:-len(".json")]
    return main, directory / f"{stem}.deps.json", directory / f"{stem}.delta.json"


def test_a_small_run_writes_only_its_delta(project: Path) -> None:
    run(project)
    main_pack, deps_file, delta_file = _packs(project)
    assert not delta_file.exists()
    written = deps_file.read_bytes()
    main = project / "app" / "main.py"
    main.write_text(MAIN + "\n# edited\n")
    _, stats = run(project, paths=[main])
    assert stats["wrote"] and stats["delta"]
    assert deps_file.read_bytes() == written
    delta = json.loads(delta_file.read_text())
    assert delta["base"] == json.loads(written)["token"]
    assert delta["token"] == json.loads(main_pack.read_text())["token"]
    assert str(main.resolve()) in delta["entries"]
    # the next runs read the deps file and the delta together
    main.write_text(MAIN + "\n# edited again\n")
    found, stats = run(project, paths=[main])
    assert ("app/main.py", "BGT302") in codes(found, project)
    assert stats["memo_kept"] == 1 and stats["delta"]
    _, stats = run(project)  # the other files' entries come from the deps file, unchanged
    # (main.py is checked again: its entry asked for a fact computed over the files its own
    # run named, and this run names others)
    assert stats["hits"] >= 4


def test_what_the_delta_dropped_does_not_come_back(project: Path) -> None:
    """main.py's chain through deep.py is kept; a run over tasks.py alone finds it no longer
    holds (deep.py changed) and records deep.py's new content in the main pack. Were the
    chain still in the merged deps, it would now look valid, and main.py would report a
    blocking call that is gone."""
    main = project / "app" / "main.py"
    run(project, paths=[main])
    (project / "app" / "deep.py").write_text(DEEP.replace("time.sleep(1)", "time.ctime(1)"))
    _, stats = run(project, paths=[project / "app" / "tasks.py"])
    assert stats["delta"]
    main.write_text(MAIN + "\n# edited\n")
    found, stats = run(project, paths=[main])
    assert ("app/main.py", "BGT302") not in codes(found, project)
    assert stats["memo_kept"] == 0


def test_a_delta_against_another_deps_file_is_not_read(project: Path) -> None:
    main = project / "app" / "main.py"
    run(project, paths=[main])
    main.write_text(MAIN + "\n# edited\n")
    run(project, paths=[main])
    _, deps_file, delta_file = _packs(project)
    assert delta_file.exists()
    replaced = json.loads(deps_file.read_text())
    replaced["token"] = "another run"  # another run wrote the whole deps file meanwhile
    deps_file.write_text(json.dumps(replaced))
    main.write_text(MAIN + "\n# edited again\n")
    _, stats = run(project, paths=[main])
    assert stats["memo_kept"] == 0  # nothing read: the chain is computed again
    assert stats["wrote"] and not stats["delta"]


def test_a_big_change_writes_the_whole_deps_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "DELTA_SHARE", 0.25)
    run(project)
    _, deps_file, delta_file = _packs(project)
    for path in sorted((project / "app").glob("*.py")):
        path.write_text(path.read_text() + "\n# edited\n")
    _, stats = run(project)
    assert stats["checked"] == 5 and not stats["delta"]
    assert not delta_file.exists()


def test_pruning_removes_the_delta_with_its_main_pack(tmp_path: Path) -> None:
    directory = tmp_path / store.CACHE_DIR
    directory.mkdir()
    for i in range(store.MAX_PACKS + 2):
        for suffix in (".json", ".deps.json", ".delta.json"):
            (directory / f"{i:032d}{suffix}").write_text("{}")
    (directory / f"{'f' * 32}.delta.json").write_text("{}")  # an orphan
    keep = directory / f"{0:032d}.json"
    store._prune(directory, keep)
    mains = [p for p in directory.glob("*.json") if not p.name.endswith(store._SIDE_FILES)]
    assert len(mains) == store.MAX_PACKS and keep in mains
    for main in mains:
        stem = main.name[:-len(".json")]
        assert (directory / f"{stem}.deps.json").exists() and (directory / f"{stem}.delta.json").exists()
    assert len(list(directory.glob("*.delta.json"))) == store.MAX_PACKS


def test_a_run_that_writes_the_whole_deps_file_compacts_sooner() -> None:
    """A run appends the lookups of every entry it records, and the tables are rebuilt once
    they doubled. A whole-project run rewrites the whole file anyway, so it rebuilds them
    sooner; otherwise the first small run after it would (its delta lost to the rebuild)."""
    from bgtask_lint.cache.deps import DepsTables

    tables = DepsTables(["m.py"], [["m", 0, -1, -1]] * 2600, base_size=1000)
    assert tables.needs_compacting(eager=True)
    assert not tables.needs_compacting()


def test_a_huge_stored_table_size_is_no_error(project: Path) -> None:
    """The tables' size after the last rebuild is read from disk: a value no float can hold
    must not make the run fail (it compares in integers)."""
    run(project)
    _, deps_file, _ = _packs(project)
    data = json.loads(deps_file.read_text())
    data["base_size"] = 10**400
    deps_file.write_text(json.dumps(data))
    for path in sorted((project / "app").glob("*.py")):
        path.write_text(path.read_text() + "\n# edited\n")
    for _ in range(25):  # enough files checked for the eager rebuild's test
        (project / "app" / f"extra{_}.py").write_text("import time\n\n\nasync def f():\n    time.sleep(1)\n")
    _, stats = run(project)
    assert "failed" not in stats and stats["wrote"]


def test_a_directory_where_the_delta_goes_is_no_error(project: Path) -> None:
    run(project)
    _, _, delta_file = _packs(project)
    delta_file.mkdir()
    (project / "app" / "main.py").write_text(MAIN + "\n# edited\n")
    _, stats = run(project, paths=[project / "app" / "main.py"])
    assert "failed" not in stats and stats["wrote"] and not stats["delta"]  # the whole deps file instead
    _, stats = run(project, paths=[project / "app" / "main.py"])
    assert stats["hits"] == 1
