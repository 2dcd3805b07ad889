"""The `fix` command's run (and `check --fix`, `fix -`, `check --add-noqa`): which files to
fix, writing them atomically, the report and the summary. The fixing itself is
`Project.fix_text` (fix.py), text in and text out."""

from __future__ import annotations

import codecs
import sys
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from bgtask_lint import diffs
from bgtask_lint.config import Settings, valid_timeout
from bgtask_lint.console import Console, stderr_is_terminal
from bgtask_lint.files import (
    SourceError,
    decode_source,
    excluded_below_root,
    read_source,
    source_lines,
)
from bgtask_lint.findings import Finding
from bgtask_lint.fix import FileFix, fixable_selected, is_fixable, load_fixes
from bgtask_lint.index import ModuleInfo
from bgtask_lint.parallel import meanwhile
from bgtask_lint.project import Project
from bgtask_lint.results import without_crashes
from bgtask_lint.writes import ChangedMeanwhile, read_for_write, write_atomically

# a fix in one module can make a function of another a task (BGT101): go round again
MAX_ROUNDS = 3
# fixes of one module that decide another's: `add_task(job(1))` -> `add_task(job, 1)` makes
# `job` a task; BGT103's done-callback logs the task's exception, which guards it
SCHEDULING_FIRST = {"BGT101", "BGT103"}
DECIDED_BY_SCHEDULING = {"BGT401", "BGT402"}
PROGRESS_THRESHOLD = 20
# LibCST costs 15-100 ms per file and more, and with this process fixing files too only one
# worker is forked (2 CPUs): two files pay off (gradio, 3 files: 979 -> 934 ms; bentoml, 3:
# 714 -> 691; opal-server, 2: no change)
MIN_PARALLEL_FIXES = 2
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
    # paths of several projects (fix_projects): each project's (remaining, fixes, failed),
    # reported once when every project is done
    gathered: list | None = None


def _timeout_ok(settings: Settings, console: Console) -> bool:
    if valid_timeout(settings.connect_timeout):  # `timeout=nan` would be no code
        return True
    console.error(None, f"--connect-timeout must be a finite positive number, not {settings.connect_timeout!r}")
    return False


def run_fix(paths: list[Path], settings: Settings, root: Path, options: FixOptions, console: Console) -> int:
    if not _timeout_ok(settings, console):
        return EXIT_ERROR
    from bgtask_lint.engine import keeping_parses
    from bgtask_lint.parallel import paused_gc

    # the checks and the fixes share the modules parsed from one text; and, as in a check,
    # no cyclic collection while they are alive: LibCST's churn made the collector walk
    # every syntax tree over and over (open-webui: 7.1 s -> 5.6 s; the run leaves about a
    # thousand cyclic objects per fixed file, collected once it is over)
    with keeping_parses(), paused_gc():
        return _run_fix(paths, settings, root, options, console)


