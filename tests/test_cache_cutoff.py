"""The cache's early cutoff (bgtask_lint/cache/cutoff.py): what an edit of a module changed
for the modules that read it, and the entries it lets a cached run keep."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from bgtask_lint.cache import cutoff
from bgtask_lint.engine import parse_module
from test_cache import codes, run
from test_cache_deps import _write

pytestmark = pytest.mark.usefixtures("deps_whole_and_delta")


def _names(code: str) -> set[str] | None:
    return cutoff.bound_names(ast.parse(textwrap.dedent(code)).body[0])


@pytest.mark.parametrize("code,names", [
    ("def f(): pass", {"f"}),
    ("@decorate\nclass C: pass", {"C"}),
    ("import os.path", {"os"}),
    ("from a import b as c, d", {"c", "d"}),
    ("x, (y, *z) = values", {"x", "y", "z"}),
    ("logger: Logger = get()", {"logger"}),
    ("'''docstring'''", set()),
    ("registry.add(handler)", {"registry", "handler"}),  # a call may change what it mentions
    ("app.state.db = make()", {"app"}),
    ("try:\n    import ujson as json\nexcept ImportError:\n    json = None", {"json"}),
    ("if TYPE_CHECKING:\n    from x import Y\nelse:\n    Y = None", {"Y"}),
    ("from a import *", None),  # may bind any name
    ("__all__ = ['f']", None),  # changes what a star import binds
    ("def __getattr__(name): pass", None),
])
def test_the_names_a_top_level_statement_binds(code: str, names: set[str] | None) -> None:
    assert _names(code) == names


def _module(tmp_path: Path, text: str, name: str = "hub"):
    path = tmp_path / f"{name}.py"
    return parse_module(path, tmp_path, textwrap.dedent(text))


HUB = """\
import time


def slow():
    time.sleep(1)


def quiet():
    return None


def calls_quiet():
    return quiet()
"""


def test_an_edited_body_affects_its_function_and_those_that_mention_it(tmp_path: Path) -> None:
    before = cutoff.outline(_module(tmp_path, HUB))
    edit = cutoff.affected(before, _module(tmp_path, HUB.replace("return None", "time.sleep(2)")))
    assert edit is not None and edit.changed == {"quiet", "calls_quiet"} and edit.added == set()
    assert edit.reaches("from app.hub import calls_quiet")
    assert not edit.reaches("from app.hub import slow\nslow()  # quietly")  # a word, not a part of one


def test_an_added_name_reaches_only_a_text_that_names_the_module(tmp_path: Path) -> None:
    before = cutoff.outline(_module(tmp_path, HUB))
    edit = cutoff.affected(before, _module(tmp_path, HUB + "\n\ndef extra():\n    return 1\n"))
    assert edit is not None and edit.changed == set() and edit.added == {"extra"}
    assert not edit.reaches("extra = 1")  # its own `extra`: it imports nothing from hub
    assert edit.reaches("from app.hub import extra")
    assert edit.reaches("from . import extra")  # a relative import may name it without its name


@pytest.mark.parametrize("edited", [
    HUB + "\n__all__ = ['slow']\n",  # what a star import binds
    HUB.replace("import time", "from time import *"),
])
def test_what_cannot_be_followed_changes_every_reader(tmp_path: Path, edited: str) -> None:
    before = cutoff.outline(_module(tmp_path, HUB))
    assert cutoff.affected(before, _module(tmp_path, edited)) is None


def test_statements_moved_are_changed(tmp_path: Path) -> None:
    text = "LIMIT = 1\nLIMIT = 2\n"
    edit = cutoff.affected(cutoff.outline(_module(tmp_path, text)), _module(tmp_path, "LIMIT = 2\nLIMIT = 1\n"))
    assert edit is not None and edit.changed == {"LIMIT"}


def test_an_unchanged_call_that_mentions_a_changed_name_changes_what_it_mentions(tmp_path: Path) -> None:
    text = HUB + "\nregistry.add(quiet)\n"
    edit = cutoff.affected(cutoff.outline(_module(tmp_path, text)),
                           _module(tmp_path, text.replace("return None", "return 0")))
    assert edit is not None and {"quiet", "registry"} <= edit.changed


CALLER = "from app.hub import {name}\n\n\nasync def job_{name}():\n    {name}()\n"


def test_a_cached_run_keeps_the_reader_of_what_did_not_change(tmp_path: Path) -> None:
    """a.py calls hub.slow, b.py hub.quiet: an edit of quiet's body re-checks b.py (and
    hub.py), not a.py; an edit of slow's re-checks a.py, whose finding goes."""
    root = _write(tmp_path / "proj", {"app/__init__.py": "", "app/hub.py": HUB,
                                      "app/a.py": CALLER.format(name="slow"), "app/b.py": CALLER.format(name="quiet")})
    found, _ = run(root)
    assert ("app/a.py", "BGT302") in codes(found, root)
    (root / "app" / "hub.py").write_text(HUB.replace("return None", "return 0"))
    _, stats = run(root)  # compared with an uncached run inside
    assert stats["checked"] == 2 and stats["cut_off"] == 1  # hub.py and b.py; a.py kept
    (root / "app" / "hub.py").write_text(HUB.replace("time.sleep(1)", "return 1"))
    found, stats = run(root)
    assert ("app/a.py", "BGT302") not in codes(found, root)
    assert stats["checked"] == 3  # the edit undone in quiet, and made in slow: both readers
