"""Safe means safe for the logging fixes (BGT401, BGT402; V2.7, V2.9): loggers by binding,
levels kept, each library's idiom, no double logging, and the checker and the codemod
agree on every case. Each "wrong today" item of issue 11 is a test here; the behaviour
tests run the code before and after the fix and compare the log records."""

from __future__ import annotations

import ast
import io
import logging
import subprocess
import sys
import types
from pathlib import Path

import pytest

from bgtask_lint.config import Settings
from bgtask_lint.guards import guard_model
from bgtask_lint.log_fixes import GuardFix, HandlerFix, NoFix, guard_fix
from bgtask_lint.loggers import is_logger_expr
from bgtask_lint.project import Project

# every fix here must be the same whether a command sees the whole module or its skeleton
pytestmark = pytest.mark.usefixtures("whole_and_cut_modules")

ENDPOINT = """

def endpoint(background_tasks: BackgroundTasks):
    background_tasks.add_task({task}, 1)
"""


def task_module(imports: str, body: str, task: str = "job") -> str:
    return f"from fastapi import BackgroundTasks\n{imports}\n\n{body}" + ENDPOINT.format(task=task)


def fix(tmp_path: Path, text: str, name: str = "jobs.py", codes: tuple[str, ...] = ("BGT401", "BGT402")):
    """(findings of `codes` before, the fixed text), with `text` as `name` in a project at tmp_path."""
    path = tmp_path / name
    path.write_text(text)
    project = Project.load([tmp_path], Settings().with_overrides(select=codes))
    findings = project.check(project.module(path))
    return findings, project.fix_text(path, text).new_text


def no_safe_fix(tmp_path: Path, text: str, code: str, reason: str) -> None:
    """Fixing `code` in `text`: one finding, without a safe fix, whose message gives
    `reason`; the text is left as it was."""
    findings, fixed = fix(tmp_path, text, codes=(code,))
    finding = only(findings, code)
    assert finding.fix is None and reason in finding.message, finding.message
    assert fixed == text


def only(findings, code):
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, findings
    return found[0]


# --- wrong today (issue 11): each fails on the old codemods --------------------------------


def test_math_log_is_not_a_logger(tmp_path: Path) -> None:
    text = task_module("from math import log", "def job(x):\n    return log(x)\n")
    finding, fixed = only(fix(tmp_path, text)[0], "BGT401"), fix(tmp_path, text)[1]
    assert finding.fix == "safe"
    assert "log.exception" not in fixed
    assert "logger = logging.getLogger(__name__)" in fixed
    assert 'logger.exception("background task %s failed", "job")' in fixed


def test_dialog_error_is_not_a_log_call(tmp_path: Path) -> None:
    body = ("def job(x):\n    try:\n        work(x)\n    except Exception as e:\n"
            "        dialog.error(str(e))\n")
    text = task_module("import logging\nlogger = logging.getLogger(__name__)\nfrom ui import dialog", body)
    findings, fixed = fix(tmp_path, text, codes=("BGT402",))
    finding = only(findings, "BGT402")
    assert finding.fix is None and "no safe fix" in finding.message
    assert "dialog.exception" not in fixed and fixed == text


def test_parameter_named_logger_is_not_the_module_logger(tmp_path: Path) -> None:
    body = ("def job(x, logger=None):\n    try:\n        work(x)\n    except Exception:\n        pass\n")
    text = task_module("import logging\nlogger = logging.getLogger(__name__)", body)
    findings, fixed = fix(tmp_path, text, codes=("BGT402",))
    finding = only(findings, "BGT402")
    assert finding.fix is None and "shadowed" in finding.message
    assert fixed == text  # never `None.exception(...)`


def test_parameter_named_logger_gets_no_new_module_logger(tmp_path: Path) -> None:
    text = task_module("", "def job(x, logger=None):\n    work(x)\n")
    findings, fixed = fix(tmp_path, text, codes=("BGT401",))
    assert only(findings, "BGT401").fix is None
    assert fixed == text


def test_logger_none_set_at_startup_gets_no_second_binding(tmp_path: Path) -> None:
    imports = "logger = None  # set by configure() at start-up\n\ndef configure(lg):\n    global logger\n    logger = lg\n"
    text = task_module(imports, "def job(x):\n    work(x)\n")
    findings, fixed = fix(tmp_path, text, codes=("BGT401",))
    finding = only(findings, "BGT401")
    assert finding.fix is None and "`logger` is already bound" in finding.message
    assert fixed.count("logger =") == text.count("logger =")


def test_loguru_gets_braces_never_percent(tmp_path: Path) -> None:
    body = ("def job(x):\n    try:\n        work(x)\n    except Exception as e:\n"
            "        print('job failed:', e)\n")
    text = task_module("from loguru import logger", body)
    fixed = fix(tmp_path, text, codes=("BGT402",))[1]
    assert "logger.exception('{} {}', 'job failed:', e)" in fixed  # quoted as the module quotes
    assert "%s" not in fixed


def test_loguru_guard_message_uses_braces(tmp_path: Path) -> None:
    text = task_module("from loguru import logger", "def job(x):\n    work(x)\n")
    fixed = fix(tmp_path, text, codes=("BGT401",))[1]
    assert 'logger.exception("background task {} failed", "job")' in fixed
    assert "getLogger" not in fixed


def test_warning_keeps_its_level(tmp_path: Path) -> None:
    body = ("def job(x):\n    try:\n        work(x)\n    except Exception as e:\n"
            "        logger.warning('retrying %s: %s', x, e)\n")
    text = task_module("import logging\nlogger = logging.getLogger(__name__)", body)
    fixed = fix(tmp_path, text, codes=("BGT402",))[1]
    assert "logger.warning('retrying %s: %s', x, e, exc_info=True)" in fixed
    assert "logger.exception" not in fixed


def test_loguru_warning_keeps_level_with_opt(tmp_path: Path) -> None:
    body = ("def job(x):\n    try:\n        work(x)\n    except Exception as e:\n"
            "        logger.warning('retrying {}: {}', x, e)\n")
    text = task_module("from loguru import logger", body)
    fixed = fix(tmp_path, text, codes=("BGT402",))[1]
    assert "logger.opt(exception=True).warning('retrying {}: {}', x, e)" in fixed


