"""Never crash, never lose a line: bgtask-lint over real code (this interpreter's stdlib
and site-packages), and `fix` over copies of every file that has a safe fix.

Run with `-s` to see the corpus numbers. Site-packages can be huge on a developer's
machine: above BGTASK_CORPUS_SITE_FILES Python files (default 3000) a deterministic
sample of its top-level packages is checked through a directory of symlinks;
BGTASK_CORPUS_SITE_FILES=0 checks all of it.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from bgtask_lint.config import Settings
from bgtask_lint.runner import check_paths
from bgtask_lint.files import SourceError, decode_source, iter_python_files, read_source

pytestmark = pytest.mark.corpus

STDLIB = Path(sysconfig.get_paths()["stdlib"])
PURELIB = Path(sysconfig.get_paths()["purelib"])
SITE_BUDGET = int(os.environ.get("BGTASK_CORPUS_SITE_FILES", "3000"))
ERROR_LINE = re.compile(r"^(?P<path>\S.*?): error: (?P<message>\S.*)$")
FINDING_LINE = re.compile(r"^\S.*?:\d+:\d+: BGT\d{3} \S")
# stdlib files that ast accepts and LibCST 1.0 does not (parenthesized annotated targets)
LIBCST_REJECTS = ("test/test_grammar.py", "test/typinganndata/ann_module.py", "test/ann_module.py")
SNIPPET = "\n\nimport asyncio\n\n\nasync def _corpus_handler():\n    asyncio.create_task(work())\n"
SUMMARY_LINE = re.compile(r"^(Fixed|Would fix) \d+ findings?\b")
HIDDEN_LINE = re.compile(r"^\d+ findings? in test files not shown \(BGT3xx-5xx")


def _count_py(path: Path) -> int:
    return sum(1 for _, _, files in os.walk(path) for f in files if f.endswith(".py"))


def _site_corpus(tmp: Path) -> tuple[Path, str]:
    """site-packages itself, or a farm of symlinks to a sample of its top-level entries."""
    excludes = Settings().excludes
    entries = [
        e for e in PURELIB.iterdir()
        if e.name not in excludes and (e.suffix == ".py" or (e.is_dir() and not e.name.endswith(("-info", ".libs"))))
        and e.resolve() != STDLIB.resolve()
    ]
    counts = {e: (_count_py(e) if e.is_dir() else 1) for e in entries}
    total = sum(counts.values())
    if SITE_BUDGET <= 0 or total <= SITE_BUDGET:
        return PURELIB, f"all of site-packages ({total} files)"
    farm = tmp / "site-sample"
    farm.mkdir()
    (farm / "pyproject.toml").write_text("[project]\nname = 'site-sample'\n")
    taken = 0
    chosen = []
    for entry in sorted(entries, key=lambda e: hashlib.sha1(e.name.encode()).hexdigest()):
        if taken + counts[entry] > SITE_BUDGET or not counts[entry]:
            continue
        (farm / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
        taken += counts[entry]
        chosen.append(entry.name)
    return farm, f"a sample of site-packages: {len(chosen)} of {len(entries)} entries ({taken} of {total} files)"


def _start_check(path: Path, cwd: Path, name: str) -> tuple[subprocess.Popen, Path, Path]:
    out, err = cwd / f"{name}.out", cwd / f"{name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "bgtask_lint", "check", "--exit-zero", "--no-cache", str(path)],
                                cwd=cwd, stdout=stdout, stderr=stderr)
    return proc, out, err


def _start_fix(root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bgtask_lint", "fix", "."], cwd=root, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _assert_one_line_errors(stderr: str, cwd: Path, allow_summary: bool = False) -> list[str]:
    """Every stderr line is `<path>: error: <message>`, one per file; returns the paths."""
    assert "Traceback" not in stderr, stderr[-3000:]
    paths = []
    for line in stderr.splitlines():
        if allow_summary and SUMMARY_LINE.match(line):
            continue
        if HIDDEN_LINE.match(line):  # the test-file default's count (V2.1), not a diagnostic
            continue
        match = ERROR_LINE.match(line)
        assert match, f"not a one-line diagnostic: {line!r}"
        assert (cwd / match["path"]).exists() or Path(match["path"]).exists(), line
        paths.append(match["path"])
    assert len(paths) == len(set(paths)), "a file reported more than once"
    return paths


def _smallest_statement(tree: ast.AST, line: int) -> tuple[int, int]:
    spans = [
        (node.lineno, node.end_lineno) for node in ast.walk(tree)
        if isinstance(node, (ast.stmt, ast.excepthandler)) and node.lineno <= line <= node.end_lineno
    ]
    return min(spans, key=lambda span: span[1] - span[0]) if spans else (line, line)


def _changed_lines_outside(old: str, new: str, spans: list[tuple[int, int]]) -> list[int]:
    """Old lines that were removed or replaced and lie in none of `spans` (1-based)."""
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    outside = []
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            outside.extend(line for line in range(i1 + 1, i2 + 1) if not any(s <= line <= e for s, e in spans))
    return outside


def test_corpus_check_and_fix(tmp_path: Path) -> None:
    started = time.monotonic()
    site, site_note = _site_corpus(tmp_path)
    corpora = {"stdlib": STDLIB, "site-packages": site}

    # the command line on both corpora, in two processes, while the engine runs in this one
    runs = {name: _start_check(path, tmp_path, name) for name, path in corpora.items()}
    settings = Settings()
    fixable: set[Path] = set()
    numbers: dict[str, dict[str, int]] = {}
    for name, path in corpora.items():
        result = check_paths([path], settings)
        files = list(iter_python_files([path], settings.excludes, path))
        lines = 0
        for file in files:
            try:
                lines += read_source(file).text.count("\n")
            except SourceError:
                pass
        assert result.files_checked + len(result.errors) == len(files) > 0
        fixable |= {f.path for f in result.findings if f.fix == "safe"}
        numbers[name] = {"files": len(files), "lines": lines, "findings": len(result.findings),
                         "safe-fixable files": len({f.path for f in result.findings if f.fix == "safe"})}
    for name, (proc, out, err) in runs.items():
        assert proc.wait(timeout=600) in (0, 2), err.read_text()[-3000:]
        bad = _assert_one_line_errors(err.read_text(errors="replace"), tmp_path)
        numbers[name]["unparsable files"] = len(bad)
        assert (proc.returncode == 2) == bool(bad)
        for line in out.read_text(errors="replace").splitlines():
            assert FINDING_LINE.match(line), line
    check_time = time.monotonic() - started

    # fix: copies of the files with safe fixes, one directory each, in two projects of their
    # own (fixed at the same time, one per core); plus stdlib files that ast accepts and
    # LibCST does not, with a fixable function appended: fix must say so in one line
    roots = [tmp_path / "fixroot-a", tmp_path / "fixroot-b"]
    for root in roots:
        root.mkdir()
        (root / "pyproject.toml").write_text("[project]\nname = 'corpus-copies'\n")
    copies: dict[Path, Path] = {}
    load = [0, 0]  # bytes per root: the big files decide how long fix takes
    for number, original in enumerate(sorted(fixable, key=lambda p: -p.stat().st_size)):
        side = load.index(min(load))
        load[side] += original.stat().st_size
        target = roots[side] / f"f{number:04d}" / original.name
        target.parent.mkdir()
        shutil.copyfile(original, target)
        copies[target] = original
    libcst_rejects: list[Path] = []
    for number, rel in enumerate(LIBCST_REJECTS):
        if (STDLIB / rel).is_file():
            target = roots[number % 2] / f"x{number:04d}" / Path(rel).name
            target.parent.mkdir()
            target.write_bytes((STDLIB / rel).read_bytes() + SNIPPET.encode())
            copies[target] = STDLIB / rel
            libcst_rejects.append(target)
    before = [finding for root in roots for finding in check_paths([root], settings).findings]
    old_bytes = {copy: copy.read_bytes() for copy in copies}
    fix_sites: dict[Path, list[int]] = {}
    for finding in before:
        if finding.fix == "safe":
            fix_sites.setdefault(Path(finding.path), []).append(finding.line)

    phase = {"before": time.monotonic()}
    failed: set[Path] = set()
    for root, proc in [(root, _start_fix(root)) for root in roots]:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode in (0, 1, 2), stderr[-3000:]
        failed |= {(root / p).resolve() for p in _assert_one_line_errors(stderr, root, allow_summary=True)}
    # LibCST sees only the skeleton of a module (the defs that hold targets): the part it
    # cannot parse is cut and put back verbatim, so these are fixed (checked below like
    # every rewritten file); where it cannot, the error is one line and the file unchanged
    rejected_and_fixed = [p for p in libcst_rejects if p.read_bytes() != old_bytes[p]]
    assert {p.resolve() for p in libcst_rejects} <= failed | {p.resolve() for p in rejected_and_fixed}
    phase["fix"] = time.monotonic()
    rewritten = [copy for copy in copies if copy.read_bytes() != old_bytes[copy]]
    for copy in copies:
        if copy.resolve() in failed:
            assert copy.read_bytes() == old_bytes[copy], f"{copy} reported as not fixed, but changed"
            continue
        new_text = read_source(copy).text
        compile(new_text, str(copy), "exec", dont_inherit=True)
        if copy in rewritten:
            old_text = decode_source(copy, old_bytes[copy]).text
            tree = ast.parse(old_text)
            spans = [_smallest_statement(tree, line) for line in fix_sites.get(copy.resolve(), [])]
            outside = _changed_lines_outside(old_text, new_text, spans)
            assert not outside, f"{copies[copy]}: lines {outside[:10]} changed outside the fixed statements"

    # a second fix changes nothing; afterwards no safe fix is left (except where fix said why not)
    phase["verify"] = time.monotonic()
    snapshot = {copy: copy.read_bytes() for copy in copies}
    for proc in [_start_fix(root) for root in roots]:
        _, stderr = proc.communicate(timeout=600)
        assert "Traceback" not in stderr
    assert {copy: copy.read_bytes() for copy in copies} == snapshot, "a second fix changed files"
    phase["again"] = time.monotonic()
    after = [finding for root in roots for finding in check_paths([root], settings).findings]
    left = [f for f in after if f.fix == "safe" and Path(f.path) not in failed]
    assert not left, left[:5]
    fix_time = time.monotonic() - started - check_time

    print(f"\ncorpus: stdlib {STDLIB}; {site_note}")
    for name, values in numbers.items():
        print(f"  {name}: " + ", ".join(f"{key} {value}" for key, value in values.items()))
    print(f"  fix: {len(copies)} files copied, {len(libcst_rejects)} of them LibCST cannot parse "
          f"({len(before)} findings in the copies, "
          f"{sum(len(v) for v in fix_sites.values())} safe-fixable), {len(rewritten)} rewritten, "
          f"{len(failed)} reported as not fixable (one line each)")
    steps = ", ".join(f"{name} {(at - previous):.1f} s" for (name, at), previous in zip(
        phase.items(), [started + check_time, *phase.values()]))
    print(f"  time: check {check_time:.1f} s, fix {fix_time:.1f} s ({steps})")
