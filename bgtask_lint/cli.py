"""The `bgtask-lint` command line: check, rules, rule."""

from __future__ import annotations

import inspect
import os
import sys
from collections import Counter
from functools import partial
from pathlib import Path

import click

from bgtask_lint.config import ConfigError, Settings, load_settings, parse_code_list

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _fail(message: str) -> "click.exceptions.Exit":
    click.echo(f"bgtask-lint: error: {message}", err=True)
    return click.exceptions.Exit(EXIT_ERROR)


def _stdout_is_tty() -> bool:
    return click.get_text_stream("stdout").isatty()


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def resolve_settings(config: str | None, paths: tuple[str, ...], select: str | None,
                     ignore: str | None, **extra: object) -> Settings:
    start = Path(paths[0]) if paths else Path.cwd()
    settings = load_settings(Path(config) if config else None, start if start.exists() else Path.cwd())
    return settings.with_overrides(
        select=parse_code_list(select, "--select"),
        ignore=parse_code_list(ignore, "--ignore"),
        **extra,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bgtask-lint")
def main() -> None:
    """Find (and fix) the bugs that make FastAPI/Starlette background tasks fail silently."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--select", metavar="CODES", help="Comma-separated code prefixes to check (default: BGT).")
@click.option("--ignore", metavar="CODES", help="Comma-separated code prefixes to skip.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "github", "sarif"]), default="text",
              show_default=True, help="Output format (github: GitHub Actions annotations; sarif: SARIF 2.1.0).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True, help="Show the number of findings per code.")
@click.option("--config", type=click.Path(dir_okay=False), help="pyproject.toml to read [tool.bgtask-lint] from.")
@click.option("--fix", "apply_fixes", is_flag=True, help="Apply the safe fixes (same as 'bgtask-lint fix').")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix: also apply fixes that may change behaviour.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per CPU; small runs stay in one process).")
@click.option("--no-cache", is_flag=True, help="Do not read or write .bgtask_lint_cache/ in the project root.")
def check(paths: tuple[str, ...], select: str | None, ignore: str | None, output_format: str,
          exit_zero: bool, statistics: bool, config: str | None, apply_fixes: bool, unsafe_fixes: bool,
          jobs: int | None, no_cache: bool) -> None:
    """Check PATHS (files or directories; default: the current directory)."""
    # imported here: `bgtask-lint rules` and `--help` should not pay for the checker
    from bgtask_lint.report import render_github, render_json, render_sarif, render_summary, render_text

    paths = paths or (".",)
    try:
        settings = resolve_settings(config, paths, select, ignore)
    except ConfigError as exc:
        raise _fail(str(exc))
    if apply_fixes:
        from bgtask_lint.fix_run import run_fix

        code = run_fix([Path(p) for p in paths], settings, diff=False, unsafe=unsafe_fixes, display=_display)
        raise click.exceptions.Exit(EXIT_CLEAN if exit_zero and code == EXIT_FINDINGS else code)
    from bgtask_lint.runner import check_paths

    result = check_paths([Path(p) for p in paths], settings, jobs=jobs, cache=not no_cache)
    for error in result.errors:
        click.echo(f"{_display(error.path)}: error: {error.message}", err=True)
    tty = output_format == "text" and _stdout_is_tty()  # colours and a summary only on a terminal
    color = tty and not os.environ.get("NO_COLOR")
    if output_format == "json":
        click.echo(render_json(result.findings, _display))
    elif output_format == "sarif":
        click.echo(render_sarif(result.findings, _display, [(e.path, e.message) for e in result.errors]))
    else:
        render = render_github if output_format == "github" else partial(render_text, color=color)
        text = render(result.findings, _display)
        if text:
            click.echo(text)
    if statistics:
        counts = Counter(f.code for f in result.findings)
        for code, count in sorted(counts.items()):
            click.echo(f"{count:5d}  {code}", err=output_format != "text")
    if tty:
        click.echo(render_summary(result.findings, color=color))
    if result.hidden_in_tests:
        n = result.hidden_in_tests
        click.echo(f"{n} finding{'s' if n != 1 else ''} in test files not shown "
                   "(BGT3xx-5xx; set check-tests = true to report them)", err=True)
    if result.errors:
        raise click.exceptions.Exit(EXIT_ERROR)
    if result.findings and not exit_zero:
        raise click.exceptions.Exit(EXIT_FINDINGS)


def _fix_options(function):
    for option in reversed([
        click.argument("paths", nargs=-1, type=click.Path(path_type=str)),
        click.option("--select", metavar="CODES", help="Comma-separated code prefixes to fix (default: BGT)."),
        click.option("--ignore", metavar="CODES", help="Comma-separated code prefixes to leave alone."),
        click.option("--diff", is_flag=True, help="Print a unified diff and write nothing; exit 1 if anything would change."),
        click.option("--unsafe-fixes", is_flag=True, help="Also apply fixes that may change behaviour."),
        click.option("--connect-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Timeout (seconds) that BGT501 fixes insert (default: connect-timeout, 10.0)."),
        click.option("--config", type=click.Path(dir_okay=False), help="pyproject.toml to read [tool.bgtask-lint] from."),
    ]):
        function = option(function)
    return function


@main.command()
@_fix_options
def fix(paths: tuple[str, ...], select: str | None, ignore: str | None, diff: bool, unsafe_fixes: bool,
        connect_timeout: float | None, config: str | None) -> None:
    """Fix PATHS in place (default: the current directory), then report what is left."""
    paths = paths or (".",)
    try:
        settings = resolve_settings(config, paths, select, ignore, connect_timeout=connect_timeout)
    except ConfigError as exc:
        raise _fail(str(exc))
    from bgtask_lint.fix_run import run_fix

    raise click.exceptions.Exit(run_fix([Path(p) for p in paths], settings, diff=diff,
                                        unsafe=unsafe_fixes, display=_display))


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

    try:
        load_pygls()
    except PyglsMissing as exc:
        raise _fail(str(exc))
    serve()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
