"""What a check run returns: `CheckResult` and `FileError`. A module of its own, light to
import, so that a warm cached run (which answers from the cache) does not import the
checker (`project`, `engine`, the rules) just to name its result."""

from __future__ import annotations

from pathlib import Path

from bgtask_lint.findings import INTERNAL_ERROR, Finding
from bgtask_lint.plain import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Callable


class FileError(Value):
    __slots__ = ("path", "message")

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        self.message = message


class CheckResult(Value):
    __slots__ = ("findings", "errors", "files_checked", "hidden_in_tests")

    def __init__(self, findings: list[Finding] | None = None, errors: list[FileError] | None = None,
                 files_checked: int = 0, hidden_in_tests: int = 0) -> None:
        self.findings = [] if findings is None else findings
        self.errors = [] if errors is None else errors
        self.files_checked = files_checked
        self.hidden_in_tests = hidden_in_tests  # findings the test-file default did not report


def without_crashes(findings: list[Finding], report: "Callable[[Path, str], None]") -> list[Finding]:
    """The findings, less the crashes of rules (BGT900), each handed to `report` as an error
    of its file: the command line says them as errors (exit 2), not as findings."""
    kept = []
    for finding in findings:
        if finding.code == INTERNAL_ERROR:
            report(finding.path, f"line {finding.line}: {finding.message}")
        else:
            kept.append(finding)
    return kept
