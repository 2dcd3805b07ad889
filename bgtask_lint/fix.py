"""The fix side's one API, text in and text out: `fix_text`.

`bgtask-lint fix`, `check --fix`, the pre-commit hook and the language server all call
it (through `Project.fix_text`). Only modules with fixable findings get here, and only
here is LibCST imported. The module is checked once, with the project-wide index (so
cross-module facts decide what a task is); each rule's fix then gets the exact
positions of its findings, moved through the edits of the fixes before it (a target
on a line an earlier fix rewrote waits for the next round, which checks again).
The result must compile, or the text is left as it was. Writing files is the `fix`
command's job (fix_run.py).

Speed: LibCST costs about 40 µs per byte of the code it parses, annotates with
positions and transforms, 200 times `ast`. So a fix never sees more than it needs:
it gets a skeleton of the module, where every def, class or run of statements that
holds none of its targets is one placeholder line, put back verbatim afterwards
(fix_skeleton.py); what it decides with the module (loggers, imports) it asks of the
whole module's model, which follows each edit without parsing the module again (its
tree is spliced from the fix's output and the statements the placeholders stood for:
fix_splice.py). And the fixes are plain LibCST transformers (codemods/_fixes/):
`libcst.codemod` is imported only by the commands around them, for `libcst.tool`.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from bgtask_lint.console import stderr_is_terminal
from bgtask_lint.files import SourceError
from bgtask_lint.findings import Finding
from bgtask_lint.fix_skeleton import SKELETON_MIN_CHARS, Skeleton, build_skeleton
from bgtask_lint.fix_splice import spliced_tree
from bgtask_lint.names import release_trees

if TYPE_CHECKING:
    from bgtask_lint.index import ModuleInfo
    from bgtask_lint.project import Project

# the order fixes are applied in: scheduling first; BGT501 before BGT301, so a call that
# --unsafe-fixes moves into asyncio.to_thread keeps the connect timeout of a safe run;
# the body-wrapping guard last. Each rule's fix is `<Name>Fix` in
# bgtask_lint/codemods/_fixes/<module>.py, its LibCST command `<Name>Command` in
# bgtask_lint/codemods/<module>.py
FIX_COMMANDS: dict[str, tuple[str, str]] = {
    "BGT101": ("add_task_call_result", "AddTaskCallResult"),
    "BGT103": ("dangling_task", "DanglingTask"),
    "BGT501": ("connect_timeout", "ConnectTimeout"),
    "BGT301": ("blocking_calls", "BlockingCalls"),
    "BGT402": ("log_swallowed_exception", "LogSwallowedException"),
    "BGT401": ("guard_task_body", "GuardTaskBody"),
}
MAX_ROUNDS = 3  # a target an earlier fix moved is fixed in the next round
# fixes after which the module may have new findings: `add_task(job(1))` -> `add_task(job, 1)`
# makes `job` a task, and BGT401/BGT402 apply to it
REVEALING = {"BGT101"}
REVEALED = {"BGT401", "BGT402"}
# fixes after which another rule's findings may be gone: the BGT103 done-callback logs the
# task's exception, which guards the task (BGT401 would wrap its body, logging it twice)
INVALIDATES = {"BGT103": ("BGT401",)}
PROGRESS_MIN_CHARS = 200_000  # a module this big shows its progress on a terminal


@dataclass
class FileFix:
    path: Path
    old_text: str
    new_text: str
    fixed: Counter = field(default_factory=Counter)
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.error is None and self.new_text != self.old_text


def is_fixable(finding: Finding, unsafe: bool) -> bool:
    return finding.code in FIX_COMMANDS and (finding.fix == "safe" or (unsafe and finding.fix == "unsafe"))


# (line, column, end line, end column) of the node a finding points at; columns count characters
Target = tuple[int, int, int, int]


def targets_from_findings(findings: Iterable[Finding], code: str, unsafe: bool) -> set[Target]:
    """Where the fix for `code` must act: the spans of its fixable findings (findings
    count columns in characters, as LibCST does)."""
    wanted = {"safe", "unsafe"} if unsafe else {"safe"}
    return {(f.line, f.col, f.end_line, f.end_col) for f in findings if f.code == code and f.fix in wanted}


def fix_class(code: str):
    """The fix of a fixable rule (a LibCST transformer), imported only when a fix needs it."""
    module, name = FIX_COMMANDS[code]
    return getattr(importlib.import_module(f"bgtask_lint.codemods._fixes.{module}"), f"{name}Fix")


def load_fixes() -> None:
    """Import LibCST and every fix, once, ahead of the first fix (before fixing in forked
    workers, which would each import them; or while the first check's workers run)."""
    for code in FIX_COMMANDS:
        fix_class(code)


def command_class(code: str):
    """The LibCST codemod command of a fixable rule (`python -m libcst.tool codemod`)."""
    module, name = FIX_COMMANDS[code]
    return getattr(importlib.import_module(f"bgtask_lint.codemods.{module}"), f"{name}Command")


def fix_text(project: "Project", path: Path, text: str, *, unsafe: bool = False,
             only: Finding | None = None, codes: Iterable[str] | None = None) -> FileFix:
    """Apply every fix the project selects for `path` (of `codes` only, when given; or
    only the fix of `only`) to `text`.

    The project's index follows: afterwards it describes the returned text.
    """
    import libcst as cst

    result = FileFix(path=path, old_text=text, new_text=text)
    fixable = fixable_selected(project, path, codes)
    current = text
    progress = _Progress(path, len(text))
    try:
        findings = [only] if only is not None else _check(project, path, text, fixable)
        for round_number in range(MAX_ROUNDS):
            targets = {
                code: found for code in FIX_COMMANDS
                if (only is not None or code in fixable)
                and (found := targets_from_findings(findings, code, unsafe))
            }
            if not targets:
                break
            edit = _apply(project, path, current, targets, unsafe, progress)
            result.fixed.update(edit.fixed)
            if edit.text == current:
                break
            current = edit.text
            if only is not None or round_number == MAX_ROUNDS - 1:
                break
            if edit.waiting:
                findings = _check(project, path, current, fixable)  # the targets that waited
            elif REVEALING & set(edit.fixed):
                findings = _check(project, path, current, tuple(REVEALED & set(fixable)))
            else:
                break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the user's `x is 1` is not ours to warn about
            parsed = _parsed(project, path, current)
            try:
                compile(parsed, str(path), "exec", dont_inherit=True)
            except RecursionError:  # a tree deeper than Python's limit: the text's parser has its own
                if parsed is current:
                    raise
                compile(current, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        result.error = f"the fixed code would not compile (line {exc.lineno}: {exc.msg}); file left unchanged"
    except cst.ParserSyntaxError as exc:
        result.error = f"LibCST cannot parse this file ({type(exc).__name__}); not fixed"
    except SourceError as exc:
        result.error = f"cannot re-check while fixing: {exc}; file left unchanged"
    except Exception as exc:  # a codemod bug must cost one file, not the run
        result.error = _failure(exc)
    finally:
        progress.done()
        release_trees()
    if result.error is None:
        result.new_text = current
    else:
        result.fixed.clear()
    module = project.module(path)
    if module is None or module.source != result.new_text:
        project.replace(path, result.new_text)
    return result


def fixable_selected(project: "Project", path: Path, codes: Iterable[str] | None = None) -> tuple[str, ...]:
    """The codes `fix_text` fixes in `path` (of `codes` only, when given), in fixing order:
    the first check of a fix is of these."""
    selected = {rule.code for rule in project.rules_for(path)}
    if codes is not None:
        selected &= set(codes)
    return tuple(code for code in FIX_COMMANDS if code in selected)


def _parsed(project: "Project", path: Path, text: str):
    """What to compile to know that `text` compiles: the index's tree of it, which the
    index needs anyway (compiling the tree skips the parse compiling the text repeats:
    0.14 s against 0.21 s for 1 MB); the text when it does not parse, for the message."""
    try:
        return _indexed(project, path, text).tree
    except SourceError:
        return text


def _indexed(project: "Project", path: Path, text: str) -> "ModuleInfo":
    """The index's module of `text`: the one it holds, or (marked as this fix's own) a
    parse of `text`. Raises SourceError."""
    module = project.module(path)
    if module is None or module.source != text:
        module = _edited(project.replace(path, text))
    return module


# the mark of a module an edit of `fix_text` made, whose tree only the index holds: the
# next edit may move its statements into the new tree (fix_splice.py) rather than parse
# the whole module again. A module made elsewhere (the editor's, the first check's) is
# never moved: what holds it would see its lines change.
EDITED_HERE = "made by an edit of fix_text"
# the tests (tests/conftest.py) compare every spliced tree with a parse of its text
CHECK_SPLICES = os.environ.get("BGTASK_LINT_CHECK_SPLICES") == "1"


def _edited(module: "ModuleInfo") -> "ModuleInfo":
    module.derived[EDITED_HERE] = True
    return module


def _check_splice(module: "ModuleInfo") -> None:
    import ast

    try:
        parsed = ast.dump(ast.parse(module.source), include_attributes=True)
        spliced = ast.dump(module.tree, include_attributes=True)
    except RecursionError:  # (ast.dump recurses: a tree nested too deep cannot be compared)
        return
    if spliced != parsed:
        raise AssertionError(f"the spliced tree of {module.path} is not the parse of its text")


def _failure(exc: BaseException) -> str:
    """One line for a fix that raised. Code nested too deep for LibCST's recursion (in its
    parser, or its metadata after a parse) can raise anything on the way up, and even the
    exception's text may recurse again (the repr of a deep node)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, RecursionError):
            return "LibCST cannot parse this file (RecursionError: nested too deeply); not fixed"
        cause = cause.__context__
    try:
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
    except Exception:  # noqa: BLE001 - the text of the error is only a courtesy
        text = ""
    return f"fix failed ({type(exc).__name__}: {text}); file left unchanged"


def _check(project: "Project", path: Path, text: str, codes: tuple[str, ...]) -> list[Finding]:
    """The findings of `codes` in `text`; the index is re-parsed only when it holds another text."""
    return project.check(_indexed(project, path, text), only=codes)


# --- one round: every fix once, targets moved through the edits before them --------------


@dataclass
class _Edit:
    text: str
    fixed: Counter
    waiting: bool  # some target was on a line an earlier fix rewrote


def _apply(project: "Project", path: Path, text: str, targets: dict[str, set[Target]], unsafe: bool,
           progress: "_Progress") -> _Edit:
    from bgtask_lint.guards import guard_model

    module = project.module(path)
    fixed: Counter = Counter()
    waiting = False
    pending = dict(targets)
    for step, code in enumerate(list(pending), start=1):
        mine = pending.pop(code)
        if not mine:
            waiting = True
            continue
        progress.step(code, step, len(targets))
        if module is None or module.source != text:
            # the index describes the text each fix edits: the fixes decide with the
            # whole module's model (loggers imported from other modules, clients made elsewhere)
            module = _indexed(project, path, text)
        if len(text) < SKELETON_MIN_CHARS:
            skeleton = Skeleton.whole(text)
        else:
            skeleton = build_skeleton(text, module.tree, {line for t in mine for line in range(t[0], t[2] + 1)})
        fixer = fix_class(code)(str(path), targets=skeleton.to_skeleton(mine),
                                  unsafe_fixes=unsafe, connect_timeout=project.settings.connect_timeout)
        # the index's tree of the whole module (the text, or what a skeleton shows of it):
        # the fix asks it what it would otherwise parse again
        fixer.module_tree = module.tree
        if skeleton.regions:  # what the fix asks of the module, it asks of the whole one
            fixer.used_elsewhere = skeleton.used_outside
        if hasattr(fixer, "given_model"):  # the whole module's model, whatever the skeleton shows
            fixer.given_model = guard_model(project.index, module)
            fixer.line_maps = (skeleton.to_module_line, skeleton.to_skeleton_line) if skeleton.regions else None
        new_skeleton = _transform(fixer, skeleton.text)
        if new_skeleton == skeleton.text:
            continue
        fixed[code] += fixer.fixed or len(mine)
        expansion = skeleton.expand_parts(new_skeleton)
        new_text, line_map = expansion.text, expansion.line_map
        if module.derived.get(EDITED_HERE):  # no one else holds its tree: it can be spliced
            tree = spliced_tree(skeleton, new_skeleton, expansion)
            if tree is not None:
                module = _edited(project.replace_tree(path, new_text, tree))
                if CHECK_SPLICES:
                    _check_splice(module)
        for other in INVALIDATES.get(code, ()):
            if pending.get(other):
                pending[other] = set()  # decided again on the new text, next round
        for other, spans in pending.items():
            moved = {_move(span, line_map) for span in spans}
            waiting = waiting or None in moved
            pending[other] = {span for span in moved if span is not None}
        text = new_text
    return _Edit(text, fixed, waiting)


def _transform(fixer, code: str) -> str:
    """Run one fix on `code` without LibCST's defensive deep copy of the tree."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper

    wrapper = MetadataWrapper(cst.parse_module(code), unsafe_skip_copy=True)
    _resolve_positions(wrapper)
    return fixer.run(wrapper).code


def _resolve_positions(wrapper) -> None:
    """The positions every fix asks for, computed as LibCST's resolver computes them, but
    without what the resolver does next: after a provider that is not batchable it runs a
    batched visit with no visitor in it (`_resolve_impl` in libcst/metadata/wrapper.py),
    a walk of the whole tree for nothing, a third of the resolve (letta's server.py:
    0.23 -> 0.14 s). Internals of LibCST: when they are not as expected, the fix resolves
    the positions itself, the usual way."""
    from libcst.metadata import PositionProvider

    metadata = getattr(wrapper, "_metadata", None)
    generate = getattr(PositionProvider, "_gen", None)
    if isinstance(metadata, dict) and callable(generate) and PositionProvider not in metadata:
        metadata[PositionProvider] = generate(PositionProvider(), wrapper)


def _move(span: Target, line_map: Callable[[int], int | None]) -> Target | None:
    """The span after an edit, when every line of it is unchanged (else None: re-check)."""
    first, last = line_map(span[0]), line_map(span[2])
    if first is None or last is None or last - first != span[2] - span[0]:
        return None
    if any(line_map(line) is None for line in range(span[0] + 1, span[2])):
        return None
    return (first, span[1], last, span[3])


# --- progress on a terminal, for one big module ---------------------------------------------


class _Progress:
    def __init__(self, path: Path, size: int):
        self.path = path
        self.shown = size >= PROGRESS_MIN_CHARS and stderr_is_terminal()

    def step(self, code: str, step: int, steps: int) -> None:
        if self.shown:
            sys.stderr.write(f"\rfixing {self.path.name}: {code} ({step}/{steps})\x1b[K")
            sys.stderr.flush()

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