def test_exc_info_false_is_honoured(tmp_path: Path) -> None:
    body = ("def job(url):\n    try:\n        fetch(url)\n    except Exception as e:\n"
            "        LOG.error('fetch failed: %s', e, exc_info=False)\n")
    text = task_module("import logging\nLOG = logging.getLogger(__name__)", body)
    findings, fixed = fix(tmp_path, text, codes=("BGT402",))
    assert not findings and fixed == text


WRAPPER = "import logging\nLOG = logging.getLogger(__name__)\n\n\ndef log_error(msg, *args, **kwargs):\n    LOG.error(msg, *args, **kwargs)\n"


def test_a_logging_wrapper_given_exc_info_logs_the_traceback(tmp_path: Path) -> None:
    body = ("def job(url):\n    try:\n        fetch(url)\n    except Exception:\n"
            "        log_error('fetch failed', exc_info=True)\n")
    findings, fixed = fix(tmp_path, task_module(WRAPPER, body))
    assert not findings and fixed == task_module(WRAPPER, body)


def test_a_logging_wrapper_without_exc_info_is_named_not_rewritten(tmp_path: Path) -> None:
    """The handler logs (through the wrapper) without the traceback: BGT402, and the reason
    there is no fix names the wrapper instead of saying nothing is logged."""
    body = ("def job(url):\n    try:\n        fetch(url)\n    except Exception:\n"
            "        log_error('fetch failed')\n")
    text = task_module(WRAPPER, body)
    no_safe_fix(tmp_path, text, "BGT402", "`log_error` hands its keyword arguments to a log call")


def test_comment_about_the_traceback_blocks_the_fix(tmp_path: Path) -> None:
    body = ("def job(url):\n    try:\n        fetch(url)\n    except Exception as e:\n"
            "        # no traceback: the exception text carries a signed URL\n"
            "        LOG.error('fetch failed: %s', type(e).__name__)\n")
    text = task_module("import logging\nLOG = logging.getLogger(__name__)", body)
    no_safe_fix(tmp_path, text, "BGT402", "exc_info=False")


def test_comment_about_the_traceback_blocks_the_fix_with_crlf_line_ends(tmp_path: Path) -> None:
    body = ("def job(url):\n    try:\n        fetch(url)\n    except Exception as e:\n"
            "        LOG.error('fetch failed: %s', type(e).__name__)  # No Traceback: a signed URL\n")
    text = task_module("import logging\nLOG = logging.getLogger(__name__)", body).replace("\n", "\r\n")
    (tmp_path / "jobs.py").write_bytes(text.encode())
    project = Project.load([tmp_path], Settings().with_overrides(select=("BGT402",)))
    finding = only(project.check(project.module(tmp_path / "jobs.py")), "BGT402")
    assert finding.fix is None and "exc_info=False" in finding.message


def test_a_traceback_word_outside_a_comment_does_not_block_the_fix(tmp_path: Path) -> None:
    body = ("def job(url):\n    try:\n        fetch(url)\n    except Exception as e:\n"
            "        LOG.error('traceback of %s follows', url)\n")
    text = task_module("import logging\nLOG = logging.getLogger(__name__)", body)
    findings, fixed = fix(tmp_path, text, codes=("BGT402",))
    assert only(findings, "BGT402").fix == "safe"
    assert "LOG.exception('traceback of %s follows', url)" in fixed


def test_a_check_tokenizes_no_module_whose_handlers_name_no_traceback_word(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deciding fixability reads no quote style, and a handler's comments only when its
    lines name a traceback word: a check of a 1 MB module spent 0.3 s tokenizing it."""
    from bgtask_lint import log_fixes

    body = ("def job(url):\n    try:\n        fetch(url)\n    except Exception as e:\n"
            "        print('fetch failed', e)  # retried later\n\n"
            "def other(url):\n    fetch(url)\n")
    text = task_module("import logging\nLOG = logging.getLogger(__name__)", body).replace(
        "add_task(job, 1)", "add_task(job, 1)\n    background_tasks.add_task(other, 1)")
    tokenized: list[str] = []  # (scanned: see test_the_comment_and_quote_scan_is_what_tokenize_finds)
    real = log_fixes.comments_and_quote
    monkeypatch.setattr(log_fixes, "comments_and_quote", lambda source: tokenized.append("x") or real(source))
    path = tmp_path / "jobs.py"
    path.write_text(text)
    project = Project.load([tmp_path], Settings().with_overrides(select=("BGT401", "BGT402")))
    findings = project.check(project.module(path))
    assert {f.code: f.fix for f in findings} == {"BGT401": "safe", "BGT402": "safe"}, findings
    assert tokenized == []
    fixed = project.fix_text(path, text).new_text
    assert tokenized  # the fix writes in the module's quotes
    assert "LOG.exception('%s %s', 'fetch failed', e)" in fixed
    assert "LOG.exception('background task %s failed', 'other')" in fixed


def test_pass_without_a_logger_has_no_safe_fix(tmp_path: Path) -> None:
    body = "def job(x):\n    try:\n        work(x)\n    except Exception:\n        pass\n"
    findings, fixed = fix(tmp_path, task_module("", body), codes=("BGT402",))
    finding = only(findings, "BGT402")
    assert finding.fix is None and "no logger is bound" in finding.message
    assert "logging" not in fixed


@pytest.mark.parametrize("block", ["while not stopped():", "with lock:"])
def test_guarded_one_level_down_is_not_wrapped_again(tmp_path: Path, block: str) -> None:
    body = (f"def job(x):\n    prepare(x)\n    {block}\n        try:\n            work(x)\n"
            "        except Exception:\n            logger.exception('work failed')\n            raise\n")
    text = task_module("import logging\nlogger = logging.getLogger(__name__)", body)
    no_safe_fix(tmp_path, text, "BGT401", "log those failures twice")


TASK_GROUP = """import anyio
import logging

logger = logging.getLogger(__name__)


async def pump(stream):
    async for item in stream:
        await forward(item)


async def serve(stream):
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, stream)
    except Exception:
        logger.exception("serving failed")
