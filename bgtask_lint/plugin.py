"""flake8 adapter: the same engine and index, findings as flake8 errors (`BGT` prefix).

flake8 hands over one file at a time (editors often on stdin, with
`--stdin-display-name`). The plugin finds that file's project root, indexes the
project once per process (cached), swaps in the text flake8 gave for that one file,
and reports exactly what `bgtask-lint check` reports for it.
"""

from __future__ import annotations

import argparse
import ast
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar, Iterator

from bgtask_lint.config import ConfigError, Settings, find_pyproject, load_pyproject
from bgtask_lint.engine import Project, check_module, load_project, parse_module
from bgtask_lint.files import SourceError, find_project_root
from bgtask_lint.rules import all_rules

try:
    __version__ = version("bgtask-lint")
except PackageNotFoundError:  # pragma: no cover - running from a checkout
    __version__ = "0"

# root -> Project, so that a whole-project flake8 run indexes the project once per process
_PROJECTS: dict[tuple[Path, Settings], Project] = {}


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

    def _settings(self, path: Path) -> Settings:
        pyproject = find_pyproject(path)
        settings = Settings()
        if pyproject is not None:
            try:
                settings = load_pyproject(pyproject)
            except ConfigError:
                settings = Settings()  # flake8 has its own config; a broken pyproject is not ours to report
        # flake8 decides what is selected, ignored and noqa'd
        return settings.with_overrides(select=("BGT",), ignore=(), per_file_ignores=(), **self.options)

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        path = Path(self.filename).resolve()
        settings = self._settings(path)
        root = find_project_root(path)
        key = (root, settings)
        project = _PROJECTS.get(key)
        if project is None:
            project = load_project([], settings, root=root)
            _PROJECTS[key] = project
        source = "".join(self.lines)
        indexed = project.index.by_path.get(path)
        if indexed is None or indexed.source != source:
            try:
                module = parse_module(path, root, source)
            except SourceError:
                return  # flake8 reports syntax errors itself (E999)
            project.index.add(module)
        module = project.index.by_path[path]
        for finding in check_module(module, project, settings, all_rules()):
            yield finding.line, finding.col, f"{finding.code} {finding.message}", type(self)
