"""Safe means safe for the blocking-call fixes (BGT301; V2.9): aiofiles only where the
project has it, optional imports stay optional, imports the fix made unused go (and only
those: a real ruff F401 check passes right after `bgtask-lint fix`), `--unsafe-fixes`
keeps the connect timeout of a safe run and never moves only half of a connection into a
thread. The behaviour tests run endpoints and tasks before and after the fix."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bgtask_lint import dependencies
from bgtask_lint.config import Settings
from bgtask_lint.dependencies import AIOFILES_MISSING, declared, optional_import
from bgtask_lint.project import Project

# every fix here must be the same whether a command sees the whole module or its skeleton
pytestmark = pytest.mark.usefixtures("whole_and_cut_modules")

SAVE = '''\
import time

from fastapi import FastAPI

app = FastAPI()


@app.post("/save/{name}")
async def save(name: str, body: str = "hello"):
    time.sleep(0.01)
    with open(PATH / name, "w") as handle:
        handle.write(body)
    with open(PATH / name) as handle:
        back = handle.read()
    return {"saved": back}
'''


def fixed(root: Path, text: str, name: str = "app_module.py", unsafe: bool = False,
          select: tuple[str, ...] = ("BGT",)):
    path = root / name
    path.write_text(text)
    project = Project.load([root], Settings().with_overrides(select=select), root=root)
    findings = project.check(project.module(path))
    result = project.fix_text(path, text, unsafe=unsafe)
    assert result.error is None, result.error
    return findings, result.new_text


@pytest.fixture
def no_aiofiles_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment running the fix cannot import aiofiles (as in a pre-commit venv)."""
    real = dependencies.importable
    monkeypatch.setattr(dependencies, "importable", lambda module: module != "aiofiles" and real(module))


# --- wrong today: aiofiles added to projects that do not have it ------------------------------


def test_aiofiles_not_declared_means_no_safe_fix(tmp_path: Path, no_aiofiles_here: None) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["fastapi"]\n')
    findings, after = fixed(tmp_path, SAVE)
    opens = [f for f in findings if f.code == "BGT301" and "open()" in f.message]
    assert len(opens) == 2 and all(f.fix == "unsafe" for f in opens)
    assert all(AIOFILES_MISSING in f.message for f in opens)
    assert "aiofiles" not in after
    assert "await asyncio.sleep(0.01)" in after  # the other fix still happens
    _, unsafe_after = fixed(tmp_path, SAVE, unsafe=True)
    assert "import aiofiles" in unsafe_after and "async with aiofiles.open(PATH / name" in unsafe_after


def test_aiofiles_importable_but_not_declared_means_no_safe_fix(tmp_path: Path) -> None:
    """aiofiles installed where the linter runs (a transitive dependency, or the linter's
    own environment) is no promise for a project that declares its dependencies without
    it: the fix would import what the deployed app may lack."""
    assert dependencies.importable("aiofiles")  # this test's point: importable here
    (tmp_path / "requirements.txt").write_text("fastapi\n")
    findings, after = fixed(tmp_path, SAVE)
    opens = [f for f in findings if f.code == "BGT301" and "open()" in f.message]
    assert len(opens) == 2 and all(f.fix == "unsafe" and AIOFILES_MISSING in f.message for f in opens)
    assert "aiofiles" not in after


def test_a_project_declaring_nothing_may_use_an_importable_aiofiles(tmp_path: Path) -> None:
    """A loose script (no declaration file anywhere near) runs where it is: what this
    interpreter imports is all it has. A project with a declaration file we cannot read
    the dependencies of (`dynamic = ["dependencies"]`) is no loose script."""
    assert not dependencies.declaration_files(tmp_path) and dependencies.importable("aiofiles")
    findings, after = fixed(tmp_path, SAVE)
    assert [f.fix for f in findings if f.code == "BGT301" and "open()" in f.message] == ["safe", "safe"]
    assert "import aiofiles" in after
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndynamic = ["dependencies"]\n')
    assert not declared(tmp_path)
    findings, after = fixed(tmp_path, SAVE)
    assert [f.fix for f in findings if f.code == "BGT301" and "open()" in f.message] == ["unsafe", "unsafe"]
    assert "aiofiles" not in after


