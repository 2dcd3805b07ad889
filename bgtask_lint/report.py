"""Rendering findings: text (`path:line:col: CODE message`), ruff-shaped JSON, GitHub
workflow commands (annotations) and SARIF 2.1.0 (GitHub code scanning)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePath
from urllib.parse import quote

from bgtask_lint.files import resolved_path
from bgtask_lint.findings import DOCS_URL, Finding

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Callable, Iterable

    from bgtask_lint.rules import Rule


class Display:
    """Shows a path as the user named it: a path given on the command line exactly as
    typed, a file found under a given directory as that directory's typed form plus the
    rest (`/nonexistent` stays `/nonexistent`, `../app` stays `../app/main.py`); anything
    else relative to the current directory when below it, else absolute."""

    def __init__(self, given: Iterable[str] = (), cwd: str | None = None):
        self.cwd = cwd or os.getcwd()
        # absolute form -> as typed; where two typed paths have one form, the first named.
        # A dict, not a list scanned per finding: pre-commit names thousands of files
        # (litellm's 3,133: 0.58 s of rendering, now a lookup per directory level)
        self.named: dict[str, str] = {}
        resolved_directories: dict[str, str] = {}
        for typed in given:
            if typed == "-":
                continue
            absolute = os.path.abspath(os.path.join(self.cwd, typed))
            self.named.setdefault(str(resolved_path(absolute, resolved_directories)), typed)
            self.named.setdefault(absolute, typed)
        self.shown: dict[str, str] = {}  # aliases a front end chose (stdin: "-")

    def __call__(self, path: Path | str) -> str:
        text = str(path)
        if text in self.shown:
            return self.shown[text]
        if not os.path.isabs(text):  # found by walking a typed path: already in its terms
            return os.path.normpath(text)
        typed = self.named.get(text)
        if typed is not None:
            return typed
        # the nearest named directory above it (the longest prefix)
        above = text
        while True:
            parent = os.path.dirname(above)
            if parent == above:
                break
            above = parent
            typed = self.named.get(above)
            if typed is not None:
                return os.path.normpath(os.path.join(typed, text[len(above.rstrip(os.sep)) + 1:]))
        below = self.cwd.rstrip(os.sep) + os.sep
        return text[len(below):] if text.startswith(below) else text


def fixable(finding: Finding, unsafe: bool) -> bool:
    """Whether `bgtask-lint fix` (with `unsafe`: `--unsafe-fixes`) fixes it: `Finding.fix`
    is set only where a codemod can (read here, not from fix.py: checking imports no fixer)."""
    return finding.fix == "safe" or (unsafe and finding.fix == "unsafe")


def render_text(findings: Iterable[Finding], display: Callable[[Path], str], *, color: bool = False,
                fix_marks: bool = False, unsafe: bool = False) -> str:
    """`path:line:col: CODE message`; with `fix_marks`, `[*]` after the code of a finding
    `bgtask-lint fix` (with `unsafe`: `fix --unsafe-fixes`) would fix, as ruff marks them."""
    def mark(finding: Finding) -> str:
        return " [*]" if fix_marks and fixable(finding, unsafe) else ""

    if not color:
        return "\n".join(
            f"{display(f.path)}:{f.line}:{f.col + 1}: {f.code}{mark(f)} {f.message}" for f in findings
        )
    colon = style(":", fg="cyan")
    return "\n".join(
        f"{style(display(f.path), bold=True)}{colon}{f.line}{colon}{f.col + 1}{colon} "
        f"{style(f.code, fg='red', bold=True)}{style(mark(f), fg='cyan')} {f.message}"
        for f in findings
    )


ANSI_COLORS = {"red": 31, "green": 32, "cyan": 36}  # the colours the text output uses


def style(text: str, fg: str | None = None, bold: bool = False) -> str:
    """`text` in a terminal's colour and weight, the codes click.style writes (without
    importing click, which a plain check does not load)."""
    codes = ([f"\x1b[{ANSI_COLORS[fg]}m"] if fg else []) + (["\x1b[1m"] if bold else [])
    return "".join(codes) + text + "\x1b[0m"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def render_summary(findings: list[Finding], *, color: bool = False, errors: int = 0,
                   files_checked: int | None = None) -> str:
    """The closing line on a terminal: `Found 3 findings in 2 files.`; green only when
    everything named was checked and nothing was found."""
    if errors:
        checked = "" if files_checked is None else f" in the {_plural(files_checked, 'file')} checked"
        found = (f"Found {_plural(len(findings), 'finding')}{checked}" if findings
                 else f"No findings{checked}")
        text = f"{found}; {_plural(errors, 'path')} could not be checked (see the errors above)."
        return style(text, fg="red", bold=True) if color else text
    if not findings:
        return style("No findings.", fg="green", bold=True) if color else "No findings."
    files = len({f.path for f in findings})
    text = f"Found {_plural(len(findings), 'finding')} in {_plural(files, 'file')}."
    return style(text, bold=True) if color else text


def render_fixable(findings: Iterable[Finding], *, unsafe: bool = False) -> str:
    """`2 fixable with `bgtask-lint fix` (1 more with --unsafe-fixes).`, or "" if none."""
    findings = list(findings)
    safe = sum(1 for f in findings if fixable(f, unsafe))
    more = 0 if unsafe else sum(1 for f in findings if fixable(f, True)) - safe
    command = "`bgtask-lint fix --unsafe-fixes`" if unsafe else "`bgtask-lint fix`"
    if safe:
        return f"{safe} fixable with {command}" + (f" ({more} more with --unsafe-fixes)." if more else ".")
    if more:
        return f"{more} fixable with `bgtask-lint fix --unsafe-fixes`."
    return ""


def finding_to_json(finding: Finding, display: Callable[[Path], str]) -> dict:
    return {
        "code": finding.code,
        "message": finding.message,
        "filename": display(finding.path),
        "location": {"row": finding.line, "column": finding.col + 1},
        "end_location": {"row": finding.end_line, "column": finding.end_col + 1},
        "fix": None if finding.fix is None else {
            "applicability": finding.fix,
            "message": finding.fix_title,
        },
        "url": finding.url,
    }


def render_json(findings: Iterable[Finding], display: Callable[[Path], str]) -> str:
    return json.dumps([finding_to_json(f, display) for f in findings], indent=2)


# --- rule documentation: the `## Heading` sections of a rule's ruff-style docstring ---

def rule_doc(rule: "type[Rule]") -> str:
    import inspect  # only the docs need it: a warm check does not import it

    return inspect.cleandoc(rule.__doc__ or "")


def rule_sections(rule: "type[Rule]") -> dict[str, str]:
    """`{"What it does": "...", "Why is this bad?": "...", ...}`, in docstring order."""
    sections: dict[str, str] = {}
    heading = None
    lines: list[str] = []
    for line in rule_doc(rule).splitlines():
        match = re.match(r"##\s+(.+?)\s*$", line)
        if match:
            if heading is not None:
                sections[heading] = "\n".join(lines).strip()
            heading, lines = match.group(1), []
        else:
            lines.append(line)
    if heading is not None:
        sections[heading] = "\n".join(lines).strip()
    return sections


def rule_url(code: str) -> str:
    return f"{DOCS_URL}#{code.lower()}"


# error: the task does not run as written, or runs with closed resources; warning: it
# runs, but blocks the event loop, fails unseen, or can hang
LEVELS = {"BGT1": "error", "BGT2": "error", "BGT3": "warning", "BGT4": "warning", "BGT5": "warning"}


def level(code: str) -> str:
    return next((lvl for prefix, lvl in LEVELS.items() if code.startswith(prefix)), "warning")


def _span(finding: Finding) -> tuple[int, int, int, int]:
    """1-based (line, column, end line, end column), the end never before the start."""
    start = (finding.line, finding.col + 1)
    end = (finding.end_line or finding.line, finding.end_col + 1)
    return (*start, *max(start, end))


def _forward_slashes(path: str) -> str:
    return path.replace(os.sep, "/") if os.sep != "/" else path


# --- GitHub Actions workflow commands (annotations on the pull request's diff) ---

def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def finding_to_github(finding: Finding, display: Callable[[Path], str]) -> str:
    from bgtask_lint.rules import rule_by_code

    rule = rule_by_code(finding.code)
    title = f"{finding.code} {rule.name}" if rule is not None else finding.code
    line, col, end_line, end_col = _span(finding)
    properties = [
        ("file", _forward_slashes(display(finding.path))),
        ("line", str(line)),
        ("col", str(col)),
        ("endLine", str(end_line)),
        ("endColumn", str(end_col)),
        ("title", title),
    ]
    props = ",".join(f"{key}={_escape_property(value)}" for key, value in properties)
    return f"::{level(finding.code)} {props}::{_escape_data(finding.message)}"


def render_github(findings: Iterable[Finding], display: Callable[[Path], str]) -> str:
    return "\n".join(finding_to_github(f, display) for f in findings)


# --- SARIF 2.1.0 ---

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = DOCS_URL.split("/blob/", 1)[0]


def _artifact_location(path: Path, display: Callable[[Path], str]) -> dict:
    shown = display(path)
    if PurePath(shown).is_absolute():  # not under the current directory (another drive)
        return {"uri": Path(shown).as_uri()}
    return {"uri": quote(_forward_slashes(shown), safe="/"), "uriBaseId": "%SRCROOT%"}


def _sarif_rule(rule: "type[Rule]") -> dict:
    sections = rule_sections(rule)
    doc = rule_doc(rule)
    text = re.sub(r"\s+", " ", sections.get("What it does", rule.message)).strip()
    descriptor = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.message},
        "fullDescription": {"text": text},
        "help": {"text": doc, "markdown": doc},
        "helpUri": rule_url(rule.code),
        "defaultConfiguration": {"level": level(rule.code)},
        "properties": {"fix": rule.fix or "none"},
    }
    return descriptor


def _sarif_result(finding: Finding, index: dict[str, int], display: Callable[[Path], str]) -> dict:
    line, col, end_line, end_col = _span(finding)
    result: dict = {"ruleId": finding.code}
    if finding.code in index:
        result["ruleIndex"] = index[finding.code]
    result.update({
        "level": level(finding.code),
        "message": {"text": finding.message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": _artifact_location(finding.path, display),
                "region": {"startLine": line, "startColumn": col, "endLine": end_line, "endColumn": end_col},
            },
        }],
    })
    if finding.fix is not None:
        # SARIF's `fixes` need the replacements themselves; `bgtask-lint fix` makes them
        result["properties"] = {"fix": {"applicability": finding.fix, "description": finding.fix_title,
                                        "command": "bgtask-lint fix" + (" --unsafe-fixes" if finding.fix == "unsafe" else "")}}
    return result


def sarif_log(findings: Iterable[Finding], display: Callable[[Path], str],
              errors: Iterable[tuple[Path, str]] = ()) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from bgtask_lint.rules import all_rules

    try:
        tool_version = version("bgtask-lint")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        tool_version = "0+unknown"
    rules = all_rules()
    index = {rule.code: i for i, rule in enumerate(rules)}
    notifications = [
        {"level": "error", "message": {"text": message},
         "locations": [{"physicalLocation": {"artifactLocation": _artifact_location(path, display)}}]}
        for path, message in errors
    ]
    invocation: dict = {"executionSuccessful": not notifications}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "bgtask-lint",
                "version": tool_version,
                "informationUri": INFORMATION_URI,
                "rules": [_sarif_rule(rule) for rule in rules],
            }},
            "invocations": [invocation],
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri().rstrip("/") + "/"}},
            "results": [_sarif_result(f, index, display) for f in findings],
        }],
    }


def render_sarif(findings: Iterable[Finding], display: Callable[[Path], str],
                 errors: Iterable[tuple[Path, str]] = ()) -> str:
    return json.dumps(sarif_log(findings, display, errors), indent=2)
