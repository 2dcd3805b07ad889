"""Codemod before/after pairs: each command, stand-alone, turns `case.py` into
`case.fixed.py` (or leaves it alone when there is no `.fixed.py`); every output compiles
and fixing it again changes nothing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext, CodemodTest

from bgtask_lint.fix import FIX_COMMANDS, command_class
from bgtask_lint.codemods.add_task_call_result import AddTaskCallResultCommand
from bgtask_lint.codemods.blocking_calls import BlockingCallsCommand
from markers import FIXTURES

FIXES = FIXTURES / "fixes"
CASES = sorted(p for p in FIXES.rglob("*.py") if not p.name.endswith(".fixed.py"))


def transform(code: str, text: str, filename: str | None = None, **options) -> str:
    """The command on `text` standing alone (no file name: no project around it)."""
    command = command_class(code)(CodemodContext(filename=filename), **options)
    return command.transform_module(cst.parse_module(text)).code


def _read(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_before_after(case: Path) -> None:
    code = case.parent.name.upper()
    before = _read(case)
    expected_path = case.with_name(case.stem + ".fixed.py")
    expected = _read(expected_path) if expected_path.exists() else before
    after = transform(code, before)
    assert after == expected
    compile(after, str(case), "exec", dont_inherit=True)
    assert transform(code, after) == after, "fixing again must change nothing"


def test_every_fixable_rule_has_cases() -> None:
    with_cases = {p.parent.name.upper() for p in CASES if p.with_name(p.stem + ".fixed.py").exists()}
    assert set(FIX_COMMANDS) <= with_cases


class TestInline(CodemodTest):
    """LibCST's own CodemodTest, for the shortest cases."""

    TRANSFORM = AddTaskCallResultCommand

    def test_call_result_becomes_function_and_arguments(self) -> None:
        before = (
            "from fastapi import BackgroundTasks\n"
            "async def process_csv(path, mode):\n    pass\n"
            "def endpoint(background_tasks: BackgroundTasks, path: str):\n"
            "    background_tasks.add_task(process_csv(path, mode='fast'))\n"
        )
        after = (
            "from fastapi import BackgroundTasks\n"
            "async def process_csv(path, mode):\n    pass\n"
            "def endpoint(background_tasks: BackgroundTasks, path: str):\n"
            "    background_tasks.add_task(process_csv, path, mode='fast')\n"
        )
        self.assertCodemod(before, after)

    def test_partial_is_left_alone(self) -> None:
        code = (
            "import functools\n"
            "from fastapi import BackgroundTasks\n"
            "def endpoint(background_tasks: BackgroundTasks, path: str):\n"
            "    background_tasks.add_task(functools.partial(process_csv, path))\n"
        )
        self.assertCodemod(code, code)


class TestSleepInline(CodemodTest):
    TRANSFORM = BlockingCallsCommand

    def test_sleep(self) -> None:
        before = "import time\nasync def t():\n    time.sleep(1)\n"
        after = "import asyncio\nasync def t():\n    await asyncio.sleep(1)\n"  # `time` is unused after
        self.assertCodemod(before, after)

    def test_to_thread_only_when_unsafe(self) -> None:
        before = "import requests\nasync def t(u):\n    requests.get(u, timeout=5)\n"
        self.assertCodemod(before, before)
        after = "import asyncio\n\nimport requests\nasync def t(u):\n    await asyncio.to_thread(requests.get, u, timeout=5)\n"
        self.assertCodemod(before, after, unsafe_fixes=True)


def test_fixing_imports_no_libcst_codemod(tmp_path: Path) -> None:
    """`bgtask-lint fix` runs the fixes as plain transformers: `libcst.codemod` (and LibCST's
    matchers, which it imports) would cost more than most fixes; the commands around
    them are for `python -m libcst.tool` only."""
    path = tmp_path / "app.py"
    path.write_text("import asyncio\n\n\nasync def work():\n    pass\n\n\nasync def start():\n"
                    "    asyncio.create_task(work())\n")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from bgtask_lint.config import Settings\n"
        "from bgtask_lint.project import Project\n"
        "path = Path(sys.argv[1]).resolve()\n"
        "project = Project.load([path], Settings(), root=path.parent)\n"
        "result = project.fix_text(path, path.read_text())\n"
        "print(dict(result.fixed))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('libcst.codemod', 'libcst.matchers'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    fixed, imported = proc.stdout.splitlines()
    assert fixed == "{'BGT103': 1}" and imported == "[]"


