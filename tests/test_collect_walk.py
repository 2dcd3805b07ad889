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
