"""A plain `check` or `fix` runs without click (launch.py): it reads the options click
would read, and prints, exits and fails exactly as the click command line does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from bgtask_lint.cli import main
from bgtask_lint.launch import CHECK_DEFAULTS, FIX_DEFAULTS, quick_params
from bgtask_lint.report import style

APP = """\
import asyncio
import time

from fastapi import BackgroundTasks


def endpoint(background_tasks: BackgroundTasks, path: str):
    background_tasks.add_task(process(path))


async def poll():
    time.sleep(1)


async def process(path):
    pass
"""
BROKEN = "def f(:\n"
QUICK = [sys.executable, "-m", "bgtask_lint"]  # the program, as the console script runs it
THROUGH_CLICK = [sys.executable, "-c", "import sys; from bgtask_lint.cli import main; sys.argv[0] = 'bgtask-lint'; main()"]


def _click_params(args: list[str], command: str = "check") -> dict:
    return main.commands[command].make_context(command, list(args)).params


def test_the_defaults_are_clicks() -> None:
    assert _click_params([]) == CHECK_DEFAULTS
    assert _click_params([], "fix") == FIX_DEFAULTS


@pytest.mark.parametrize("args", [
    [],
    ["app.py", "--exit-zero", "-q", "--format=json", "lib"],
    ["--select", "BGT1", "--ignore=BGT4", "x.py", "--no-force-exclude"],
    ["--force-exclude", "--statistics", "--show-fixes", "-v", "--no-cache", "--no-respect-gitignore"],
    ["--format", "sarif", "--format", "github", "a.py"],  # the last one counts, as in click
])
def test_options_read_as_click_reads_them(args: list[str]) -> None:
    assert quick_params(["check", *args]) == ("check", _click_params(args))


@pytest.mark.parametrize("args", [
    [],
    ["app.py", "--diff", "-q", "lib", "--unsafe-fixes"],
    ["--select", "BGT1", "--ignore=BGT4", "x.py", "--no-force-exclude", "--show-fixes", "--format=json"],
    ["--force-exclude", "-v", "--no-cache", "--no-respect-gitignore", "--exit-zero"],
])
def test_fix_options_read_as_click_reads_them(args: list[str]) -> None:
    assert quick_params(["fix", *args]) == ("fix", _click_params(args, "fix"))


def test_every_fix_option_read_here_is_read_so_by_click() -> None:
    from bgtask_lint.launch import CHECK_ONLY_FLAGS, FIX_ONLY_FLAGS, QUICK_FLAGS, QUICK_VALUES

    for flag in [*QUICK_FLAGS, *FIX_ONLY_FLAGS]:
        if flag not in CHECK_ONLY_FLAGS:
            assert quick_params(["fix", flag]) == ("fix", _click_params([flag], "fix")), flag
    for option, (_, choices) in QUICK_VALUES.items():
        value = sorted(choices)[0] if choices else "BGT1"
        assert quick_params(["fix", option, value]) == ("fix", _click_params([option, value], "fix")), option
    for flag in CHECK_ONLY_FLAGS:  # click's `fix` has no such option: its usage error
        with pytest.raises(click.UsageError):
            _click_params([flag], "fix")
        assert quick_params(["fix", flag]) is None


def test_every_option_read_here_is_read_so_by_click() -> None:
    from bgtask_lint.launch import QUICK_FLAGS, QUICK_VALUES

    for flag in QUICK_FLAGS:
        assert quick_params(["check", flag]) == ("check", _click_params([flag])), flag
    for option, (_, choices) in QUICK_VALUES.items():
        value = sorted(choices)[0] if choices else "BGT1"
        assert quick_params(["check", option, value]) == ("check", _click_params([option, value])), option
    formats = next(p for p in main.commands["check"].params if p.name == "output_format").type.choices
    assert set(formats) == QUICK_VALUES["--format"][1]


@pytest.mark.parametrize("args", [
    ["fix", "-"],  # stdin
    ["fix", "--statistics", "."],  # an option of check's only: click's usage error
    ["fix", "--connect-timeout", "5", "."],
    ["fix", "--jobs", "2", "."],
    ["check", "--diff", "."],
    ["rules"],
    ["check", "-"],  # stdin
    ["check", "--", "-odd.py"],
    ["check", "--help"],
    ["check", "--jobs", "2", "."],
    ["check", "--format", "xml", "."],  # click's own usage error
    ["check", "--select"],  # a value missing
    ["check", "--exit-zero=1"],
    ["check", "--fix", "."],
    ["--version"],
])
def test_anything_else_goes_to_click(args: list[str]) -> None:
    assert quick_params(args) is None


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "clean.py").write_text("x = 1\n")
    return tmp_path


def _run(command: list[str], args: list[str], cwd: Path) -> tuple[int, str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("args", [
    ["check"],
    ["check", "app.py"],
    ["check", "--exit-zero", "--statistics", "."],
    ["check", "--format", "json", "app.py", "clean.py"],
    ["check", "--format=github", "--select", "BGT3", "."],
    ["check", "-q", "--show-fixes", "."],
    ["check", "-v", "--no-cache", "app.py"],
    ["check", "clean.py"],
    ["check", "missing.py", "app.py"],  # an error line, the other path still checked
    ["check", "broken.py", "app.py"],  # a file that does not parse
    ["check", "--select", "BGT9X", "."],  # a usage problem: one line, exit 2
    ["check", "-q", "-v", "."],
])
def test_same_output_and_exit_as_click(project: Path, args: list[str]) -> None:
    (project / "broken.py").write_text(BROKEN)
    assert quick_params(args) is not None
    through_click = _run(THROUGH_CLICK, args, project)
    quick = _run(QUICK, args, project)
    assert quick == through_click
    assert quick[0] in (0, 1, 2)


@pytest.mark.parametrize("args", [
    ["fix"],
    ["fix", "--diff", "app.py"],
    ["fix", "--show-fixes", "--no-cache", "."],
    ["fix", "--unsafe-fixes", "-v", "app.py", "clean.py"],
    ["fix", "--format", "json", "--exit-zero", "."],
    ["fix", "-q", "--select", "BGT3", "missing.py", "app.py"],
    ["fix", "broken.py", "app.py"],
    ["fix", "--select", "BGT9X", "."],  # a usage problem: one line, exit 2
])
def test_fix_same_output_exit_and_files_as_click(project: Path, tmp_path_factory: pytest.TempPathFactory,
                                                 args: list[str]) -> None:
    (project / "broken.py").write_text(BROKEN)
    assert quick_params(args) is not None
    runs = []
    for command in (THROUGH_CLICK, QUICK):
        copy = tmp_path_factory.mktemp("copy")
        shutil.copytree(project, copy, dirs_exist_ok=True)
        code, out, err = _run(command, args, copy)
        files = {p.name: p.read_text() for p in sorted(copy.glob("*.py"))}
        runs.append((code, out.replace(str(copy), "<root>"), err.replace(str(copy), "<root>"), files))
    assert runs[1] == runs[0]
    assert runs[0][0] in (0, 1, 2)


def test_a_fix_loads_no_click(project: Path) -> None:
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('click loaded:', 'click' in sys.modules, file=sys.stderr))\n"
             "sys.argv = ['bgtask-lint', 'fix', '.']\n"
             "from bgtask_lint.launch import run\nrun()\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, timeout=120)
    assert "Fixed 2 findings (BGT101: 1, BGT301: 1)" in done.stderr, done.stderr
    fixed = (project / "app.py").read_text()
    assert "add_task(process, path)" in fixed and "await asyncio.sleep(1)" in fixed
    assert done.stderr.strip().splitlines()[-1] == "click loaded: False"


@pytest.mark.parametrize(("name", "env", "stderr"), [
    ("tâche.py", {"PYTHONIOENCODING": "ascii"}, None),  # click rewrites what ASCII cannot say
    ("esc\x1b[31mred.py", {}, None),  # click strips terminal codes off a pipe
    ("app.py", {}, subprocess.DEVNULL),
    ("app.py", {}, "closed"),  # cron: no stderr at all
])
def test_streams_that_need_clicks_handling(project: Path, name: str, env: dict, stderr) -> None:
    (project / name).write_text(APP.replace("process(path)", "tâche(path)"))
    runs = []
    for command in (THROUGH_CLICK, QUICK):
        args = [*command, "check", "--no-cache", "missing.py", name]
        if stderr == "closed":
            args = ["sh", "-c", '"$@" 2>&-', "sh", *args]
        done = subprocess.run(args, cwd=project, stdout=subprocess.PIPE, timeout=120,
                              stderr=subprocess.PIPE if stderr is None else subprocess.DEVNULL,
                              env={**os.environ, "NO_COLOR": "1", **env})
        runs.append((done.returncode, done.stdout, done.stderr))
    assert runs[0] == runs[1]
    assert runs[0][0] == 2 and b"BGT101" in runs[0][1]


@pytest.mark.parametrize("gone", ["stderr", "both"])
def test_a_reader_gone_from_stderr_ends_as_click_ends(project: Path, gone: str) -> None:
    """An error line to a pipe nobody reads (`2>&1 >/dev/null | true`): exit 1, as click's
    program exits, not 120 from a failed flush at exit (buffered streams: no
    PYTHONUNBUFFERED)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    codes = []
    for command in (THROUGH_CLICK, QUICK):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            done = subprocess.run([*command, "check", "--no-cache", "app.py", "missing.py"], cwd=project, env=env,
                                  stdout=write_end if gone == "both" else subprocess.DEVNULL, stderr=write_end,
                                  timeout=120)
        finally:
            os.close(write_end)
        codes.append(done.returncode)
    assert codes[0] == codes[1] == 1


