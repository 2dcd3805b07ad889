"""Our own code passes pyflakes' checks (flake8's F codes), through a real flake8 process.

A second `def _raises` in log_fixes.py (0033b98) replaced the first, and the caller of
the first raised TypeError on a module that binds its logger in a `try` whose handler
raises: BGT401 crashed there. F811 says so before any test has to."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_package_the_codemods_and_the_scripts_pass_pyflakes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "F",
         "bgtask_lint", "codemods", "scripts", "bench", "realworld"],
        cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr
