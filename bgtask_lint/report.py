"""Rendering findings: text (`path:line:col: CODE message`) and ruff-shaped JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable

from bgtask_lint.findings import Finding


def render_text(findings: Iterable[Finding], display: Callable[[Path], str]) -> str:
    return "\n".join(
        f"{display(f.path)}:{f.line}:{f.col + 1}: {f.code} {f.message}" for f in findings
    )


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