def test_a_warm_check_loads_no_click(project: Path) -> None:
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('click loaded:', 'click' in sys.modules, file=sys.stderr))\n"
             "sys.argv = ['bgtask-lint', 'check', '.']\n"
             "from bgtask_lint.launch import run\nrun()\n")
    for _ in range(2):  # cold, then warm
        done = subprocess.run([sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done.stderr
        assert "app.py:8:31: BGT101" in done.stdout
        assert done.stderr.strip().splitlines()[-1] == "click loaded: False"
    done = subprocess.run([sys.executable, "-c", probe.replace("'check', '.'", "'check', '--jobs', '1', '.'")],
                          cwd=project, capture_output=True, text=True, timeout=120)
    assert done.stderr.strip().splitlines()[-1] == "click loaded: True"  # an option it does not know


def test_a_closed_pipe_ends_quietly(project: Path) -> None:
    """`bgtask-lint check | head -0`: exit 1, no traceback (as click's command line ends)."""
    many = "".join(f"def endpoint{i}(background_tasks: BackgroundTasks):\n    background_tasks.add_task(job{i}())\n"
                   for i in range(3000))
    (project / "many.py").write_text("from fastapi import BackgroundTasks\n" + many)
    reader_gone = subprocess.Popen([*QUICK, "check", "many.py"], cwd=project, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
    assert reader_gone.stdout is not None
    reader_gone.stdout.close()
    _, err = reader_gone.communicate(timeout=120)
    assert reader_gone.returncode == 1
    assert b"Traceback" not in err


@pytest.mark.parametrize("options", [{"fg": "cyan"}, {"bold": True}, {"fg": "red", "bold": True},
                                     {"fg": "green", "bold": True}])
@pytest.mark.parametrize("text", ["x", "", "app.py"])
def test_styles_are_the_codes_click_writes(options: dict, text: str) -> None:
    assert style(text, **options) == click.style(text, **options)


def test_a_warm_check_without_a_toml_file_loads_no_toml_parser(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # the project's root, without a pyproject.toml
    (tmp_path / "app.py").write_text(APP)
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('toml loaded:', 'tomllib' in sys.modules or 'tomli' in sys.modules,"
             " file=sys.stderr))\n"
             "sys.argv = ['bgtask-lint', 'check', '.']\n"
             "from bgtask_lint.launch import run\nrun()\n")
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert "app.py:8:31: BGT101" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "toml loaded: False"
    (tmp_path / "pyproject.toml").write_text("[tool.bgtask-lint]\nselect = ['BGT3']\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "BGT101" not in done.stdout and "app.py:12:5: BGT301" in done.stdout  # the settings were read
    assert done.stderr.strip().splitlines()[-1] == "toml loaded: True"


def test_a_cold_check_builds_no_dataclass(tmp_path: Path) -> None:
    """The checker's value classes are plain.Value: building ~25 dataclasses (with
    dataclasses and inspect imported for them) was a third of the 0.12 s a cold check of
    a small project took; and the rules are found without pkgutil (which imports inspect)."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "app.py").write_text(APP)
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('loaded:', sorted({'dataclasses', 'inspect', 'libcst'} & set(sys.modules)),"
             " file=sys.stderr))\n"
             "sys.argv = ['bgtask-lint', 'check', '--no-cache', '--select', 'BGT', '.']\n"
             "from bgtask_lint.launch import run\nrun()\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "app.py:8:31: BGT101" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "loaded: []"


def test_a_warm_check_imports_only_what_it_uses(tmp_path: Path) -> None:
    """A warm check answers from the cache: it needs neither the classes' builder
    (dataclasses, which pulls in inspect), typing, nor the tokenizer (plain.py)."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "app.py").write_text(APP)
    probe = ("import atexit, sys\n"
             "before = set(sys.modules)\n"
             "heavy = {'dataclasses', 'inspect', 'typing', 'tokenize', 'click', 'tomllib', 'libcst'}\n"
             "atexit.register(lambda: print('loaded:', sorted(heavy & (set(sys.modules) - before)), file=sys.stderr))\n"
             "sys.argv = ['bgtask-lint', 'check', '.']\n"
             "from bgtask_lint.launch import run\nrun()\n")
    runs = []
    for _ in range(3):
        runs.append(subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                                   timeout=120))
        # files and directories changed within the last 2 s are read again (scan.RACY_NS): age them
        for path in (tmp_path, tmp_path / "app.py"):
            os.utime(path, (time.time() - 60, time.time() - 60))
    assert all("app.py:8:31: BGT101" in run.stdout for run in runs)
    assert runs[0].stderr.strip().splitlines()[-1] != "loaded: []"  # a cold check parses: the probe sees
    assert runs[-1].stderr.strip().splitlines()[-1] == "loaded: []"
