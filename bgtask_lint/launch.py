"""The `bgtask-lint` program. A plain `check` or `fix` (paths and the common flags: what
an editor save, pre-commit and CI run) is read here and run without importing click,
whose import alone was a fifth of a warm run over the standard library (12 of ~60 ms),
and with the command line module about 10 ms of a `fix` of one file; everything else
(other commands, other options, `--help`, anything this reader does not know) goes to
the click command line (cli.py) untouched, which says usage errors its own way."""

from __future__ import annotations

import errno
import sys

# what click gives `check` when no option is passed (a test holds them to it)
CHECK_DEFAULTS: dict[str, object] = {
    "paths": (), "select": None, "ignore": None, "config": None, "output_format": "text", "exit_zero": False,
    "show_fixes": False, "stdin_filename": None, "force_exclude": None, "respect_gitignore": None, "jobs": None,
    "no_cache": False, "output_file": None, "quiet": False, "verbose": False, "statistics": False,
    "apply_fixes": False, "unsafe_fixes": False, "add_noqa": False, "unused_noqa": False,
}
# ... and `fix`
FIX_DEFAULTS: dict[str, object] = {
    **{name: value for name, value in CHECK_DEFAULTS.items()
       if name not in ("statistics", "apply_fixes", "unsafe_fixes", "add_noqa", "unused_noqa")},
    "diff": False, "unsafe_fixes": False, "connect_timeout": None,
}
QUICK_FLAGS: dict[str, tuple[str, bool]] = {
    "--exit-zero": ("exit_zero", True), "--quiet": ("quiet", True), "-q": ("quiet", True),
    "--verbose": ("verbose", True), "-v": ("verbose", True), "--no-cache": ("no_cache", True),
    "--statistics": ("statistics", True), "--show-fixes": ("show_fixes", True),
    "--force-exclude": ("force_exclude", True), "--no-force-exclude": ("force_exclude", False),
    "--respect-gitignore": ("respect_gitignore", True), "--no-respect-gitignore": ("respect_gitignore", False),
}
CHECK_ONLY_FLAGS = frozenset({"--statistics"})
FIX_ONLY_FLAGS: dict[str, tuple[str, bool]] = {"--diff": ("diff", True), "--unsafe-fixes": ("unsafe_fixes", True)}
# options with a value; None: any value (checked where click's command checks it too)
QUICK_VALUES: dict[str, tuple[str, frozenset[str] | None]] = {
    "--format": ("output_format", frozenset({"text", "json", "github", "sarif"})),
    "--select": ("select", None), "--ignore": ("ignore", None),
}


def quick_params(args: list[str]) -> tuple[str, dict[str, object]] | None:
    """(`check` or `fix`, its parameters as click would read them), for the arguments this
    reader knows; None for anything else."""
    if not args or args[0] not in ("check", "fix"):
        return None
    command = args[0]
    params = dict(CHECK_DEFAULTS if command == "check" else FIX_DEFAULTS)
    flags = {name: flag for name, flag in QUICK_FLAGS.items() if command == "check" or name not in CHECK_ONLY_FLAGS}
    if command == "fix":
        flags.update(FIX_ONLY_FLAGS)
    paths: list[str] = []
    rest = iter(args[1:])
    for arg in rest:
        if not arg.startswith("-"):
            paths.append(arg)
        elif arg in flags:
            name, value = flags[arg]
            params[name] = value
        else:
            option, equals, value = arg.partition("=")
            if option not in QUICK_VALUES:
                return None  # `-`, `--`, `--help`, another option
            if not equals:
                value = next(rest, None)
                if value is None:
                    return None
            name, choices = QUICK_VALUES[option]
            if value.startswith("-") or (choices is not None and value not in choices):
                return None
            params[name] = value
    params["paths"] = tuple(paths)
    return command, params


def quick_run(command: str, params: dict[str, object]) -> int:
    """Run `check` or `fix` as the click command does (same output, same exit code)."""
    from bgtask_lint.commands import EXIT_ERROR, UsageProblem, check_command, fix_command
    from bgtask_lint.console import stdout_is_terminal, usage_error

    try:
        return (check_command if command == "check" else fix_command)(params, stdout_is_terminal())
    except UsageProblem as exc:
        usage_error(str(exc))
        return EXIT_ERROR


def run() -> None:
    """The `bgtask-lint` program: the command in a process that ends with it. What a run
    leaves (its project's syntax trees, cyclic garbage once it returns) goes with the
    process instead of costing collections: litellm's check 2.8 s, a 1 MB module's fix
    1.3 s after the work was done. (`cli.main` itself, e.g. under click's CliRunner,
    collects.)"""
    import gc

    from bgtask_lint import parallel

    parallel.garbage_left_to_exit = True  # `lsp` says otherwise: a server lives on
    try:
        # (on Windows click also expands `~`, variables and globs in the arguments)
        quick = None if sys.platform == "win32" else quick_params(sys.argv[1:])
        if quick is None:
            from bgtask_lint.cli import main

            main()
        else:
            sys.exit(_as_click_ends(*quick))
    finally:
        gc.freeze()  # nor the interpreter's last collection at exit


def _as_click_ends(command: str, params: dict[str, object]) -> int:
    """`quick_run`, ending as the click command line ends on ^C and on a closed pipe."""
    try:
        return quick_run(command, params)
    except (KeyboardInterrupt, EOFError):
        import click  # (what click's own command line writes then, quirks included)

        click.echo(file=sys.stderr)  # closes the terminal's ^C line
        click.echo("Aborted!", err=True)
        return 1
    except OSError as exc:
        if exc.errno != errno.EPIPE:  # the output cannot be written (`> /dev/full`): not our bug
            from bgtask_lint.commands import EXIT_ERROR
            from bgtask_lint.console import io_error

            io_error(exc)
            return EXIT_ERROR
        from bgtask_lint.console import reader_gone

        reader_gone()  # (click's program exits 1 the same way)
        return 1
    except Exception as exc:  # noqa: BLE001 - our bug: one line, as the click command line says it
        from bgtask_lint.commands import EXIT_ERROR
        from bgtask_lint.console import internal_error

        internal_error(exc)
        return EXIT_ERROR
