"""The `check` command's run: the paths named, the project they make, the check (cached,
from stdin, or with the noqa tools), and what is printed. Output goes through a
`Console` (console.py); decisions about files, rules and noqa stay in the project."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from bgtask_lint.config import Settings
from bgtask_lint.console import Console
from bgtask_lint.files import (
    ROOT_MARKERS,
    SourceError,
    decode_source,
    excluded_below_root,
    find_marked_root,
    path_problem,
    paths_root,
    projects_of,
    read_source,
    root_markers,
)
from bgtask_lint.findings import Finding
from bgtask_lint.gitignore import find_work_tree
from bgtask_lint.plain import Value
from bgtask_lint.results import without_crashes
from bgtask_lint.writes import ChangedMeanwhile, read_for_write, write_atomically

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from bgtask_lint.project import Project
    from bgtask_lint.results import CheckResult

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
STDIN_NAME = "<stdin>.py"  # the module a nameless stdin becomes: no import can reach it


class CheckOptions(Value):
    __slots__ = ("output_format", "exit_zero", "statistics", "show_fixes", "unsafe_fixes", "jobs", "cache",
                 "add_noqa", "unused_noqa")

    def __init__(self, output_format: str = "text", exit_zero: bool = False, statistics: bool = False,
                 show_fixes: bool = False, unsafe_fixes: bool = False, jobs: int | None = None, cache: bool = True,
                 add_noqa: bool = False, unused_noqa: bool = False) -> None:
        self.output_format = output_format
        self.exit_zero = exit_zero
        self.statistics = statistics
        self.show_fixes = show_fixes
        self.unsafe_fixes = unsafe_fixes
        self.jobs = jobs
        self.cache = cache
        self.add_noqa = add_noqa
        self.unused_noqa = unused_noqa


# --- paths ----------------------------------------------------------------------------------


def usable_paths(typed: tuple[str, ...], console: Console) -> list[Path]:
    """The paths that exist; each other one is one error line, under the name typed."""
    usable = []
    for name in typed:
        problem = path_problem(Path(name))
        if problem is None:
            usable.append(Path(name))
        else:
            console.error(name, problem)
    return usable


def forced_excludes(paths: list[Path], settings: Settings, root: Path) -> list[Path]:
    """`--force-exclude`: drop named paths that an exclude matches (pre-commit names every file)."""
    if not settings.force_exclude:
        return paths
    return [p for p in paths if not excluded_below_root(p, settings.excludes, root)]


def describe_root(root: Path, console: Console) -> None:
    """Which root, and why: a nested pyproject.toml moves it, and modules outside it are
    not indexed (a task scheduled from there is not known)."""
    if not console.verbose_on:
        return
    if find_marked_root(root) == root:
        markers = root_markers(root)
        console.verbose(f"project root: {root} (it has {', '.join(markers)})")
    elif (root / "__init__.py").exists():  # package_home stopped below a shared directory
        console.verbose(f"project root: {root} (no {', '.join(ROOT_MARKERS)} above the paths: the package "
                        f"itself, since {root.parent} is shared by unrelated projects)")
    else:
        console.verbose(f"project root: {root} (no {', '.join(ROOT_MARKERS)} above the paths: "
                        "their common directory, above any package)")
    top = find_work_tree(root)
    if top is not None and top != root:
        console.verbose(f"the git work tree starts above it, at {top}: modules outside {root} are not indexed")


def describe_settings(settings: Settings, console: Console) -> None:
    where = settings.config_path
    console.verbose(f"config: {where}" if where else "config: no pyproject.toml found, defaults used")


# --- checking -------------------------------------------------------------------------------


def check_project(project: "Project", unused: bool) -> "CheckResult":
    """Check the project's targets in this process; with `unused`, add the unused noqa codes."""
    from bgtask_lint.noqa import unused_noqa
    from bgtask_lint.results import CheckResult
    from bgtask_lint.rules import all_rules

    result = CheckResult(errors=list(project.errors))
    known = frozenset(rule.code for rule in all_rules())
    for path in project.targets:
        module = project.index.by_path[path]
        findings, hidden = project.check_counted(module)
        result.findings.extend(findings)
        result.hidden_in_tests += hidden
        result.files_checked += 1
        if unused and "noqa" in module.source.lower():
            raw = project.check(module, noqa=False)
            result.findings.extend(unused_noqa(path, module.source, raw, project.reported_codes(path), known))
    result.findings.sort()
    return result


