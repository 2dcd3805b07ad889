"""One project model under every front end: selection agrees between check and fix, the
flake8 plugin reports what `check` reports, the stand-alone LibCST commands see the whole
project, the package has no import cycle, and the wheel takes no generic import name."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from functools import lru_cache
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgtask_lint.cli import main
from bgtask_lint.config import Settings
from bgtask_lint.fix import FIX_COMMANDS, is_fixable
from bgtask_lint.project import Project
from bgtask_lint.runner import check_paths
from projects import write_app

REPO = Path(__file__).parent.parent
PACKAGE = REPO / "bgtask_lint"

# one finding of every fixable rule, in one module
EVERY_FIX = '''\
import asyncio
import logging
import time

import asyncpg
from fastapi import BackgroundTasks

logger = logging.getLogger(__name__)


async def job(x):
    time.sleep(1)
    await asyncpg.connect("postgres://", timeout=None)
    try:
        await work(x)
    except Exception:
        logger.error("failed")


async def handler():
    asyncio.create_task(work(1))


def endpoint(background_tasks: BackgroundTasks):
    background_tasks.add_task(job, 1)
    background_tasks.add_task(job(2))
'''


# --- selection: check and fix agree ------------------------------------------------------


def _prefixes() -> list[str]:
    found = {"BGT"}
    for code in FIX_COMMANDS:
        found.update(code[:n] for n in range(4, len(code) + 1))
    return sorted(found)


PREFIXES = _prefixes()


@lru_cache(maxsize=None)
def _fixed_codes(select: str, ignore: str, tmp: str) -> frozenset[str]:
    path = Path(tmp) / "every_fix.py"
    settings = Settings(select=(select,), ignore=(ignore,) if ignore else ())
    project = Project.load([path], settings, root=path.parent, overrides={path: EVERY_FIX})
    fixable = {f.code for f in project.check(project.index.by_path[path.resolve()]) if is_fixable(f, False)}
    result = project.fix_text(path, EVERY_FIX)
    assert result.error is None, result.error
    assert set(result.fixed) == fixable, (select, ignore, sorted(result.fixed), sorted(fixable))
    return frozenset(result.fixed)


@pytest.mark.parametrize("select", PREFIXES)
def test_check_and_fix_agree_on_every_selection(select: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("select")
    for ignore in ["", *PREFIXES]:
        fixed = _fixed_codes(select, ignore, str(tmp))
        longest_select = len(select)
        expected = {
            code for code in FIX_COMMANDS
            if code.startswith(select) and not (ignore and code.startswith(ignore) and len(ignore) >= longest_select)
        }
        assert fixed == expected, (select, ignore)


def test_the_reported_case_select_code_ignore_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`check --select BGT401 --ignore BGT4` reports a fixable BGT401: `fix` with the same
    options fixes it (the longest prefix wins, as in ruff)."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(EVERY_FIX)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    checked = runner.invoke(main, ["check", "--no-cache", "--select", "BGT401", "--ignore", "BGT4", "."])
    assert "BGT401" in checked.output
    fixed = runner.invoke(main, ["fix", "--select", "BGT401", "--ignore", "BGT4", "."])
    assert "BGT401: 1" in fixed.stderr, fixed.stderr
    assert 'logger.exception("background task %s failed", "job")' in (tmp_path / "app.py").read_text()


# --- the flake8 plugin reports what check reports -------------------------------------------


def _flake8(cwd: Path) -> set[tuple[str, int, int, str]]:
    proc = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "BGT", "--exclude", "",
         "--format", "%(path)s|%(row)d|%(col)d|%(code)s", "."],
        capture_output=True, text=True, cwd=cwd,
    )
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    found = set()
    for line in proc.stdout.splitlines():
        path, row, col, code = line.split("|")
        found.add((Path(path).as_posix().removeprefix("./"), int(row), int(col), code))
    return found


def test_flake8_honours_the_project_settings(tmp_path: Path) -> None:
    """excludes (configured and the default `venv/`), ignore and per-file-ignores from
    [tool.bgtask-lint] hold in the flake8 plugin as in `bgtask-lint check`."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bgtask-lint]\nignore = ["BGT501"]\nexclude = ["generated"]\n'
        'per-file-ignores = {"legacy/*.py" = ["BGT401"]}\n'
    )
    for directory in ("app", "legacy", "generated", "venv/lib/site-packages/pkg"):
        (tmp_path / directory).mkdir(parents=True)
        (tmp_path / directory / "mod.py").write_text(EVERY_FIX)
    with_settings = check_paths([tmp_path], _settings(tmp_path), root=tmp_path)
    expected = {(f.path.relative_to(tmp_path.resolve()).as_posix(), f.line, f.col + 1, f.code)
                for f in with_settings.findings}
    assert {p for p, *_ in expected} == {"app/mod.py", "legacy/mod.py"}
    assert not any(code == "BGT501" for *_, code in expected)
    assert ("legacy/mod.py", 11, 1, "BGT401") not in expected and ("app/mod.py", 11, 1, "BGT401") in expected
    assert _flake8(tmp_path) == expected


