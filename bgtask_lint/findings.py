"""What a rule reports."""

from __future__ import annotations

from pathlib import Path

from bgtask_lint.plain import Value

# not a rule: a rule that crashed on a file says so with this code, where it crashed
INTERNAL_ERROR = "BGT900"

DOCS_URL = "https://github.com/bgtask-lint/bgtask-lint/blob/main/docs/rules.md"


class Finding(Value, frozen=True, ordered=True, compared=("path", "line", "col", "code", "message", "end_line", "end_col")):
    """Ordered, equal and hashed by place, code and message; `fix` and `fix_title` (how a
    codemod can fix it) do not count."""

    __slots__ = ("path", "line", "col", "code", "message", "end_line", "end_col", "fix", "fix_title")

    def __init__(self, path: Path, line: int, col: int, code: str, message: str, end_line: int = 0,
                 end_col: int = 0, fix: str | None = None, fix_title: str | None = None) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "path", path)
        set_field(self, "line", line)  # 1-based
        set_field(self, "col", col)  # 0-based, as ast gives it
        set_field(self, "code", code)
        set_field(self, "message", message)
        set_field(self, "end_line", end_line)
        set_field(self, "end_col", end_col)
        set_field(self, "fix", fix)  # "safe" or "unsafe" when a codemod can fix this finding, else None
        set_field(self, "fix_title", fix_title)

    @property
    def url(self) -> str:
        return f"{DOCS_URL}#{self.code.lower()}"
