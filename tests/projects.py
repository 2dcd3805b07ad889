"""A project on disk for the tests: pyproject.toml and an `app` package of modules."""

from __future__ import annotations

from pathlib import Path


def write_app(root: Path, modules: dict[str, str], name: str = "demo") -> Path:
    """`root/pyproject.toml` and `root/app/` with `__init__.py` and each `modules` entry
    (module name -> text). Returns the package directory."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f"[project]\nname = '{name}'\n")
    app = root / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    for module, text in modules.items():
        (app / f"{module}.py").write_text(text)
    return app


# a task module and the endpoint that schedules its task wrongly: `fix` fixes the endpoint
# (BGT101), which makes `refresh` a task, then the task module in a second round
TASK_MODULE = """\
import asyncio
import time


async def refresh(user_id: int) -> None:
    await load(user_id)
    time.sleep(1)
"""
ENDPOINT_MODULE = """\
from fastapi import BackgroundTasks

from app.tasks import refresh


def endpoint(background_tasks: BackgroundTasks, user_id: int):
    background_tasks.add_task(refresh(user_id))
"""