"""


def test_a_task_group_child_is_reported_but_not_wrapped(tmp_path: Path) -> None:
    """`tg.start_soon(pump)`: the group's `async with` receives pump's exception, and here
    logs it; wrapping pump would log every failure twice. Still reported (the contract
    names start_soon's function a task), with what to do instead."""
    findings, fixed = fix(tmp_path, TASK_GROUP, codes=("BGT401",))
    finding = only(findings, "BGT401")
    assert finding.fix is None and "started only in task groups" in finding.message
    assert fixed == TASK_GROUP


def test_a_task_also_started_outside_a_group_is_wrapped(tmp_path: Path) -> None:
    text = TASK_GROUP + "\n\ndef later(background_tasks, stream):\n    background_tasks.add_task(pump, stream)\n"
    findings, fixed = fix(tmp_path, text, codes=("BGT401",))
    assert only(findings, "BGT401").fix == "safe"
    assert "logger.exception(\"background task %s failed\", \"pump\")" in fixed


def test_a_log_call_on_what_is_not_provably_a_logger_is_named(tmp_path: Path) -> None:
    """`sink.error(f"...{e}")` on a parameter: maybe a logger, maybe not. No fix, and the
    finding names the call instead of saying that nothing is logged."""
    body = "def job(x, sink):\n    try:\n        work(x)\n    except Exception as e:\n        sink.error(f'failed: {e}')\n"
    text = task_module("import logging\nlogger = logging.getLogger(__name__)", body)
    findings, fixed = fix(tmp_path, text, codes=("BGT402",))
    finding = only(findings, "BGT402")
    assert finding.fix is None and "`sink` is not provably a logger" in finding.message
    assert "give its .error() exc_info=True" in finding.message and fixed == text


SELF_LOGGER = """import logging

from fastapi import BackgroundTasks

logger = logging.getLogger(__name__)


class Syncer:
    def __init__(self):
        self._log = logging.getLogger("syncer")

    def run(self, x):
        self._log.info("syncing %s", x)
        work(x)

    def endpoint(self, background_tasks: BackgroundTasks):
        background_tasks.add_task(self.run, 1)
"""


def test_a_method_that_logs_with_its_own_logger_is_guarded_with_it(tmp_path: Path) -> None:
    """The method already logs through `self._log`: the wrap logs there too, not through the
    module's `logger` (a reviewer: a second logger beside the class's own setup)."""
    findings, fixed = fix(tmp_path, SELF_LOGGER, codes=("BGT401",))
    assert only(findings, "BGT401").fix == "safe"
    assert "self._log.exception(\"background task %s failed\", \"run\")" in fixed
    assert "logger.exception" not in fixed.replace("self._log.exception", "")


def test_log_and_raise_on_different_paths_is_wrapped(tmp_path: Path) -> None:
    """The inner handler logs on one path and raises (unlogged) on another: no failure is
    logged twice, so the body is wrapped."""
    body = ("def job(x):\n    prepare(x)\n    while True:\n        try:\n            work(x)\n"
            "        except Exception as exc:\n            if x:\n                logger.debug('retry', exc_info=exc)\n"
            "            else:\n                raise\n")
    text = task_module("import logging\nlogger = logging.getLogger(__name__)", body)
    findings, fixed = fix(tmp_path, text, codes=("BGT401",))
    assert only(findings, "BGT401").fix == "safe"
    assert "logger.exception('background task %s failed', 'job')" in fixed  # the module quotes with '


def test_exception_let_out_on_purpose_is_not_logged_as_a_failure(tmp_path: Path) -> None:
    """`except StopConsumer: ...; raise` stops a consumer: a wrapping `except Exception`
    would log every normal stop as an error."""
    body = ("def job(x):\n    prepare(x)\n    while True:\n        try:\n            handle(x)\n        except StopConsumer:\n"
            "            retry(x)\n            raise\n        except Exception:\n"
            "            logger.exception('failed')\n")
    text = task_module("import logging\nlogger = logging.getLogger(__name__)", body)
    no_safe_fix(tmp_path, text, "BGT401", "raises StopConsumer on purpose")


UNEXPECTED_LET_OUT = ("def job(x):\n    try:\n        close(x)\n    except AttributeError as e:\n"
                      "        if 'transfer_data_task' not in str(e):\n            {raise_}\n"
                      "        logger.debug('ignored: %s', e)\n    work(x)\n")


@pytest.mark.parametrize("raise_", ["raise", "raise e"])
def test_builtin_errors_let_out_when_unexpected_are_failures_to_log(tmp_path: Path, raise_: str) -> None:
    """`except AttributeError as e: if <not the known one>: raise` lets out the errors it
    did not expect: failures (seen in marimo and zenml), which the wrap logs, once."""
    helpers = ("def close(x):\n    if x == 1:\n        raise AttributeError('no transfer_data_task')\n"
               "    raise AttributeError('something else')\n\n\n")
    text = task_module(LOGGER_PRELUDE, FAILING_WORK + helpers + UNEXPECTED_LET_OUT.format(raise_=raise_))
    findings, fixed = fix(tmp_path, text, codes=("BGT401",))
    assert only(findings, "BGT401").fix == "safe"
    for argument, escapes in (("1", ValueError), ("2", AttributeError)):
        before, after = run_module(text, f"job({argument})"), run_module(fixed, f"job({argument})")
        assert before[0] is after[0] is escapes
        assert [r for r in before[1] if r[0] == "ERROR"] == []
        assert [(level, traceback) for level, _, traceback in after[1] if level == "ERROR"] == [("ERROR", True)]


def test_a_builtin_error_let_out_unconditionally_stays_a_signal(tmp_path: Path) -> None:
    """`except KeyError: raise` ahead of `except Exception:` lets KeyError past the log
    on purpose: no wrap."""
    body = ("def job(x):\n    prepare(x)\n    try:\n        work(x)\n    except KeyError:\n        raise\n"
            "    except Exception:\n        logger.exception('failed')\n")
    text = task_module(LOGGER_PRELUDE, body)
    no_safe_fix(tmp_path, text, "BGT401", "raises KeyError on purpose")


def test_cancellation_reraised_does_not_block_the_wrap(tmp_path: Path) -> None:
    """`except asyncio.CancelledError: raise`: `except Exception` never sees it, so the
    wrap logs nothing more than before."""
    body = ("async def job(x):\n    await prepare(x)\n    try:\n        await work(x)\n"
            "    except asyncio.CancelledError:\n        await cleanup(x)\n        raise\n")
    text = task_module("import asyncio\nimport logging\nlogger = logging.getLogger(__name__)", body)
    findings, fixed = fix(tmp_path, text, codes=("BGT401",))
    assert only(findings, "BGT401").fix == "safe"
    assert 'logger.exception("background task %s failed", "job")' in fixed


def test_guard_decorator_is_never_wrapped(tmp_path: Path) -> None:
    text = (
        "import functools, logging\nlogger = logging.getLogger(__name__)\n\n"
        "def guarded(func):\n    @functools.wraps(func)\n    def wrapper(*a):\n        try:\n"
        "            return func(*a)\n        except Exception:\n            logger.exception('failed')\n"
        "            raise\n    return wrapper\n\n@guarded\ndef job(x):\n    work(x)\n"
    )
    tree = ast.parse(text)
    project = Project(tmp_path, Settings())
    module = project.replace(tmp_path / "m.py", text)
    function = next(n for n in ast.walk(module.tree) if isinstance(n, ast.FunctionDef) and n.name == "job")
    plan = guard_fix(guard_model(project.index, module), function)
    assert isinstance(plan, NoFix) and "decorator" in plan.reason
    assert tree  # parsed


# --- the checker and the codemod agree -------------------------------------------------------

# (module prelude, what the fixed handler or guard must log with; None: no safe fix)
LOGGER_TABLE = [
    ("import logging\nlogger = logging.getLogger(__name__)", "logger"),
    ("import logging\nlog = logging.getLogger('jobs')", "log"),
    ("import logging as lg\nLOGGER = lg.getLogger(__name__)", "LOGGER"),
    ("from loguru import logger", "logger"),
    ("import structlog\nlogger = structlog.get_logger()", "logger"),
    ("from math import log", None),
    ("log = []", None),
    ("logger = None", None),
    ("from somewhere_unknown import logger", None),
    ("import logging", None),  # the logging module itself is not a logger object
]


@pytest.mark.parametrize("prelude,expected", LOGGER_TABLE, ids=[p for p, _ in LOGGER_TABLE])
def test_checker_and_codemod_agree_on_loggers(tmp_path: Path, prelude: str, expected: str | None) -> None:
    body = "def job(x):\n    try:\n        work(x)\n    except Exception:\n        pass\n"
    text = task_module(prelude, body)
    findings, fixed = fix(tmp_path, text, codes=("BGT402",))
    finding = only(findings, "BGT402")
    # loggers.py (the checker's catalogue) says whether the name is a logger ...
    module = ast.parse(text)
    from bgtask_lint.loggers import logger_bindings

    bindings = logger_bindings(module)
    function = next(n for n in ast.walk(module) if isinstance(n, ast.FunctionDef) and n.name == "job")
    if expected is not None:
        assert is_logger_expr(ast.Name(id=expected, ctx=ast.Load()), bindings, function)
    # ... the rule's fix applicability follows it, and the codemod does what the rule said
    assert (finding.fix == "safe") == (expected is not None)
    if expected is None:
        assert fixed == text
    else:
        assert f"{expected}.exception(" in fixed
        assert fix(tmp_path, fixed, codes=("BGT402",))[0] == []  # nothing left


def test_imported_project_logger_is_known_through_the_index(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "log.py").write_text("from loguru import logger\n")
    body = ("def job(x):\n    try:\n        work(x)\n    except Exception as e:\n"
            "        logger.warning('retrying {}', e)\n\n\ndef other(x):\n    work(x)\n")
    text = task_module("from app.log import logger", body) + "    background_tasks.add_task(other, 2)\n"
    path = tmp_path / "app" / "jobs.py"
    findings, fixed = fix(tmp_path, text, name="app/jobs.py")
    assert {f.code: f.fix for f in findings} == {"BGT402": "safe", "BGT401": "safe"}
    # a loguru logger, known only through app/log.py: loguru's idioms, and no new logger
    assert "logger.opt(exception=True).warning('retrying {}', e)" in fixed
    assert "logger.exception('background task {} failed', 'other')" in fixed
    assert "getLogger" not in fixed
    assert path.exists()


def test_plans_are_typed() -> None:
    assert {GuardFix, HandlerFix, NoFix}  # the three answers log_fixes gives


# --- behaviour: run the code before and after the fix ------------------------------------------


def run_module(text: str, call: str, records_from: str = "logging"):
    """Execute `text`, call `call`; return (exception type or None, records, stdout).
    records: (level name, message, traceback present)."""
    module = types.ModuleType("bgt_behaviour")
    records: list[tuple[str, str, bool]] = []
    stdout = io.StringIO()
    handler = None
    sink_id = None
    if records_from == "logging":
        class Capture(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                records.append((record.levelname, record.getMessage(), record.exc_info is not None))

        handler = Capture()
        logging.getLogger().addHandler(handler)
    else:
        from loguru import logger as loguru_logger

        def sink(message) -> None:
            record = message.record
            records.append((record["level"].name, record["message"], record["exception"] is not None))

        loguru_logger.remove()
        sink_id = loguru_logger.add(sink, level="DEBUG")
    raised = None
    old_stdout = sys.stdout
    try:
        exec(compile(text, "bgt_behaviour.py", "exec"), module.__dict__)
        sys.stdout = stdout
        try:
            eval(call, module.__dict__)
        except Exception as exc:  # noqa: BLE001 - the behaviour under test
            raised = type(exc)
    finally:
        sys.stdout = old_stdout
        if handler is not None:
            logging.getLogger().removeHandler(handler)
        if sink_id is not None:
            from loguru import logger as loguru_logger

            loguru_logger.remove(sink_id)
    return raised, records, stdout.getvalue()


FAILING_WORK = "def work(x):\n    raise ValueError(f'bad {x}')\n\n\n"


@pytest.mark.parametrize("prelude,records_from", [
    ("import logging\nlogger = logging.getLogger('bgt.test')", "logging"),
    ("", "logging"),
    ("from loguru import logger", "loguru"),
])
def test_guard_fix_behaviour(tmp_path: Path, prelude: str, records_from: str) -> None:
    text = task_module(prelude, FAILING_WORK + "def job(x):\n    y = x + 1\n    work(y)\n")
    assert_guard_logs_the_failure(tmp_path, text, "job(1)", records_from)


def assert_guard_logs_the_failure(tmp_path: Path, text: str, call: str, records_from: str = "logging") -> None:
    """The BGT401 fix of `text`, run with `call` before and after: the same ValueError
    propagates, and only afterwards one ERROR record with the traceback says so."""
    fixed = fix(tmp_path, text, codes=("BGT401",))[1]
    assert fixed != text
    before = run_module(text, call, records_from)
    after = run_module(fixed, call, records_from)
    assert before[0] is after[0] is ValueError  # the same failure still propagates
    assert before[1] == []
    assert after[1] == [("ERROR", "background task job failed", True)]


def test_guard_fix_through_the_method_s_own_logger_behaves(tmp_path: Path) -> None:
    """Run before and after: the same ValueError propagates, and afterwards one ERROR record
    with the traceback comes through `self._log` (the module's logger is switched off here,
    so a wrap through it would log nothing)."""
    text = FAILING_WORK + SELF_LOGGER.replace(
        "logger = logging.getLogger(__name__)\n", "logger = logging.getLogger('module_level')\nlogger.disabled = True\n")
    fixed = fix(tmp_path, text, codes=("BGT401",))[1]
    assert fixed != text
    before = run_module(text, "Syncer().run(1)")
    after = run_module(fixed, "Syncer().run(1)")
    assert before[0] is after[0] is ValueError
    assert before[1] == []  # (its INFO line is below the default WARNING level)
    assert after[1] == [("ERROR", "background task run failed", True)]


def test_guard_fix_changes_nothing_on_success(tmp_path: Path) -> None:
    text = task_module("", "def work(x):\n    return int(x)\n\n\ndef job(x):\n    total = work(x)\n    print('done', total)\n")
    fixed = fix(tmp_path, text, codes=("BGT401",))[1]
    assert fixed != text
    assert run_module(text, "job(3)") == run_module(fixed, "job(3)") == (None, [], "done 3\n")


HANDLERS = [
    # (prelude, handler body, records from, expected level, message before == message after)
    ("import logging\nlogger = logging.getLogger('bgt.test')", "logger.error('job failed: %s', e)", "logging"),
    ("import logging\nlogger = logging.getLogger('bgt.test')", "logger.warning('retry %s', x)", "logging"),
    ("import logging\nlogger = logging.getLogger('bgt.test')", "logging.error('root: %s', e)", "logging"),
    ("from loguru import logger", "logger.error('job failed: {}', e)", "loguru"),
    ("from loguru import logger", "logger.warning('retry {}', x)", "loguru"),
    ("from loguru import logger", "logger.bind(job=1).info('retry {}', x)", "loguru"),
]


@pytest.mark.parametrize("prelude,statement,records_from", HANDLERS, ids=[h[1] for h in HANDLERS])
def test_level_fix_behaviour(tmp_path: Path, prelude: str, statement: str, records_from: str) -> None:
    body = FAILING_WORK + f"def job(x):\n    try:\n        work(x)\n    except Exception as e:\n        {statement}\n"
    text = task_module(prelude, body)
    fixed = fix(tmp_path, text, codes=("BGT402",))[1]
    assert fixed != text
    before = run_module(text, "job(1)", records_from)
    after = run_module(fixed, "job(1)", records_from)
    assert before[0] is after[0] is None  # still swallowed: only the record changes
    assert len(before[1]) == len(after[1]) == 1
    (level, message, traceback_before), (level_after, message_after, traceback_after) = before[1][0], after[1][0]
    assert (level, message) == (level_after, message_after)  # level and message kept
    assert not traceback_before and traceback_after


@pytest.mark.parametrize("prelude,records_from", [
    ("import logging\nlogger = logging.getLogger('bgt.test')", "logging"),
    ("from loguru import logger", "loguru"),
])
@pytest.mark.parametrize("statement", ["print(e)", "print('job', x, 'failed:', e)", "print(f'failed: {e}')"])
def test_print_fix_behaviour(tmp_path: Path, prelude: str, records_from: str, statement: str) -> None:
    body = FAILING_WORK + f"def job(x):\n    try:\n        work(x)\n    except Exception as e:\n        {statement}\n"
    text = task_module(prelude, body)
    fixed = fix(tmp_path, text, codes=("BGT402",))[1]
    before = run_module(text, "job(1)", records_from)
    after = run_module(fixed, "job(1)", records_from)
    assert before[0] is after[0] is None
    printed = before[2].rstrip("\n")
    assert after[1] == [("ERROR", printed, True)]  # the printed text, now with its traceback


@pytest.mark.parametrize("prelude,records_from", [
    ("import logging\nlogger = logging.getLogger('bgt.test')", "logging"),
    ("from loguru import logger", "loguru"),
])
def test_pass_fix_behaviour(tmp_path: Path, prelude: str, records_from: str) -> None:
    body = FAILING_WORK + "def job(x):\n    try:\n        work(x)\n    except Exception:\n        pass\n"
    text = task_module(prelude, body)
    fixed = fix(tmp_path, text, codes=("BGT402",))[1]
    assert run_module(text, "job(1)", records_from) == (None, [], "")
    assert run_module(fixed, "job(1)", records_from) == (None, [("ERROR", "unexpected error in job", True)], "")


LOGGER_PRELUDE = "import logging\nlogger = logging.getLogger('bgt.test')"
PRINT_TO_STDERR = "def job(x):\n    try:\n        work(x)\n    except Exception as e:\n        {print}\n"


def pyflakes(text: str, tmp_path: Path) -> str:
    """What a real flake8 says of `text` (pyflakes' codes only)."""
    path = tmp_path / "flakes.py"
    path.write_text(text)
    done = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select", "F", str(path)],
                          capture_output=True, text=True)
    return done.stdout.replace(str(path), "flakes.py")


def test_a_print_to_stderr_becomes_a_log_call_and_its_import_goes(tmp_path: Path) -> None:
    """`print(..., file=sys.stderr)` was the only use of `sys`: the fix must not leave the
    import unused (flake8's F401 would fail right after `bgtask-lint fix`)."""
    body = FAILING_WORK + PRINT_TO_STDERR.format(print="print('job failed:', e, file=sys.stderr, flush=True)")
    text = task_module(LOGGER_PRELUDE + "\nimport sys", body)
    assert pyflakes(text, tmp_path) == ""
    findings, fixed = fix(tmp_path, text, codes=("BGT402",))
    assert only(findings, "BGT402").fix == "safe"
    assert "import sys" not in fixed and "logger.exception('%s %s', 'job failed:', e)" in fixed
    assert pyflakes(fixed, tmp_path) == ""
    assert run_module(fixed, "job(1)") == (None, [("ERROR", "job failed: bad 1", True)], "")


def test_prints_to_stderr_in_two_tasks_take_the_import_together(tmp_path: Path) -> None:
    """Each print holds one of the two uses of `sys`: fixed in one run, both go, and so
    does the import."""
    body = FAILING_WORK + PRINT_TO_STDERR.format(print="print(e, file=sys.stderr)") + "\n\n" + \
        PRINT_TO_STDERR.format(print="print('again', e, file=sys.stderr)").replace("def job(", "def job2(")
    text = task_module(LOGGER_PRELUDE + "\nimport sys", body).replace(
        "add_task(job, 1)", "add_task(job, 1)\n    background_tasks.add_task(job2, 1)")
    findings, fixed = fix(tmp_path, text, codes=("BGT402",))
    assert [f.fix for f in findings] == ["safe", "safe"]
    assert "import sys" not in fixed and fixed.count("logger.exception(") == 2
    assert pyflakes(fixed, tmp_path) == ""


@pytest.mark.parametrize("where", ["", "    if x:\n"], ids=["in the body", "in an if"])
def test_a_nested_def_that_logs_and_raises_keeps_the_body_unwrapped(tmp_path: Path, where: str) -> None:
    """The task calls a def of its own whose handler logs the traceback and re-raises:
    wrapped, the body would log that failure a second time."""
    indent = "    " if where else ""
    inner = "".join(indent + line + "\n" for line in [
        "    def attempt():", "        try:", "            work(x)", "        except Exception:",
        "            logger.exception('attempt failed')", "            raise"])
    body = FAILING_WORK + "def job(x):\n" + where + inner + "    attempt()\n    work(x + 1)\n"
    text = task_module(LOGGER_PRELUDE, body)
    no_safe_fix(tmp_path, text, "BGT401", "already logs the traceback and then raises")
    raised, records, _ = run_module(text, "job(1)")
    assert raised is ValueError and [level for level, _, _ in records] == ["ERROR"]  # logged once


def test_fastapis_own_logger_is_a_logger(tmp_path: Path) -> None:
    """`from fastapi.logger import logger`: fastapi/logger.py binds `logging.getLogger("fastapi")`."""
    body = FAILING_WORK + "def job(x):\n    try:\n        work(x)\n    except Exception as e:\n" \
        "        logger.error('job failed: %s', e)\n"
    text = task_module("from fastapi.logger import logger", body)
    findings, fixed = fix(tmp_path, text, codes=("BGT402",))
    assert only(findings, "BGT402").fix == "safe"
    assert "logger.exception('job failed: %s', e)" in fixed
    assert run_module(fixed, "job(1)") == (None, [("ERROR", "job failed: bad 1", True)], "")


def test_an_import_still_used_elsewhere_stays(tmp_path: Path) -> None:
    body = FAILING_WORK + PRINT_TO_STDERR.format(print="print(e, file=sys.stderr)") + \
        "\n\ndef version():\n    return sys.version\n"
    fixed = fix(tmp_path, task_module(LOGGER_PRELUDE + "\nimport sys", body), codes=("BGT402",))[1]
    assert "import sys\n" in fixed and "logger.exception(e)" in fixed
    assert pyflakes(fixed, tmp_path) == ""


@pytest.mark.parametrize("imports,statement,reason", [
    # the print opens the file it writes to: a log call would not
    ("", "print(e, file=open('errors.log', 'a'))", "computes its value"),
    # importing a project's module may do something: its import is not removed
    ("from app.streams import errors", "print(e, file=errors)", "would be left unused"),
    # an import in a `try` (its removal could leave the block empty)
    ("try:\n    import sys\nexcept ImportError:\n    raise", "print(e, file=sys.stderr)", "would be left unused"),
])
def test_a_print_whose_keywords_cannot_simply_go_has_no_safe_fix(tmp_path: Path, imports: str, statement: str,
                                                                 reason: str) -> None:
    text = task_module(LOGGER_PRELUDE + "\n" + imports, FAILING_WORK + PRINT_TO_STDERR.format(print=statement))
    no_safe_fix(tmp_path, text, "BGT402", reason)


def test_big_module_skeleton_keeps_the_project_facts(tmp_path: Path) -> None:
    """A module past the skeleton size: the codemod sees placeholders for the other defs,
    and still knows, through the index, that `logger` is app/log.py's loguru logger."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "log.py").write_text("from loguru import logger\n")
    filler = "".join(f"\n\ndef helper_{i}(x):\n    return x + {i}  # {'padding ' * 125}\n" for i in range(120))
    body = ("def job(x):\n    try:\n        work(x)\n    except Exception as e:\n"
            "        logger.warning('retrying {}', e)\n" + filler)
    text = task_module("from app.log import logger", body)
    assert len(text) > 100_000
    findings, fixed = fix(tmp_path, text, name="app/jobs.py", codes=("BGT402",))
    assert only(findings, "BGT402").fix == "safe"
    assert "logger.opt(exception=True).warning('retrying {}', e)" in fixed
    assert fixed.count("\ndef helper_") == 120


def test_structlog_gets_key_value_pairs(tmp_path: Path) -> None:
    prelude = "import structlog\nlogger = structlog.get_logger()"
    guard = fix(tmp_path, task_module(prelude, "def job(x):\n    work(x)\n"), codes=("BGT401",))[1]
    assert 'logger.exception("background task failed", task="job")' in guard
    body = "def job(x):\n    try:\n        work(x)\n    except Exception:\n        pass\n"
    swallowed = fix(tmp_path, task_module(prelude, body), codes=("BGT402",))[1]
    assert 'logger.exception("unexpected error", function="job")' in swallowed


def test_new_log_call_follows_the_module_quotes(tmp_path: Path) -> None:
    single = fix(tmp_path, task_module("import logging\nlogger = logging.getLogger('jobs')",
                                       "def job(x):\n    work(x, 'a', 'b')\n"), codes=("BGT401",))[1]
    assert "logger.exception('background task %s failed', 'job')" in single
    double = fix(tmp_path, task_module('import logging\nlogger = logging.getLogger("jobs")',
                                       'def job(x):\n    work(x, "a", "b")\n'), codes=("BGT401",))[1]
    assert 'logger.exception("background task %s failed", "job")' in double


def _tokenize_comments_and_quote(source: str) -> tuple[dict[int, str], str]:
    import tokenize

    comments: dict[int, str] = {}
    quotes = {"'": 0, '"': 0}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lower()
        elif token.type == tokenize.STRING:
            body = token.string.lstrip("rbuRBUfF")
            if not body.startswith(body[0] * 3):
                quotes[body[0]] += 1
    return comments, "'" if quotes["'"] > quotes['"'] else '"'


@pytest.mark.parametrize("source", [
    "x = 'a'  # It's a 'comment' with \"quotes\"\ny = \"b\"\nz = 'c'\n",
    'x = "a#b"  # Traceback left out\ny = \'\'\'doc "with" \'quotes\' \'\' \'\'\'\nz = "q"\n',
    "def f():\n    return'x'\nif'a'in'abc':\n    pass\n",  # no space after a keyword
    "a = rb'x' + Br\"y\" + u'z' + R'a\\b'\nb = 'it\\'s'\nc = \"say \\\"hi\\\"\"\n",
    "s = 'one \\\n two'\nt = \"x\"\n# last line, no newline",
    "x = 'a'\r\n# crlf comment\r\ny = \"b\"\r\nz = \"c\"\r\n",
    '"""module doc"""\nx = 1  # n\n\n\n# far below\n',
])
def test_the_comment_and_quote_scan_is_what_tokenize_finds(source: str) -> None:
    """New log calls follow the module's quotes, and a handler's comment can say the
    traceback is left out on purpose: one regular expression finds both, as a tokenize
    pass does (checked on 65,825 files of the corpus and the standard library)."""
    from bgtask_lint.log_fixes import comments_and_quote

    ast.parse(source)
    assert comments_and_quote(source) == _tokenize_comments_and_quote(source)


SERVICE = """\
import logging

from fastapi import BackgroundTasks


class Service:
{setup}

    def job(self, x):
        work(x)

    def schedule(self, background_tasks: BackgroundTasks):
        background_tasks.add_task(self.job, 1)
"""


@pytest.mark.parametrize("setup,expected", [
    ("    def __init__(self):\n        self._logger = logging.getLogger('svc')", "self._logger.exception("),
    ("    logger = logging.getLogger('svc')", "self.logger.exception("),
    # set to None first: the handler could meet None, so a module logger is added instead
    ("    def __init__(self):\n        self._logger = None\n\n    def start(self):\n"
     "        self._logger = logging.getLogger('svc')", "\nlogger = logging.getLogger(__name__)"),
])
def test_method_reuses_the_instance_logger(tmp_path: Path, setup: str, expected: str) -> None:
    fixed = fix(tmp_path, SERVICE.format(setup=setup), codes=("BGT401",))[1]
    assert expected in fixed


def test_logger_from_outside_the_project_is_named_in_the_finding(tmp_path: Path) -> None:
    body = "def job(x):\n    try:\n        work(x)\n    except Exception as e:\n        logger.error(f'failed: {e}')\n"
    findings, fixed = fix(tmp_path, task_module("from lfx.log.logger import logger", body), codes=("BGT402",))
    finding = only(findings, "BGT402")
    assert finding.fix is None and "imported from lfx.log.logger" in finding.message
    assert "logger.exception" not in fixed


# --- behaviour of the forms above: structlog, an async task, an instance logger ----------------


def run_structlog(text: str, call: str):
    """Execute `text`, call `call` under structlog's capture: (exception type or None,
    [(level, event, traceback asked for, the keys besides event/level)])."""
    from structlog.testing import capture_logs

    module = types.ModuleType("bgt_behaviour")
    exec(compile(text, "bgt_behaviour.py", "exec"), module.__dict__)
    raised = None
    with capture_logs() as logs:
        try:
            eval(call, module.__dict__)
        except Exception as exc:  # noqa: BLE001 - the behaviour under test
            raised = type(exc)
    return raised, [(e["log_level"], e["event"], e.get("exc_info") is True,
                     {k: v for k, v in e.items() if k not in ("log_level", "event", "exc_info")}) for e in logs]


def test_structlog_fixes_behaviour(tmp_path: Path) -> None:
    prelude = "import structlog\nlogger = structlog.get_logger()"
    guarded = task_module(prelude, FAILING_WORK + "def job(x):\n    work(x)\n")
    fixed = fix(tmp_path, guarded, codes=("BGT401",))[1]
    assert run_structlog(guarded, "job(1)") == (ValueError, [])
    assert run_structlog(fixed, "job(1)") == (ValueError, [("error", "background task failed", True, {"task": "job"})])
    for statement, before, after in [
        ("pass", [], [("error", "unexpected error", True, {"function": "job"})]),
        ("logger.error('job failed', error=str(e))", [("error", "job failed", False, {"error": "bad 1"})],
         [("error", "job failed", True, {"error": "bad 1"})]),
        ("logger.warning('retrying', x=x)", [("warning", "retrying", False, {"x": 1})],
         [("warning", "retrying", True, {"x": 1})]),
    ]:
        body = FAILING_WORK + f"def job(x):\n    try:\n        work(x)\n    except Exception as e:\n        {statement}\n"
        text = task_module(prelude, body)
        fixed = fix(tmp_path, text, codes=("BGT402",))[1]
        assert fixed != text, statement
        assert run_structlog(text, "job(1)") == (None, before), statement
        assert run_structlog(fixed, "job(1)") == (None, after), statement  # level and fields kept


def test_guard_fix_behaviour_async_task(tmp_path: Path) -> None:
    body = ("async def work(x):\n    raise ValueError(f'bad {x}')\n\n\n"
            "async def job(x):\n    await work(x)\n")
    text = task_module("import asyncio\nimport logging\nlogger = logging.getLogger('bgt.test')", body)
    assert_guard_logs_the_failure(tmp_path, text, "asyncio.run(job(1))")


@pytest.mark.parametrize("setup", [
    "    def __init__(self):\n        self._logger = logging.getLogger('svc')",
    "    logger = logging.getLogger('svc')",
])
def test_instance_logger_fix_behaviour(tmp_path: Path, setup: str) -> None:
    text = SERVICE.format(setup=setup) + "\n\n" + FAILING_WORK
    assert_guard_logs_the_failure(tmp_path, text, "Service().job(1)")


# --- a logger the handler could not reach: the task's own error must come out -------------

MODULE_LOGGER = "import logging\nlogger = logging.getLogger('bgt.test')"
UNREACHABLE_LOGGERS = [
    # (task, the code whose fix could log through a logger that is not there)
    ("def job(x):\n    work(x)\n    logger = logging.getLogger('job')\n    logger.info('done')\n", "BGT401"),
    ("def job(x, logger: Optional[logging.Logger] = None):\n    work(x)\n", "BGT401"),
    ("def job(x, logger: 'logging.Logger | None' = None):\n    work(x)\n", "BGT401"),
    ("def job(x):\n    try:\n        work(x)\n    except Exception as e:\n        print(e)\n"
     "    logger = logging.getLogger('late')\n    logger.info('done')\n", "BGT402"),
    ("def job(x, flag=False):\n    if flag:\n        logger = logging.getLogger('some')\n"
     "    try:\n        work(x)\n    except Exception:\n        pass\n    if flag:\n        logger.info('x')\n",
     "BGT402"),
]


@pytest.mark.parametrize("task,code", UNREACHABLE_LOGGERS, ids=range(len(UNREACHABLE_LOGGERS)))
def test_a_logger_that_may_be_unbound_or_none_is_not_used(tmp_path: Path, task: str, code: str) -> None:
    """Wrapped, `job(1)` raised UnboundLocalError or AttributeError from the handler in place
    of the task's ValueError (or, swallowed, an error where there was none)."""
    text = task_module(MODULE_LOGGER + "\nfrom typing import Optional", FAILING_WORK + task)
    findings, fixed = fix(tmp_path, text, codes=(code,))
    finding = only(findings, code)
    assert finding.fix is None and "no safe fix" in finding.message
    assert "None" in finding.message or "unbound" in finding.message
    assert fixed == text
    assert run_module(fixed, "job(1)")[0] is (ValueError if code == "BGT401" else None)


