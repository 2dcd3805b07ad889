"""What `check` and `fix` do once their options are read, without click: the click
command line (cli.py) and the quick path of a plain `check` (launch.py) both call these.
A usage problem is raised as `UsageProblem` (one line, exit 2, said by the caller)."""

from __future__ import annotations

from pathlib import Path

from bgtask_lint.check_run import EXIT_CLEAN, EXIT_ERROR, CheckOptions, Prepared, prepare, run_check
from bgtask_lint.config import ConfigError, Settings, load_settings, parse_code_list, tool_table
from bgtask_lint.console import Console


class UsageProblem(Exception):
    """Options that cannot be used together, or a config that cannot be read."""


def resolve_settings(config: str | None, start: Path, select: str | None, ignore: str | None,
                     cached: bool = False, **extra: object) -> Settings:
    """The settings for a run starting at `start`: `--config`, else the nearest
    pyproject.toml above it, then the command line's options on top. `cached`: a run that
    uses the cache keeps the table it read beside its pack (cache/identity.py)."""
    read_table = tool_table
    if cached:
        from functools import partial

        from bgtask_lint.cache import identity

        read_table = partial(identity.tool_table, read=tool_table)
    settings = load_settings(Path(config) if config else None, start, read_table)
    return settings.with_overrides(
        select=parse_code_list(select, "--select"),
        ignore=parse_code_list(ignore, "--ignore"),
        **extra,
    )


class RunSetup:
    """What `check` and `fix` do before they differ: usage problems, the console,
    settings from the first usable path (or stdin's filename)."""

    def __init__(self, params: dict, stdout_is_tty: bool, **settings_extra: object):
        from bgtask_lint.report import Display

        self.params = params
        paths = params["paths"] or (".",)
        if "-" in paths and len(paths) > 1:
            raise UsageProblem("'-' (stdin) cannot be combined with other paths")
        if params["stdin_filename"] and not params["paths"]:
            paths = ("-",)  # ruff's habit: --stdin-filename alone reads stdin
        if params["quiet"] and params["verbose"]:
            raise UsageProblem("--quiet and --verbose cannot be combined")
        self.paths = paths
        self.stdin = paths == ("-",)
        shown = [params["stdin_filename"]] if self.stdin and params["stdin_filename"] else list(paths)
        self.console = Console(Display(shown), tty=stdout_is_tty and params["output_format"] == "text",
                               quiet=params["quiet"], verbose=params["verbose"], output_file=params["output_file"])
        self.settings_extra = {"force_exclude": params["force_exclude"],
                               "respect_gitignore": params["respect_gitignore"], **settings_extra}

    def settings_for(self, start: Path) -> Settings:
        try:
            return resolve_settings(self.params["config"], start, self.params["select"], self.params["ignore"],
                                    cached=not self.params["no_cache"], **self.settings_extra)
        except ConfigError as exc:
            raise UsageProblem(str(exc)) from None

    def prepare(self) -> "list[Prepared] | None":
        return prepare(self.paths, self.params["stdin_filename"], self.settings_for, self.console)


def check_command(params: dict, stdout_is_tty: bool) -> int:
    """`bgtask-lint check` with its options read (the names click gives them)."""
    if params["add_noqa"] and (params["apply_fixes"] or params["unused_noqa"]):
        raise UsageProblem("--add-noqa cannot be combined with --fix or --unused-noqa")
    run = RunSetup(params, stdout_is_tty)
    if params["add_noqa"] and run.stdin:
        raise UsageProblem("--add-noqa needs files to write: it cannot read stdin")
    if params["apply_fixes"]:
        if params["unused_noqa"]:
            raise UsageProblem("--unused-noqa cannot be combined with --fix")
        return fix_paths(run, unsafe=params["unsafe_fixes"], diff=False)
    options = CheckOptions(output_format=params["output_format"], exit_zero=params["exit_zero"],
                           statistics=params["statistics"], show_fixes=params["show_fixes"],
                           unsafe_fixes=params["unsafe_fixes"], jobs=params["jobs"], cache=not params["no_cache"],
                           add_noqa=params["add_noqa"], unused_noqa=params["unused_noqa"])
    return run_check(run.paths, run.prepare(), options, run.console)


def fix_command(params: dict, stdout_is_tty: bool) -> int:
    """`bgtask-lint fix` with its options read."""
    run = RunSetup(params, stdout_is_tty, connect_timeout=params["connect_timeout"])
    return fix_paths(run, unsafe=params["unsafe_fixes"], diff=params["diff"])


def fix_paths(run: RunSetup, *, unsafe: bool, diff: bool) -> int:
    """`fix` (or `check --fix`) of the paths the run names."""
    from bgtask_lint.fix_run import FixOptions, fix_projects, run_fix_stdin

    params = run.params
    prepared = run.prepare()
    if prepared is None:
        return EXIT_ERROR
    options = FixOptions(diff=diff, unsafe=unsafe, show_fixes=params["show_fixes"], exit_zero=params["exit_zero"],
                         cache=not params["no_cache"], jobs=params["jobs"], output_format=params["output_format"])
    if run.stdin:
        named, settings, root = prepared[0]
        return run_fix_stdin(named[0], settings, root, options, run.console)
    projects = [project for project in prepared if project[0]]
    if not projects:
        run.console.verbose("every path named is excluded (--force-exclude): nothing to fix")
        return EXIT_CLEAN
    return fix_projects(projects, options, run.console)
