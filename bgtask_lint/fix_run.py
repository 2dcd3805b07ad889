"""The `fix` command's run: which files to fix, writing them atomically, the report and
the summary. The fixing itself is `Project.fix_text` (fix.py), text in and text out."""

from __future__ import annotations

import codecs
import difflib
import os
import stat
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Callable

import click

from bgtask_lint.config import Settings, valid_timeout
from bgtask_lint.files import SourceError, read_source, source_lines
from bgtask_lint.fix import FileFix, is_fixable
from bgtask_lint.project import Project
from bgtask_lint.report import render_text

# a fix in one module can make a function of another a task (BGT101): go round again
MAX_ROUNDS = 3
PROGRESS_THRESHOLD = 20


def run_fix(paths: list[Path], settings: Settings, *, diff: bool, unsafe: bool,
            display: Callable[[Path], str]) -> int:
    if not valid_timeout(settings.connect_timeout):  # `timeout=nan` would be no code
        click.echo(f"bgtask-lint: error: --connect-timeout must be a finite positive number, "
                   f"not {settings.connect_timeout!r}", err=True)
        return 2
    project = Project.load(paths, settings)
    for error in project.errors:
        click.echo(f"{display(error.path)}: error: {error.message}", err=True)
    originals: dict[Path, str] = {}
    fixes: dict[Path, FileFix] = {}
    failed: set[Path] = set()
    fixed = Counter()
    for _ in range(MAX_ROUNDS):
        todo = [
            path for path in project.targets
            if path not in failed and any(
                is_fixable(f, unsafe)
                for f in project.check(project.index.by_path[path])
            )
        ]
        if not todo:
            break
        changed_this_round = False
        with _progress(todo, display) as bar:
            for path in bar:
                current = project.index.by_path[path].source
                originals.setdefault(path, current)
                result = project.fix_text(path, current, unsafe=unsafe)
                if result.error is not None:
                    click.echo(f"{display(path)}: error: {result.error}", err=True)
                    failed.add(path)
                    continue
                if result.changed:
                    changed_this_round = True
                    fixed.update(result.fixed)
                    earlier = fixes[path].fixed if path in fixes else Counter()
                    fixes[path] = FileFix(path, originals[path], result.new_text, fixed=earlier + result.fixed)
        if not changed_this_round:
            break

    write_errors = 0
    for path, result in sorted(fixes.items()):
        if result.new_text == result.old_text:
            continue
        if diff:
            click.echo(unified_diff(result, display(path)), nl=False)
            continue
        try:
            encoding, bom = read_for_write(path)
            if read_source(path).text != result.old_text:  # saved by someone else meanwhile
                raise _ChangedMeanwhile("the file changed while it was being fixed")
            write_atomically(path, result.new_text, encoding, bom)
        except (OSError, UnicodeError, SourceError, _ChangedMeanwhile) as exc:
            write_errors += 1
            click.echo(f"{display(path)}: error: cannot write: {getattr(exc, 'strerror', None) or exc}", err=True)
            # the file keeps its text: so must the index, the count and the report
            fixed.subtract(result.fixed)
            result.new_text = result.old_text
            _index_what_is_on_disk(project, path, result.old_text)

    remaining = []
    for path in project.targets:
        remaining.extend(project.check(project.index.by_path[path]))
    remaining.sort()
    changed_files = sum(1 for r in fixes.values() if r.new_text != r.old_text)
    if not diff and remaining:
        click.echo(render_text(remaining, display))
    stuck = sum(1 for f in remaining if is_fixable(f, unsafe))  # in files fix could not change
    click.echo(_summary(+fixed, remaining, changed_files, diff, stuck), err=True)
    if project.errors or failed or write_errors:
        return 2
    if diff:
        return 1 if changed_files else 0
    return 1 if remaining else 0


class _ChangedMeanwhile(Exception):
    """The file on disk is no longer the text that was fixed."""


def _index_what_is_on_disk(project: Project, path: Path, fallback: str) -> None:
    try:
        project.replace(path, read_source(path).text)
    except SourceError:
        project.replace(path, fallback)


def _summary(fixed: Counter, remaining: list, files: int, diff: bool, stuck: int = 0) -> str:
    verb = "Would fix" if diff else "Fixed"
    total = sum(fixed.values())
    per_code = ", ".join(f"{code}: {count}" for code, count in sorted(fixed.items()))
    parts = [f"{verb} {total} finding{'s' if total != 1 else ''}" + (f" ({per_code})" if per_code else "")
             + f" in {files} file{'s' if files != 1 else ''}."]
    if remaining:
        left = Counter(f.code for f in remaining)
        why = f"{stuck} not fixed: see the errors above" if stuck else "no safe fix"
        parts.append(f"{len(remaining)} remaining ({why}): "
                     + ", ".join(f"{code}: {count}" for code, count in sorted(left.items())) + ".")
    else:
        parts.append("No findings remain." if not diff else "")
    return " ".join(p for p in parts if p)


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


def write_atomically(path: Path, text: str, encoding: str, bom: bool) -> None:
    data = text.encode(encoding)
    if bom:
        data = codecs.BOM_UTF8 + data
    mode = stat.S_IMODE(path.stat().st_mode)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bgtask-tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def unified_diff(fix: FileFix, display: str) -> str:
    return "".join(difflib.unified_diff(
        source_lines(fix.old_text, keepends=True), source_lines(fix.new_text, keepends=True),
        fromfile=f"a/{display}", tofile=f"b/{display}",
    ))


def read_for_write(path: Path) -> tuple[str, bool]:
    """The encoding to write back with, and whether the file starts with a UTF-8 BOM."""
    with path.open("rb") as handle:
        raw_start = handle.read(3)
    source = read_source(path)
    bom = raw_start == codecs.BOM_UTF8
    encoding = "utf-8" if source.encoding in ("utf-8-sig", "utf-8") else source.encoding
    return encoding, bom
