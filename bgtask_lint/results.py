"""What a check run returns: `CheckResult` and `FileError`. A module of its own, light to
import, so that a warm cached run (which answers from the cache) does not import the
checker (`project`, `engine`, the rules) just to name its result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bgtask_lint.findings import Finding


@dataclass
class FileError:
    path: Path
    message: str


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files_checked: int = 0
    hidden_in_tests: int = 0  # findings the test-file default did not report
