"""What a rule reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
DOCS_URL = "https://github.com/bgtask-lint/bgtask-lint/blob/main/docs/rules.md"


@dataclass(frozen=True, order=True)
class Finding:
    path: Path
    line: int  # 1-based
    col: int  # 0-based, as ast gives it
    code: str
    message: str
    end_line: int = 0
    end_col: int = 0
    # "safe" or "unsafe" when a codemod can fix this finding, else None
    fix: str | None = field(default=None, compare=False)
    fix_title: str | None = field(default=None, compare=False)

    @property
    def url(self) -> str:
        return f"{DOCS_URL}#{self.code.lower()}"