def test_a_local_logger_assigned_before_the_try_is_used(tmp_path: Path) -> None:
    """The local logger surely bound where the handler runs: the pass logs through it."""
    task = ("def job(x):\n    logger = logging.getLogger('bgt.local')\n    try:\n        work(x)\n"
            "    except Exception:\n        pass\n")
    text = task_module(MODULE_LOGGER, FAILING_WORK + task)
    fixed = fix(tmp_path, text, codes=("BGT402",))[1]
    assert "logger.exception(" in fixed
    assert run_module(text, "job(1)") == (None, [], "")
    assert run_module(fixed, "job(1)") == (None, [("ERROR", "unexpected error in job", True)], "")


def test_a_logger_parameter_that_is_always_given_is_used(tmp_path: Path) -> None:
    task = "def job(x, logger: logging.Logger):\n    work(x)\n"
    text = task_module(MODULE_LOGGER, FAILING_WORK + task).replace("add_task(job, 1)", "add_task(job, 1, LOG)")
    fixed = fix(tmp_path, text, codes=("BGT401",))[1]
    assert "except Exception:\n        logger.exception(" in fixed
    after = run_module(fixed, "job(1, logging.getLogger('bgt.param'))")
    assert after[0] is ValueError and after[1] == [("ERROR", "background task job failed", True)]


