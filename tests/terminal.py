"""Running the real program on a pseudo-terminal (for what it prints only to a terminal:
colours, hints, progress), shared by the command-line tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """`python -m bgtask_lint *args` with stdout and stderr on a pseudo-terminal: (exit code, output)."""
    import pty

    main_fd, child_fd = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.run([sys.executable, "-m", "bgtask_lint", *args], stdout=child_fd, stderr=child_fd,
                          cwd=cwd, env=env, timeout=300)
    os.close(child_fd)
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:  # EIO: the other end is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main_fd)
    return proc.returncode, b"".join(chunks).decode()
