"""One module at a time: parse it, run the given rules in one traversal, apply noqa.

The engine knows nothing of paths to discover, caches or worker processes (the runner
does), nor of which rules apply to which file (the project decides).
"""

from __future__ import annotations

import ast
import re
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from bgtask_lint.collect import build_module
from bgtask_lint.console import describe_crash
from bgtask_lint.context import RuleContext
from bgtask_lint.files import SourceError, read_source, source_lines
from bgtask_lint.findings import INTERNAL_ERROR, Finding
from bgtask_lint.flows import compute_session_flows
from bgtask_lint.index import ModuleInfo, ProjectIndex, module_name
from bgtask_lint.names import LEAF_TYPES, NESTED_SCOPES, child_nodes

if TYPE_CHECKING:
    from bgtask_lint.config import Settings
    from bgtask_lint.rules import Rule

NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_NOQA_WORD = re.compile("noqa", re.IGNORECASE)

Handler = Callable[[ast.AST, RuleContext], None]

# the project-wide V2.4 analysis the rules ask the index for (see ProjectIndex.flow_analysis)
ProjectIndex.flow_analysis = compute_session_flows


# (root, path) -> the module last parsed for it, while `keeping_parses` (None: not kept)
_KEPT: dict[tuple[Path, Path], ModuleInfo] | None = None


@contextmanager
def keeping_parses() -> Iterator[None]:
    """Within this, parsing a file whose text was parsed before gives the module parsed
    then (a module is not changed once built): `fix` parses what its first check parsed,
    and its last check what the fix left. Only for one command's run: the modules are held."""
    global _KEPT
    previous, _KEPT = _KEPT, {}
    try:
        yield
    finally:
        _KEPT = previous


def parse_module(path: Path, root: Path, text: str | None = None) -> ModuleInfo:
    """Read (unless `text` is given), decode and parse one file. Raises SourceError."""
    if text is None:
        text = read_source(path).text
    kept = _KEPT
    if kept is not None:
        known = kept.get((root, path))
        if known is not None and known.source == text:
            return known
        module = _parse_module(path, root, text)
        kept[(root, path)] = module
        return module
    return _parse_module(path, root, text)


def module_of_tree(path: Path, root: Path, text: str, tree: ast.Module) -> ModuleInfo:
    """The module of `text`, from its tree built by the caller (fix_splice.py): kept as
    `parse_module` keeps what it parses. Raises SourceError."""
    module = _built(path, root, text, tree)
    if _KEPT is not None:
        _KEPT[(root, path)] = module
    return module


def _parse_module(path: Path, root: Path, text: str) -> ModuleInfo:
    if "\x00" in text:
        raise SourceError("source contains a NUL byte")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. are not our business
            tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        from bgtask_lint.newer_syntax import syntax_error_text

        raise SourceError(syntax_error_text(text, exc)) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SourceError(f"cannot parse: {type(exc).__name__}") from None
    return _built(path, root, text, tree)


def _built(path: Path, root: Path, text: str, tree: ast.Module) -> ModuleInfo:
    name, is_package = module_name(path, root)
    try:
        return build_module(path, text, tree, name, is_package)
    except RecursionError:  # e.g. a generated 2,000-branch elif chain: ast nests each elif
        raise SourceError("cannot analyse: nested too deeply (RecursionError)") from None
    except Exception as exc:  # our bug: it costs this file, not the run
        raise SourceError(f"cannot analyse: internal error ({describe_crash(exc)}); please report it") from None



def build_dispatch(rules: Iterable["Rule"]) -> dict[type, list[Handler]]:
    dispatch: dict[type, list[Handler]] = {}
    for rule in rules:
        for type_name, method in type(rule).handlers().items():
            node_type = getattr(ast, type_name, None)
            if node_type is not None:
                dispatch.setdefault(node_type, []).append(getattr(rule, method))
    return dispatch


def run_rules(module: ModuleInfo, index: ProjectIndex, settings: "Settings", rules: Iterable["Rule"]) -> list[Finding]:
    """The one traversal of a module, calling only the handlers of the given rules."""
    dispatch = build_dispatch(rules)
    if not dispatch:
        return []
    ctx = RuleContext(module, index, settings)
    # leaves no handler asks for are not entered: they are nobody's ancestor either
    skip = LEAF_TYPES.difference(dispatch)
    scope_types, leave = SCOPE_TYPES, _LEAVE
    ancestors, scopes = ctx.stack, ctx.scopes
    stack: list[object] = [module.tree]  # nodes to enter, and _LEAVE where the last entered ends
    push, pop = stack.append, stack.pop
    while stack:
        node = pop()
        if node is leave:
            if type(ancestors.pop()) in scope_types:
                scopes.pop()
            continue
        kind = type(node)
        handlers = dispatch.get(kind)
        if handlers:
            for handler in handlers:
                try:
                    handler(node, ctx)
                except Exception as exc:  # a rule's bug costs its findings in this module, not the run
                    _rule_crashed(handler, node, exc, ctx, dispatch)
        children = child_nodes(node, skip)
        if children:  # (a node with nothing to enter is nobody's ancestor: `self.x`, a bare arg)
            ancestors.append(node)
            if kind in scope_types:
                scopes.append(node)
            push(leave)
            children.reverse()  # entered in field order
            stack.extend(children)
    return ctx.findings


def _rule_crashed(handler: Handler, node: ast.AST, exc: Exception, ctx: RuleContext,
                  dispatch: dict[type, list[Handler]]) -> None:
    """Report the crash where it happened (BGT900), and stop calling that rule in this module."""
    rule = getattr(handler, "__self__", None)
    for kind, handlers in dispatch.items():  # new lists: the one being walked is left as it is
        dispatch[kind] = [h for h in handlers if getattr(h, "__self__", None) is not rule]
    code = getattr(rule, "code", "?")
    ctx.findings.append(Finding(
        ctx.module.path, getattr(node, "lineno", 1), getattr(node, "col_offset", 0), INTERNAL_ERROR,
        f"internal error in {code} ({describe_crash(exc)}): {code} did not check the rest of this file; "
        "please report it"))


# the ancestors RuleContext.function looks for
SCOPE_TYPES = frozenset(NESTED_SCOPES)
_LEAVE = object()


def noqa_filter(findings: list[Finding], source: str) -> list[Finding]:
    # most modules have no finding, and most of the others no noqa: their lines need not
    # be split (1.3 s of litellm's check split them all)
    if not findings or _NOQA_WORD.search(source) is None:
        return findings
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


def check_module(module: ModuleInfo, index: ProjectIndex, settings: "Settings",
                 rule_classes: Iterable[type["Rule"]], noqa: bool = True) -> list[Finding]:
    """The findings of these rules in one module, sorted, without the noqa'd ones (with
    them when `noqa` is false: to tell which noqa comments suppress nothing)."""
    defines_task = module.path in index.task_paths()
    rules = [cls(settings) for cls in rule_classes if cls.applies_to(module.source, defines_task, settings)]
    findings = run_rules(module, index, settings, rules)
    if noqa:  # a crash is reported whatever the line's noqa says
        findings = noqa_filter(findings, module.source) + [f for f in findings if f.code == INTERNAL_ERROR]
    return sorted(set(findings))
