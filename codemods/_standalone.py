"""Targets for a command run stand-alone (`python -m libcst.tool codemod`): the findings
`bgtask-lint check` reports for the file, with its whole project around it."""

from __future__ import annotations

from pathlib import Path

from bgtask_lint.config import Settings
from bgtask_lint.files import SourceError
from bgtask_lint.fix import targets_from_findings
from bgtask_lint.guards import GuardModel, guard_model
from bgtask_lint.project import Project, shared_project

Target = tuple[int, int, int, int]


def standalone_targets(code: str, rule_code: str, filename: str | None, unsafe: bool,
                       connect_timeout: float | None = None) -> tuple[set[Target], GuardModel | None]:
    """Targets in this module, found with its project (a task scheduled from another module
    is a task here too), and the module's guard model there, which the command decides
    with (as fix.py hands it). Without a file name (code on stdin) the module stands alone."""
    overrides = {"connect_timeout": connect_timeout}
    try:
        if filename is None:
            path = Path("stdin.py").resolve()
            project = Project(path.parent, Settings().with_overrides(**overrides))
        else:
            path = Path(filename).resolve()
            project = shared_project(path, overrides)
        findings = project.check_text(path, code, only=(rule_code,))
    except SourceError:
        return set(), None
    module = project.module(path)
    model = guard_model(project.index, module) if module is not None else None
    return targets_from_findings(findings, rule_code, unsafe), model
