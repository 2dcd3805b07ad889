"""bench/run.py's corpus generator and measuring, on a tiny corpus (no venv, no network)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def _load(name: str, path: Path):
    """A script of bench/ as a module, registered while it loads (dataclasses look their
    module up)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    yield _load("bench_run", BENCH)
    sys.modules.pop("bench_run", None)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_generator_is_deterministic_and_relevant(bench, tmp_path: Path) -> None:
    a = bench.generate_app_corpus(tmp_path / "a", 30)
    b = bench.generate_app_corpus(tmp_path / "b", 30)
    assert _tree(a) == _tree(b)
    modules = [p for p in a.rglob("*.py") if p.name != "__init__.py"]
    assert 20 <= len(modules) <= 30
    for path in modules:
        compile(path.read_text(), str(path), "exec")
    relevant = [p for p in modules if "async def" in p.read_text() or "add_task" in p.read_text()]
    assert len(relevant) >= 0.9 * len(modules)
    other_seed = bench.generate_app_corpus(tmp_path / "c", 30, seed=7)
    assert _tree(other_seed) != _tree(a)
    single = bench.generate_single_module(tmp_path / "single")
    assert 250 <= len(single.read_text().splitlines()) <= 350


def test_measure_and_table(bench, tmp_path: Path) -> None:
    corpus = bench.generate_app_corpus(tmp_path / "app", 30)
    sample = bench.measure([sys.executable, "-m", "bgtask_lint", "check", "--no-cache", "--exit-zero", str(corpus)])
    assert sample.returncode == 0, sample.stderr_tail
    assert sample.lines > 0  # the generated bugs are found
    assert sample.wall > 0 and sample.rss_kb > 10_000

    group = bench.Group("tiny", "", [
        bench.Case("bgtask-lint", [sys.executable, "-m", "bgtask_lint", "check", "--exit-zero", str(corpus)],
                   prime=True, vs_flake8="floor"),
        bench.Case("floor", [sys.executable, "-c", "pass"]),
    ], files=30)
    bench.run_group(group, reps=2, log=lambda line: None)
    assert [len(c.samples) for c in group.cases] == [2, 2]
    assert (corpus / ".bgtask_lint_cache").is_dir()  # primed, then warm
    text = bench.table([group])
    assert "bgtask-lint" in text and "floor" in text
    data = bench.to_json([group], {"reps": 2})
    json.dumps(data)
    assert data["groups"][0]["cases"][0]["ratio_to_flake8"] > 0


def test_a_measured_tree_is_byte_compiled(bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Timed runs would otherwise compile every module each time (PYTHONDONTWRITEBYTECODE)."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "mod.py").write_text("X = 1\n")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    bench.byte_compile(package)
    assert list((package / "sub" / "__pycache__").glob("mod.*.pyc"))
    assert list((package / "__pycache__").glob("__init__.*.pyc"))


def test_floor_measures_what_python_costs_on_a_tree(tmp_path: Path) -> None:
    """bench/floor.py on a tiny tree, without ruff: every case timed, the JSON written."""
    floor = _load("bench_floor", BENCH.parent / "floor.py")
    root = tmp_path / "tree"
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "tree"\nversion = "0"\n')
    for i in range(4):
        (root / "app" / f"m{i}.py").write_text(f"import time\n\n\nasync def f{i}():\n    time.sleep({i})\n")
    (root / "app" / "broken.py").write_text("def (:\n")
    out = tmp_path / "floor.json"
    assert floor.main([str(root), "--ruff", "", "--reps", "1", "--jobs", "2", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["files"] == 5 and "ruff" not in result
    assert all(result[case]["seconds"] >= 0 for case in ("parse", "parse x2", "trees"))
    # both timed (one run each: on a loaded machine the start alone may take longer than a
    # whole check of this tiny tree, so their order is not asserted)
    assert result["check"]["seconds"] > 0 and result["start"]["seconds"] > 0
    assert result["trees"]["peak_mb"] > 0
    assert "x ruff" in floor.report(result)


def test_fix_ratio_times_check_and_fix_on_fresh_copies(tmp_path: Path) -> None:
    """bench/fix_ratio.py on a tiny tree: both commands timed on copies (the tree itself is
    not fixed), the fix's summary and the ratio reported, the JSON written."""
    fix_ratio = _load("bench_fix_ratio", BENCH.parent / "fix_ratio.py")
    root = tmp_path / "tree"
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "tree"\nversion = "0"\n')
    source = "import asyncio\n\n\nasync def job():\n    pass\n\n\nasync def go():\n    asyncio.create_task(job())\n"
    (root / "app" / "main.py").write_text(source)
    before = _tree(root)
    out = tmp_path / "ratio.json"
    assert fix_ratio.main([str(root), "--reps", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert _tree(root) == before  # fixed on copies only
    [tree] = result["trees"]
    assert tree["check"] > 0 and tree["fix"] > 0 and tree["ratio"] == tree["fix"] / tree["check"]
    assert tree["summary"].startswith("Fixed 1 finding (BGT103: 1)")
    assert result["median"] == tree["ratio"] and result["within"] == (tree["ratio"] <= 1.5)
    assert "trees within 1.5x" in fix_ratio.report(result)


def test_fix_ratio_starts_every_run_cold_also_for_a_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A package's copy is rooted at the folder holding it, and its cache with it: each run
    gets a folder of its own, so no `check` of a later repetition finds the cache warm."""
    fix_ratio = _load("bench_fix_ratio", BENCH.parent / "fix_ratio.py")
    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text("import asyncio\n\n\nasync def go():\n    asyncio.create_task(go())\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    caches_seen: list[bool] = []
    real_timed = fix_ratio.timed

    def timed(command: list[str], cwd: Path):
        caches_seen.append(any(scratch.rglob(".bgtask_lint_cache")))  # before the run: left by an earlier one?
        return real_timed(command, cwd)

    monkeypatch.setattr(fix_ratio, "timed", timed)
    fix_ratio.measure_tree(package, sys.executable, 2, scratch)
    assert caches_seen == [False] * 4
    assert list(scratch.iterdir()) == []


def test_fix_ratio_times_the_package_with_its_bytecode_written() -> None:
    """A module edited since its last compile would otherwise be compiled by every timed
    run (PYTHONDONTWRITEBYTECODE is set here)."""
    fix_ratio = _load("bench_fix_ratio", BENCH.parent / "fix_ratio.py")
    import bgtask_lint

    folders = fix_ratio.byte_compile(sys.executable)
    assert Path(bgtask_lint.__path__[0]) in folders and len(folders) == 2
    for folder in folders:
        for source in folder.glob("*.py"):
            compiled = Path(importlib.util.cache_from_source(str(source)))
            assert compiled.exists() and compiled.stat().st_mtime >= source.stat().st_mtime, source


def test_big_module_times_check_and_both_fixes_next_to_the_machine_speed(tmp_path: Path, capsys) -> None:
    """bench/big_module.py on a small module: the three runs, each exiting as it should
    (check: 0 with --exit-zero; fix --diff: 1, there is something to fix), and the
    machine's own speed on a line of its own."""
    big_module = _load("bench_big_module", BENCH.parent / "big_module.py")
    assert big_module.main([str(tmp_path), "--size", "20000"]) == 0
    out = capsys.readouterr().out
    rows = {line[:12].strip(): line for line in out.splitlines()[1:]}
    assert set(rows) == {"machine", "check", "fix --diff", "no cache"}
    assert float(rows["machine"].split()[1]) > 0
    assert rows["check"].endswith("exit 0")
    assert rows["fix --diff"].endswith("exit 1") and rows["no cache"].endswith("exit 1")