def test_a_fix_resolves_positions_as_libcst_does_without_its_empty_walk(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`fix` computes the positions with LibCST's own provider, and skips the batched visit
    with no visitor that LibCST's resolver runs after it (a walk of the whole tree):
    the same position for every node, one walk fewer per fix."""
    from libcst.metadata import MetadataWrapper, PositionProvider
    from libcst.metadata import wrapper as metadata_wrapper

    from bgtask_lint import fix
    from bgtask_lint.config import Settings
    from bgtask_lint.project import Project

    # every fix's before-file: statements, expressions, comments, brackets over lines
    sources = [_read(path) for path in sorted((FIXTURES / "fixes").glob("*/*.py")) if ".fixed" not in path.name]
    source = "\n\n".join(sources)
    ours = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    fix._resolve_positions(ours)
    theirs = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    expected = theirs.resolve(PositionProvider)
    got = ours.resolve(PositionProvider)

    def in_order(module: cst.Module, positions) -> list:
        found: list = []

        class Collect(cst.CSTVisitor):
            def on_visit(self, node: cst.CSTNode) -> bool:
                found.append((type(node).__name__, positions[node]))
                return True

        module.visit(Collect())
        return found

    assert in_order(ours.module, got) == in_order(theirs.module, expected)
    assert len(got) == len(expected) > 1000

    empty_walks: list[int] = []
    original = metadata_wrapper._gen_batchable

    def counting(wrapper, providers):
        providers = list(providers)
        if not providers:
            empty_walks.append(1)
        return original(wrapper, providers)

    monkeypatch.setattr(metadata_wrapper, "_gen_batchable", counting)
    path = tmp_path / "app.py"
    text = "import asyncio\n\n\nasync def job(x):\n    await asyncio.sleep(x)\n\n\nasync def go():\n    asyncio.create_task(job(1))\n"
    path.write_text(text)
    project = Project.load([tmp_path], Settings())
    fixed = project.fix_text(path, text)
    assert "add_done_callback" in fixed.new_text
    assert empty_walks == []


@pytest.mark.parametrize("case", [c for c in CASES if c.parent.name != "bgt301"],
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_fix_that_skips_the_statements_without_targets_writes_what_a_whole_visit_writes(
        case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fix visits only the statements that hold a target (and all of a target that is a
    statement or a clause: a task's def, an except handler). Visiting every statement
    gives the same text on every case."""
    from bgtask_lint.fix import fix_class

    code = case.parent.name.upper()
    before = _read(case)
    skipping = transform(code, before)
    monkeypatch.setattr(fix_class(code), "SEES_EVERY_STATEMENT", True)
    assert transform(code, before) == skipping


def test_a_fix_does_not_visit_the_statements_without_targets() -> None:
    """Thirty defs around one dropped task: the fix's visit never enters them (on litellm's
    modules, most of a fix's visit was of such statements)."""
    from libcst.metadata import MetadataWrapper

    from bgtask_lint.fix import fix_class

    others = "".join(f"def other_{i}(x):\n    return helper_{i}(x)\n\n\n" for i in range(30))
    text = f"import asyncio\n\n\n{others}async def go():\n    asyncio.create_task(work())\n"
    line = text.splitlines().index("    asyncio.create_task(work())") + 1
    seen: list[str] = []

    class Watched(fix_class("BGT103")):  # type: ignore[misc,valid-type]
        def visit_Name(self, node: cst.Name) -> None:
            seen.append(node.value)

    fixer = Watched("app.py", targets=[(line, 4, line, 31)])
    fixed = fixer.run(MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)).code
    assert "_background_tasks.add(task)" in fixed and fixer.fixed == 1
    assert "create_task" in seen  # the statement with the target was visited...
    assert not [name for name in seen if name.startswith(("helper_", "other_"))]  # ...the others not


@pytest.mark.parametrize("code, line", [
    ("BGT103", "    asyncio.create_task(asyncio.sleep(1))"),
    ("BGT301", "    time.sleep(1)"),
])
def test_a_fix_asks_the_index_tree_instead_of_parsing_the_module_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str, line: str) -> None:
    """The fixes that read the whole module's syntax tree (the names BGT103's new variable must
    not take, the imports BGT301 keeps or drops) get the one the index holds for the text,
    also when the fix is shown the whole module (one def: nothing to leave out)."""
    import ast

    from bgtask_lint.config import Settings
    from bgtask_lint.project import Project

    text = f"import asyncio\nimport time\n\n\nasync def go():\n{line}\n"
    path = tmp_path / "app.py"
    path.write_text(text)
    project = Project.load([tmp_path], Settings())
    parsed: list[str] = []
    parse = ast.parse

    def counting(source, *args, **kwargs):
        parsed.append(source)
        return parse(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting)
    fixed = project.fix_text(path.resolve(), text)
    assert dict(fixed.fixed) == {code: 1}
    assert text not in parsed  # (the fixed text is parsed once, by the index)


