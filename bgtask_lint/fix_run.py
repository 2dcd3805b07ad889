"""The `fix` command's run (and `check --fix`, `fix -`, `check --add-noqa`): which files to
fix, writing them atomically, the report and the summary. The fixing itself is
`Project.fix_text` (fix.py), text in and text out."""

from __future__ import annotations

import codecs
import difflib
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import click

from bgtask_lint.config import Settings, valid_timeout
from bgtask_lint.console import Console
from bgtask_lint.files import (
    SourceError,
    decode_source,
    excluded_below_root,
    read_source,
    source_lines,
)
from bgtask_lint.findings import Finding
from bgtask_lint.fix import FileFix, is_fixable
from bgtask_lint.project import Project
from bgtask_lint.writes import ChangedMeanwhile, read_for_write, write_atomically

# a fix in one module can make a function of another a task (BGT101): go round again
MAX_ROUNDS = 3
PROGRESS_THRESHOLD = 20
EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


@dataclass
class FixOptions:
    diff: bool = False
    unsafe: bool = False
    show_fixes: bool = False
    exit_zero: bool = False
    cache: bool = True
    jobs: int | None = None
    output_format: str = "text"  # of the findings that remain


def _timeout_ok(settings: Settings, console: Console) -> bool:
    if valid_timeout(settings.connect_timeout):  # `timeout=nan` would be no code
        return True
    console.error(None, f"--connect-timeout must be a finite positive number, not {settings.connect_timeout!r}")
    return False


def run_fix(paths: list[Path], settings: Settings, root: Path, options: FixOptions, console: Console) -> int:
    if not _timeout_ok(settings, console):
        return EXIT_ERROR
    first_todo = None
    if options.cache:  # a cached check first: the files to fix, or (nothing to fix) the whole report
        from bgtask_lint.check_run import cache_record, describe_cache
        from bgtask_lint.runner import check_paths

        record = cache_record()
        checked = check_paths(paths, settings, root, jobs=options.jobs, cache=True)
        describe_cache(True, record, console)
        first_todo = {f.path for f in checked.findings if is_fixable(f, options.unsafe)}
        if not first_todo:  # e.g. a pre-commit fix hook on a clean tree: no index needed
            for error in checked.errors:
                console.error(error.path, error.message)
            return _finish(console, options, checked.findings, fixes={}, failed=0)
    else:
        console.verbose("cache: off (--no-cache)")
    project = Project.load(paths, settings, root)
    for error in project.errors:
        console.error(error.path, error.message)
    fixes, failed = fix_project(project, options.unsafe, console, first_todo)

    write_errors = 0
    for path, result in sorted(fixes.items()):
        if result.new_text == result.old_text:
            continue
        if options.diff:
            console.result(unified_diff(result, console.display(path)).rstrip("\n"))
            continue
        try:
            encoding, bom = read_for_write(path)
            if read_source(path).text != result.old_text:  # saved by someone else meanwhile
                raise ChangedMeanwhile("the file changed while it was being fixed")
            write_atomically(path, result.new_text, encoding, bom)
        except (OSError, UnicodeError, SourceError, ChangedMeanwhile) as exc:
            write_errors += 1
            console.error(path, f"cannot write: {getattr(exc, 'strerror', None) or exc}")
            # the file keeps its text: so must the index, the count and the report
            result.fixed.clear()
            result.new_text = result.old_text
            _index_what_is_on_disk(project, path, result.old_text)

    remaining = []
    for path in project.targets:
        remaining.extend(project.check(project.index.by_path[path]))
    remaining.sort()
    return _finish(console, options, remaining, fixes, failed + write_errors)