def _settings(root: Path) -> Settings:
    from bgtask_lint.config import load_settings

    return load_settings(None, root)


# --- the stand-alone LibCST commands see the project --------------------------------------


def test_libcst_tool_command_sees_a_task_scheduled_from_another_module(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "tasks.py").write_text("def process(x):\n    work(x)\n")
    (tmp_path / "app" / "main.py").write_text(
        "from fastapi import BackgroundTasks\n\nfrom app.tasks import process\n\n\n"
        "def endpoint(background_tasks: BackgroundTasks):\n    background_tasks.add_task(process, 1)\n"
    )
    target = tmp_path / "app" / "tasks.py"
    proc = subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", "guard_task_body.GuardTaskBodyCommand", str(target)],
        cwd=REPO, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert 'logger.exception("background task %s failed", "process")' in target.read_text()


def test_libcst_list_shows_commands_not_the_base_class() -> None:
    proc = subprocess.run([sys.executable, "-m", "libcst.tool", "list"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ours = [line for line in proc.stdout.splitlines() if "BGT" in line]
    assert len(ours) == len(FIX_COMMANDS)
    assert "FindingCommand" not in proc.stdout


# --- layering ---------------------------------------------------------------------------------


def _module_files() -> dict[str, Path]:
    """Import name -> file, for the package and the commands installed under it."""
    files = {}
    for base, prefix in ((PACKAGE, "bgtask_lint"), (REPO / "codemods", "bgtask_lint.codemods")):
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join([prefix, *parts])] = path
    return files


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Internal modules `path` imports when it runs (function-local imports included;
    `if TYPE_CHECKING:` blocks are for type checkers only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            # a module's own ancestor packages are initialised before it runs: no edge
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def test_the_package_import_graph_has_no_cycle() -> None:
    files = _module_files()
    known = set(files)
    # (a package __init__ that re-exports its submodules is not a cycle: no edge is
    # drawn from a submodule to the package that contains it)
    graph = {name: _imports(path, name, known) for name, path in files.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


@pytest.mark.slow
def test_the_wheel_has_no_top_level_codemods_package(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("bgtask_lint-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"bgtask_lint"}, top_level
    assert "bgtask_lint/codemods/guard_task_body.py" in names
    assert "bgtask_lint/rules/bgt401_unguarded_task_body.py" in names


def test_a_package_named_without_a_marker_resolves_its_own_imports(tmp_path: Path) -> None:
    """No pyproject.toml/setup.cfg/setup.py/.git anywhere above: the root is the common
    directory of the paths, climbing out of packages, so `check app/` still knows that
    `app.main` schedules `app.tasks.process` (V2.1 root fallback)."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "tasks.py").write_text("def process(x):\n    work(x)\n")
    (app / "main.py").write_text(
        "from fastapi import BackgroundTasks\n\nfrom app.tasks import process\n\n\n"
        "def endpoint(background_tasks: BackgroundTasks):\n    background_tasks.add_task(process, 1)\n"
    )
    result = check_paths([app], Settings())
    assert [(f.path.name, f.code) for f in result.findings] == [("tasks.py", "BGT401")]


def test_columns_count_characters_as_ruff_and_flake8_do(tmp_path: Path) -> None:
    """A line with non-ASCII text before the call: the column counts characters, the
    same in `check`, the flake8 plugin and the fix (which must still find its target)."""
    (tmp_path / "pyproject.toml").write_text("")
    source = "import asyncio\n\n\nasync def handler():\n    note = 'héllo'; asyncio.create_task(work(note))\n"
    (tmp_path / "app.py").write_text(source, encoding="utf-8")
    (finding,) = check_paths([tmp_path], Settings(), root=tmp_path).findings
    assert (finding.code, finding.line, finding.col) == ("BGT103", 5, source.splitlines()[4].index("asyncio.create"))
    assert _flake8(tmp_path) == {("app.py", 5, finding.col + 1, "BGT103")}
    project = Project.load([tmp_path / "app.py"], Settings(), root=tmp_path)
    fixed = project.fix_text(tmp_path / "app.py", source)
    assert fixed.fixed == {"BGT103": 1} and "_background_tasks.add(task)" in fixed.new_text


# --- an edit elsewhere: what a module's own tree gave is kept while its answers hold ---------

LOG_MODULE = "import logging\n\n\ndef get_logger():\n    return logging.getLogger('app')\n"
NOT_A_LOGGER = ("class Dialog:\n    def exception(self, text):\n        pass\n\n\n"
                "def get_logger():\n    return Dialog()\n")
TASKS_USING_LOG = """\
from fastapi import BackgroundTasks

from app.log import get_logger

log = get_logger()


def job(x):
    try:
        work(x)
    except Exception:
        log.exception("job failed")


def endpoint(background_tasks: BackgroundTasks):
    background_tasks.add_task(job, 1)
"""


def test_logger_bindings_follow_an_edit_of_the_module_they_import(tmp_path: Path) -> None:
    from bgtask_lint.guards import module_loggers

    app = write_app(tmp_path, {"log": LOG_MODULE, "tasks": TASKS_USING_LOG})
    root = tmp_path.resolve()
    project = Project.load([], Settings(), root=root)
    tasks, log = app.resolve() / "tasks.py", app.resolve() / "log.py"

    def edit(text: str) -> list[str]:
        """The task module's codes after `log.py` becomes `text`; a fresh project agrees."""
        log.write_text(text)
        project.replace(log, text)
        codes = [f.code for f in project.check(project.index.by_path[tasks])]
        fresh = Project.load([], Settings(), root=root)
        assert codes == [f.code for f in fresh.check(fresh.index.by_path[tasks])]
        return codes

    assert [f.code for f in project.check(project.index.by_path[tasks])] == []  # guarded through the imported logger
    kept = module_loggers(project.index, project.index.by_path[tasks])
    assert edit(LOG_MODULE + "# a comment\n") == []
    # nothing it asked of app.log changed: the same bindings, not walked again (a copy
    # with its classes to judge again: the memo of the earlier state, which `fix` brings
    # back, holds `kept`, and judging them now must not change it)
    reused = module_loggers(project.index, project.index.by_path[tasks])
    assert reused == kept and reused.imports is kept.imports and reused is not kept
    assert edit(NOT_A_LOGGER) == ["BGT402"]  # `log` is no logger now: the handler swallows
    # it asked what get_logger makes: walked again
    assert module_loggers(project.index, project.index.by_path[tasks]).imports is not kept.imports
    assert edit(LOG_MODULE) == []


def test_kept_bindings_do_not_hold_their_module(tmp_path: Path) -> None:
    """The bindings kept with a module do not point back at it (a cycle: a fix replacing a
    1 MB module kept every old tree while the collector was paused, 363 -> 429 MB)."""
    app = write_app(tmp_path, {"log": LOG_MODULE, "tasks": TASKS_USING_LOG})
    project = Project.load([], Settings(), root=tmp_path.resolve())
    module = project.index.by_path[app.resolve() / "tasks.py"]
    project.check(module)
    questions = module.derived["logger-bindings"].bindings.external
    assert not any(cell.cell_contents is module for cell in questions.__closure__ or ())


def test_a_class_path_attribute_follows_an_edit_of_the_module_it_comes_from(tmp_path: Path) -> None:
    """`self.p = make()`, with `make` in another module annotated `-> Path`: what the class's
    attributes hold depends on that module, so an edit there (in a long-lived project: the
    language server, `fix`'s rounds) changes the finding, as a fresh project has it."""
    app = write_app(tmp_path, {
        "paths": "from pathlib import Path\n\n\ndef make() -> Path:\n    return Path('/tmp/x')\n",
        "store": ("from app.paths import make\n\n\nclass Store:\n    def __init__(self):\n        self.p = make()\n\n"
                  "    async def load(self):\n        return self.p.read_text()\n")})
    project = Project.load([], Settings(), root=tmp_path.resolve())
    store, paths = app.resolve() / "store.py", app.resolve() / "paths.py"
    assert [f.code for f in project.check(project.module(store))] == ["BGT301"]
    project.replace(paths, paths.read_text().replace("-> Path:", "-> str:"))
    assert [f.code for f in project.check(project.module(store))] == []


HELPERS = "def read_config(path):\n    with open(path) as f:\n        return f.read()\n"
CALLER = "from app.helpers import read_config\n\n\nasync def handler(path):\n    return read_config(path)\n"


def test_a_defs_calls_are_kept_with_its_module_across_edits_elsewhere(tmp_path: Path) -> None:
    """What a def calls is read off its own tree once per module version: an edit of another
    module keeps it, an edit of its own module reads it again (and findings follow)."""
    app = write_app(tmp_path, {"helpers": HELPERS, "caller": CALLER, "other": "x = 1\n"})
    root = tmp_path.resolve()
    project = Project.load([], Settings(), root=root)
    helpers, caller, other = (app.resolve() / f"{name}.py" for name in ("helpers", "caller", "other"))

    def codes() -> list[str]:
        return [f.code for f in project.check(project.module(caller))]

    assert codes() == ["BGT302"]  # handler -> read_config() -> open
    kept = project.module(helpers).derived["local-calls"]
    project.replace(other, "x = 2\n")
    assert codes() == ["BGT302"]
    assert project.module(helpers).derived["local-calls"] is kept
    project.replace(helpers, "def read_config(path):\n    return path\n")
    assert codes() == []
    assert project.module(helpers).derived["local-calls"] is not kept


def _judged_when_asked(tmp_path: Path, class_body: str, scheduled: list[str]) -> list[tuple]:
    """A task module importing a logger from `app.client`, whose class `Client` (with this
    body) names `app.conn` only where a check has no reason to ask (`scheduled`: methods
    of Client that are tasks too). Checking the task module must not load `app.conn`;
    returned: client.py's findings (code, line, whether its log call is not known for one)."""
    client = ("import logging\n\nfrom app import conn\n\nlogger = logging.getLogger(__name__)\n\n\n"
              "class Client:\n" + class_body)
    tasks = ("from fastapi import BackgroundTasks\n\nfrom app.client import Client, logger\n\n\n"
             "def job(x):\n    try:\n        work(x)\n    except Exception:\n        logger.exception('failed')\n\n\n"
             "def endpoint(background_tasks: BackgroundTasks):\n    background_tasks.add_task(job, 1)\n"
             + "".join(f"    background_tasks.add_task(Client().{method}, 1)\n" for method in scheduled))
    app = write_app(tmp_path, {"conn": "def open_connection():\n    return 1\n", "client": client, "tasks": tasks})
    project = Project.load([], Settings(), root=tmp_path.resolve())
    assert [f.code for f in project.check(project.module(app.resolve() / "tasks.py"))] == []
    assert app.resolve() / "conn.py" not in project.index.by_path  # nobody asked about Client
    return [(f.code, f.line, "neither logs nor prints" in f.message or "is not provably a logger" in f.message)
            for f in project.check(project.module(app.resolve() / "client.py"))]


def test_class_attributes_are_judged_when_asked(tmp_path: Path) -> None:
    """A module whose logger another module imports is not read whole for it: its classes'
    `self.<attr>` are judged when a check asks about one (judging them all loaded most of a
    big project), with the same answers."""
    found = _judged_when_asked(tmp_path, (
        "    def __init__(self):\n        self.conn = conn.open_connection()\n"
        "        self.log = logging.getLogger('client')\n        self.child = self.log.getChild('x')\n\n"
        "    def sync(self, x):\n        try:\n            work(x)\n        except Exception as e:\n"
        "            self.log.error(str(e))\n\n    def other(self, x):\n        try:\n            work(x)\n"
        "        except Exception as e:\n            self.child.error(str(e))\n"), ["sync", "other"])
    # self.log is a logger (logging without the traceback); self.child, derived from another
    # attribute of the same class, is not followed (as when every attribute was judged first)
    assert found == [("BGT402", 17, False), ("BGT402", 23, True)]


def test_what_a_class_s_methods_make_is_judged_when_asked(tmp_path: Path) -> None:
    """The same for a class's methods that return a logger: judged when a `self.<method>()`
    is, not with the module's bindings."""
    found = _judged_when_asked(tmp_path, (
        "    def connect(self):\n        return conn.open_connection()\n\n"
        "    def make_log(self):\n        return logging.getLogger('client')\n\n"
        "    def sync(self, x):\n        try:\n            work(x)\n        except Exception as e:\n"
        "            self.make_log().error(str(e))\n"), ["sync"])
    assert found == [("BGT402", 18, False)]  # make_log() makes a logger: it logs, without the traceback


@pytest.mark.parametrize("path, root, is_package", [
    ("/p/app/main.py", "/p", False),
    ("/p/app/__init__.py", "/p", True),
    ("/p/app/main.py", "/p/", False),
    ("/p/main.py", "/", False),
    ("/elsewhere/a/b/c/d/e.py", "/p", False),  # outside the root: the last four parts
    ("/p2/app/main.py", "/p", False),  # a sibling with the root's name as a prefix
])
def test_import_suffixes_as_strings_are_those_of_relative_to(path: str, root: str, is_package: bool) -> None:
    from bgtask_lint.index import _suffixes

    def by_relative_to(path: Path, root: Path) -> list[str]:
        try:
            parts = list(path.relative_to(root).parts)
        except ValueError:
            parts = list(path.parts[-4:])
        parts = parts[:-1] if is_package else [*parts[:-1], parts[-1][:-3]]
        return [".".join(parts[i:]) for i in range(len(parts))] if parts else []

    expected = by_relative_to(Path(path), Path(root))
    assert _suffixes(Path(path), Path(root), is_package) == expected
    assert _suffixes(path, Path(root), is_package) == expected  # as the index registers files: by string


def test_modules_registered_by_string_resolve_and_load_as_paths(tmp_path: Path) -> None:
    """A project registers its files by path string; what resolution finds is loaded by Path,
    the nearer of two same-named modules first."""
    from bgtask_lint.engine import parse_module
    from bgtask_lint.index import ProjectIndex

    files = {"app/__init__.py": "", "app/tasks.py": "def job():\n    pass\n", "other/tasks.py": "",
             "app/main.py": "from tasks import job\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    loaded: list[Path] = []

    def loader(path: Path):
        loaded.append(path)
        return parse_module(path, tmp_path)

    index = ProjectIndex(tmp_path, [])
    index.register([str(tmp_path / name) for name in files], loader)
    main = index.module(tmp_path / "app" / "main.py")
    found = index.find_module("tasks", main)
    assert found is not None and found.path == tmp_path / "app" / "tasks.py"
    assert all(isinstance(path, Path) for path in loaded)
    assert index.module(tmp_path / "missing.py") is None  # never registered: never loaded
    assert tmp_path / "missing.py" not in loaded


def test_the_index_tells_of_its_next_change_once_before_it_is_made(tmp_path: Path) -> None:
    """`before_change` runs just before the next `add` or `remove`, while the memo still
    holds what was analysed on the state before it, and only once (`fix` keeps that state's
    analyses for the next file)."""
    from bgtask_lint.engine import parse_module
    from bgtask_lint.index import ProjectIndex

    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    a, b = parse_module(tmp_path / "a.py", tmp_path), parse_module(tmp_path / "b.py", tmp_path)
    index = ProjectIndex(tmp_path, [a])
    index.cache["analysed"] = True
    told: list[tuple] = []
    index.before_change = lambda: told.append(index.analyses())
    index.cache["analysed later"] = True  # still the same state
    index.add(b)
    index.remove(b.path)
    assert len(told) == 1 and told[0][0] == {"analysed": True, "analysed later": True}
    assert index.cache == {} and index.before_change is None
    index.before_change = lambda: told.append(index.analyses())
    index.remove(a.path)
    assert len(told) == 2


def test_a_logger_type_from_another_module_asks_only_its_types(tmp_path: Path) -> None:
    """`class AuditLog(Base)` makes the task module ask whether `Base` is a logger type.
    The answer is in base.py's logger types, which come first in its bindings; the rest of
    those bindings (here `handle = make_handle()`) asks about deep.py, which nothing else
    needs: it is not parsed (on litellm, re-checking three edited files parsed 289 modules,
    270 of them for such questions; now 44)."""
    app = write_app(tmp_path, {
        "deep": "def make_handle():\n    return object()\n",
        "base": "from app.deep import make_handle\n\nhandle = make_handle()\n\n\nclass Base:\n    pass\n",
        "adapters": "import logging\n\n\nclass Adapter(logging.LoggerAdapter):\n    pass\n",
        "tasks": ("import logging\n\nfrom fastapi import BackgroundTasks\n\nfrom app.adapters import Adapter\n"
                  "from app.base import Base\n\n\nclass AuditLog(Base):\n    pass\n\n\n"
                  "class JobLog(Adapter):\n    pass\n\n\n"
                  "log = JobLog(logging.getLogger(__name__), {})\n\n\n"
                  "def job(x):\n    try:\n        work(x)\n    except Exception:\n        log.exception('failed')\n\n\n"
                  "def endpoint(background_tasks: BackgroundTasks):\n    background_tasks.add_task(job, 1)\n"),
    })
    project = Project.load([], Settings(), root=tmp_path.resolve())
    tasks = project.module(app.resolve() / "tasks.py")
    assert [f.code for f in project.check(tasks)] == []  # JobLog is a logger type: the handler logs
    assert app.resolve() / "base.py" in project.index.by_path  # asked about Base
    assert app.resolve() / "deep.py" not in project.index.by_path
    # the same answers as the whole bindings give
    from bgtask_lint.guards import module_logger_classes, module_loggers

    for name in ("adapters", "base"):
        module = project.module(app.resolve() / f"{name}.py")
        assert module_logger_classes(project.index, module) == module_loggers(project.index, module).logger_classes


def test_attribute_annotations_are_found_in_one_pass_in_walk_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """What annotates `self.<attr>`, in `ast.walk`'s order (the first one found decides a
    receiver's class): a class is read once for all its attributes (a big class was walked
    whole for every attribute asked: litellm's pre-commit runs spent 0.4 s there)."""
    from bgtask_lint import index as index_module

    source = (
        "class Service:\n"
        "    client: 'Client'\n"
        "    def __init__(self, session: Session, other: Other, plain):\n"
        "        self.session = session\n"
        "        self.a = self.b = other\n"
        "        self.plain = plain\n"
        "        try:\n"
        "            self.client: HttpClient = make()\n"
        "        except Exception:\n"
        "            self.client: Fallback = None\n"
        "    def later(self):\n"
        "        if True:\n"
        "            def inner():\n"
        "                self.session: Late = None\n"
        "        self.session: Direct = None\n"
    )
    owner = ast.parse(source).body[0]

    def reference(attr: str) -> list[str]:
        found = []
        for stmt in owner.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == attr:
                found.append(stmt.annotation)
            if not isinstance(stmt, ast.FunctionDef):
                continue
            params = {a.arg: a.annotation for a in stmt.args.args}
            for node in ast.walk(stmt):
                targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
                if not any(isinstance(t, ast.Attribute) and t.attr == attr and getattr(t.value, "id", "") == "self"
                           for t in targets):
                    continue
                if isinstance(node, ast.AnnAssign):
                    found.append(node.annotation)
                elif stmt.name == "__init__" and isinstance(node.value, ast.Name) and params.get(node.value.id):
                    found.append(params[node.value.id])
        return [ast.unparse(a) for a in found]

    passes = []
    original = index_module._annotations_by_attribute
    monkeypatch.setattr(index_module, "_annotations_by_attribute", lambda cls: passes.append(cls) or original(cls))
    for attr in ("client", "session", "a", "b", "plain", "missing"):
        assert [ast.unparse(a) for a in index_module.attribute_annotations(owner, attr)] == reference(attr), attr
    assert reference("session") == ["Session", "Direct", "Late"]  # breadth first: the nested def's last
    assert reference("client") == ["'Client'", "HttpClient", "Fallback"]
    assert len(passes) == 1


def _layout_with_every_kind_of_file(root: Path) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "tasks.py").write_text(
        "from fastapi import BackgroundTasks\n\n\ndef job():\n    pass\n\n\n"
        "def endpoint(background_tasks: BackgroundTasks):\n    background_tasks.add_task(job)\n")
    (root / "app" / "util.py").write_text("def helper():\n    return 1\n")
    (root / "app" / "broken.py").write_text("def broken(:\n")
    (root / "main.py").write_text("from app.util import helper\n")
    (root / "build").mkdir()
    (root / "build" / "generated.py").write_text("X = 1\n")  # excluded by default


def test_a_whole_project_is_walked_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Naming the project's root walks it once (it walked the root a second time to find the
    modules it did not name: litellm, check --no-cache 10.9 -> 10.1 s); naming parts of it
    still walks the rest. Either way the project knows the same modules."""
    from bgtask_lint import project as project_module

    _layout_with_every_kind_of_file(tmp_path)
    walks: list[list[Path]] = []
    real_walk = project_module.iter_python_files

    def counting(paths, *args, **kwargs):
        walks.append(list(paths))
        return real_walk(paths, *args, **kwargs)

    monkeypatch.setattr(project_module, "iter_python_files", counting)
    whole = Project.load([tmp_path], Settings())
    assert len(walks) == 1
    walks.clear()
    parts = Project.load([tmp_path / "app", tmp_path / "main.py"], Settings(), root=tmp_path)
    assert len(walks) == 2

    def known(project: Project) -> dict[str, list[str]]:
        return {suffix: sorted(paths) for suffix, paths in project.index._by_suffix.items()}

    assert known(whole) == known(parts) and str(tmp_path.resolve() / "app" / "broken.py") in whole.index._known
    assert str(tmp_path.resolve() / "build" / "generated.py") not in whole.index._known
    assert sorted(whole.targets) == sorted(parts.targets) and len(whole.targets) == 4
    assert [e.path.name for e in whole.errors] == [e.path.name for e in parts.errors] == ["broken.py"]
