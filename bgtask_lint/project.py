"""The project model every front end shares: `Project`.

A project is a root, its settings, the rules selected once from them, and the index of
its modules. The CLI (`check`, `fix`), the flake8 plugin, the language server and the
stand-alone LibCST commands all build one and ask it the same questions, so selection,
excludes, per-file ignores and noqa are decided here and nowhere else.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

from bgtask_lint.collect import SCHEDULING_NAMES
from bgtask_lint.config import ConfigError, Settings, load_settings
from bgtask_lint.engine import check_module, module_of_tree, parse_module
from bgtask_lint.files import (
    SourceError,
    excluded_below_root,
    find_project_root,
    iter_python_files,
    paths_root,
    read_source,
)
from bgtask_lint.findings import Finding
from bgtask_lint.index import ModuleInfo, ProjectIndex
from bgtask_lint.results import FileError
from bgtask_lint.rules import Rule, selected_rules

if TYPE_CHECKING:
    import ast

    from bgtask_lint.fix import FileFix


# what test files are spared by default (V2.1): a mis-scheduled task is a bug anywhere,
# but a blocking call or an unguarded helper in a test is not a production failure
TEST_SCOPED_CODES = ("BGT3", "BGT4", "BGT5")
TEST_DIRECTORIES = frozenset({"tests", "test"})


def is_test_path(relative: Path) -> bool:
    """`test_*.py`, `*_test.py`, `conftest.py`, or anything under a `tests`/`test` directory."""
    name = relative.name
    return (name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
            or any(part in TEST_DIRECTORIES for part in relative.parts[:-1]))


class Project:
    """Root, settings, selected rules and index, with the operations on them."""

    def __init__(self, root: Path, settings: Settings, index: ProjectIndex | None = None):
        self.root = root.resolve()
        self.settings = settings
        self.rules: tuple[type[Rule], ...] = selected_rules(settings.select, settings.ignore)
        self.index = index if index is not None else ProjectIndex(self.root, [])
        self.targets: list[Path] = []  # the files named (or found under the paths named) to check
        self.errors: list[FileError] = []  # targets that cannot be read or parsed

    # --- building ------------------------------------------------------------------------

    @classmethod
    def load(cls, paths: list[Path], settings: Settings, root: Path | None = None,
             overrides: Mapping[Path, str] | None = None) -> "Project":
        """Index every Python file of the project, and say which of them to check."""
        overrides = {p.resolve(): text for p, text in (overrides or {}).items()}
        project = cls(root if root is not None else paths_root(paths), settings)
        root = project.root
        for given in paths:
            if not given.exists() and given.resolve() not in overrides:
                project.errors.append(FileError(given, "no such file or directory"))
        present = [p for p in paths if p.exists() or p.resolve() in overrides]
        modules: dict[Path, ModuleInfo] = {}
        problems: list[tuple[Path, str]] = []  # broken links found in a directory, by their own name
        walked = [p.resolve() for p in iter_python_files(present, settings.excludes, root, problems=problems)]
        for path in walked:
            try:  # every target is parsed, so a broken one is always reported
                modules[path] = project.parse(path, overrides.get(path))
            except SourceError as exc:
                project.errors.append(FileError(path, str(exc)))
                continue
            project.index.add(modules[path])
            project.targets.append(path)
        project.errors.extend(FileError(path, problem) for path, problem in problems)
        if [p.resolve() for p in present] == [root]:  # the whole project: just walked
            others = walked
        else:
            others = [p.resolve() for p in iter_python_files([root], settings.excludes, root, problems=[])]
        others = [p for p in others if p not in modules]
        for path in others:
            # a module that may schedule tasks is parsed now (the task table needs its sites);
            # the rest only when an import is resolved to it
            text = overrides.get(path)
            if text is None:
                try:
                    text = read_source(path).text
                except SourceError:
                    continue
            if any(word in text for word in SCHEDULING_NAMES):
                try:
                    project.index.add(project.parse(path, text))
                except SourceError:
                    pass
        project.index.register(others, lambda path: project.parse(path, overrides.get(path)))
        return project

    @classmethod
    def for_file(cls, path: Path, overrides: Mapping[str, object] | None = None,
                 root: Path | None = None) -> "Project":
        """The whole project a file belongs to, as the CLI would see it (for the front ends
        that get one file at a time). A broken config falls back to the defaults."""
        path = path.resolve()
        root = root or find_project_root(path)
        try:
            settings = load_settings(None, root if root.exists() else path.parent)
        except ConfigError:
            settings = Settings()
        settings = settings.with_overrides(**(overrides or {}))
        return cls.load([], settings, root=root)

    # --- what applies where --------------------------------------------------------------

    def excluded(self, path: Path) -> bool:
        """Whether discovery would skip `path` (a default or configured exclude matches it
        or one of its directories below the root)."""
        return excluded_below_root(path, self.settings.excludes, self.root)

    def per_file_ignored(self, path: Path) -> tuple[str, ...]:
        if not self.settings.per_file_ignores:
            return ()
        try:
            rel = path.relative_to(self.root).as_posix()
        except ValueError:
            rel = path.as_posix()
        codes: list[str] = []
        for pattern, ignored in self.settings.per_file_ignores:
            if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(path.name, pattern):
                codes.extend(ignored)
        return tuple(codes)

    def is_test_file(self, path: Path) -> bool:
        """A test file by its path below the root (so a project under `/home/test/` is not)."""
        try:
            relative = path.resolve().relative_to(self.root)
        except ValueError:
            relative = Path(path.name)
        return is_test_path(relative)

    def reported_codes(self, path: Path) -> frozenset[str]:
        """The codes a check of `path` can report: its rules, less the test-file default's."""
        hidden = () if self.settings.check_tests or not self.is_test_file(path) else TEST_SCOPED_CODES
        return frozenset(rule.code for rule in self.rules_for(path) if not rule.code.startswith(hidden))

    def rules_for(self, path: Path, only: Iterable[str] | None = None) -> tuple[type[Rule], ...]:
        """The selected rules that apply to `path`; `only`: codes to narrow them to."""
        ignored = self.per_file_ignored(path)
        wanted = set(only) if only is not None else None
        return tuple(
            rule for rule in self.rules
            if not any(rule.code.startswith(c) for c in ignored) and (wanted is None or rule.code in wanted)
        )

    # --- modules -------------------------------------------------------------------------

    def parse(self, path: Path, text: str | None = None) -> ModuleInfo:
        """Parse one file of this project (raises SourceError); the index is not changed."""
        return parse_module(path, self.root, text)

    def replace(self, path: Path, text: str) -> ModuleInfo:
        """Make the index describe `text` as the content of `path` (an edit, a fixed text,
        an editor buffer). Raises SourceError, and then the index is unchanged."""
        module = self.parse(path.resolve(), text)
        self.index.add(module)
        return module

    def replace_tree(self, path: Path, text: str, tree: ast.Module) -> ModuleInfo:
        """`replace`, with the tree of `text` built by the caller (fix_splice.py)."""
        module = module_of_tree(path.resolve(), self.root, text, tree)
        self.index.add(module)
        return module

    def forget(self, path: Path) -> None:
        """Drop a module (deleted, or no longer parses on disk)."""
        self.index.remove(path.resolve())

    def module(self, path: Path) -> ModuleInfo | None:
        return self.index.module(path.resolve())

    # --- checking and fixing -------------------------------------------------------------

    def check(self, module: ModuleInfo, only: Iterable[str] | None = None, *, noqa: bool = True) -> list[Finding]:
        """The findings of one indexed module, after selection, per-file ignores, noqa (unless
        `noqa` is false) and the test-file default."""
        return self.check_counted(module, only, noqa=noqa)[0]

    def check_counted(self, module: ModuleInfo, only: Iterable[str] | None = None, *,
                      noqa: bool = True) -> tuple[list[Finding], int]:
        """`check`, and how many findings the test-file default hid."""
        # the same module on the same index gives the same findings: `fix` checks what it
        # just checked when nothing changed in between (the index's cache empties on any change)
        key = _findings_key(module, only, noqa)
        cached = self.index.cache.get(key)
        if isinstance(cached, tuple) and cached[0] is module:
            return list(cached[1]), cached[2]
        whole = self.index.cache.get(_findings_key(module, None, noqa))
        if only is not None and isinstance(whole, tuple) and whole[0] is module and not whole[2]:
            # rules do not see each other's findings: a narrower check is the whole one,
            # filtered (fix's first check of a file after the run's first check)
            wanted = set(only)
            shown = [f for f in whole[1] if f.code in wanted]
            self.index.cache[key] = (module, shown, 0)
            return list(shown), 0
        findings = check_module(module, self.index, self.settings, self.rules_for(module.path, only), noqa)
        hidden = 0
        if not self.settings.check_tests and self.is_test_file(module.path):
            shown = [f for f in findings if not f.code.startswith(TEST_SCOPED_CODES)]
            findings, hidden = shown, len(findings) - len(shown)
        self.index.cache[key] = (module, findings, hidden)
        return list(findings), hidden

    def preset_findings(self, module: ModuleInfo, findings: list[Finding]) -> None:
        """Take `findings` (sorted, after noqa) as what `check` would find in `module` on
        this index: a cached check's. Not for a test file whose findings the default hides
        (how many it hid is not known here)."""
        if self.settings.check_tests or not self.is_test_file(module.path):
            self.index.cache[_findings_key(module, None, True)] = (module, list(findings), 0)

    def check_text(self, path: Path, text: str, only: Iterable[str] | None = None) -> list[Finding]:
        """Replace the module's text, then check it. Raises SourceError."""
        return self.check(self.replace(path, text), only)

    def fix_text(self, path: Path, text: str, *, unsafe: bool = False,
                 only: Finding | None = None, codes: Iterable[str] | None = None) -> "FileFix":
        """Apply the selected fixes (of `codes` only, when given) to one module's text, or
        only the fix of finding `only`; the index follows the new text."""
        # imported here: fix.py brings in LibCST, which only a fix needs
        from bgtask_lint.fix import fix_text

        return fix_text(self, path.resolve(), text, unsafe=unsafe, only=only, codes=codes)


def _findings_key(module: ModuleInfo, only: Iterable[str] | None, noqa: bool) -> tuple:
    """Where the index's memo keeps a module's findings (of the codes `only`, when given)."""
    return ("findings", module.path, None if only is None else tuple(sorted(only)), noqa)


# (root, overrides) -> Project, for front ends handed one file at a time (the flake8 plugin,
# the stand-alone LibCST commands): a whole-project run indexes the project once per process
_SHARED: dict[tuple[Path, tuple], Project] = {}


def shared_project(path: Path, overrides: Mapping[str, object] | None = None) -> Project:
    """The project of `path` (as `Project.for_file` builds it), built once per process."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    root = find_project_root(path.resolve())
    key = (root, tuple(sorted(overrides.items())))
    if key not in _SHARED:
        _SHARED[key] = Project.for_file(path, overrides, root=root)
    return _SHARED[key]


def check_source(text: str, path: Path, settings: Settings) -> list[Finding]:
    """Check one module's text standing alone (no other module of its project)."""
    project = Project(path.resolve().parent, settings)
    return project.check_text(path, text)
