"""The fix side's one API, text in and text out: `fix_text`.

`bgtask-lint fix`, `check --fix`, the pre-commit hook and the language server all call
it (through `Project.fix_text`). Only modules with fixable findings get here, and only
here is LibCST imported. Each rule's command gets the exact positions the checker found
with the project-wide index (so cross-module facts decide what a task is); rules are
fixed one after another, re-checking the module in between so positions stay exact.
The result must compile, or the text is left as it was. Writing files is the `fix`
command's job (fix_run.py).
"""

from __future__ import annotations

import importlib
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from bgtask_lint.files import SourceError, source_lines
from bgtask_lint.findings import Finding

if TYPE_CHECKING:
    from bgtask_lint.project import Project

# the order fixes are applied in: scheduling first, the body-wrapping guard last
FIX_COMMANDS: dict[str, tuple[str, str]] = {
    "BGT101": ("bgtask_lint.codemods.add_task_call_result", "AddTaskCallResultCommand"),
    "BGT103": ("bgtask_lint.codemods.dangling_task", "DanglingTaskCommand"),
    "BGT301": ("bgtask_lint.codemods.blocking_calls", "BlockingCallsCommand"),
    "BGT501": ("bgtask_lint.codemods.connect_timeout", "ConnectTimeoutCommand"),
    "BGT402": ("bgtask_lint.codemods.log_swallowed_exception", "LogSwallowedExceptionCommand"),
    "BGT401": ("bgtask_lint.codemods.guard_task_body", "GuardTaskBodyCommand"),
}


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


def char_column(line_text: str, byte_col: int) -> int:
    """ast columns count UTF-8 bytes, LibCST columns count characters."""
    return len(line_text.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))


def targets_from_findings(findings: Iterable[Finding], source: str, code: str, unsafe: bool) -> set[Target]:
    """Where the command for `code` must act: the spans of its fixable findings, in LibCST's
    coordinates."""
    lines = source_lines(source)
    wanted = {"safe", "unsafe"} if unsafe else {"safe"}

    def text(line: int) -> str:
        return lines[line - 1] if 0 < line <= len(lines) else ""

    return {
        (f.line, char_column(text(f.line), f.col), f.end_line, char_column(text(f.end_line), f.end_col))
        for f in findings
        if f.code == code and f.fix in wanted
    }


def command_class(code: str):
    """The LibCST command of a fixable rule, imported by name only when a fix needs it."""
    module_name, class_name = FIX_COMMANDS[code]
    return getattr(importlib.import_module(module_name), class_name)


def fix_text(project: "Project", path: Path, text: str, *, unsafe: bool = False,
             only: Finding | None = None) -> FileFix:
    """Apply every fix the project selects for `path` (or only the fix of `only`) to `text`.

    The project's index follows: afterwards it describes the returned text.
    """
    import libcst as cst
    from libcst.codemod import CodemodContext

    result = FileFix(path=path, old_text=text, new_text=text)
    selected = {rule.code for rule in project.rules_for(path)}
    current = text
    tree = None  # parsed once; each command's output tree feeds the next
    try:
        for code in FIX_COMMANDS:
            if only is not None:
                if code != only.code:
                    continue
                findings = [only]
            elif code in selected:
                findings = project.check_text(path, current, only=(code,))
            else:
                continue
            targets = targets_from_findings(findings, current, code, unsafe)
            if not targets:
                continue
            command = command_class(code)(CodemodContext(filename=str(path)), targets=targets,
                                          unsafe_fixes=unsafe, connect_timeout=project.settings.connect_timeout)
            new_tree = command.transform_module(tree if tree is not None else cst.parse_module(current))
            tree = new_tree
            if new_tree.code != current:
                result.fixed[code] += command.fixed or len(targets)
                current = new_tree.code
                if "\r" in current:
                    # inserted lines render with the module's first newline: in a file that mixes
                    # CR with LF, LibCST's positions on the edited tree then differ from those of
                    # the re-checked text, so parse the text again
                    tree = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the user's `x is 1` is not ours to warn about
            compile(current, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        result.error = f"the fixed code would not compile (line {exc.lineno}: {exc.msg}); file left unchanged"
    except (cst.ParserSyntaxError, RecursionError) as exc:
        result.error = f"LibCST cannot parse this file ({type(exc).__name__}); not fixed"
    except SourceError as exc:
        result.error = f"cannot re-check while fixing: {exc}; file left unchanged"
    except Exception as exc:  # a codemod bug must cost one file, not the run
        result.error = f"fix failed ({type(exc).__name__}: {exc}); file left unchanged"
    if result.error is None:
        result.new_text = current
    else:
        result.fixed.clear()
    project.replace(path, result.new_text)
    return result