def _run_fix(paths: list[Path], settings: Settings, root: Path, options: FixOptions, console: Console) -> int:
    first_todo = None
    if options.cache:  # a cached check first: the files to fix, or (nothing to fix) the whole report
        from bgtask_lint.check_run import cache_record, describe_cache
        from bgtask_lint.runner import check_paths

        record = cache_record()
        indexes: list = []
        # LibCST's import is a tenth of a second: made here while the check's workers take
        # the first modules, it overlaps them (nothing to fix: some CPU lost). Made in a
        # thread beside this process's own checks, it overlapped less: hayhooks 343 ->
        # 310 ms, opal-server 309 -> 283, bentoml 734 -> 717
        with meanwhile(load_fixes):
            checked = check_paths(paths, settings, root, jobs=options.jobs, cache=True, index_to=indexes.append)
        describe_cache(True, record, console)
        first_todo = fixable_codes(checked.findings, options.unsafe)
        if not first_todo:  # e.g. a pre-commit fix hook on a clean tree: no index needed
            for error in checked.errors:
                console.error(error.path, error.message)
            return _finish(console, options, checked.findings, fixes={}, failed=0)
        return _fix_on_cache(paths, settings, root, options, console, first_todo,
                             indexes[-1] if indexes else None, checked.findings)
    else:
        console.verbose("cache: off (--no-cache)")
    project = Project.load(paths, settings, root)
    for error in project.errors:
        console.error(error.path, error.message)
    checked_last: dict[Path, list[Finding]] = {}
    with meanwhile(load_fixes):  # (as above: while the first check's workers start, when not checked yet)
        fixes, failed_paths = fix_project(project, options.unsafe, console, first_todo, jobs=options.jobs,
                                          checked_last=checked_last)
    failed = len(failed_paths)

    write_errors = 0
    for path, result in sorted(fixes.items()):
        if result.new_text == result.old_text:
            continue
        if options.diff:
            console.result(unified_diff(result, console.display(path)).rstrip("\n"))
            continue
        if not _write(project, result, result.old_text, console):
            write_errors += 1

    remaining = []
    if write_errors or set(checked_last) != set(project.targets):  # the index changed since the last check
        checked_last = _checked(project, project.targets, set(), options.jobs)
    for path in project.targets:
        remaining.extend(checked_last[path])
    remaining.sort()
    return _finish(console, options, remaining, fixes, failed + write_errors)


def _write(project: Project, result: FileFix, on_disk: str, console: Console) -> bool:
    """Write one fixed file atomically unless it changed on disk since it was read (`on_disk`).
    On failure the file, the index and the fix's count keep the text on disk."""
    path = result.path
    try:
        encoding, bom = read_for_write(path)
        if read_source(path).text != on_disk:  # saved by someone else meanwhile
            raise ChangedMeanwhile("the file changed while it was being fixed")
        write_atomically(path, result.new_text, encoding, bom)
        return True
    except (OSError, UnicodeError, SourceError, ChangedMeanwhile) as exc:
        console.error(path, f"cannot write: {getattr(exc, 'strerror', None) or exc}")
        result.fixed.clear()
        result.new_text = on_disk
        _index_what_is_on_disk(project, path, on_disk)
        return False


def _fix_on_cache(paths: list[Path], settings: Settings, root: Path, options: FixOptions, console: Console,
                  todo: dict[Path, set[str]], index=None, findings: list[Finding] | None = None) -> int:
    """`fix` with the cache: only the files to fix are parsed as targets (the index still
    knows every module that schedules tasks, so each fix is the one a whole-project run
    makes), and after each round of writes a cached check, which re-checks only what the
    writes can have changed, says what remains and what the next round fixes (a fix in
    one module can make a function of another a task). `index`, `findings`: the last
    cached check's, which each round fixes on when it can (see `_project_on`).

    With `--diff` nothing is written: the fixed texts stand for the files' content in
    the checks and loads that follow (`overrides`; the cache is read, not saved), so a
    preview re-checks what a written fix would, not the whole project."""
    from bgtask_lint.runner import check_paths

    project: Project | None = None
    on_check_index = False  # whether `project` is on a cached check's index
    fixes: dict[Path, FileFix] = {}
    given_up: set[Path] = set()  # could not be fixed or written: reported once, not retried
    unwritten: dict[Path, str] | None = {} if options.diff else None  # --diff: path -> its fixed text
    checked = None
    for _ in range(MAX_ROUNDS):
        fresh = _project_on(index, todo, settings, findings or []) if index is not None else None
        if fresh is not None:
            project, on_check_index = fresh, True
        elif project is None or on_check_index:
            # the first round, or one after a round on a cached check's index: its facts are
            # those of the files before that round's writes
            project, on_check_index = Project.load(sorted(todo), settings, root, unwritten), False
        for path in sorted(set(todo) - set(project.targets)):  # found fixable by the last check
            _add_target(project, path, console, unwritten)
        round_fixes, round_failed = fix_project(project, options.unsafe, console, todo, rounds=1, jobs=options.jobs)
        given_up |= round_failed
        wrote = False
        for path, result in sorted(round_fixes.items()):
            if result.new_text == result.old_text:
                continue
            if unwritten is not None:
                unwritten[path] = result.new_text
                wrote = True
            elif _write(project, result, result.old_text, console):
                wrote = True
            else:
                given_up.add(path)
            earlier = fixes.get(path)
            fixes[path] = FileFix(path, earlier.old_text if earlier else result.old_text, result.new_text,
                                  fixed=(earlier.fixed if earlier else Counter()) + result.fixed)
        indexes: list = []
        checked = check_paths(paths, settings, root, jobs=options.jobs, cache=True, index_to=indexes.append,
                              overrides=unwritten)
        index = indexes[-1] if indexes else None
        findings = checked.findings
        todo = {path: codes for path, codes in fixable_codes(checked.findings, options.unsafe).items()
                if path not in given_up}
        if not wrote or not todo:
            break
    assert checked is not None
    if options.diff:
        for path, result in sorted(fixes.items()):
            if result.new_text != result.old_text:
                console.result(unified_diff(result, console.display(path)).rstrip("\n"))
    for error in checked.errors:
        console.error(error.path, error.message)
    return _finish(console, options, sorted(checked.findings), fixes, len(given_up))


