"""The fix's speed machinery must not change what it writes: a command that sees only the
skeleton of a big module (bgtask_lint/fix_skeleton.py) writes the same text as one that
sees it whole, and targets moved through earlier edits land where a re-check would put
them. The timings themselves are measured by bench/big_module.py and the 1 MB test of
test_robustness_files.py."""

from __future__ import annotations

import ast
import random
import sys
from pathlib import Path

import pytest

from bgtask_lint import fix as fix_module
from bgtask_lint.config import Settings
from bgtask_lint.fix_skeleton import build_skeleton, line_mapping
from bgtask_lint.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from big_module import generate  # noqa: E402


def _fix(tmp_path: Path, text: str, unsafe: bool = False) -> tuple[str, dict]:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "b"\ndependencies = ["aiofiles"]\n')
    path = tmp_path / "big.py"
    path.write_text(text)
    project = Project.load([path], Settings(), root=tmp_path)
    result = project.fix_text(path.resolve(), text, unsafe=unsafe)
    assert result.error is None, result.error
    return result.new_text, dict(result.fixed)


def _whole_and_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, unsafe: bool):
    """The fix of `text` seen whole, and seen through a skeleton: (text, counts) each."""
    results = []
    for name, threshold in (("whole", 10**9), ("cut", 0)):
        (tmp_path / name).mkdir()
        monkeypatch.setattr(fix_module, "SKELETON_MIN_CHARS", threshold)
        results.append(_fix(tmp_path / name, text, unsafe))
    return results


@pytest.mark.parametrize("unsafe", [False, True])
def test_skeleton_and_whole_module_write_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  unsafe: bool) -> None:
    text = generate(12_000, seed=7)
    (whole, whole_counts), (cut, cut_counts) = _whole_and_cut(tmp_path, monkeypatch, text, unsafe)
    assert whole_counts and set(whole_counts) >= {"BGT101", "BGT103", "BGT301"}
    assert cut == whole and cut_counts == whole_counts
    again, counts = _fix(tmp_path / "cut", cut, unsafe)
    assert again == cut and not counts  # idempotent


def test_a_commands_skeleton_is_a_small_part_of_a_big_module() -> None:
    text = generate(300_000, seed=3)
    tree = ast.parse(text)
    lines = text.splitlines()
    targets = {n + 1 for n, line in enumerate(lines) if "asyncio.create_task(" in line}
    skeleton = build_skeleton(text, tree, targets)
    assert len(skeleton.text) < len(text) / 5
    new_text, line_map = skeleton.expand(skeleton.text)
    assert new_text == text and all(line_map(n) == n for n in range(1, len(lines) + 1))
    # every placeholder keeps bound the names the fixes ask about, and nothing else
    assert "(): ...  # __bgtask_lint_gap_" in skeleton.text


def test_line_mapping_only_maps_unchanged_lines_in_order() -> None:
    rng = random.Random(11)
    for _ in range(300):
        old = [rng.choice(["a\n", "b\n", "    x\n", "\n", f"u{rng.random()}\n"]) for _ in range(rng.randrange(60))]
        new = list(old)
        for _ in range(rng.randrange(5)):
            at = rng.randrange(len(new) + 1)
            if rng.random() < 0.5:
                new.insert(at, f"n{rng.random()}\n")
            elif new:
                del new[min(at, len(new) - 1)]
        mapping = line_mapping(old, new)
        previous = 0
        for line in range(1, len(old) + 1):
            moved = mapping(line)
            if moved is not None:
                assert old[line - 1] == new[moved - 1] and moved > previous
                previous = moved


SETTINGS_HEADER = "".join(
    f'SETTING_{i} = int(os.environ.get("SETTING_{i}", "{i}"))\n' for i in range(300)
) + 'if SETTING_1:\n    FEATURE = "on"\nelse:\n    FEATURE = "off"\ntask = "the name a BGT103 fix would take"\n'


@pytest.mark.parametrize("unsafe", [False, True])
def test_module_level_statements_are_cut_and_written_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              unsafe: bool) -> None:
    # a settings module: hundreds of module-level assignments, one of them read by a fixed def
    body = generate(6_000, seed=11).replace("import asyncio\n", "import asyncio\nimport os\n", 1)
    head, _, rest = body.partition("\n\n\n")
    text = head + "\n\n\n" + SETTINGS_HEADER + "\n\n" + rest.replace("time.sleep(1)", "time.sleep(SETTING_7)", 1)
    tree = ast.parse(text)
    targets = {n + 1 for n, line in enumerate(text.splitlines()) if "asyncio.create_task(" in line}
    skeleton = build_skeleton(text, tree, targets)
    assert "SETTING_250 =" not in skeleton.text and "pass  # __bgtask_lint_gap_" in skeleton.text
    assert 'task = "the name' in skeleton.text  # a name a fix adds or looks for stays bound
    assert skeleton.expand(skeleton.text)[0] == text
    (whole, whole_counts), (cut, cut_counts) = _whole_and_cut(tmp_path, monkeypatch, text, unsafe)
    assert whole_counts and cut == whole and cut_counts == whole_counts
    assert ".add_done_callback(" in cut and "time.sleep(SETTING_7)" not in cut


