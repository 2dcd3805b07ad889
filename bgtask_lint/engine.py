"""Parse once, index the project, run the selected rules in one traversal per file."""

from __future__ import annotations

import ast
import fnmatch
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from bgtask_lint.collect import SCHEDULING_NAMES, build_module
from bgtask_lint.config import Settings
from bgtask_lint.files import SourceError, find_project_root, iter_python_files, read_source, source_lines
from bgtask_lint.findings import Finding
from bgtask_lint.index import FUNCTION_TYPES, ModuleInfo, ProjectIndex, module_name
from bgtask_lint.rules import Rule, selected_rules

NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)


@dataclass
class FileError:
    path: Path
    message: str


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files_checked: int = 0


class Context:
    """What a rule handler sees: the module, the project index, and the ancestors of the node."""

    def __init__(self, module: ModuleInfo, index: ProjectIndex, settings: Settings):
        self.module = module
        self.index = index
        self.settings = settings
        self.stack: list[ast.AST] = []  # ancestors of the node being visited, outermost first
        self.findings: list[Finding] = []

    @property
    def function(self) -> ast.AST | None:
        """The innermost enclosing def or lambda (None at module or class level)."""
        for node in reversed(self.stack):
            if isinstance(node, (*FUNCTION_TYPES, ast.Lambda)):
                return node
            if isinstance(node, ast.ClassDef):
                return None
        return None

    @property
    def parent(self) -> ast.AST | None:
        return self.stack[-1] if self.stack else None

    def in_async_def(self) -> bool:
        return isinstance(self.function, ast.AsyncFunctionDef)

    def owner_class(self) -> ast.ClassDef | None:
        function = self.function
        return self.module.owner_class.get(id(function)) if function is not None else None

    def qualified_name(self, expr: ast.expr) -> str | None:
        return self.index.qualified_name(self.module, expr, self.function)

    def resolve(self, expr: ast.expr):
        return self.index.resolve(self.module, expr, self.function, self.owner_class())

    def report(self, rule: Rule, node: ast.AST, message: str | None, *, fix: str | None,
               data: dict[str, object]) -> None:
        self.findings.append(
            Finding(
                path=self.module.path,
                line=node.lineno,  # type: ignore[attr-defined]
                col=node.col_offset,  # type: ignore[attr-defined]
                code=rule.code,
                message=message or rule.message,
                end_line=getattr(node, "end_lineno", None) or node.lineno,  # type: ignore[attr-defined]
                end_col=getattr(node, "end_col_offset", None) or 0,
                fix=fix,
                fix_title=rule.fix_title if fix else None,
                data=tuple(sorted(data.items())),
            )
        )


def build_dispatch(rules: Iterable[Rule]) -> dict[type, list[Callable[[ast.AST, Context], None]]]:
    dispatch: dict[type, list[Callable[[ast.AST, Context], None]]] = {}
    for rule in rules:
        for type_name, method in type(rule).handlers().items():
            node_type = getattr(ast, type_name, None)
            if node_type is not None:
                dispatch.setdefault(node_type, []).append(getattr(rule, method))
    return dispatch


def run_rules(module: ModuleInfo, index: ProjectIndex, settings: Settings, rules: Iterable[Rule]) -> list[Finding]:
    """The one traversal of a module, calling only the handlers of the selected rules."""
    dispatch = build_dispatch(rules)
    ctx = Context(module, index, settings)
    if not dispatch:
        return []
    stack: list[tuple[ast.AST, bool]] = [(module.tree, True)]
    while stack:
        node, entering = stack.pop()
        if not entering:
            ctx.stack.pop()
            continue
        for handler in dispatch.get(type(node), ()):
            handler(node, ctx)
        ctx.stack.append(node)
        stack.append((node, False))
        stack.extend((child, True) for child in reversed(list(ast.iter_child_nodes(node))))
    return ctx.findings


def noqa_filter(findings: list[Finding], source: str) -> list[Finding]:
    lines = source_lines(source)
    kept = []
    for finding in findings:
        text = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
        match = NOQA.search(text) if "noqa" in text.lower() else None
        if match:
            codes = match.group("codes")
            if not codes:
                continue
            listed = {c.upper() for c in re.split(r"[,\s]+", codes) if c}
            if any(finding.code.startswith(c) for c in listed):
                continue
        kept.append(finding)
    return kept


def per_file_ignored(path: Path, root: Path, settings: Settings) -> tuple[str, ...]:
    if not settings.per_file_ignores:
        return ()
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = path.as_posix()
    codes: list[str] = []
    for pattern, ignored in settings.per_file_ignores:
        if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(path.name, pattern):
            codes.extend(ignored)
    return tuple(codes)


def parse_module(path: Path, root: Path, text: str | None = None) -> ModuleInfo:
    """Read (unless `text` is given), decode and parse one file. Raises SourceError."""
    if text is None:
        text = read_source(path).text
    if "\x00" in text:
        raise SourceError("source contains a NUL byte")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. are not our business
            tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise SourceError(f"syntax error at line {exc.lineno}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SourceError(f"cannot parse: {type(exc).__name__}") from None
    name, is_package = module_name(path, root)
    try:
        return build_module(path, text, tree, name, is_package)
    except RecursionError:  # e.g. a generated 2,000-branch elif chain: ast nests each elif
        raise SourceError("cannot analyse: nested too deeply (RecursionError)") from None


@dataclass
class Project:
    root: Path
    index: ProjectIndex
    targets: list[Path]
    errors: list[FileError]


def load_project(paths: list[Path], settings: Settings, root: Path | None = None,
                 overrides: dict[Path, str] | None = None) -> Project:
    """Index every Python file of the project, and say which of them to check."""
    overrides = {p.resolve(): text for p, text in (overrides or {}).items()}
    if root is None:
        root = find_project_root(paths[0] if paths else Path.cwd())
    root = root.resolve()
    errors: list[FileError] = []
    targets: list[Path] = []
    for given in paths:
        if not given.exists() and given.resolve() not in overrides:
            errors.append(FileError(given, "no such file or directory"))
    for path in iter_python_files([p for p in paths if p.exists() or p.resolve() in overrides],
                                  settings.excludes, root):
        targets.append(path.resolve())
    modules: dict[Path, ModuleInfo] = {}
    for path in targets:  # every target is parsed, so a broken one is always reported
        try:
            modules[path] = parse_module(path, root, overrides.get(path))
        except SourceError as exc:
            errors.append(FileError(path, str(exc)))
    index = ProjectIndex(root, modules.values())
    others = [p.resolve() for p in iter_python_files([root], settings.excludes, root)]
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
                index.add(parse_module(path, root, text))
            except SourceError:
                pass
    index.register(others, lambda path: parse_module(path, root, overrides.get(path)))
    return Project(root=root, index=index, targets=[t for t in targets if t in modules], errors=errors)


def check_module(module: ModuleInfo, project: Project, settings: Settings,
                 rule_classes: tuple[type[Rule], ...]) -> list[Finding]:
    ignored = per_file_ignored(module.path, project.root, settings)
    defines_task = module.path in project.index.task_paths()
    rules = [
        cls(settings) for cls in rule_classes
        if not any(cls.code.startswith(c) for c in ignored) and cls.applies_to(module.source, defines_task, settings)
    ]
    findings = run_rules(module, project.index, settings, rules)
    return sorted(set(noqa_filter(findings, module.source)))


def check_paths(paths: list[Path], settings: Settings, root: Path | None = None, *,
                jobs: int | None = 1, cache: bool = False) -> CheckResult:
    """Check files and directories. `jobs`: worker processes (None: one per CPU; see
    parallel.py); `cache`: reuse the findings of unchanged files from `.bgtask_lint_cache/`
    in the project root (see cache.py)."""
    from bgtask_lint.parallel import check_project, paused_gc

    rule_classes = selected_rules(settings.select, settings.ignore)
    with paused_gc():  # the project is freed before the collector runs again
        result = None
        if cache:
            from bgtask_lint.cache import check_cached

            result = check_cached(paths, settings, rule_classes, root, jobs)
        if result is None:
            result = check_project(paths, settings, rule_classes, root, jobs)
    return result


def check_source(text: str, path: Path, settings: Settings, index: ProjectIndex | None = None) -> list[Finding]:
    """Check one module's text. With an `index`, the module replaces its entry there
    (cross-module facts from the rest of the project); without, it stands alone."""
    path = path.resolve()
    root = index.root if index is not None else path.parent
    module = parse_module(path, root, text)
    if index is None:
        index = ProjectIndex(root, [module])
    else:
        index.add(module)
    project = Project(root=root, index=index, targets=[path], errors=[])
    return check_module(module, project, settings, selected_rules(settings.select, settings.ignore))
