"""Logger facts kept from one state of the index to the next (guards.module_loggers,
guards.module_logger_classes): in the editor every edit makes a new state, and the facts of
the modules the edit did not touch are kept while every module they read is the same
(ProjectIndex.watchers, stamps and layout), without asking their questions again."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bgtask_lint import guards
from bgtask_lint.config import Settings
from bgtask_lint.lsp.service import Service
from bgtask_lint.project import Project
from projects import write_app
from test_lsp import MAIN  # schedules app.tasks.refresh_stock

LOG = "import logging\n\n\ndef get_logger(name):\n    return logging.getLogger(name)\n"
LOG_NO_LOGGER = LOG.replace("logging.getLogger(name)", '{"name": name}')
CALLBACKS = """\
from app.log import get_logger

logger = get_logger(__name__)


def log_failure(message):
    logger.exception(message)
"""
TASKS = """\
from payments import charge

from app.callbacks import log_failure


def refresh_stock(sku):
    try:
        charge(sku)
    except Exception:
        log_failure("refresh failed")
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write_app(tmp_path, {"log": LOG, "callbacks": CALLBACKS, "tasks": TASKS, "main": MAIN,
                                "other": "LIMIT = 1\n"})


def _swallowed(service: Service, path: Path) -> list[int]:
    return [f.line for f in service.check(path).findings if f.code == "BGT402"]


def test_an_edit_of_a_factory_reaches_a_task_that_logs_through_a_helper(app: Path) -> None:
    """tasks.py logs through callbacks.log_failure, whose logger callbacks.py makes with a
    factory of log.py: the bindings kept for callbacks.py read log.py, so an edit of log.py
    that makes the factory return no logger is seen in tasks.py (and undone)."""
    service = Service([app.parent])
    tasks, log = app / "tasks.py", app / "log.py"
    service.open(tasks.as_uri(), tasks, TASKS, 1)
    service.open(log.as_uri(), log, LOG, 1)
    assert _swallowed(service, tasks) == []
    service.change(log.as_uri(), log, LOG_NO_LOGGER, 2)
    assert _swallowed(service, tasks) == [9]  # the handler's helper no longer logs
    service.change(log.as_uri(), log, LOG, 3)
    assert _swallowed(service, tasks) == []


def test_an_edit_elsewhere_keeps_the_bindings_without_asking_again(app: Path, monkeypatch) -> None:
    service = Service([app.parent])
    tasks, other = app / "tasks.py", app / "other.py"
    service.open(tasks.as_uri(), tasks, TASKS, 1)
    service.open(other.as_uri(), other, "LIMIT = 1\n", 1)
    assert _swallowed(service, tasks) == []
    index = service.state(service.root_for(tasks)).project.index
    callbacks = index.by_path[app / "callbacks.py"]
    assert guards.module_loggers(index, callbacks) == {"logger": "logging"}
    askers: list[Path] = []
    real = guards._external_answer
    monkeypatch.setattr(guards, "_external_answer",
                        lambda index, asker, *rest: askers.append(asker.path) or real(index, asker, *rest))
    service.change(other.as_uri(), other, "LIMIT = 2\n", 2)
    assert _swallowed(service, tasks) == []
    assert guards.module_loggers(index, callbacks) == {"logger": "logging"}
    assert callbacks.path not in askers  # kept: log.py and callbacks.py are the same


BASE = "import logging\n\n\nclass AppLogger(logging.LoggerAdapter):\n    pass\n"
SUBCLASS = "from app.base import AppLogger\n\n\nclass AuditLogger(AppLogger):\n    pass\n"


def test_logger_types_follow_an_edit_of_their_base(tmp_path: Path) -> None:
    app = write_app(tmp_path, {"base": BASE, "audit": SUBCLASS})
    project = Project.load([tmp_path], Settings(), root=tmp_path)
    index = project.index
    audit = index.by_path[app / "audit.py"]
    assert guards.module_logger_classes(index, audit) == {"AuditLogger": "logging"}
    project.replace(app / "base.py", BASE.replace("(logging.LoggerAdapter)", "(dict)"))
    assert guards.module_logger_classes(index, audit) == {}
    project.replace(app / "base.py", BASE)
    assert guards.module_logger_classes(index, audit) == {"AuditLogger": "logging"}
    project.replace(app / "other.py", "LIMIT = 1\n")  # a new file: lookups may answer otherwise
    assert guards.module_logger_classes(index, audit) == {"AuditLogger": "logging"}


