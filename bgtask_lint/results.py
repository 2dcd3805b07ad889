"""What a check run returns: `CheckResult` and `FileError`. A module of its own, light to
import, so that a warm cached run (which answers from the cache) does not import the
checker (`project`, `engine`, the rules) just to name its result."""

from __future__ import annotations

from pathlib import Path

from bgtask_lint.findings import Finding
from bgtask_lint.plain import Value


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