def _project_on(index, todo: dict[Path, set[str]], settings: Settings, findings: list[Finding]) -> Project | None:
    """A project of the files to fix on the index a cached check just built (None: fix on a
    project loaded afresh). Its project-wide facts (the task table, the session flows)
    were assembled from the cache's parts, so the modules that may schedule tasks are
    parsed only when a fix asks about them (a pre-commit fix on litellm parsed 300).

    Those facts stay as the check found them while the round's fixes change modules: not
    when a BGT101 fix is to be made, which makes new tasks that the same round fixes. And
    the check's memo, whose kept entries are judged by the files on disk, is not used;
    but its `findings` are each file's on this index, so a file's fix does not check it
    again before its first edit."""
    if any("BGT101" in codes for codes in todo.values()):
        return None
    index.cache = {}
    project = Project(index.root, settings, index)
    by_path: dict[Path, list[Finding]] = {}
    for finding in findings:
        by_path.setdefault(finding.path, []).append(finding)
    for path in sorted(todo):
        module = index.module(path)
        if module is None:
            return None
        project.targets.append(path)
        project.preset_findings(module, sorted(by_path.get(path, ())))
    return project


def _add_target(project: Project, path: Path, console: Console, unwritten: dict[Path, str] | None = None) -> None:
    try:
        module = project.parse(path, (unwritten or {}).get(path))
    except SourceError as exc:
        console.error(path, str(exc))
        return
    project.index.add(module)
    project.targets.append(path)


def fixable_codes(findings: list[Finding], unsafe: bool) -> dict[Path, set[str]]:
    """path -> the codes of its findings that `fix` can fix."""
    found: dict[Path, set[str]] = {}
    for finding in findings:
        if is_fixable(finding, unsafe):
            found.setdefault(finding.path, set()).add(finding.code)
    return found