def test_a_module_read_while_finding_a_base_class_is_a_dependency(tmp_path: Path) -> None:
    """A class's project bases are memoized (ProjectIndex._project_bases). A fact that
    found them in the memo depends on what finding them read all the same: here middle.py,
    which no other question reads."""
    factory = "import logging\n\n\nclass Factory:\n    @classmethod\n    def make(cls):\n" \
              "        return logging.getLogger('app')\n"
    middle = "from app.factory import Factory\n\n\nclass Middle(Factory):\n    pass\n"
    uses = "from app.base import AppLogger\n\nlogger = AppLogger.make()\n"
    app = write_app(tmp_path, {"factory": factory, "middle": middle, "first": uses, "audit": uses,
                               "base": "from app.middle import Middle\n\n\nclass AppLogger(Middle):\n    pass\n"})
    project = Project.load([tmp_path], Settings(), root=tmp_path)
    index = project.index
    first, audit = index.by_path[app / "first.py"], index.by_path[app / "audit.py"]
    assert guards.module_loggers(index, first) == {"logger": "logging"}  # AppLogger's bases memoized
    assert guards.module_loggers(index, audit) == {"logger": "logging"}  # found them in the memo
    project.replace(app / "middle.py", middle.replace("(Factory)", ""))
    assert guards.module_loggers(index, audit) == {}


def test_what_judging_a_factory_method_read_is_a_dependency(tmp_path: Path) -> None:
    """A class's factory methods are judged when first asked and kept in its module's
    bindings; a later fact that uses them depends on what judging them read: builder.py."""
    builder = "import logging\n\n\ndef build():\n    return logging.getLogger('app')\n"
    factory = "from app.builder import build\n\n\nclass Factory:\n    @classmethod\n    def make(cls):\n" \
              "        return build()\n"
    uses = "from app.factory import Factory\n\nlogger = Factory.make()\n"
    app = write_app(tmp_path, {"builder": builder, "factory": factory, "first": uses, "audit": uses})
    project = Project.load([tmp_path], Settings(), root=tmp_path)
    index = project.index
    first, audit = index.by_path[app / "first.py"], index.by_path[app / "audit.py"]
    assert guards.module_loggers(index, first) == {"logger": "logging"}  # Factory.make judged
    assert guards.module_loggers(index, audit) == {"logger": "logging"}  # and found judged
    project.replace(app / "builder.py", builder.replace("logging.getLogger('app')", "{}"))
    assert guards.module_loggers(index, audit) == {}


def test_kept_facts_found_in_a_recorded_frame_record_what_they_read(tmp_path: Path) -> None:
    """The on-disk cache records what each check read (cache/deps.py). Facts kept from an
    earlier state of the index, found without asking again, would record nothing: with a
    recorder, they are asked again, and the frame lists the modules they read."""
    from bgtask_lint.cache.deps import Recorder, RecordingMemo

    app = write_app(tmp_path, {"log": LOG, "callbacks": CALLBACKS, "base": BASE, "audit": SUBCLASS})
    index = Project.load([tmp_path], Settings(), root=tmp_path).index
    index.recorder = recorder = Recorder()
    index.cache = RecordingMemo(recorder)
    callbacks, audit = index.by_path[app / "callbacks.py"], index.by_path[app / "audit.py"]
    # outside any frame (kept with the modules), then forgotten, as a cached run forgets
    # what it memoized before its checks
    assert guards.module_loggers(index, callbacks) == {"logger": "logging"}
    assert guards.module_logger_classes(index, audit) == {"AuditLogger": "logging"}
    index.cache.clear()
    _, deps = recorder.frame(lambda: guards.module_loggers(index, callbacks))
    assert str(app / "log.py") in deps.reads
    _, deps = recorder.frame(lambda: guards.module_logger_classes(index, audit))
    assert str(app / "base.py") in deps.reads


def test_a_factory_method_is_judged_by_its_returns_until_one_is_not_a_logger(tmp_path: Path,
                                                                              monkeypatch) -> None:
    """A method returns a logger only when every return does: once one does not, the
    others are not judged (an edit of a 385 KiB module spent a quarter of its time judging
    every return of every method of its classes). The answers stay the same."""
    from bgtask_lint import loggers

    factory = ("import logging\n\n\nclass Factory:\n"
               "    @classmethod\n    def make(cls, quiet):\n        if quiet > 1:\n            return logging.getLogger('a')\n"
               "        if quiet:\n            return None\n        return logging.getLogger('c')\n\n"
               "    @classmethod\n    def real(cls):\n        return logging.getLogger('app')\n")
    uses = "from app.factory import Factory\n\nlogger = Factory.make(True)\nreal = Factory.real()\n"
    app = write_app(tmp_path, {"factory": factory, "uses": uses})
    judged: list[str] = []
    real_kind = loggers._kind

    def counted(expr, *args, **kwargs):
        if isinstance(expr, ast.Call) or (isinstance(expr, ast.Constant) and expr.value is None):
            judged.append(ast.unparse(expr))
        return real_kind(expr, *args, **kwargs)

    monkeypatch.setattr(loggers, "_kind", counted)
    project = Project.load([tmp_path], Settings(), root=tmp_path)
    assert guards.module_loggers(project.index, project.index.by_path[app / "uses.py"]) == {"real": "logging"}
    # make's returns, in the order they are walked: once `None` is judged, the one after it is not
    assert "None" in judged
    assert not {"logging.getLogger('a')", "logging.getLogger('c')"} <= set(judged)
    assert judged.count("logging.getLogger('app')") == 1  # real's only return