def fix_project(project: Project, unsafe: bool, console: Console,
                first_todo: set[Path] | None = None) -> tuple[dict[Path, FileFix], int]:
    """Fix every target of the project in memory, round after round; the index follows.
    `first_todo`: the files a (cached) check found fixable, so the first round need not
    check them all. Returns each changed file's fix and how many files could not be fixed."""
    originals: dict[Path, str] = {}
    fixes: dict[Path, FileFix] = {}
    failed: set[Path] = set()
    for round_number in range(MAX_ROUNDS):
        todo = [
            path for path in project.targets
            if path not in failed and (
                path in first_todo if first_todo is not None and round_number == 0
                else any(is_fixable(f, unsafe) for f in project.check(project.index.by_path[path])))
        ]
        if not todo:
            break
        changed_this_round = False
        with _progress(todo, console.display) as bar:
            for path in bar:
                current = project.index.by_path[path].source
                originals.setdefault(path, current)
                result = project.fix_text(path, current, unsafe=unsafe)
                if result.error is not None:
                    console.error(path, result.error)
                    failed.add(path)
                    continue
                if result.changed:
                    changed_this_round = True
                    earlier = fixes[path].fixed if path in fixes else Counter()
                    fixes[path] = FileFix(path, originals[path], result.new_text, fixed=earlier + result.fixed)
        if not changed_this_round:
            break
    return fixes, len(failed)


def _finish(console: Console, options: FixOptions, remaining: list[Finding], fixes: dict[Path, FileFix],
            failed: int) -> int:
    """Print what remains (in the chosen format), the fixes (`--show-fixes`) and the summary."""
    from bgtask_lint.check_run import CheckOptions, report_findings

    fixed = Counter()
    for fix in fixes.values():
        fixed.update(fix.fixed)
    changed_files = sum(1 for f in fixes.values() if f.new_text != f.old_text)
    if not options.diff:
        report_findings(remaining, CheckOptions(output_format=options.output_format, show_fixes=options.show_fixes,
                                                unsafe_fixes=options.unsafe), console,
                        [(p, m) for p, m in console.errors if p is not None])
    if options.show_fixes:
        console.note(show_fixes(fixes, console.display, options.diff))
    stuck = sum(1 for f in remaining if is_fixable(f, options.unsafe))  # in files fix could not change
    console.note(summary(+fixed, remaining, changed_files, options.diff, stuck, options.unsafe))
    if not console.close() or console.errors:
        return EXIT_ERROR
    if options.exit_zero:
        return EXIT_CLEAN
    if options.diff:
        return EXIT_FINDINGS if changed_files else EXIT_CLEAN
    return EXIT_FINDINGS if remaining else EXIT_CLEAN


def show_fixes(fixes: dict[Path, FileFix], display: Callable[[Path], str], diff: bool) -> str:
    """ruff's `--show-fixes` listing: each file, and how many findings of each code were fixed."""
    from bgtask_lint.rules import rule_by_code

    changed = [(display(p), f.fixed) for p, f in sorted(fixes.items()) if f.new_text != f.old_text and f.fixed]
    if not changed:
        return ""
    total = sum(sum(counts.values()) for _, counts in changed)
    lines = [f"{'Would fix' if diff else 'Fixed'} {total} finding{'s' if total != 1 else ''}:"]
    for shown, counts in changed:
        lines.append(f"- {shown}:")
        for code, count in sorted(counts.items()):
            rule = rule_by_code(code)
            lines.append(f"    {count} \u00d7 {code}" + (f" ({rule.name})" if rule is not None else ""))
    return "\n".join(lines)


def _index_what_is_on_disk(project: Project, path: Path, fallback: str) -> None:
    try:
        project.replace(path, read_source(path).text)
    except SourceError:
        project.replace(path, fallback)


def summary(fixed: Counter, remaining: list, files: int, diff: bool, stuck: int = 0, unsafe: bool = False) -> str:
    """`Fixed 2 findings (BGT103: 2) in 1 file. 1 remaining (no safe fix): BGT401: 1.`: only
    the selected rules' findings are counted, fixed or remaining."""
    verb = "Would fix" if diff else "Fixed"
    total = sum(fixed.values())
    per_code = ", ".join(f"{code}: {count}" for code, count in sorted(fixed.items()))
    parts = [f"{verb} {total} finding{'s' if total != 1 else ''}" + (f" ({per_code})" if per_code else "")
             + f" in {files} file{'s' if files != 1 else ''}."]
    if remaining:
        left = Counter(f.code for f in remaining)
        more = 0 if unsafe else sum(1 for f in remaining if is_fixable(f, True))
        if stuck:
            why = f"{stuck} not fixed: see the errors above"
        elif more:
            why = f"{more} fixable with --unsafe-fixes"
        else:
            why = "no fix" if unsafe else "no safe fix"
        parts.append(f"{len(remaining)} remaining ({why}): "
                     + ", ".join(f"{code}: {count}" for code, count in sorted(left.items())) + ".")
    else:
        parts.append("No findings remain." if not diff else "")
    return " ".join(p for p in parts if p)


# --- stdin ----------------------------------------------------------------------------------


def run_fix_stdin(path: Path, settings: Settings, root: Path, options: FixOptions, console: Console) -> int:
    """`fix -`: the fixed text on stdout (in the input's encoding), or a diff with `--diff`;
    what remains on stderr. On any error the input goes back unchanged."""
    raw = click.get_binary_stream("stdin").read()
    out = click.get_binary_stream("stdout")

    def give_back() -> None:
        if not options.diff:
            out.write(raw)
            out.flush()

    if not _timeout_ok(settings, console):
        give_back()
        return EXIT_ERROR
    if settings.force_exclude and excluded_below_root(path, settings.excludes, root):
        give_back()
        return EXIT_CLEAN
    try:
        source = decode_source(path, raw)
    except SourceError as exc:
        console.error(path, str(exc))
        give_back()
        return EXIT_ERROR
    project = Project.load([path], settings, root, overrides={path: source.text})
    module = project.module(path)
    if module is None or project.errors:
        for error in project.errors:
            console.error(error.path, error.message)
        give_back()
        return EXIT_ERROR
    current, fixed = source.text, Counter()
    for _ in range(MAX_ROUNDS):
        result = project.fix_text(path, current, unsafe=options.unsafe)
        if result.error is not None:
            console.error(path, result.error)
            break
        if not result.changed:
            break
        fixed += result.fixed
        current = result.new_text
    remaining = project.check(project.module(path))
    fix = FileFix(path, source.text, current, fixed=fixed)
    if options.diff:
        console.result(unified_diff(fix, console.display(path)).rstrip("\n"))
    elif console.errors:
        give_back()
    else:
        bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
        encoding = "utf-8" if source.encoding in ("utf-8", "utf-8-sig") else source.encoding
        out.write(bom + current.encode(encoding))
        out.flush()
    # stdout holds the code: what remains is reported on stderr
    console.results_to_stderr = not options.diff
    return _finish(console, options, remaining, {path: fix} if fix.new_text != fix.old_text else {}, 0)


# --- --add-noqa -----------------------------------------------------------------------------


class _progress:
    """A progress bar on a terminal for many files; nothing when piped."""

    def __init__(self, items: list[Path], display: Callable[[Path], str]):
        self.items = items
        self.bar = None
        if len(items) >= PROGRESS_THRESHOLD and sys.stderr.isatty():
            self.bar = click.progressbar(items, label="fixing", file=sys.stderr,
                                         item_show_func=lambda p: display(p) if p else "")

    def __enter__(self):
        return self.bar.__enter__() if self.bar is not None else self.items

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


# --- writing ------------------------------------------------------------------------------


def unified_diff(fix: FileFix, display: str) -> str:
    return "".join(difflib.unified_diff(
        source_lines(fix.old_text, keepends=True), source_lines(fix.new_text, keepends=True),
        fromfile=f"a/{display}", tofile=f"b/{display}",
    ))