# a factory of route handlers (gradio's `create_app`): the task and its scheduling site are
# nested in it, beside handlers that hold no target; one of those uses the name `task` of
# the module, which a new local `task` in the factory would shadow
FACTORY = '''import asyncio
import logging
import time

logger = logging.getLogger(__name__)
task = "a module-level name"


def create_app(app):
    """Builds the app; its config is global to the process."""

    def unrelated_helper(x):
        """Never mentioned by the kept code."""
        return [x * 2 for _ in range(3)]
{handlers}
    async def refresh():
        return await asyncio.sleep(0)

    @app.post("/refresh")
    async def start_refresh():
        asyncio.create_task(refresh())
        return {{"ok": True}}

    asyncio.create_task(refresh())  # warm up, in the factory itself
    return app
'''
HANDLER = '''
    @app.get("/h{n}")
    async def handler_{n}():
        time.sleep(0)
        return {{"n": {n}, "who": task}}
'''


def _factory(handlers: int = 40) -> str:
    return FACTORY.format(handlers="".join(HANDLER.format(n=n) for n in range(handlers)))


def test_defs_nested_in_a_function_with_targets_are_cut() -> None:
    text = _factory()
    targets = {n + 1 for n, line in enumerate(text.splitlines()) if "asyncio.create_task(" in line}
    skeleton = build_skeleton(text, ast.parse(text), targets)
    # the handlers and the helper are placeholders; the factory and the task's site stay
    assert "handler_39" not in skeleton.text and "unrelated_helper" not in skeleton.text
    assert "    asyncio.create_task(refresh())  # warm" in skeleton.text and "def create_app(app):" in skeleton.text
    assert len(skeleton.text) < len(text) / 4
    assert skeleton.expand(skeleton.text)[0] == text
    # what was cut inside the factory (its handlers use `task`) is still asked about: see
    # test_a_task_nested_in_a_factory_is_fixed_the_same_through_the_skeleton


def test_a_def_that_declares_global_is_cut_too() -> None:
    # what it binds the fixes ask of the whole module's tree (lightrag: a 1,400-line
    # decorator factory whose docstring says "global"; litellm's proxy: most defs declare one)
    text = _factory().replace("    def unrelated_helper(x):\n", "    def unrelated_helper(x):\n        nonlocal app\n", 1)
    text = text.replace("\n\ndef create_app(app):", "\n\ndef reset():\n    global task\n    task = None\n\n\ndef create_app(app):", 1)
    targets = {n + 1 for n, line in enumerate(text.splitlines()) if "asyncio.create_task(" in line}
    skeleton = build_skeleton(text, ast.parse(text), targets)
    assert "global task" not in skeleton.text and "nonlocal app" not in skeleton.text
    assert skeleton.expand(skeleton.text)[0] == text


@pytest.mark.parametrize("unsafe", [False, True])
def test_a_task_nested_in_a_factory_is_fixed_the_same_through_the_skeleton(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unsafe: bool) -> None:
    text = _factory()
    (whole, whole_counts), (cut, cut_counts) = _whole_and_cut(tmp_path, monkeypatch, text, unsafe)
    assert whole_counts.get("BGT103") == 2 and cut == whole and cut_counts == whole_counts
    # the factory's new local does not shadow the module's `task` its handlers read; in a
    # handler, `task` is free
    assert "    task_1 = asyncio.create_task(refresh())  # warm" in cut
    assert "        task = asyncio.create_task(refresh())\n" in cut


def test_a_fix_that_moves_a_placeholder_is_refused() -> None:
    text = _factory(3)
    targets = {n + 1 for n, line in enumerate(text.splitlines()) if "asyncio.create_task(" in line}
    skeleton = build_skeleton(text, ast.parse(text), targets)
    placeholder = next(line for line in skeleton.text.splitlines() if "__bgtask_lint_gap_" in line)
    with pytest.raises(ValueError, match="moved a part"):
        skeleton.expand(skeleton.text.replace(placeholder, "    " + placeholder, 1))


ENDPOINT = '''import asyncio
import json
import logging
import time

logger = logging.getLogger(__name__)
task_1 = "a module-level name"


async def work(x):
    await asyncio.sleep(0)


async def chat_completion(payload):
    """One long endpoint (open-webui's is 600 lines) with three things to fix.

    Its docstring, as long as litellm's, is cut too.
    """
    task = payload.get("task")
    logger.debug("previous: %s", task_1)
{steps}
    if payload.get("background"):
        asyncio.create_task(work(task))
    with open(payload["path"]) as f:
        data = json.loads(f.read())
    time.sleep(0)
    return {{"task": task, "data": data}}
'''
STEP = '''    value_{n} = payload.get("v{n}", {n}) * 2
    if value_{n} > 100:
        logger.info("big %s", value_{n})
'''


