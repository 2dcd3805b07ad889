"""flake8 adapter: the same `Project` as `bgtask-lint check`, findings as flake8 errors.

flake8 hands over one file at a time (editors often on stdin, with
`--stdin-display-name`). The plugin builds that file's project once per process (root,
`[tool.bgtask-lint]` settings: select, ignore, exclude, per-file-ignores), swaps in the
text flake8 gave for that one file, and reports exactly what `bgtask-lint check`
reports for it. flake8's own select/ignore/noqa then apply on top, as for any plugin.
"""

from __future__ import annotations

import argparse
import ast
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar, Iterator

from bgtask_lint.files import SourceError
from bgtask_lint.project import shared_project

try:
    __version__ = version("bgtask-lint")
except PackageNotFoundError:  # pragma: no cover - running from a checkout
    __version__ = "0"


class BgtaskChecker:
    name = "bgtask-lint"
    version = __version__
    options: ClassVar[dict[str, Any]] = {}

    def __init__(self, tree: ast.AST, filename: str, lines: list[str]):
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, parser: Any) -> None:
        parser.add_option("--bgtask-guard-decorators", default="", parse_from_config=True,
                          comma_separated_list=True,
                          help="Decorators that guard background tasks (dotted names).")
        parser.add_option("--bgtask-connect-calls", default="", parse_from_config=True,
                          comma_separated_list=True,
                          help="Extra dotted names of connect calls for BGT501.")
        parser.add_option("--bgtask-connect-timeout", default=None, parse_from_config=True, type=float,
                          help="Timeout the BGT501 fix inserts (default 10.0).")

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        cls.options = {
            "guard_decorators": tuple(getattr(options, "bgtask_guard_decorators", None) or ()) or None,
            "connect_calls": tuple(getattr(options, "bgtask_connect_calls", None) or ()) or None,
            "connect_timeout": getattr(options, "bgtask_connect_timeout", None),
        }

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        path = Path(self.filename).resolve()
        project = shared_project(path, self.options)
        if project.excluded(path):
            return
        source = "".join(self.lines)
        module = project.index.by_path.get(path)
        if module is None or module.source != source:
            try:
                module = project.replace(path, source)
            except SourceError:
                return  # flake8 reports syntax errors itself (E999)
        for finding in project.check(module):
            yield finding.line, finding.col, f"{finding.code} {finding.message}", type(self)
