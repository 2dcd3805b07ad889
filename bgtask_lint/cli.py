"""The `bgtask-lint` command line: check, fix, rules, rule, lsp. The runs themselves are
commands.py, check_run.py and fix_run.py; this module is options and one-line usage errors
(a plain `check` does not load it: launch.py)."""

from __future__ import annotations

import inspect
import sys
from typing import Callable

import click

from bgtask_lint.commands import EXIT_CLEAN, EXIT_ERROR, UsageProblem, check_command, fix_command
from bgtask_lint.console import internal_error, io_error, reader_gone, stdout_is_terminal, usage_error


def _fail(message: str) -> "click.exceptions.Exit":
    usage_error(message)
    return click.exceptions.Exit(EXIT_ERROR)


def _stdout_is_tty() -> bool:
    return stdout_is_terminal()


class _OneLineErrors(click.Group):
    """Usage errors (an unknown option, a bad value) as one line, like every other error."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            usage_error(f"{exc.format_message()}{where}")
            sys.exit(EXIT_ERROR)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except BrokenPipeError:  # `bgtask-lint check | head`: the reader has gone
            reader_gone()
            sys.exit(1)
        except OSError as exc:  # the output cannot be written (`> /dev/full`): not our bug
            io_error(exc)
            sys.exit(EXIT_ERROR)
        except Exception as exc:  # noqa: BLE001 - our bug: one line, not a traceback
            internal_error(exc)
            sys.exit(EXIT_ERROR)
        sys.exit(code if isinstance(code, int) else EXIT_CLEAN)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bgtask-lint")
def main() -> None:
    """Find (and fix) the bugs that make FastAPI/Starlette background tasks fail silently."""


def _shared_options(verb: str):
    """The options `check` and `fix` share: what to look at, how, and where output goes."""
    def decorate(function):
        for option in reversed([
            click.argument("paths", nargs=-1, type=click.Path(path_type=str)),
            click.option("--select", metavar="CODES", help=f"Comma-separated code prefixes to {verb} (default: BGT)."),
            click.option("--ignore", metavar="CODES", help="Comma-separated code prefixes to skip."),
            click.option("--config", type=click.Path(dir_okay=False), help="pyproject.toml to read [tool.bgtask-lint] from."),
            click.option("--format", "output_format", type=click.Choice(["text", "json", "github", "sarif"]),
                         default="text", show_default=True,
                         help="Output format of the findings (github: GitHub Actions annotations; sarif: SARIF 2.1.0)."),
            click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings remain (errors still exit 2)."),
            click.option("--show-fixes", is_flag=True,
                         help="Mark fixable findings with [*] and list the fixes applied, per file and code."),
            click.option("--stdin-filename", metavar="PATH",
                         help="The path of the code read from stdin ('-'): it decides the project, "
                              "the config and the module name."),
            click.option("--force-exclude/--no-force-exclude", default=None,
                         help="Apply exclude to paths named on the command line too (what pre-commit needs)."),
            click.option("--respect-gitignore/--no-respect-gitignore", default=None,
                         help="Skip files that .gitignore files ignore, in a git work tree (default: on)."),
            click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
                         help="Processes that check or fix at once, this one included "
                              "(default: one per CPU; small runs stay in one process)."),
            click.option("--no-cache", is_flag=True, help="Do not read or write .bgtask_lint_cache/ in the project root."),
            click.option("--output-file", "-o", type=click.Path(dir_okay=False),
                         help="Write the findings to this file instead of stdout."),
            click.option("--quiet", "-q", is_flag=True, help="Print findings and errors, nothing else."),
            click.option("--verbose", "-v", is_flag=True,
                         help="Also say which project root, config file and cache were used, and how many files."),
        ]):
            function = option(function)
        return function
    return decorate


@main.command()
@_shared_options("check")
@click.option("--statistics", is_flag=True, help="Show the number of findings per code.")
@click.option("--fix", "apply_fixes", is_flag=True, help="Apply the safe fixes (same as 'bgtask-lint fix').")
@click.option("--unsafe-fixes", is_flag=True,
              help="With --fix: also apply fixes that may change behaviour (else: count them as fixable).")
@click.option("--add-noqa", is_flag=True,
              help="Add '# noqa: BGTxxx' to each finding's line (keeping the noqa codes already there).")
@click.option("--unused-noqa", is_flag=True,
              help="Also report BGT codes in '# noqa:' comments that suppress nothing there (as BGT000).")
def check(**params) -> None:
    """Check PATHS (files or directories; default: the current directory; '-': stdin)."""
    raise click.exceptions.Exit(_command(check_command, params))


@main.command()
@_shared_options("fix")
@click.option("--diff", is_flag=True, help="Print a unified diff and write nothing; exit 1 if anything would change.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply fixes that may change behaviour.")
@click.option("--connect-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Timeout (seconds) that BGT501 fixes insert (default: connect-timeout, 10.0).")
def fix(**params) -> None:
    """Fix PATHS in place (default: the current directory; '-': stdin to stdout), then report what is left."""
    raise click.exceptions.Exit(_command(fix_command, params))


def _command(command: Callable[[dict, bool], int], params: dict) -> int:
    """Run `check`/`fix` (commands.py) with click's options; a usage problem is one line, exit 2."""
    try:
        return command(params, _stdout_is_tty())
    except UsageProblem as exc:
        raise _fail(str(exc)) from None


@main.command("rules")
def list_rules() -> None:
    """List every rule: code, name, and whether it has a fix."""
    from bgtask_lint.rules import all_rules

    for rule in all_rules():
        fix = {"safe": "fix", "unsafe": "unsafe fix"}.get(rule.fix or "", "-")
        click.echo(f"{rule.code}  {rule.name:<34} {fix}")


@main.command("rule")
@click.argument("code")
def show_rule(code: str) -> None:
    """Print the documentation of rule CODE (e.g. BGT401)."""
    from bgtask_lint.rules import rule_by_code

    from bgtask_lint.noqa import UNUSED_NOQA, UNUSED_NOQA_DOC

    if code.upper() == UNUSED_NOQA:  # not a rule: what `check --unused-noqa` reports
        click.echo(f"# {UNUSED_NOQA} unused-noqa\n\n{UNUSED_NOQA_DOC}")
        return
    rule = rule_by_code(code)
    if rule is None:
        raise _fail(f"unknown rule code {code!r} (see 'bgtask-lint rules')")
    click.echo(f"# {rule.code} {rule.name}\n")
    click.echo(inspect.cleandoc(rule.__doc__ or ""))


@main.command("lsp")
@click.option("--stdio", is_flag=True, hidden=True, help="Accepted for editors that pass it (stdio is the only transport).")
def lsp(stdio: bool) -> None:
    """Run the language server on stdin/stdout (needs pygls: pip install 'bgtask-lint[lsp]')."""
    from bgtask_lint.lsp.server import PyglsMissing, load_pygls, serve

    from bgtask_lint import parallel

    try:
        load_pygls()
    except PyglsMissing as exc:
        raise _fail(str(exc))
    parallel.garbage_left_to_exit = False  # a server lives on: what it drops must be collected
    serve()


if __name__ == "__main__":  # pragma: no cover
    main()
