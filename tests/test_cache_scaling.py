"""A cached run asks the same questions as an uncached one, and must not ask them more
often than the module has answers: the work of a question about one task's sites grows
with that module's sites, not with its sites times its tasks. Counted, not timed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgtask_lint.index import ProjectIndex
from test_cache import codes, run

TASKS = 60  # each unguarded, each scheduled once, all from the module that defines them


def _many_tasks_module() -> str:
    parts = ["from fastapi import BackgroundTasks, FastAPI\n\napp = FastAPI()\n"]
    for n in range(TASKS):
        parts.append(f'''

def job_{n}(item_id: int) -> None:
    work({n}, item_id)


@app.post("/items/{n}")
def create_{n}(item_id: int, background_tasks: BackgroundTasks) -> dict:
    background_tasks.add_task(job_{n}, item_id)
    return {{"ok": True}}
''')
    return "".join(parts)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("")
    (root / "app.py").write_text(_many_tasks_module())
    return root


def test_a_module_of_many_tasks_resolves_each_site_a_bounded_number_of_times(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resolved: list[int] = []
    resolve = ProjectIndex.resolve_task

    def counting(self, module, site):
        resolved.append(1)
        return resolve(self, module, site)

    monkeypatch.setattr(ProjectIndex, "resolve_task", counting)
    (project / "app.py").write_text(_many_tasks_module() + "\n# edited\n")  # no cache yet: a cold cached run
    found, stats = run(project)  # (the cached run's findings are compared with an uncached run's there)
    assert stats["checked"] == 1
    assert sum(1 for f in found if f.code == "BGT401") == TASKS
    assert codes(found, project) == {("app.py", "BGT401")}
    # both runs together: a few resolutions per site (360 here); asking per task resolved
    # every site once per task, TASKS per site (more than 3,600)
    assert len(resolved) < 20 * TASKS, len(resolved)
