"""`bgtask-lint fix`: check, then apply the codemods to the files with fixable findings.

Only files with fixable findings are parsed with LibCST. Each rule's command gets the
exact positions the checker found (with the project-wide index, so cross-module facts
decide what a task is). Rules are fixed one after another, re-checking the module in
between so positions stay exact. The result must compile, or the file is left alone;
writes are atomic and keep the encoding, BOM, line endings and permissions.
"""

from __future__ import annotations

import codecs
import difflib
import importlib
import os
import stat
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from bgtask_lint.config import Settings
from bgtask_lint.engine import Project, check_source, parse_module
from bgtask_lint.files import SourceError, read_source, source_lines
from bgtask_lint.findings import Finding

# the order fixes are applied in: scheduling first, the body-wrapping guard last
FIX_COMMANDS: dict[str, tuple[str, str]] = {
    "BGT101": ("codemods.add_task_call_result", "AddTaskCallResultCommand"),
    "BGT103": ("codemods.dangling_task", "DanglingTaskCommand"),
    "BGT301": ("codemods.blocking_calls", "BlockingCallsCommand"),
    "BGT501": ("codemods.connect_timeout", "ConnectTimeoutCommand"),
    "BGT402": ("codemods.log_swallowed_exception", "LogSwallowedExceptionCommand"),
    "BGT401": ("codemods.guard_task_body", "GuardTaskBodyCommand"),
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


def command_class(code: str):
    module_name, class_name = FIX_COMMANDS[code]
    return getattr(importlib.import_module(module_name), class_name)


def fix_text(path: Path, text: str, project: Project, settings: Settings, unsafe: bool) -> FileFix:
    """Apply every selected fix to one module's text; the index follows the new text."""
    import libcst as cst
    from libcst.codemod import CodemodContext

    from codemods._base import targets_from_findings

    result = FileFix(path=path, old_text=text, new_text=text)
    current = text
    tree = None  # parsed once; each command's output tree feeds the next
    try:
        for code in FIX_COMMANDS:
            if not any(code.startswith(p) for p in settings.select) or any(code.startswith(p) for p in settings.ignore):
                continue
            findings = check_source(current, path, replace(settings, select=(code,), ignore=()), project.index)
            targets = targets_from_findings(findings, current, code, unsafe)
            if not targets:
                continue
            command = command_class(code)(CodemodContext(filename=str(path)), targets=targets,
                                          unsafe_fixes=unsafe, connect_timeout=settings.connect_timeout)
            new_tree = command.transform_module(tree if tree is not None else cst.parse_module(current))
            tree = new_tree
            if new_tree.code != current:
                result.fixed[code] += command.fixed or len(targets)
                current = new_tree.code
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
    # the index must describe what is (or will be) on disk
    project.index.add(parse_module(path, project.root, result.new_text))
    return result


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
    raw_start = path.open("rb").read(3)
    source = read_source(path)
    bom = raw_start == codecs.BOM_UTF8
    encoding = "utf-8" if source.encoding in ("utf-8-sig", "utf-8") else source.encoding
    return encoding, bom
