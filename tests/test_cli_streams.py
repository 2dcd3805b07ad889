"""Streams that are closed or strict: a one-line error or quiet output, never a traceback.
Both programs are run (the quick path of a plain `check`, and click's command line)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli_quick_path import APP, QUICK, THROUGH_CLICK

BLOCKING = "import time\n\n\nasync def poll():\n    time.sleep(1)\n"


def _sh(command: list[str], redirect: str, cwd: Path, stdin: bytes | None = None,
        env: dict | None = None) -> subprocess.CompletedProcess:
    """`command` run by a shell with `redirect` (`>&-` closes stdout before it starts)."""
    return subprocess.run(["sh", "-c", f'"$@" {redirect}', "sh", *command], cwd=cwd, input=stdin,
                          capture_output=True, timeout=120, env={**os.environ, "NO_COLOR": "1", **(env or {})})


@pytest.mark.parametrize("program", [QUICK, THROUGH_CLICK], ids=["quick", "click"])
def test_a_closed_stdout_drops_the_report_and_keeps_the_exit_code(tmp_path: Path, program: list[str]) -> None:
    """As click and ruff do: the results go nowhere; exit 1 says there were findings."""
    (tmp_path / "app.py").write_text(APP)
    done = _sh([*program, "check", "--no-cache", "."], ">&-", tmp_path)
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr


def test_fix_with_a_closed_stderr_and_many_files(tmp_path: Path) -> None:
    """Many files to fix ask whether stderr is a terminal (the progress bar)."""
    for i in range(25):
        (tmp_path / f"app{i}.py").write_text(APP)
    done = _sh([*QUICK, "fix", "--no-cache", "."], "2>&-", tmp_path)
    assert done.returncode == 0 and b"Traceback" not in done.stdout  # every finding fixed
    assert "background_tasks.add_task(process, path)" in (tmp_path / "app0.py").read_text()


@pytest.mark.parametrize(("command", "redirect", "message"), [
    (["check", "-"], "<&-", b"-: error: stdin is closed: nothing to check"),
    (["fix", "-"], "<&-", b"-: error: stdin is closed: nothing to fix"),
    (["fix", "-"], ">&-", b"-: error: stdout is closed: nowhere to write the fixed code"),
])
def test_stdin_and_stdout_closed_around_a_stream_command(tmp_path: Path, command: list[str], redirect: str,
                                                          message: bytes) -> None:
    done = _sh([*QUICK, *command], redirect, tmp_path, stdin=None if "<" in redirect else APP.encode())
    assert done.returncode == 2
    assert done.stderr.strip() == message


@pytest.mark.skipif(sys.platform != "linux", reason="file names of any bytes")
@pytest.mark.parametrize("program", [QUICK, THROUGH_CLICK], ids=["quick", "click"])
def test_a_name_that_is_not_utf8_on_a_strict_stream(tmp_path: Path, program: list[str]) -> None:
    """The surrogate Python decodes the byte to cannot be written strictly: it is escaped."""
    name = os.fsencode(tmp_path) + b"/caf\xe9.py"
    with open(name, "wb") as handle:
        handle.write(BLOCKING.encode())
    strict = {"PYTHONIOENCODING": "utf-8:strict"}
    done = _sh([*program, "check", "--no-cache", "."], "", tmp_path, env=strict)
    assert done.returncode == 1 and b"Traceback" not in done.stderr
    assert done.stdout.startswith(b"caf\\udce9.py:5:5: BGT301 ")
    report = tmp_path / "report.txt"
    done = _sh([*program, "check", "--no-cache", "--output-file", str(report), "."], "", tmp_path, env=strict)
    assert done.returncode == 1 and b"Traceback" not in done.stderr
    assert report.read_text().startswith("caf\\udce9.py:5:5: BGT301 ")