def fix_project(project: Project, unsafe: bool, console: Console, first_todo: dict[Path, set[str]] | None = None,
                rounds: int = MAX_ROUNDS, jobs: int | None = 1,
                checked_last: dict[Path, list[Finding]] | None = None) -> tuple[dict[Path, FileFix], set[Path]]:
    """Fix every target of the project in memory, round after round; the index follows.
    `first_todo`: the files a (cached) check found fixable, with their fixable codes, so
    the first round need not check them all; `jobs`: worker processes for the files of a
    round and for its checks (None: one per CPU). Returns each changed file's fix and the
    files that could not be fixed. `checked_last`, when given, is filled with every
    target's findings on the index as the fixes left it, when the last round's check saw
    that index (the round that found nothing more to fix): the caller need not check again.

    Every file of a round is fixed against the index as the round found it, so what is
    written does not depend on the order of the files or on the workers. Where one
    module's scheduling fix (BGT101, BGT103) can decide another's task-body fix (the
    done-callback that logs guards the task: wrapping its body would log it twice), the
    scheduling fixes go first, with every fix of the files that have no task-body fix to
    make; the task-body fixes are decided after them."""
    originals: dict[Path, str] = {}
    fixes: dict[Path, FileFix] = {}
    failed: set[Path] = set()
    checked: dict[Path, list[Finding]] = {}
    for round_number in range(rounds):
        if first_todo is not None and round_number == 0:
            targets = set(project.targets)
            todo = {path: codes for path, codes in first_todo.items() if path in targets}
            checked = {}
        else:
            checked = _checked(project, project.targets, failed, jobs)
            todo = fixable_codes([f for found in checked.values() for f in found], unsafe)
        if not todo:
            break
        for path in todo:
            originals.setdefault(path, project.index.by_path[path].source)
        first = sorted(path for path, codes in todo.items() if codes & SCHEDULING_FIRST)
        decided = {path for path, codes in todo.items() if codes & DECIDED_BY_SCHEDULING}
        # each stage: its files, and the codes to fix of those that are not to fix whole
        stages: list[tuple[list[Path], dict[Path, tuple[str, ...]]]] = [(sorted(todo), {})]
        waiting = _decided_elsewhere(project, first, todo, decided) if first and decided else set()
        if waiting:
            scheduling = tuple(SCHEDULING_FIRST)
            stages = [([path for path in sorted(todo) if path not in waiting or path in first],
                       {path: scheduling for path in waiting}),
                      (sorted(waiting), {})]
        changed_this_round = False
        for paths, only in stages:
            # the second stage's files are decided again on the index the scheduling fixes
            # left: each fix checks its file first, and what has nothing to fix is unchanged
            for result in _fix_files(project, [p for p in paths if p not in failed], unsafe, jobs, only):
                path = result.path
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
        checked = {}  # the fixes changed the index
    if checked_last is not None and not failed and set(checked) == set(project.targets):
        checked_last.update(checked)
    return fixes, failed


def _decided_elsewhere(project: Project, first: list[Path], todo: dict[Path, set[str]],
                       decided: set[Path]) -> set[Path]:
    """The modules of `decided` (with a task-body fix to make: BGT401, BGT402) whose fix a
    scheduling fix in another module of `first` can decide: every one when a BGT101 fix is
    to be made (its task is known only once fixed); else those that define the task of a
    `create_task` site there. They wait for the scheduling fixes; the rest are fixed with
    them (one module orders its own fixes)."""
    index = project.index
    waiting: set[Path] = set()
    for path in first:
        if "BGT101" in todo[path]:
            return set(decided)
        module = index.by_path[path]
        for site in module.sites:
            task = index.resolve_task(module, site) if site.form == "create_task" else None
            if task is not None and task.module.path != path and task.module.path in decided:
                waiting.add(task.module.path)
    return waiting


def _checked(project: Project, paths: list[Path], failed: set[Path], jobs: int | None) -> dict[Path, list[Finding]]:
    """What the index says now about each of `paths` (but those that failed), checked as
    `check` checks them: in workers when there are many."""
    from bgtask_lint.parallel import check_modules

    modules = [project.index.by_path[path] for path in paths if path not in failed]
    return {path: findings for path, (findings, _) in check_modules(project, modules, jobs).items()}


def _fix_one(project: Project, path: Path, unsafe: bool = False,
             only: dict[Path, tuple[str, ...]] | None = None) -> FileFix:
    """One file's fix (of `only[path]`'s codes, when given); the index is left as it was
    (the caller takes the new texts in at the end of the stage, so that no file's fix
    sees another's)."""
    return _fix_kept(project, path, unsafe, (only or {}).get(path))[0]