def test_global_declaration_stays_before_the_guard(tmp_path: Path) -> None:
    task = "COUNT = 0\n\n\ndef job(x):\n    global COUNT\n    COUNT += 1\n    work(x)\n"
    text = task_module(MODULE_LOGGER, FAILING_WORK + task)
    fixed = fix(tmp_path, text, codes=("BGT401",))[1]
    assert "def job(x):\n    global COUNT\n    try:\n        COUNT += 1\n" in fixed
    assert_guard_logs_the_failure(tmp_path, text, "job(1)")


CONDITIONAL_LOGGER = "import logging\nimport os\n\nif os.environ.get('BGT_VERBOSE'):\n    logger = logging.getLogger('bgt.test')"


def test_a_logger_bound_only_on_some_paths_is_not_used(tmp_path: Path) -> None:
    """`logger` exists only when BGT_VERBOSE is set: a wrap through it raised NameError from
    the handler, in place of the task's own ValueError, on every other deployment."""
    text = task_module(CONDITIONAL_LOGGER, FAILING_WORK + "def job(x):\n    work(x)\n")
    findings, fixed_text = fix(tmp_path, text, codes=("BGT401",))
    finding = only(findings, "BGT401")
    assert finding.fix is None and "only on some paths" in finding.message
    assert fixed_text == text
    assert run_module(fixed_text, "job(1)")[0] is ValueError


