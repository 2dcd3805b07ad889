"""Where each kind of output goes, for `check` and `fix`.

* results (findings in the chosen format, a fixed text on stdin): stdout, or
  `--output-file`;
* errors (`path: error: message`): stderr, always, even with `--quiet`;
* notes (summaries, hints, what the test-file default hid): stderr, not with `--quiet`;
* the closing summary on a terminal: stdout, not with `--quiet`;
* `--verbose` details (root, config file, files, cache): stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bgtask_lint.report import Display


def echo(text: str, err: bool = False) -> None:
    """One line of output, as click's echo writes it. Through click itself where click is
    loaded (its command line; CliRunner, which decides what a terminal is) or where the
    text or the stream needs click's handling (terminal codes, which it strips off a
    stream that is no terminal; a stream closed, not UTF-8, or on Windows); the quick
    path of a plain `check` (launch.py) writes plain text to a UTF-8 stream itself,
    without loading click."""
    stream = sys.stderr if err else sys.stdout
    try:
        _echo(text, err, stream)
    except UnicodeEncodeError:  # a name that is not UTF-8, on a stream asked to be strict
        _echo(_escaped(text, stream), err, stream)


def _echo(text: str, err: bool, stream) -> None:
    if "click" in sys.modules or "\x1b" in text or not _plainly_writable(stream):
        import click

        click.echo(text, err=err)
        return
    stream.write(text + "\n")
    stream.flush()


def _escaped(text: str, stream) -> str:
    """`text` with what the stream's encoding cannot say as backslash escapes (a file name
    with bytes that are not UTF-8 holds lone surrogates)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return text.encode("ascii", "backslashreplace").decode("ascii")


def stdout_is_terminal() -> bool:
    """No stdout at all (`>&-`) is no terminal: the results go nowhere, as with click or ruff."""
    return sys.stdout is not None and sys.stdout.isatty()


def stderr_is_terminal() -> bool:
    return sys.stderr is not None and sys.stderr.isatty()


def usage_error(message: str) -> None:
    """A usage problem (options, config): one line, as every error is said."""
    echo(f"bgtask-lint: error: {message}", err=True)


def io_error(exc: OSError) -> None:
    """An I/O error outside any one file (stdout on a full disk): one line."""
    try:
        usage_error(f"{exc.strerror or exc}")
    except OSError:  # stderr cannot be written either
        pass


TRACEBACK_VARIABLE = "BGTASK_LINT_TRACEBACK"


def internal_error(exc: Exception) -> None:
    """Our bug, outside any one file (a file's is reported with that file): one line, and
    the traceback only when asked for (to report it)."""
    if os.environ.get(TRACEBACK_VARIABLE):
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)
    usage_error(f"internal error ({describe_crash(exc)}); please report it, "
                f"with the traceback {TRACEBACK_VARIABLE}=1 prints")


def describe_crash(exc: BaseException) -> str:
    """`TypeError: 'NoneType' object is not iterable`, on one line and not too long."""
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def reader_gone() -> None:
    """The reader of the output has gone (`bgtask-lint check | head`): what is left in
    either stream's buffer goes to /dev/null, so that the exit's flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (AttributeError, OSError, ValueError):  # closed, or no file behind it
            pass


def _plainly_writable(stream: object) -> bool:
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    return stream is not None and encoding == "utf8" and sys.platform != "win32"


class Console:
    def __init__(self, display: Display, *, tty: bool = False, quiet: bool = False, verbose: bool = False,
                 output_file: str | None = None):
        self.display = display
        self.quiet = quiet
        self.verbose_on = verbose and not quiet
        self.output_file = output_file
        # a summary (and colour) only for a person at a terminal reading the results
        self.tty = tty and output_file is None
        self.color = self.tty and not os.environ.get("NO_COLOR")
        self.results_to_stderr = False  # `fix -`: stdout carries the fixed code
        self._results: list[str] = []
        self.errors: list[tuple[Path | str | None, str]] = []  # (path, message), for SARIF too

    def result(self, text: str) -> None:
        if not text:
            return
        if self.output_file is None:
            echo(text, err=self.results_to_stderr)
        else:
            self._results.append(text)

    def error(self, path: Path | str | None, message: str) -> None:
        self.errors.append((path, message))
        # a str is a path exactly as the user typed it
        where = "bgtask-lint: " if path is None else f"{path if isinstance(path, str) else self.display(path)}: "
        echo(f"{where}error: {message}", err=True)

    def note(self, text: str) -> None:
        if text and not self.quiet:
            echo(text, err=True)

    def summary(self, text: str) -> None:
        if text and self.tty and not self.quiet:
            echo(text)

    def verbose(self, text: str) -> None:
        if self.verbose_on:
            echo(f"bgtask-lint: {text}", err=True)

    def close(self) -> bool:
        """Write `--output-file`; False (after a one-line error) if it cannot be written."""
        if self.output_file is None:
            return True
        text = "".join(part + "\n" for part in self._results)
        try:
            with open(self.output_file, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as handle:
                handle.write(text)
        except OSError as exc:
            self.error(None, f"cannot write --output-file {self.output_file}: {exc.strerror or exc}")
            return False
        return True