def _fix_kept(project: Project, path: Path, unsafe: bool, codes: tuple[str, ...] | None
              ) -> tuple[FileFix, ModuleInfo | None]:
    """`_fix_one`, and the module of the fixed text that the index held at the end (taking
    it in later costs no parse)."""
    module = project.index.by_path[path]
    try:
        # the fix's first check, made here on the state the index returns to: what it
        # analysed of the project is kept for the next file (the fix finds its findings)
        found = project.check(module, only=fixable_selected(project, path, codes))
    except Exception:  # noqa: BLE001 - the fix checks again, and reports what fails
        found = None
    if found is not None and not any(is_fixable(finding, unsafe) for finding in found):
        # nothing left to fix (a scheduling fix elsewhere decided it): the file is left
        # alone, not even compiled (`def f(a, a)` parses, and is not this run's business)
        return FileFix(path, module.source, module.source), None
    # what is analysed on this state is kept for the next file: up to the fix's first
    # change of the module, not only up to its start (litellm: the loggers of the modules
    # a file imports, asked by its first fix, were made again by every file)
    index = project.index
    analyses: list[tuple] = []
    index.before_change = lambda: analyses.append(index.analyses())
    try:
        result = project.fix_text(path, module.source, unsafe=unsafe, codes=codes)
        fixed = project.module(path)
        return result, fixed if fixed is not None and fixed.source == result.new_text else None
    finally:
        index.add(module)  # (the state's analyses are taken here if nothing changed before)
        index.bring_back(analyses[0])  # the project-wide analyses hold again


def _fix_files(project: Project, todo: list[Path], unsafe: bool, jobs: int | None,
               only: dict[Path, tuple[str, ...]] | None = None) -> list[FileFix]:
    """One fix of each file (of the codes `only` gives it, if any), with a progress bar on a
    terminal, by this process and forked workers when there are several (biggest first);
    then the index takes the new texts."""
    from functools import partial

    from bgtask_lint.parallel import map_shared

    if not todo:
        return []
    results = None
    parsed: dict[Path, ModuleInfo] = {}  # the fixed texts' modules, when fixed here
    with _progress(todo) as bar:
        if len(todo) >= MIN_PARALLEL_FIXES:
            load_fixes()  # LibCST and the fixes, imported once here, not in every worker
            project.index.task_paths()  # the task table, once, before the workers inherit the index

            order = sorted(todo, key=lambda p: -len(project.index.by_path[p].source))
            results = map_shared(project, partial(_fix_one, unsafe=unsafe, only=only), order, jobs,
                                 each=bar.update_to)
            if results is not None:
                bar.update_to(len(results))  # (the workers' last ones)
        if results is None:
            results = []
            for path in todo:
                result, module = _fix_kept(project, path, unsafe, (only or {}).get(path))
                results.append(result)
                if module is not None:
                    parsed[path] = module
                bar.update_to(len(results))
    for result in results:
        if result.changed and result.path in parsed:
            project.index.add(parsed[result.path])
        elif result.changed:
            project.replace(result.path, result.new_text)
    return results


def _finish(console: Console, options: FixOptions, remaining: list[Finding], fixes: dict[Path, FileFix],
            failed: int) -> int:
    """Print what remains (in the chosen format), the fixes (`--show-fixes`) and the summary."""
    from bgtask_lint.check_run import CheckOptions, report_findings

    if options.gathered is not None:
        options.gathered.append((remaining, fixes, failed))
        return EXIT_CLEAN

    fixed = Counter()
    for fix in fixes.values():
        fixed.update(fix.fixed)
    changed_files = sum(1 for f in fixes.values() if f.new_text != f.old_text)
    remaining = without_crashes(remaining, console.error)
    if not options.diff:
        report_findings(remaining, CheckOptions(output_format=options.output_format, show_fixes=options.show_fixes,
                                                unsafe_fixes=options.unsafe), console,
                        [(p, m) for p, m in console.errors if p is not None])
    if options.show_fixes:
        console.note(show_fixes(fixes, console.display, options.diff))
    stuck = sum(1 for f in remaining if is_fixable(f, options.unsafe))  # in files fix could not change
    console.note(summary(+fixed, remaining, changed_files, options.diff, stuck, options.unsafe,
                         errors=bool(console.errors)))
    if not console.close() or console.errors:
        return EXIT_ERROR
    if options.exit_zero:
        return EXIT_CLEAN
    if options.diff:
        return EXIT_FINDINGS if changed_files else EXIT_CLEAN
    return EXIT_FINDINGS if remaining else EXIT_CLEAN