def read_stdin(path: Path) -> str:
    """stdin decoded as Python decodes a file (coding cookie, BOM). Raises SourceError."""
    if sys.stdin is None:  # `<&-`
        raise SourceError("stdin is closed: nothing to check")
    return decode_source(path, sys.stdin.buffer.read()).text


def stdin_path(stdin_filename: str | None, console: Console) -> Path:
    """The file stdin stands for (its path decides project, config and module name)."""
    if stdin_filename:
        return Path(stdin_filename)
    path = Path.cwd() / STDIN_NAME
    console.display.shown[str(path)] = "-"
    return path


Prepared = tuple[list[Path], Settings, Path]  # the paths to use, their settings, their project root


def prepare(typed: tuple[str, ...], stdin_filename: str | None, settings_for,
            console: Console) -> list[Prepared] | None:
    """The paths to use, by project, with their settings and root (said with --verbose):
    files of two services of a monorepo are two projects (files.projects_of). None when no
    path named can be used (each said in one line). `settings_for(start)`: the settings
    for a run starting at `start` (raises ConfigError)."""
    if typed == ("-",):
        named = [stdin_path(stdin_filename, console)]
        projects = [(paths_root(named), named)]
    else:
        named = usable_paths(typed, console)
        if not named:
            return None
        projects = projects_of(named)
    prepared = []
    for root, paths in projects:
        settings = settings_for(paths[0])
        describe_root(root, console)
        describe_settings(settings, console)
        prepared.append((paths if typed == ("-",) else forced_excludes(paths, settings, root), settings, root))
    return prepared


def run_check(typed: tuple[str, ...], prepared: list[Prepared] | None, options: CheckOptions,
              console: Console) -> int:
    from bgtask_lint.report import render_fixable, render_summary

    projects = [project for project in prepared or () if project[0]]
    if not projects:
        return report_nothing_checked(options, console)
    if options.add_noqa:
        return run_add_noqa(projects, console)
    if typed == ("-",):  # one project: the one stdin's file name is in
        [(named, settings, root)] = projects
        if settings.force_exclude and excluded_below_root(named[0], settings.excludes, root):
            return EXIT_CLEAN
        try:
            text = read_stdin(named[0])
        except SourceError as exc:
            console.error(named[0], str(exc))
            return EXIT_ERROR
        result = _check_loaded(named, settings, root, options, overrides={named[0]: text})
    else:
        result = _merged([_check_project(named, settings, root, options, console) for named, settings, root in projects])

    for error in result.errors:
        console.error(error.path, error.message)
    result.findings = without_crashes(result.findings, console.error)
    console.verbose(f"{result.files_checked} file{'s' if result.files_checked != 1 else ''} checked")
    report_findings(result.findings, options, console, [(p, m) for p, m in console.errors if p is not None])
    if not result.files_checked and not console.errors:
        console.note(f"warning: no Python files found under {' '.join(typed)}")
        return EXIT_CLEAN if console.close() else EXIT_ERROR
    console.summary(render_summary(result.findings, color=console.color, errors=len(console.errors),
                                   files_checked=result.files_checked))
    if console.tty or options.show_fixes:
        hint = render_fixable(result.findings, unsafe=options.unsafe_fixes)
        (console.summary if console.tty else console.note)(hint)
    if result.hidden_in_tests:
        n = result.hidden_in_tests
        console.note(f"{n} finding{'s' if n != 1 else ''} in test files not shown "
                     "(BGT3xx-5xx; set check-tests = true to report them)")
    if not console.close() or console.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if result.findings and not options.exit_zero else EXIT_CLEAN


def _check_project(named: list[Path], settings: Settings, root: Path, options: CheckOptions,
                   console: Console) -> "CheckResult":
    if options.unused_noqa:
        return _check_loaded(named, settings, root, options)
    from bgtask_lint.runner import check_paths

    cache_run = cache_record() if options.cache else None
    result = check_paths(named, settings, root, jobs=options.jobs, cache=options.cache)
    describe_cache(options.cache, cache_run, console)
    return result


def _merged(results: list["CheckResult"]) -> "CheckResult":
    """One report of the projects checked one after another."""
    from bgtask_lint.results import CheckResult

    if len(results) == 1:
        return results[0]
    merged = CheckResult()
    for result in results:
        merged.findings.extend(result.findings)
        merged.errors.extend(result.errors)
        merged.files_checked += result.files_checked
        merged.hidden_in_tests += result.hidden_in_tests
    merged.findings.sort()
    return merged


