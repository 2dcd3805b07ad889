"""The shipped example app gives exactly the findings listed in examples/EXPECTED.txt."""

from pathlib import Path

from bgtask_lint.config import Settings
from bgtask_lint.runner import check_paths

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_example_app_findings() -> None:
    expected = set()
    for line in (EXAMPLES / "EXPECTED.txt").read_text().splitlines():
        if line.strip():
            location, code = line.rsplit(" ", 1)
            path, number, _ = location.split(":")
            expected.add((path, int(number), code))
    result = check_paths([EXAMPLES], Settings(), root=EXAMPLES)
    found = {(f.path.relative_to(EXAMPLES.resolve()).as_posix(), f.line, f.code) for f in result.findings}
    assert found == expected
