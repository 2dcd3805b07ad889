"""The tree of a fixed module, spliced from the fix's output and the statements its
placeholders stand for (bgtask_lint/fix_splice.py), is the tree a parse of the text gives."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgtask_lint.fix_skeleton import build_skeleton
from bgtask_lint.fix_splice import spliced_tree

MODULE = '''"""A module with every kind of place a placeholder can stand."""

import asyncio
import time

SETTING = 1
OTHER = 2


@decorated(1)
@twice
def helper(x):
    return x


class Service:
    name = "svc"

    def method(self):
        return self.name

    async def run(self, x):
        """A docstring
        of two lines."""
        y = helper(x) + 1
        try:
            z = y * 2
            time.sleep(helper(1))  # TARGET
            w = z
        except ValueError as exc:
            print(exc)
            raise
        finally:
            done = True
        return y


async def handler(event):
    """Handle it."""
    first = 1
    match event:
        case {"kind": "a"}:
            time.sleep(2)  # TARGET
            after = 3
        case _:
            other = 4
    for item in range(3):
        skipped = item
    while False:
        time.sleep(3)  # TARGET
        tail = "x"
    if first:
        left = 1
    else:
        right = 2


def last(x):
    return x
'''


def _splice(text: str, targets: set[int], edit) -> tuple[ast.Module | None, str]:
    skeleton = build_skeleton(text, ast.parse(text), targets)
    output = edit(skeleton.text)
    expansion = skeleton.expand_parts(output)
    return spliced_tree(skeleton, output, expansion), expansion.text


def _dump(tree: ast.AST) -> str:
    return ast.dump(tree, include_attributes=True)


def _targets(text: str) -> set[int]:
    return {n for n, line in enumerate(text.splitlines(), start=1) if "# TARGET" in line}


EDITS = {
    "none": lambda text: text,
    "lines added above everything": lambda text: text.replace("import time\n", "import time\n\nimport aiofiles\n", 1),
    "a target rewritten on more lines": lambda text: text.replace(
        "            time.sleep(helper(1))  # TARGET\n", "            await asyncio.sleep(\n                helper(1)\n            )  # TARGET\n"),
    "a body wrapped": lambda text: text.replace(
        "            time.sleep(2)  # TARGET\n",
        "            try:\n                time.sleep(2)  # TARGET\n            except Exception:\n                raise\n"),
    "lines removed": lambda text: text.replace("import asyncio\n", "", 1),
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_a_spliced_tree_is_the_parse_of_the_expanded_text(edit: str) -> None:
    tree, new_text = _splice(MODULE, _targets(MODULE), EDITS[edit])
    assert tree is not None
    assert _dump(tree) == _dump(ast.parse(new_text))


def test_the_module_has_placeholders_of_every_kind() -> None:
    """(else the test above tests less than it says)"""
    skeleton = build_skeleton(MODULE, ast.parse(MODULE), _targets(MODULE))
    heads = {region.placeholder.split("#")[0].strip() for region in skeleton.regions}
    assert {"pass", '""', "def helper(): ..."} <= heads
    assert any(head.startswith("def __bgtask_lint_gap_") for head in heads)
    # blocks whose last statements were cut: the `try`'s body and handler, the case, the loops
    cut_last = [r for r in skeleton.regions if r.end + 1 <= len(MODULE.splitlines())
                and MODULE.splitlines()[r.end].strip().startswith(("except", "finally", "case", "if", "for", "while"))]
    assert len(cut_last) >= 3


def test_an_output_that_lost_a_placeholder_is_not_spliced() -> None:
    skeleton = build_skeleton(MODULE, ast.parse(MODULE), _targets(MODULE))
    placeholder = next(r.placeholder for r in skeleton.regions if r.placeholder.strip().startswith("pass"))
    output = skeleton.text.replace(placeholder, "", 1)
    with pytest.raises(ValueError):  # expand refuses it first; the splice never sees it
        skeleton.expand_parts(output)


def test_an_output_that_does_not_parse_gives_no_tree() -> None:
    skeleton = build_skeleton(MODULE, ast.parse(MODULE), _targets(MODULE))
    output = skeleton.text.replace("class Service:", "class Service(:", 1)
    assert spliced_tree(skeleton, output, skeleton.expand_parts(output)) is None


LINES = [
    "x = 1\n", "time.sleep(1)  # TARGET\n", "if x:\n    y = 2\n", "for i in range(2):\n    z = i\n",
    "def f():\n    return 1\n", "class C:\n    a = 1\n", "try:\n    q = 1\nexcept Exception:\n    q = 2\n",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(LINES), min_size=1, max_size=12), st.randoms(use_true_random=False),
       st.sampled_from(list(EDITS)))
def test_spliced_trees_of_generated_functions_are_their_parses(lines: list[str], rng: random.Random,
                                                               edit: str) -> None:
    body = "".join("    " + line for line in "".join(lines).splitlines(keepends=True))
    text = f"import asyncio\nimport time\n\n\nasync def go(x):\n{body}\n\ndef other():\n    return 2\n"
    targets = _targets(text) or {6}
    tree, new_text = _splice(text, targets, EDITS[edit])
    if tree is not None:
        assert _dump(tree) == _dump(ast.parse(new_text))


def test_a_fix_parses_the_whole_module_once_however_many_fixes_edit_it(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Each fix edits the text the one before it left, and the index must describe it:
    with six fixes, the 1 MB module of bench/big_module.py was parsed seven times (a fifth
    of `fix`). The first edit's module is the index's (held by the caller: never moved),
    so its tree is parsed; the next ones are spliced from what the edits saw."""
    from bgtask_lint import fix
    from bgtask_lint.config import Settings
    from bgtask_lint.project import Project

    text = ("import asyncio\nimport time\n\nimport requests\n\n\n"
            "async def fetch(url):\n    time.sleep(1)\n    return requests.get(url)\n\n\n"
            + "".join(f"def filler_{n}(x):\n    return x + {n}\n\n\n" for n in range(40))
            + "async def start():\n    asyncio.create_task(fetch('u'))\n")
    path = (tmp_path / "app.py").resolve()
    path.write_text(text)
    project = Project.load([tmp_path], Settings())
    original = project.module(path)
    before = _dump(original.tree)
    whole_parses: list[str] = []
    parse = ast.parse

    def counting(source, *args, **kwargs):
        if isinstance(source, str) and "def filler_39" in source and "def filler_20" in source:
            whole_parses.append(source)
        return parse(source, *args, **kwargs)

    monkeypatch.setattr(fix, "CHECK_SPLICES", False)  # (which parses each spliced text)
    monkeypatch.setattr(ast, "parse", counting)
    result = project.fix_text(path, text)
    monkeypatch.setattr(ast, "parse", parse)
    assert set(result.fixed) == {"BGT103", "BGT301", "BGT501"}
    assert len(whole_parses) == 1
    assert _dump(original.tree) == before  # the module the caller held is as it was
    fixed = project.module(path)
    assert fixed.source == result.new_text
    assert _dump(fixed.tree) == _dump(ast.parse(result.new_text))