def report_nothing_checked(options: CheckOptions, console: Console) -> int:
    """No path named could be used, or every one is excluded (--force-exclude): still an
    empty report in the chosen format (a SARIF upload expects its file), and the errors."""
    if not console.errors:
        console.verbose("every path named is excluded (--force-exclude): nothing to check")
    report_findings([], options, console, [(p, m) for p, m in console.errors if p is not None])
    if not console.close() or console.errors:
        return EXIT_ERROR
    return EXIT_CLEAN


def _check_loaded(paths: list[Path], settings: Settings, root: Path, options: CheckOptions,
                  overrides: dict[Path, str] | None = None) -> "CheckResult":
    """Check without the cache (stdin, unused noqa): one project, in this process."""
    from bgtask_lint.project import Project

    project = Project.load(paths, settings, root, overrides=overrides)
    return check_project(project, options.unused_noqa)


def cache_record() -> dict | None:
    from bgtask_lint.cache import LAST_RUN

    LAST_RUN.clear()
    return LAST_RUN


def describe_cache(enabled: bool, record: dict | None, console: Console) -> None:
    if not enabled:
        console.verbose("cache: off (--no-cache)")
    elif not record:
        console.verbose("cache: not used for these paths")
    else:
        hits, checked, kept = record.get("hits", 0), record.get("checked", 0), record.get("cut_off", 0)
        # (kept: entries whose modules read changed, but not where the file reaches: cache/cutoff.py)
        besides = f" ({kept} though a module they read changed)" if kept else ""
        console.verbose(f"cache: {hits} hit{'s' if hits != 1 else ''}{besides}, "
                        f"{checked} file{'s' if checked != 1 else ''} checked again")


def report_findings(findings: list[Finding], options: CheckOptions, console: Console,
                    errors: list[tuple[Path | str, str]] = ()) -> None:
    """The findings in the chosen format (and `--statistics`)."""
    from bgtask_lint.report import render_github, render_json, render_sarif, render_text

    display = console.display
    if options.output_format == "json":
        console.result(render_json(findings, display))
    elif options.output_format == "sarif":
        console.result(render_sarif(findings, display, [(Path(p), m) for p, m in errors]))
    elif options.output_format == "github":
        console.result(render_github(findings, display))
    else:
        console.result(render_text(findings, display, color=console.color, fix_marks=options.show_fixes,
                                   unsafe=options.unsafe_fixes))
    if options.statistics:
        counts = Counter(f.code for f in findings)
        lines = "\n".join(f"{count:5d}  {code}" for code, count in sorted(counts.items()))
        if options.output_format == "text":
            console.result(lines)
        elif lines:
            print(lines, file=sys.stderr)


def run_add_noqa(projects: list[Prepared], console: Console) -> int:
    """`check --add-noqa`: each finding's code into a `# noqa:` comment on its line (of
    every project named, one summary)."""
    added = files = refused = 0
    for paths, settings, root in projects:
        counts = _add_noqa_to_project(paths, settings, root, console)
        added, files, refused = added + counts[0], files + counts[1], refused + counts[2]
    console.note(f"Added {added} noqa code{'s' if added != 1 else ''} to {files} file{'s' if files != 1 else ''}."
                 + (f" {refused} finding{'s' if refused != 1 else ''} could not be suppressed." if refused else ""))
    if console.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if refused else EXIT_CLEAN


def _add_noqa_to_project(paths: list[Path], settings: Settings, root: Path, console: Console) -> tuple[int, int, int]:
    """(codes added, files written, findings that could not be suppressed) in one project."""
    from bgtask_lint.noqa import add_noqa
    from bgtask_lint.project import Project

    project = Project.load(paths, settings, root)
    for error in project.errors:
        console.error(error.path, error.message)
    added = files = refused = 0
    for path in project.targets:
        module = project.index.by_path[path]
        # a rule that crashed is our bug, said as an error: never a noqa to write
        findings = without_crashes(project.check(module), console.error)
        if not findings:
            continue
        result = add_noqa(module.source, findings)
        for finding, why in result.refused:
            refused += 1
            console.note(f"{console.display(path)}:{finding.line}:{finding.col + 1}: {finding.code} "
                         f"not suppressed: {why}")
        if not result.added:
            continue
        try:
            encoding, bom = read_for_write(path)
            if read_source(path).text != module.source:
                raise ChangedMeanwhile("the file changed while noqa comments were being added")
            write_atomically(path, result.text, encoding, bom)
        except (OSError, UnicodeError, SourceError, ChangedMeanwhile) as exc:
            console.error(path, f"cannot write: {getattr(exc, 'strerror', None) or exc}")
            continue
        added += result.added
        files += 1
    return added, files, refused