def test_a_fix_visits_a_decorated_def_whose_decorator_holds_a_target() -> None:
    """LibCST's position of a def starts at `def`: its decorators lie above it, and a target
    in one of them must not make the visit skip the def."""
    from libcst.metadata import MetadataWrapper

    from bgtask_lint.fix import fix_class

    text = ("from fastapi import BackgroundTasks\n\n\ndef job(x):\n    pass\n\n\n"
            "@register(background_tasks.add_task(job(1)))\n"
            "def endpoint():\n    pass\n")
    line = text.splitlines().index("@register(background_tasks.add_task(job(1)))") + 1
    target = (line, len("@register(background_tasks.add_task("), line, len("@register(background_tasks.add_task(job(1)"))
    fixer = fix_class("BGT101")("app.py", targets=[target])
    fixed = fixer.run(MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)).code
    assert "@register(background_tasks.add_task(job, 1))" in fixed and fixer.fixed == 1


def _fix_dropped_task(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    """`fix_text` of one module with BGT103 findings, counting the walks of every name of
    the module the fix makes."""
    from bgtask_lint.codemods._fixes import dangling_task
    from bgtask_lint.config import Settings
    from bgtask_lint.project import Project

    walks = 0
    identifiers = dangling_task._identifiers

    def counted_identifiers(tree):
        nonlocal walks
        walks += 1
        return identifiers(tree)

    monkeypatch.setattr(dangling_task, "_identifiers", counted_identifiers)
    path = tmp_path / "app.py"
    path.write_text(text)
    fixed = Project.load([tmp_path], Settings()).fix_text(path.resolve(), text)
    assert dict(fixed.fixed) == {"BGT103": text.count("asyncio.create_task(")}
    return fixed.new_text, walks


def test_a_dropped_task_in_a_def_is_named_from_the_module_tree(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The names a new `task` variable must not take are read from the def in the module's
    syntax tree (a walk of LibCST's nodes cost ten times as much), not from every name of
    the module (only a task made outside any def needs those). On litellm the two walks
    were half of this fix's time."""
    text = ("import asyncio\n\n\nasync def work():\n    pass\n\n\n"
            "async def go(event):\n    match event:\n        case Done(task=t):\n            pass\n"
            "    asyncio.create_task(work())\n")
    fixed, walks = _fix_dropped_task(tmp_path, text, monkeypatch)
    # `task` is a keyword of a class pattern there: a Name for LibCST, so it is taken
    assert "    task_1 = asyncio.create_task(work())\n" in fixed
    assert walks == 0



@pytest.mark.parametrize("broken, message", [
    ("return 1\n", "'return' outside function"),
    ("def (:\n", "invalid syntax"),
])
def test_a_fix_whose_result_does_not_compile_leaves_the_file_and_the_index_as_they_were(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str, message: str) -> None:
    """The last safety net: a fixed text that does not compile (a parse error, or an error
    only the compiler sees: the fix compiles the index's tree of it) is refused, with the
    line, and the index describes the file again."""
    from bgtask_lint import fix
    from bgtask_lint.config import Settings
    from bgtask_lint.project import Project

    text = "import asyncio\nimport time\n\n\nasync def go():\n    time.sleep(1)\n"
    path = (tmp_path / "app.py").resolve()
    path.write_text(text)
    transform = fix._transform
    monkeypatch.setattr(fix, "_transform", lambda fixer, code: transform(fixer, code) + broken)
    project = Project.load([tmp_path], Settings())
    result = project.fix_text(path, text)
    assert re.fullmatch(rf"the fixed code would not compile \(line \d+: {message}\); file left unchanged",
                        result.error or "")
    assert not result.changed and not result.fixed
    assert project.module(path).source == text
    assert [f.code for f in project.check(project.module(path))] == ["BGT301"]


def test_the_fixed_text_is_compiled_from_the_index_tree_not_parsed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiling the text parses it again after the index did (0.21 s against 0.14 s for
    the tree of a 1 MB module)."""
    import ast

    from bgtask_lint import fix
    from bgtask_lint.config import Settings
    from bgtask_lint.project import Project

    text = "import asyncio\nimport time\n\n\nasync def go():\n    time.sleep(1)\n"
    path = (tmp_path / "app.py").resolve()
    path.write_text(text)
    compiled: list[object] = []

    def recording(source, *args, **kwargs):
        compiled.append(source)
        return compile(source, *args, **kwargs)

    monkeypatch.setattr(fix, "compile", recording, raising=False)
    project = Project.load([tmp_path], Settings())
    result = project.fix_text(path, text)
    assert result.changed and dict(result.fixed) == {"BGT301": 1}
    assert compiled == [project.module(path).tree]
    assert isinstance(compiled[0], ast.Module) and project.module(path).source == result.new_text
