"""End-of-line `# BGT101` markers: the expected findings written next to the code."""

from __future__ import annotations

import re
from pathlib import Path

MARKER = re.compile(r"#\s*(BGT\d{3}(?:\s*,\s*BGT\d{3})*)\s*$")
FIXTURES = Path(__file__).parent / "fixtures"


def expected_in(path: Path, base: Path) -> set[tuple[str, int, str]]:
    """{(relative path, line, code)} for every marker in the file."""
    rel = path.relative_to(base).as_posix()
    found = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = MARKER.search(line)
        if match:
            for code in re.split(r"\s*,\s*", match.group(1)):
                found.add((rel, number, code))
    return found


def expected_under(base: Path) -> set[tuple[str, int, str]]:
    found: set[tuple[str, int, str]] = set()
    for path in sorted(base.rglob("*.py")):
        found |= expected_in(path, base)
    return found


def markers_to_noqa(text: str) -> str:
    """`x  # BGT101, BGT201` -> `x  # noqa: BGT101, BGT201`."""
    return "\n".join(
        MARKER.sub(lambda m: f"# noqa: {m.group(1)}", line) for line in text.split("\n")
    )


def found_by(findings, base: Path) -> set[tuple[str, int, str]]:
    return {(f.path.relative_to(base.resolve()).as_posix(), f.line, f.code) for f in findings}


def describe(missing: set, extra: set) -> str:
    lines = [f"missing {p}:{n}: {c}" for p, n, c in sorted(missing)]
    lines += [f"extra   {p}:{n}: {c}" for p, n, c in sorted(extra)]
    return "\n".join(lines)