def fix_projects(projects: list[tuple[list[Path], Settings, Path]], options: FixOptions, console: Console) -> int:
    """`fix` of paths of several projects, each with its own root and settings, in one
    report: one list of what remains (one JSON or SARIF document), one summary."""
    if len(projects) == 1:
        return run_fix(*projects[0], options, console)
    gathering = replace(options, gathered=[])
    exits = [run_fix(named, settings, root, gathering, console) for named, settings, root in projects]
    remaining = sorted(finding for found, _, _ in gathering.gathered for finding in found)
    fixes = {path: fix for _, found, _ in gathering.gathered for path, fix in found.items()}
    failed = sum(count for _, _, count in gathering.gathered)
    return max(_finish(console, options, remaining, fixes, failed), *exits)


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


def summary(fixed: Counter, remaining: list, files: int, diff: bool, stuck: int = 0, unsafe: bool = False,
            errors: bool = True) -> str:
    """`Fixed 2 findings (BGT103: 2) in 1 file. 1 remaining (no safe fix): BGT401: 1.`: only
    the selected rules' findings are counted, fixed or remaining. `stuck`: how many of them
    have a fix that was not made; `errors`: whether errors were reported (saying why)."""
    verb = "Would fix" if diff else "Fixed"
    total = sum(fixed.values())
    per_code = ", ".join(f"{code}: {count}" for code, count in sorted(fixed.items()))
    parts = [f"{verb} {total} finding{'s' if total != 1 else ''}" + (f" ({per_code})" if per_code else "")
             + f" in {files} file{'s' if files != 1 else ''}."]
    if remaining:
        left = Counter(f.code for f in remaining)
        more = 0 if unsafe else sum(1 for f in remaining if is_fixable(f, True))
        if stuck and errors:
            why = f"{stuck} not fixed: see the errors above"
        elif stuck:  # the rule offered a fix that its codemod did not make: our bug
            why = f"{stuck} not fixed: their fix changed nothing, which is a bug of bgtask-lint; please report it"
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
    for stream, problem in ((sys.stdin, "stdin is closed: nothing to fix"),
                            (sys.stdout, "stdout is closed: nowhere to write the fixed code")):
        if stream is None:  # `<&-`, `>&-`
            console.error(path, problem)
            console.close()
            return EXIT_ERROR
    import click  # (`fix -` is read by the click command line: it is loaded already)

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
    """A progress bar on a terminal for many files, moved with `update_to(done)`; nothing
    when piped."""

    def __init__(self, items: list[Path]):
        self.bar = None
        if len(items) >= PROGRESS_THRESHOLD and stderr_is_terminal():
            import click  # only for a terminal: a plain `fix` runs without click (launch.py)

            self.bar = click.progressbar(length=len(items), label="fixing", file=sys.stderr)

    def __enter__(self) -> "_progress":
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def update_to(self, done: int) -> None:
        """Show `done` items done (by this process and its workers)."""
        if self.bar is not None and done > self.bar.pos:
            self.bar.update(done - self.bar.pos)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


# --- writing ------------------------------------------------------------------------------


def unified_diff(fix: FileFix, display: str) -> str:
    return diffs.unified_diff(source_lines(fix.old_text, keepends=True), source_lines(fix.new_text, keepends=True),
                              fromfile=f"a/{display}", tofile=f"b/{display}")
