"""The index pass looks into a statement's expressions only on lines that can hold a
scheduling call (collect._scheduling_lines): it must find the same sites as a walk of
every node, whatever the spelling, layout or line ends."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bgtask_lint import collect

FIXTURES = Path(__file__).parent / "fixtures"

TRICKY = {
    "alias": "from asyncio import create_task as spawn\n"
             "async def f(x):\n    total = [1,\n        spawn(g(x))]\n    return total\n",
    "multi-line call": "import asyncio\nasync def f(loop):\n    t = (loop\n        .run_in_executor(\n"
                       "            None, g))\n    return t\n",
    "crlf": "import asyncio\r\nasync def f():\r\n    x = 1\r\n    asyncio.ensure_future(g())\r\n",
    "lone cr": "import asyncio\rasync def f():\r    x = 1\r    asyncio.ensure_future(g())\r",
    # the text names create_task elsewhere (so the module is walked at all); the call spells
    # it with a fullwidth letter, which Python normalises (NFKC)
    "nfkc identifier": "import asyncio  # create_task\nasync def f():\n    asyncio.\uff43reate_task(g())  # \u00e9\n",
    "lambda default": "import asyncio\ndef f(cb=lambda: asyncio.create_task(g())):\n    pass\n",
    "decorator": "from fastapi import BackgroundTasks\n@app.post('/x')\n"
                 "async def f(background_tasks: BackgroundTasks):\n    background_tasks.add_task(job, 1)\n",
    "local alias": "async def f():\n    from asyncio import ensure_future as later\n    later(g())\n",
    # aliases split over lines (a reviewer found these missed by a text search)
    "alias after a backslash": "from asyncio import create_task \\\n    as spawn\n\nasync def f():\n    spawn(g())\n",
    "alias after a comment": "from asyncio import (create_task  # c\n    as spawn)\n\nasync def f():\n"
                             "    t = [spawn(g())]\n",
}


def _sites(source: str, monkeypatch: pytest.MonkeyPatch, filtered: bool) -> list[tuple]:
    if not filtered:
        monkeypatch.setattr(collect, "_scheduling_lines", lambda source, aliases=(): None)
    module = collect.build_module(Path("/p/m.py"), source, ast.parse(source), "m", False)
    monkeypatch.undo()
    return [(site.call.lineno, site.call.col_offset, site.form, site.is_background) for site in module.sites]


def _sources() -> list[tuple[str, str]]:
    files = sorted(p for p in FIXTURES.rglob("*.py") if "corpus" not in p.parts)
    found = [(str(p.relative_to(FIXTURES)), p.read_text(encoding="utf-8")) for p in files]
    return found + sorted(TRICKY.items())


@pytest.mark.parametrize("name,source", _sources(), ids=[name for name, _ in _sources()])
def test_the_line_filter_finds_every_site_a_full_walk_finds(name: str, source: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        ast.parse(source)
    except SyntaxError:
        pytest.skip("not Python")
    assert _sites(source, monkeypatch, filtered=True) == _sites(source, monkeypatch, filtered=False)


def test_the_tricky_cases_do_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cases above are only worth comparing if a full walk finds their sites."""
    for name, source in TRICKY.items():
        if name != "lambda default":  # a default's lambda: no site either way
            assert _sites(source, monkeypatch, filtered=False), name


def test_lines_are_counted_as_the_tree_counts_them() -> None:
    assert collect._scheduling_lines("x = 1\r\nasyncio.create_task(f())\r\n") == [2]
    assert collect._scheduling_lines("x = 1\rasyncio.create_task(f())\r") is None
    assert collect._scheduling_lines("from a import add_task as go\n\n\ngo(f)\n", {"go"}) == [1, 4]


SHAPES = """\
import logging

class Outer:
    class Inner:
        def method(self):
            def closure():
                class Local:
                    pass
            return closure

def factory(flag):
    if flag:
        def chosen():
            pass
    else:
        try:
            pass
        except ValueError:
            class Failed(Exception):
                pass
    while flag:
        def looped():
            pass
    else:
        async def after():
            pass
    match flag:
        case 1:
            def matched():
                pass
    with open(flag) as f:
        def inside():
            pass
    return [f, logging]
"""


def test_the_logger_shape_walks_statements_only_in_a_module_without_lambda(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """loggers.tree_shape (each module's nested defs and classes, for its logger bindings)
    need not look into expressions when the text has no lambda: the same shape, with no
    expression visited (litellm: the walk of every node was 5 % of a cold check)."""
    from bgtask_lint import loggers

    tree = ast.parse(SHAPES)
    whole = loggers.tree_shape(tree)
    monkeypatch.setattr(loggers, "child_nodes", lambda *args: pytest.fail("an expression walk"))
    enclosing, classes = loggers.tree_shape(tree, SHAPES)
    assert enclosing == whole[0] and len(enclosing) == 6  # closure, chosen, looped, after, matched, inside
    assert [c.name for c in classes] == [c.name for c in whole[1]] == ["Outer", "Inner", "Local", "Failed"]
    with_lambda = SHAPES + "handler = lambda: logging.getLogger()\n"
    with pytest.raises(pytest.fail.Exception):  # a lambda is a scope inside an expression
        loggers.tree_shape(ast.parse(with_lambda), with_lambda)


@pytest.mark.parametrize("source", [SHAPES, *TRICKY.values()], ids=["shapes", *TRICKY])
def test_walk_statements_is_ast_walk_without_the_expressions(source: str) -> None:
    """names.walk_statements (the `self.attr = ...` searches of receivers and collect): the
    statements of ast.walk, in its order, nested scopes included."""
    from bgtask_lint.names import walk_statements

    tree = ast.parse(source)
    statements = (ast.stmt, ast.excepthandler, ast.match_case)
    assert walk_statements(tree) == [tree, *(n for n in ast.walk(tree) if isinstance(n, statements))]