@pytest.mark.parametrize("name,content", [
    ("pyproject.toml", '[project]\nname = "x"\n[project.optional-dependencies]\nfiles = ["aiofiles>=23"]\n'),
    ("pyproject.toml", '[tool.poetry.dependencies]\npython = "^3.10"\naiofiles = "*"\n'),
    ("pyproject.toml", '[dependency-groups]\ndev = ["AioFiles"]\n'),
    ("requirements-prod.txt", "fastapi==0.110\naiofiles==23.2.1  # files\n"),
    ("setup.cfg", "[options]\ninstall_requires =\n    fastapi\n    aiofiles>=0.8\n"),
    ("setup.py", "from setuptools import setup\nsetup(install_requires=['aiofiles'])\n"),
    ("Pipfile", '[packages]\naiofiles = "*"\n'),
    ("uv.lock", 'version = 1\n[[package]]\nname = "aiofiles"\nversion = "23.2.1"\n'),
    ("poetry.lock", '[[package]]\nname = "aiofiles"\nversion = "23.2.1"\n'),
])
def test_declared_aiofiles_makes_the_fix_safe(tmp_path: Path, no_aiofiles_here: None, name: str,
                                              content: str) -> None:
    (tmp_path / name).write_text(content)
    assert "aiofiles" in declared(tmp_path)
    findings, after = fixed(tmp_path, SAVE)
    assert all(f.fix == "safe" for f in findings if f.code == "BGT301")
    assert "import aiofiles" in after and "await handle.write(body)" in after


def test_requirements_include_and_an_unpacked_wheel(tmp_path: Path) -> None:
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "base.txt").write_text("-r extra.txt\nhttpx\n")
    (tmp_path / "requirements" / "extra.txt").write_text("aiofiles\n")
    assert {"httpx", "aiofiles"} <= declared(tmp_path)
    wheel = tmp_path / "wheel"
    (wheel / "app").mkdir(parents=True)
    (wheel / "app-1.0.dist-info").mkdir()
    (wheel / "app-1.0.dist-info" / "METADATA").write_text("Name: app\nRequires-Dist: aiofiles>=22; extra == 'x'\n")
    assert "aiofiles" in declared(wheel / "app")  # the root has nothing: the directory above counts


def test_a_guarded_import_gets_no_fix(tmp_path: Path) -> None:
    text = "try:\n    import aiofiles\nexcept ImportError:\n    aiofiles = None\n" + SAVE
    findings, after = fixed(tmp_path, text)
    opens = [f for f in findings if f.code == "BGT301" and "open()" in f.message]
    assert opens and all(f.fix is None and "try/except ImportError" in f.message for f in opens)
    assert after.count("aiofiles") == text.count("aiofiles")


def test_a_lazy_import_stays_lazy(tmp_path: Path) -> None:
    text = SAVE + "\n\nasync def other(p):\n    import aiofiles\n\n    async with aiofiles.open(p) as f:\n" \
                  "        return await f.read()\n"
    assert optional_import(__import__("ast").parse(text), "aiofiles") == "lazy"
    _, after = fixed(tmp_path, text)
    head = after.split("app = FastAPI()")[0]
    assert "aiofiles" not in head  # no top-level import: aiofiles stays optional at import time
    assert 'async def save(name: str, body: str = "hello"):\n    import aiofiles\n' in after


# --- wrong today: imports the fix made unused stay -----------------------------------------------


def test_only_the_imports_the_fix_made_unused_go(tmp_path: Path) -> None:
    text = "import os\nimport time\nfrom time import sleep as nap\n\n\nasync def wait(x):\n" \
           "    time.sleep(x)\n    nap(x)\n"
    _, after = fixed(tmp_path, text)
    assert "import time" not in after and "nap" not in after.split("async def")[0]
    assert "import os" in after  # unused before the fix: not ours to remove
    _, kept = fixed(tmp_path, text + "\n\ndef clock():\n    return time.time()\n")
    assert "import time\n" in kept  # still used