@pytest.mark.parametrize("binding", [
    "try:\n    from loguru import logger\nexcept ImportError:\n    logger = logging.getLogger('bgt.test')",
    "if os.environ.get('BGT_JSON'):\n    logger = logging.getLogger('bgt.test')\nelse:\n    logger = logging.getLogger('bgt.test')",
])
def test_a_logger_bound_on_every_path_is_used(tmp_path: Path, binding: str) -> None:
    text = task_module(f"import logging\nimport os\n{binding}", FAILING_WORK + "def job(x):\n    y = x + 1\n    work(y)\n")
    findings, fixed_text = fix(tmp_path, text, codes=("BGT401",))
    assert only(findings, "BGT401").fix == "safe"
    assert "logger.exception(" in fixed_text


ALERTING_ADAPTER = '''\
import logging

ALERTS = []


class Alerting(logging.LoggerAdapter):
    def error(self, msg, *args, **kwargs):
        ALERTS.append(msg)
        super().error(msg, *args, **kwargs)


logger = Alerting(logging.getLogger("bgt.test"), {})
'''


def test_a_logger_class_with_its_own_error_keeps_it(tmp_path: Path) -> None:
    """`LoggerAdapter.exception` logs through `log`, not `error`: `logger.exception(...)`
    would skip the override, and the alert it sends. The fix gives `error` exc_info=True."""
    body = FAILING_WORK + "def job(x):\n    try:\n        work(x)\n    except Exception as e:\n" \
                          "        logger.error('job failed: %s', e)\n"
    text = task_module(ALERTING_ADAPTER, body)
    fixed_text = fix(tmp_path, text, codes=("BGT402",))[1]
    assert "logger.error('job failed: %s', e, exc_info=True)" in fixed_text
    call = "(job(1), ALERTS)[1]"
    before, after = run_module(text, call), run_module(fixed_text, call)
    assert before[0] is after[0] is None
    assert before[1] == [("ERROR", "job failed: bad 1", False)]
    assert after[1] == [("ERROR", "job failed: bad 1", True)]
    old_fix = fixed_text.replace("logger.error('job failed: %s', e, exc_info=True)", "logger.exception('job failed: %s', e)")
    alerts = {}
    for name, version in (("before", text), ("fixed", fixed_text), ("old fix", old_fix)):
        namespace: dict = {}
        exec(compile(version, f"{name}.py", "exec"), namespace)
        namespace["job"](1)
        alerts[name] = namespace["ALERTS"]
    assert alerts == {"before": ["job failed: %s"], "fixed": ["job failed: %s"],
                      "old fix": []}  # what the old fix did: the alert never went out
