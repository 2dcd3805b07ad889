"""The `bgtask-lint` program. A plain `check` (paths and the common flags: what an editor
save, pre-commit and CI run) is read here and run without importing click, whose import
alone was a fifth of a warm run over the standard library (12 of ~60 ms); everything
else (other commands, other options, `--help`, anything this reader does not know) goes
to the click command line (cli.py) untouched, which says usage errors its own way."""

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
QUICK_FLAGS: dict[str, tuple[str, bool]] = {
    "--exit-zero": ("exit_zero", True), "--quiet": ("quiet", True), "-q": ("quiet", True),
    "--verbose": ("verbose", True), "-v": ("verbose", True), "--no-cache": ("no_cache", True),
    "--statistics": ("statistics", True), "--show-fixes": ("show_fixes", True),
    "--force-exclude": ("force_exclude", True), "--no-force-exclude": ("force_exclude", False),
    "--respect-gitignore": ("respect_gitignore", True), "--no-respect-gitignore": ("respect_gitignore", False),
}
# options with a value; None: any value (checked where click's command checks it too)
QUICK_VALUES: dict[str, tuple[str, frozenset[str] | None]] = {
    "--format": ("output_format", frozenset({"text", "json", "github", "sarif"})),
    "--select": ("select", None), "--ignore": ("ignore", None),
}


def quick_check_params(args: list[str]) -> dict[str, object] | None:
    """`check`'s parameters as click would read them, for the arguments this reader knows;
    None for anything else."""
    if not args or args[0] != "check":
        return None
    params = dict(CHECK_DEFAULTS)
    paths: list[str] = []
    rest = iter(args[1:])
    for arg in rest:
        if not arg.startswith("-"):
            paths.append(arg)
        elif arg in QUICK_FLAGS:
            name, value = QUICK_FLAGS[arg]
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
    return params


def quick_check(params: dict[str, object]) -> int:
    """Run `check` as the click command does (same output, same exit code)."""
    from bgtask_lint.commands import EXIT_ERROR, UsageProblem, check_command
    from bgtask_lint.console import stdout_is_terminal, usage_error

    try:
        return check_command(params, stdout_is_terminal())
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
        params = None if sys.platform == "win32" else quick_check_params(sys.argv[1:])
        if params is None:
            from bgtask_lint.cli import main

            main()
        else:
            sys.exit(_as_click_ends(params))
    finally:
        gc.freeze()  # nor the interpreter's last collection at exit


def _as_click_ends(params: dict[str, object]) -> int:
    """`quick_check`, ending as the click command line ends on ^C and on a closed pipe."""
    try:
        return quick_check(params)
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