@pytest.mark.skipif(shutil.which("ruff") is None and importlib.util.find_spec("ruff") is None,
                    reason="ruff is not installed")
def test_ruff_f401_passes_right_after_fix(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["aiofiles"]\n')
    (tmp_path / "app.py").write_text(
        "import io\nimport time\nfrom time import sleep\n\n\n"
        "async def handler(path):\n    time.sleep(1)\n    sleep(2)\n"
        "    with io.open(path) as f:\n        return f.read()\n")
    ruff = [sys.executable, "-m", "ruff"] if importlib.util.find_spec("ruff") else ["ruff"]
    proc = subprocess.run([*ruff, "check", "--no-cache", "--select", "F", "app.py"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout  # clean before
    fix = subprocess.run([sys.executable, "-m", "bgtask_lint", "fix", "--no-cache", "app.py"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert "Fixed 3 findings" in fix.stderr, fix.stderr
    proc = subprocess.run([*ruff, "check", "--no-cache", "--select", "F", "app.py"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + (tmp_path / "app.py").read_text()


# --- wrong today: --unsafe-fixes loses the timeout, or moves only half a connection ---------------


def test_to_thread_keeps_the_connect_timeout(tmp_path: Path) -> None:
    text = "import requests\n\n\nasync def fetch(u):\n    return requests.get(u).json()\n"
    _, after = fixed(tmp_path, text, unsafe=True)
    assert "(await asyncio.to_thread(requests.get, u, timeout=(10.0, None))).json()" in after, after
    _, safe = fixed(tmp_path, text)
    assert "requests.get(u, timeout=(10.0, None))" in safe and "to_thread" not in safe


def test_a_connection_is_not_half_moved_into_a_thread(tmp_path: Path) -> None:
    text = ("import smtplib\n\n\nasync def mail(host, port, msg):\n"
            "    with smtplib.SMTP(host, port, timeout=5) as s:\n        s.starttls()\n        s.login('u', 'p')\n"
            "        s.send_message(msg)\n")
    findings, after = fixed(tmp_path, text, unsafe=True)
    smtp = [f for f in findings if f.code == "BGT301" and "smtplib.SMTP()" in f.message]
    assert smtp and smtp[0].fix is None and "whole block" in smtp[0].message
    assert "to_thread(smtplib.SMTP" not in after


# --- behaviour: the same responses, files and results before and after --------------------------


def _load(path: Path, text: str, name: str):
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_endpoint_answers_the_same_after_the_fix(tmp_path: Path) -> None:
    pytest.importorskip("aiofiles")
    from fastapi.testclient import TestClient

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["aiofiles"]\n')
    _, after = fixed(tmp_path, SAVE)
    assert "async with aiofiles.open" in after and "import time" not in after
    answers = []
    for n, text in enumerate((SAVE, after)):
        data = tmp_path / f"data{n}"
        data.mkdir()
        module = _load(tmp_path / f"app_{n}.py", "from pathlib import Path\nPATH = Path(__file__).parent / "
                       f"'data{n}'\n" + text, f"blocking_app_{n}")
        response = TestClient(module.app).post("/save/a.txt", params={"body": "caf\u00e9 line\nsecond"})
        answers.append((response.status_code, response.json(), (data / "a.txt").read_text()))
    assert answers[0] == answers[1]


def test_a_task_returns_and_raises_the_same(tmp_path: Path) -> None:
    text = ("import time\n\n\nasync def job(path, n):\n    time.sleep(0)\n"
            "    with open(path, 'a') as f:\n        f.write(str(n))\n        f.flush()\n"
            "    with open(path) as f:\n        lines = [line for line in f]\n"
            "    if n < 0:\n        raise ValueError(lines)\n    return lines\n")
    (tmp_path / "requirements.txt").write_text("aiofiles\n")
    _, after = fixed(tmp_path, text)
    assert "async for line in f" in after
    outcomes = []
    for k, source in enumerate((text, after)):
        module = _load(tmp_path / f"job_{k}.py", source, f"blocking_job_{k}")
        target = tmp_path / f"out{k}.txt"
        result = asyncio.run(module.job(target, 3))
        with pytest.raises(ValueError) as raised:
            asyncio.run(module.job(target, -1))
        outcomes.append((result, raised.value.args, target.read_text()))
    assert outcomes[0] == outcomes[1]


def test_file_methods_and_an_aliased_sleep_behave_the_same(tmp_path: Path) -> None:
    pytest.importorskip("aiofiles")
    text = ("from time import sleep as nap\n\n\nasync def job(path):\n    nap(0)\n"
            "    with open(path, 'w') as f:\n        f.writelines(['a\\n', 'b\\n', 'c\\n'])\n"
            "    with open(path) as f:\n        first = f.readline().strip()\n        where = f.tell()\n"
            "        rest = f.readlines()\n        f.seek(0)\n        again = f.read()\n"
            "    return first, where, rest, again\n")
    (tmp_path / "requirements.txt").write_text("aiofiles\n")
    _, after = fixed(tmp_path, text)
    assert "await asyncio.sleep(0)" in after and "(await f.readline()).strip()" in after
    assert "nap" not in after
    outcomes = []
    for k, source in enumerate((text, after)):
        module = _load(tmp_path / f"methods_{k}.py", source, f"blocking_methods_{k}")
        outcomes.append(asyncio.run(module.job(tmp_path / f"lines{k}.txt")))
    assert outcomes[0] == outcomes[1] == ("a", 2, ["b\n", "c\n"], "a\nb\nc\n")


GENERATOR_AND_HEADERS = """\
import asyncio
import time


def delayed(seconds):
    return lambda function: function


@delayed(time.sleep(0))
async def warmed_up(started=time.sleep(0)):
    return started


async def total(steps):
    return sum(time.sleep(0) or step for step in steps)


async def nested():
    async def inner(started=time.sleep(0)):
        return started
    time.sleep(0)
    return await inner()
"""


def test_a_sleep_in_a_generator_expression_or_a_header_keeps_the_code_running(tmp_path: Path) -> None:
    """An `await` in a generator expression makes an async generator (`sum` of it raises
    TypeError), and one in a module-level def's header is a SyntaxError (the fix used to
    leave the whole file unfixed, with an error). A nested def's header runs in the body
    of the async def around it: fixed there."""
    findings, after = fixed(tmp_path, GENERATOR_AND_HEADERS)
    sleeps = {f.line: f for f in findings if f.code == "BGT301"}
    assert sorted(sleeps) == [15, 19, 21]  # not the decorator's or the defaults' of warmed_up
    assert sleeps[15].fix is None and "generator expression" in sleeps[15].message
    assert after.count("await asyncio.sleep(0)") == 2 and "sum(time.sleep(0) or step" in after
    outcomes = []
    for k, source in enumerate((GENERATOR_AND_HEADERS, after)):
        module = _load(tmp_path / f"generator_{k}.py", source, f"blocking_generator_{k}")
        outcomes.append((asyncio.run(module.warmed_up()), asyncio.run(module.total([1, 2])),
                         asyncio.run(module.nested())))
    assert outcomes[0] == outcomes[1] == (None, 3, None)


LOCKED_FILES = """\
import threading

LOCK = threading.Lock()


async def copy(source, target):
    with open(source) as f, open(target, "w") as g:
        g.write(f.read())


async def locked(source):
    with LOCK, open(source) as f:
        return f.read()
"""


def test_a_with_that_also_enters_a_lock_gets_no_async_with(tmp_path: Path) -> None:
    """`async with LOCK, aiofiles.open(...)` raises TypeError (a threading.Lock has no
    `__aenter__`): the fix converts a `with` only when every item opens a file, and the
    rule offers one only then (it used to say [*] and the fix made no change)."""
    (tmp_path / "requirements.txt").write_text("aiofiles\n")
    findings, after = fixed(tmp_path, LOCKED_FILES)
    opens = {(f.line, f.col): f.fix for f in findings if f.code == "BGT301"}
    assert opens == {(7, 9): "safe", (7, 28): "safe", (12, 15): None}  # (0-based columns)
    assert "async with aiofiles.open(source) as f, aiofiles.open(target, \"w\") as g:" in after
    assert "    with LOCK, open(source) as f:" in after
    outcomes = []
    for k, source in enumerate((LOCKED_FILES, after)):
        module = _load(tmp_path / f"locked_{k}.py", source, f"blocking_locked_{k}")
        (tmp_path / f"in{k}.txt").write_text("payload")
        asyncio.run(module.copy(tmp_path / f"in{k}.txt", tmp_path / f"out{k}.txt"))
        outcomes.append(((tmp_path / f"out{k}.txt").read_text(), asyncio.run(module.locked(tmp_path / f"in{k}.txt"))))
    assert outcomes[0] == outcomes[1] == ("payload", "payload")


def test_two_files_opened_in_one_with_count_as_two_fixes(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("aiofiles\n")
    (tmp_path / "app_module.py").write_text(LOCKED_FILES)
    project = Project.load([tmp_path], Settings(), root=tmp_path)
    result = project.fix_text(tmp_path / "app_module.py", LOCKED_FILES)
    assert dict(result.fixed) == {"BGT301": 2}


SHADOWED = """\
import time

asyncio = None  # set at start-up


async def pause(seconds):
    time.sleep(seconds)
    return seconds


async def pause_with(aiofiles, path):
    with open(path) as f:
        return aiofiles, f.read()
"""


@pytest.mark.parametrize("where", ["module", "parameter", "local", "import after"])
def test_a_library_name_bound_to_something_else_gets_no_fix(tmp_path: Path, where: str) -> None:
    """The fix writes `asyncio.sleep` / `aiofiles.open`: where that name is a parameter, a
    local or a module-level value, it would call something else (AttributeError on None)."""
    text = SHADOWED
    if where == "parameter":
        text = text.replace("asyncio = None  # set at start-up\n", "").replace(
            "async def pause(seconds):", "async def pause(seconds, asyncio=None):")
    elif where == "local":
        text = text.replace("asyncio = None  # set at start-up\n", "").replace(
            "    time.sleep(seconds)\n", "    asyncio = seconds\n    time.sleep(asyncio)\n")
    elif where == "import after":  # the name is the function's local: UnboundLocalError before it
        text = text.replace("asyncio = None  # set at start-up\n", "").replace(
            "    time.sleep(seconds)\n", "    time.sleep(seconds)\n    import asyncio\n\n    assert asyncio\n")
    (tmp_path / "requirements.txt").write_text("aiofiles\n")
    findings, after = fixed(tmp_path, text)
    blocking = [f for f in findings if f.code == "BGT301"]
    assert len(blocking) == 2 and all(f.fix is None and "bound to something else here" in f.message for f in blocking)
    assert after == text
    module = _load(tmp_path / f"shadowed_{where}.py", after, f"blocking_shadowed_{where}")
    (tmp_path / "in.txt").write_text("x")
    assert asyncio.run(module.pause(0)) == 0
    assert asyncio.run(module.pause_with(None, tmp_path / "in.txt")) == (None, "x")


def test_an_import_of_the_library_in_a_def_around_keeps_the_fix(tmp_path: Path) -> None:
    """`import asyncio` in the def around the async def is the module (a closure): fixed."""
    text = ("import time\n\n\ndef check(seconds):\n    async def wait():\n        time.sleep(seconds)\n"
            "        return seconds\n\n    import asyncio\n\n    return asyncio.run(wait())\n")
    findings, after = fixed(tmp_path, text)
    assert only_fix(findings) == "safe" and "        await asyncio.sleep(seconds)\n" in after
    module = _load(tmp_path / "closure.py", after, "blocking_closure")
    assert module.check(0) == 0


def only_fix(findings) -> str | None:
    [finding] = [f for f in findings if f.code == "BGT301"]
    return finding.fix


def test_a_broken_setup_cfg_declares_nothing_and_breaks_nothing(tmp_path: Path) -> None:
    """configparser is imported only for a setup.cfg; its errors still mean "declares nothing"."""
    from bgtask_lint.dependencies import declared

    (tmp_path / "setup.cfg").write_text("install_requires = aiofiles\n[options\n")  # no section header
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["httpx>=0.27"]\n')
    assert declared(tmp_path) == frozenset({"httpx"})
    (tmp_path / "setup.cfg").write_text("[options]\ninstall_requires =\n    aiofiles\n")
    assert declared(tmp_path) == frozenset({"httpx", "aiofiles"})


def test_the_fix_knows_every_import_without_walking_the_whole_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The names a module imports, wherever it imports them (a `try`, a def, a class, a
    branch), from the statement-only walk the dependency questions make and keep, not a
    walk of every node: one walk fewer of a big module's tree."""
    import ast

    from bgtask_lint.codemods._fixes import blocking_calls
    from bgtask_lint.codemods._fixes.blocking_calls import import_map

    source = ("import os, os.path as osp\ntry:\n    import aiofiles\nexcept ImportError:\n    aiofiles = None\n"
              "class C:\n    from time import sleep as nap\n    def m(self):\n        if True:\n"
              "            import requests\n        f = lambda: __import__('x')\n"
              "with open('f') as f:\n    from . import local\n    from pkg.sub import thing\n")
    tree = ast.parse(source)
    monkeypatch.setattr(blocking_calls, "walked", lambda tree: pytest.fail("walked every node"), raising=False)
    assert import_map(tree) == {"os": {"os"}, "osp": {"os.path"}, "aiofiles": {"aiofiles"}, "nap": {"time.sleep"},
                                "requests": {"requests"}, "thing": {"pkg.sub.thing"}}  # (`from . import` names no module)
    assert len(dependencies.import_statements(tree)) == 6


LOCKED = '''\
import asyncio
import threading
import time

LOCK = threading.Lock()
DONE = []


async def tick(name):
    with LOCK:
        time.sleep(0.01)
        DONE.append(name)


async def main():
    await asyncio.gather(tick("a"), tick("b"))
    return sorted(DONE)
'''


def _runs_within(text: str, seconds: float) -> list | None:
    """`main()` of `text` on its own event loop in a daemon thread: its result, or None when
    it has not finished after `seconds` (a deadlocked loop stays blocked; the thread is a
    daemon, so the test run still ends)."""
    import threading

    namespace: dict = {}
    exec(compile(text, "locked.py", "exec"), namespace)
    result: list = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(namespace["main"]())), daemon=True)
    thread.start()
    thread.join(seconds)
    return result[0] if result else None


def test_a_sleep_under_a_lock_gets_only_an_unsafe_fix(tmp_path: Path) -> None:
    """Awaited under `with LOCK:`, the second coroutine blocks the loop's thread on the lock
    the first holds while it sleeps: a deadlock the blocking original never had."""
    findings, after = fixed(tmp_path, LOCKED, select=("BGT301",))
    (finding,) = findings
    assert finding.fix == "unsafe" and "with LOCK" in finding.message
    assert after == LOCKED
    assert _runs_within(LOCKED, 5.0) == ["a", "b"]
    unsafe = fixed(tmp_path, LOCKED, select=("BGT301",), unsafe=True)[1]
    assert "await asyncio.sleep(0.01)" in unsafe
    assert _runs_within(unsafe, 1.0) is None  # why it is unsafe: the loop never finishes


def test_a_sleep_under_suppress_keeps_its_safe_fix(tmp_path: Path) -> None:
    text = LOCKED.replace("with LOCK:", "with contextlib.suppress(KeyError):").replace(
        "import time\n", "import time\nimport contextlib\n")
    findings, after = fixed(tmp_path, text, select=("BGT301",))
    assert [f.fix for f in findings] == ["safe"]
    assert "await asyncio.sleep(0.01)" in after
    assert _runs_within(after, 5.0) == ["a", "b"]


@pytest.mark.parametrize("comment", ["  # noqa: F401  (re-exported)", "  # noqa", "  # noqa:E501,F401",
                                     "  # pylint: disable=unused-import"])
def test_an_import_kept_on_purpose_stays(tmp_path: Path, comment: str) -> None:
    """An unused import marked for the linter is a re-export (`from app.clock import time`
    elsewhere): the fix that made it unused here must not take it from the other modules."""
    text = f"import time{comment}\n\n\nasync def wait(x):\n    time.sleep(x)\n"
    _, after = fixed(tmp_path, text)
    assert "await asyncio.sleep(x)" in after
    assert f"import time{comment}\n" in after


def test_a_noqa_for_another_code_does_not_keep_the_import(tmp_path: Path) -> None:
    text = "import time  # noqa: E402\n\n\nasync def wait(x):\n    time.sleep(x)\n"
    _, after = fixed(tmp_path, text)
    assert "import time" not in after


def test_a_lock_taken_by_hand_makes_the_fix_unsafe(tmp_path: Path) -> None:
    """`LOCK.acquire()` then `try: ... finally: LOCK.release()`: the same deadlock as under
    `with LOCK:`, shown by running the unsafe fix; an asyncio lock's awaited acquire is no
    such lock, and keeps the safe fix."""
    by_hand = LOCKED.replace("    with LOCK:\n        time.sleep(0.01)\n        DONE.append(name)\n",
                             "    LOCK.acquire()\n    try:\n        time.sleep(0.01)\n        DONE.append(name)\n"
                             "    finally:\n        LOCK.release()\n")
    assert by_hand != LOCKED
    findings, after = fixed(tmp_path, by_hand, select=("BGT301",))
    (finding,) = findings
    assert finding.fix == "unsafe" and "LOCK.acquire()" in finding.message
    assert after == by_hand
    assert _runs_within(by_hand, 5.0) == ["a", "b"]
    assert _runs_within(fixed(tmp_path, by_hand, select=("BGT301",), unsafe=True)[1], 1.0) is None
    awaited = by_hand.replace("LOCK = threading.Lock()", "LOCK = asyncio.Lock()").replace(
        "    LOCK.acquire()\n", "    await LOCK.acquire()\n")
    findings, after = fixed(tmp_path, awaited, select=("BGT301",))
    assert [f.fix for f in findings] == ["safe"]
    assert _runs_within(after, 5.0) == ["a", "b"]


IMPORTS_EVERYWHERE = '''\
import os
try:
    import aiofiles
except ImportError:
    aiofiles = None
else:
    import json
finally:
    import sys


def lazy():
    import httpx
    handler = lambda: __import__("x")
    try:
        from redis import asyncio as aioredis
    except Exception:
        pass


class Holder:
    if os.environ:
        from requests import Session
    match sys.argv:
        case [_, *rest] if rest:
            import csv
'''


def test_import_sites_are_found_by_walking_statements_only() -> None:
    """Every import of a module, in a function or not, under an ImportError guard or not,
    in every kind of block (the walk enters statements only: no import is inside an
    expression, and entering them was most of the walk, which a fix of a big module
    repeats for each new tree)."""
    import ast

    tree = ast.parse(IMPORTS_EVERYWHERE)
    sites = {(node.lineno, in_function, guarded) for node, in_function, guarded in dependencies._walk_imports(tree)}
    assert sites == {(1, False, False), (3, False, True), (7, False, False), (9, False, False),
                     (13, True, False), (16, True, True), (23, False, False), (26, False, False)}
    assert optional_import(tree, "aiofiles") == "guarded" and optional_import(tree, "httpx") == "lazy"
