"""Awkward files: each gets the right answer or one clear diagnostic, and `fix` keeps
the encoding and line endings it found."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgtask_lint.cli import main

DANGLING = "import asyncio\n\n\nasync def handler():\n    asyncio.create_task(work())\n"
FIXED_LINE = "    task = asyncio.create_task(work())"
ERROR_LINE = re.compile(r"^\S.*?: error: \S.*$")


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _one_error(result, name: str | tuple[str, ...]) -> str:
    """The run's only stderr line apart from fix's summary, about `name`."""
    lines = [line for line in result.stderr.splitlines() if not line.startswith(("Fixed", "Would fix"))]
    names = (name,) if isinstance(name, str) else name
    assert len(lines) == 1 and lines[0].startswith(tuple(f"{n}: error: " for n in names)), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def _findings(result) -> list[str]:
    return [line.split(" ", 2)[0] + " " + line.split(" ", 2)[1] for line in result.stdout.splitlines() if " BGT" in line]


# --- encodings --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding, text", [
    ("latin-1", "caf\xe9 cr\xe8me \xbd"),
    ("cp1252", "\u20ac \u201cquoted\u201d \u2014 caf\xe9"),
])
def test_coding_cookie_check_and_fix_keep_the_encoding(project: Path, encoding: str, text: str) -> None:
    source = (
        f"# -*- coding: {encoding} -*-\n"
        f"# {text}\n"
        "import asyncio\n\n\n"
        "async def handler():\n"
        f"    label = '{text}'; asyncio.create_task(work('{text}'))\n"
    )
    path = project / "legacy.py"
    path.write_bytes(source.encode(encoding))
    result = run("check", "legacy.py")
    assert result.exit_code == 1 and result.stdout.startswith("legacy.py:7:"), result.output
    assert " BGT103 " in result.stdout
    assert run("fix", "legacy.py").exit_code == 0
    raw = path.read_bytes()
    new = raw.decode(encoding)
    assert new.startswith(f"# -*- coding: {encoding} -*-\n# {text}\n")
    assert f"    label = '{text}'; task = asyncio.create_task(work('{text}')); _background_tasks.add(task);" in new
    compile(raw, "legacy.py", "exec")


def test_utf8_bom_with_crlf(project: Path) -> None:
    path = project / "bom.py"
    path.write_bytes(b"\xef\xbb\xbf" + DANGLING.replace("\n", "\r\n").encode())
    result = run("check", "bom.py")
    assert result.exit_code == 1 and result.stdout.startswith("bom.py:5:5: BGT103")
    assert run("fix", "bom.py").exit_code == 0
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfimport asyncio\r\n") and raw.count(b"\xef\xbb\xbf") == 1
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert (FIXED_LINE + "\r\n").encode() in raw


def test_invalid_utf8_is_one_line_and_fix_leaves_it(project: Path) -> None:
    path = project / "bad.py"
    path.write_bytes(b"x = '\xff\xfe'\n" + DANGLING.encode())
    (project / "good.py").write_text(DANGLING)
    result = run("check", ".")
    assert result.exit_code == 2 and "good.py:5:5: BGT103" in result.stdout
    assert "cannot decode" in _one_error(result, "bad.py")
    result = run("fix", ".")
    assert result.exit_code == 2 and "cannot decode" in _one_error(result, "bad.py")
    assert path.read_bytes().startswith(b"x = '\xff\xfe'\n")
    assert FIXED_LINE in (project / "good.py").read_text()


def test_unknown_cookie_encoding(project: Path) -> None:
    (project / "odd.py").write_bytes(b"# coding: klingon\nx = 1\n")
    result = run("check", "odd.py")
    assert result.exit_code == 2 and "unknown encoding" in _one_error(result, "odd.py")


# --- line endings, tabs, form feeds ------------------------------------------------------------


def test_lone_cr_line_endings(project: Path) -> None:
    path = project / "mac.py"
    path.write_bytes(DANGLING.replace("\n", "\r").encode())
    result = run("check", "mac.py")
    assert result.exit_code == 1 and result.stdout.startswith("mac.py:5:5: BGT103")
    fixed = run("fix", "mac.py")
    raw = path.read_bytes()
    if fixed.exit_code == 2:  # LibCST could not keep lone CRs: one line, file untouched
        _one_error(fixed, "mac.py")
        assert raw == DANGLING.replace("\n", "\r").encode()
    else:
        assert fixed.exit_code == 0, fixed.output
        assert b"\n" not in raw and (FIXED_LINE + "\r").encode() in raw
        compile(raw, "mac.py", "exec")


def test_tabs_indentation(project: Path) -> None:
    path = project / "tabs.py"
    path.write_text(DANGLING.replace("    ", "\t"))
    result = run("check", "tabs.py")
    assert result.exit_code == 1 and result.stdout.startswith("tabs.py:5:2: BGT103")
    assert run("fix", "tabs.py").exit_code == 0
    assert "\ttask = asyncio.create_task(work())\n\t_background_tasks.add(task)\n" in path.read_text()


FORM_FEEDS = (
    "import asyncio\n"
    "\x0c\n"
    "async def handler():\n"
    "    asyncio.create_task(first())  # noqa: BGT103\n"
    "    asyncio.create_task(second())\x0c  # a form feed before the comment\n"
    "\x0c\n"
    "# a comment\x1ewith a record separator, and one with a form feed\x0cin it\n"
    "async def other():\n"
    "    asyncio.create_task(third())\n"
)


def test_form_feeds_do_not_shift_lines(project: Path) -> None:
    """Python ends lines only at \\n, \\r\\n and \\r; str.splitlines() also splits at form
    feeds and \\x1c-\\x1e, which shifted the `# noqa` lookup and the fix targets."""
    path = project / "ff.py"
    path.write_text(FORM_FEEDS)
    result = run("check", "ff.py")
    assert _findings(result) == ["ff.py:5:5: BGT103", "ff.py:9:5: BGT103"], result.output
    fixed = run("fix", "ff.py")
    assert fixed.exit_code == 0, fixed.output
    text = path.read_text()
    assert "    asyncio.create_task(first())  # noqa: BGT103\n" in text
    assert "    task = asyncio.create_task(second())\x0c  # a form feed before the comment\n" in text
    assert "    task = asyncio.create_task(third())\n" in text  # names are unique per function
    assert "\x0c\n# a comment\x1ewith a record separator, and one with a form feed\x0cin it\n" in text


def test_form_feeds_in_diff(project: Path) -> None:
    path = project / "ff.py"
    path.write_text(FORM_FEEDS)
    result = run("fix", "--diff", "ff.py")
    assert result.exit_code == 1
    # every line of the diff is a diff line: a form feed inside a line does not split it
    lines = re.split(r"\r\n|\r|\n", result.stdout.rstrip("\n"))
    assert all(line[:1] in ("-", "+", " ", "@") for line in lines), lines


# --- contents -----------------------------------------------------------------------------


def test_nul_byte(project: Path) -> None:
    path = project / "nul.py"
    path.write_bytes(b"x = 1\x00\n" + DANGLING.encode())
    for command in ("check", "fix"):
        result = run(command, "nul.py")
        assert result.exit_code == 2 and "NUL byte" in _one_error(result, "nul.py")
    assert path.read_bytes().startswith(b"x = 1\x00\n")


def test_empty_file(project: Path) -> None:
    (project / "empty.py").write_bytes(b"")
    result = run("check", "empty.py")
    assert result.exit_code == 0 and result.output == ""
    result = run("fix", "empty.py")
    assert result.exit_code == 0 and (project / "empty.py").read_bytes() == b""


def test_a_one_megabyte_file(project: Path) -> None:
    chunk = (
        "async def handler_{n}(path: str) -> None:\n"
        "    '''Handler number {n}, with some text to make the file bigger.'''\n"
        "    data = {{'n': {n}, 'path': path, 'label': 'handler {n}'}}\n"
        "    {call}(work_{n}(data))\n\n\n"
    )
    parts = ["import asyncio\n\n\n"]
    size = 0
    n = 0
    while size < 1_000_000:
        # one function in ten drops its task: ~450 fixes in a file of ~4,500 functions
        parts.append(chunk.format(n=n, call="asyncio.create_task" if n % 10 == 0 else "await asyncio.shield"))
        size += len(parts[-1])
        n += 1
    path = project / "big.py"
    path.write_text("".join(parts))
    started = time.monotonic()
    result = run("check", "--exit-zero", "big.py")
    checked = time.monotonic() - started
    dropped = (n + 9) // 10
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == dropped
    started = time.monotonic()
    result = run("fix", "big.py")
    fixed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert text.count("    _background_tasks.add(task") == dropped
    compile(text, "big.py", "exec")
    print(f"\n1 MB file ({n} functions, {dropped} fixes): check {checked:.1f} s, fix {fixed:.1f} s")


# --- paths --------------------------------------------------------------------------------


def test_unreadable_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = project / "secret.py"
    path.write_text(DANGLING)
    (project / "open.py").write_text(DANGLING)
    if os.geteuid() != 0:
        os.chmod(path, 0)
    else:  # root reads anything: refuse the open the way the OS would
        real = os.open

        def refusing_open(file, flags, *args, **kwargs):
            if os.fspath(file).endswith("secret.py"):
                raise PermissionError(13, "Permission denied", os.fspath(file))
            return real(file, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing_open)
    try:
        for command in ("check", "fix"):
            result = run(command, ".")
            assert result.exit_code == 2
            assert _one_error(result, "secret.py") == "secret.py: error: Permission denied"
        assert FIXED_LINE in (project / "open.py").read_text()
    finally:
        os.chmod(path, 0o644)


def test_directory_named_like_a_module(project: Path) -> None:
    weird = project / "x.py"
    weird.mkdir()
    (weird / "inner.py").write_text(DANGLING)
    result = run("check", "x.py")
    assert result.exit_code == 1 and result.stdout.startswith("x.py/inner.py:5:5: BGT103")
    result = run("check", ".")
    assert result.exit_code == 1 and result.stderr == ""


def test_dangling_symlink(project: Path) -> None:
    (project / "gone.py").symlink_to(project / "nowhere.py")
    (project / "real.py").write_text(DANGLING)
    result = run("check", ".")
    assert result.exit_code == 2 and "real.py:5:5: BGT103" in result.stdout
    _one_error(result, ("gone.py", "nowhere.py"))  # the link, or the file it names
    result = run("check", "gone.py")
    assert result.exit_code == 2 and "no such file" in _one_error(result, "gone.py")
    result = run("fix", ".")
    assert result.exit_code == 2 and FIXED_LINE in (project / "real.py").read_text()
    _one_error(result, ("gone.py", "nowhere.py"))


def test_directory_symlink_loop(project: Path) -> None:
    pkg = project / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "sub" / "mod.py").write_text(DANGLING)
    (pkg / "sub" / "up").symlink_to(pkg, target_is_directory=True)
    (pkg / "self").symlink_to(pkg, target_is_directory=True)
    result = run("check", ".")
    assert result.exit_code == 1 and _findings(result) == ["pkg/sub/mod.py:5:5: BGT103"], result.output
    result = run("fix", "pkg")
    assert result.exit_code == 0
    assert (pkg / "sub" / "mod.py").read_text().count("task = asyncio.create_task") == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_like_a_module_is_an_error_not_a_hang(project: Path) -> None:
    """Reading a FIFO waits for a writer: a `.py` FIFO in the tree hung every run."""
    os.mkfifo(project / "pipe.py")
    (project / "real.py").write_text(DANGLING)
    for args in (["check", "--no-cache", "."], ["check", "."], ["check", "pipe.py"], ["fix", "."]):
        done = subprocess.run([sys.executable, "-m", "bgtask_lint", *args], cwd=project, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 2, (args, done.stderr)
        assert "pipe.py: error: not a regular file" in done.stderr.splitlines(), (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert FIXED_LINE in (project / "real.py").read_text()


def test_a_path_given_twice(project: Path) -> None:
    (project / "app.py").write_text(DANGLING)
    for args in (["app.py", "app.py"], [".", "app.py"], ["app.py", str(project / "app.py")]):
        result = run("check", *args)
        assert _findings(result) == ["app.py:5:5: BGT103"], (args, result.output)
    result = run("fix", "app.py", ".", "./app.py")
    assert result.exit_code == 0
    assert (project / "app.py").read_text().count("task = asyncio.create_task") == 1


def test_spaces_and_non_ascii_names(project: Path) -> None:
    folder = project / "my app" / "\u00fcber"
    folder.mkdir(parents=True)
    path = folder / "caf\u00e9 t\u00e2ches.py"
    path.write_text(DANGLING)
    result = run("check", "my app")
    assert result.exit_code == 1
    assert result.stdout.startswith("my app/\u00fcber/caf\u00e9 t\u00e2ches.py:5:5: BGT103")
    result = run("check", "--format", "json", str(path))
    assert json.loads(result.stdout)[0]["filename"].endswith("caf\u00e9 t\u00e2ches.py")
    assert run("fix", "my app").exit_code == 0
    assert FIXED_LINE in path.read_text()


# --- code LibCST (or the analysis) cannot take -----------------------------------------------

SNIPPET = "\n\nimport asyncio\n\n\nasync def snippet_handler():\n    asyncio.create_task(work())\n"
# ast accepts these, LibCST 1.0 does not (ParserSyntaxError / RecursionError)
LIBCST_REJECTS = [
    ("paren_target.py", "(pars): bool = True\n"),
    ("concat.py", "x = (" + " ".join(["'a'"] * 3000) + ")\n"),
    ("nested.py", "x = " + "[" * 190 + "]" * 190 + "\n"),
    ("calls.py", "x = a" + "()" * 1000 + "\n"),
]


@pytest.mark.parametrize("name, statement", LIBCST_REJECTS, ids=[name for name, _ in LIBCST_REJECTS])
def test_code_libcst_cannot_take_in_the_statement_it_fixes(project: Path, name: str, statement: str) -> None:
    path = project / name
    path.write_text(SNIPPET.replace("    asyncio.create_task", "    " + statement.rstrip("\n") + "; asyncio.create_task"))
    (project / "good.py").write_text(DANGLING)
    result = run("check", ".")
    assert "good.py:5:5: BGT103" in result.stdout and "Traceback" not in result.output
    assert result.exit_code == 1 and f"{name}:" in result.stdout and result.stderr == ""
    before = path.read_bytes()
    result = run("fix", ".")
    assert result.exit_code == 2
    assert "LibCST cannot parse" in _one_error(result, name)
    assert path.read_bytes() == before
    assert FIXED_LINE in (project / "good.py").read_text()
    # the finding is left, and it does have a safe fix
    assert f"{name}:" in result.stdout and "(1 not fixed: see the errors above)" in result.stderr


@pytest.mark.parametrize("name, statement", LIBCST_REJECTS, ids=[name for name, _ in LIBCST_REJECTS])
@pytest.mark.parametrize("where", ["module", "def"])
def test_code_libcst_cannot_take_elsewhere_is_put_back_as_it_was(project: Path, name: str, statement: str,
                                                                  where: str) -> None:
    # LibCST sees only the statements that hold targets (fix_skeleton.py): the rest, in the
    # module or in the def it fixes, is cut and put back
    path = project / name
    text = statement + SNIPPET if where == "module" else \
        SNIPPET.replace("    asyncio.create_task", "    " + statement + "    asyncio.create_task")
    path.write_text(text)
    result = run("fix", ".")
    assert result.exit_code == 0, result.output
    fixed = path.read_text()
    assert statement in fixed and "task = asyncio.create_task(work())" in fixed
    compile(fixed, name, "exec")


def test_code_the_analysis_cannot_take(project: Path) -> None:
    # ast nests each elif in the one before: too deep for the analysis itself
    path = project / "elifs.py"
    path.write_text("if a:\n    pass\n" + "elif a:\n    pass\n" * 2000 + SNIPPET)
    (project / "good.py").write_text(DANGLING)
    result = run("check", ".")
    assert "good.py:5:5: BGT103" in result.stdout and "Traceback" not in result.output
    assert result.exit_code == 2 and "RecursionError" in _one_error(result, "elifs.py")
    before = path.read_bytes()
    result = run("fix", ".")
    assert result.exit_code == 2 and "RecursionError" in _one_error(result, "elifs.py")
    assert path.read_bytes() == before
    assert FIXED_LINE in (project / "good.py").read_text()


def test_the_users_syntax_warnings_are_not_ours(project: Path) -> None:
    path = project / "warns.py"
    path.write_text(DANGLING.replace("    asyncio", "    if x is 1 or '\\d':\n        asyncio").replace(
        "handler():", "handler(x):"))
    result = run("check", "warns.py")
    assert result.exit_code == 1 and result.stderr == "", result.stderr
    # a process of its own: pytest would catch the warnings
    proc = subprocess.run([sys.executable, "-m", "bgtask_lint", "fix", "warns.py"], cwd=project,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "Warning" not in proc.stderr, proc.stderr
    assert "        task = asyncio.create_task(work())" in path.read_text()