def _endpoint(steps: int = 60) -> str:
    return ENDPOINT.format(steps="".join(STEP.format(n=n) for n in range(steps)))


def test_statements_of_a_function_with_targets_are_cut_around_them() -> None:
    text = _endpoint()
    lines = text.splitlines()
    targets = {n + 1 for n, line in enumerate(lines) if "create_task(" in line or "open(" in line}
    skeleton = build_skeleton(text, ast.parse(text), targets)
    assert "value_30" not in skeleton.text and "    pass  # __bgtask_lint_gap_" in skeleton.text
    # the statements that hold a target stay whole, with what is inside them
    assert "        data = json.loads(f.read())" in skeleton.text and "asyncio.create_task(work(task))" in skeleton.text
    assert '    task = payload.get("task")' in skeleton.text  # binds a name a fix adds (BGT103's variable)
    assert len(skeleton.text) < len(text) / 4 and "as long as litellm's" not in skeleton.text
    assert skeleton.expand(skeleton.text)[0] == text


def test_a_yield_around_a_target_stays_in_the_skeleton() -> None:
    """Cut, a `yield` would make the def the fixes see a plain coroutine function."""
    text = ("import asyncio\n\n\nasync def stream(x):\n    total = x * 2\n    yield total\n"
            "    asyncio.create_task(work(x))\n    yield x\n")
    targets = {n + 1 for n, line in enumerate(text.splitlines()) if "create_task(" in line}
    skeleton = build_skeleton(text, ast.parse(text), targets)
    assert "total = x * 2" not in skeleton.text  # the statements around the target are cut
    assert "    yield total\n" in skeleton.text and "    yield x\n" in skeleton.text
    assert skeleton.expand(skeleton.text)[0] == text


LAZY_AIOFILES = '''import json


def optional():
    import aiofiles
    return aiofiles


async def load(path):
    """Read a JSON file.

    A docstring of several lines, which the skeleton cuts: the lazy import goes after it.
    """
    with open(path) as f:
        return json.loads(f.read())
'''


def test_a_lazy_import_goes_after_a_cut_docstring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (whole, whole_counts), (cut, cut_counts) = _whole_and_cut(tmp_path, monkeypatch, LAZY_AIOFILES, False)
    assert whole_counts == {"BGT301": 1} and cut == whole and cut_counts == whole_counts
    assert '    """\n    import aiofiles\n\n    async with aiofiles.open(path) as f:' in cut


@pytest.mark.parametrize("unsafe", [False, True])
def test_a_long_endpoint_is_fixed_the_same_through_the_skeleton(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unsafe: bool) -> None:
    text = _endpoint()
    (whole, whole_counts), (cut, cut_counts) = _whole_and_cut(tmp_path, monkeypatch, text, unsafe)
    assert cut == whole and cut_counts == whole_counts
    # the new variable takes neither the function's `task` nor the global `task_1` it reads
    # in a statement the skeleton cut
    assert "task_2 = asyncio.create_task(work(task))" in cut and "await asyncio.sleep(0)\n    return" in cut
    assert "async with aiofiles.open(" in cut and "await f.read()" in cut  # aiofiles is declared: safe


def test_a_lazy_import_goes_after_a_concatenated_docstring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `"a" "b"` is a docstring too: an import put before it would make it a plain statement
    text = LAZY_AIOFILES.replace('"""Read a JSON file.\n\n    A docstring of several lines, which the skeleton cuts: '
                                 'the lazy import goes after it.\n    """', '"Read " "a JSON file."')
    assert '"Read " "a JSON file."' in text
    (whole, whole_counts), (cut, cut_counts) = _whole_and_cut(tmp_path, monkeypatch, text, False)
    assert whole_counts == {"BGT301": 1} and cut == whole and cut_counts == whole_counts
    assert '    "Read " "a JSON file."\n    import aiofiles\n' in cut
    assert ast.get_docstring(next(n for n in ast.parse(cut).body if getattr(n, "name", "") == "load")) is not None


CLAUSE_LINES = '''\
import time


async def go(x):
    if x: y = 1
    else:
        time.sleep(1)
    try:
        time.sleep(2)
    except ValueError: y = 2
    except KeyError:
        y = 3
    for i in range(x): y = i
    else:
        time.sleep(3)
    return y
'''


def test_a_statement_on_a_clause_line_stays_in_the_skeleton(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`else: y = 1`: a placeholder for `y = 1` stood for its whole line, the `else:` with
    it, so the skeleton did not parse and the fix of a valid module failed ("LibCST cannot
    parse this file"). A statement that does not begin its line is never cut."""
    (whole, whole_counts), (cut, cut_counts) = _whole_and_cut(tmp_path, monkeypatch, CLAUSE_LINES, False)
    assert whole_counts == cut_counts == {"BGT301": 3}
    assert cut == whole and "    if x: y = 1\n" in cut and "        await asyncio.sleep(1)\n" in cut
