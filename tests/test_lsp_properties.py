"""The language server's findings after any sequence of edits are a fresh check's: a
property test.

The server keeps what it can from one edit to the next (the index's memo, logger facts
kept while what they read holds: guards.module_loggers). The project of
test_cache_properties, with both task modules open; hypothesis draws edits: an unsaved
edit of any module (opening it), a change on disk of a module not open (also a
deletion), or "fix all" on an open document, whose text the client then takes. After each, the open modules' findings must be those of an uncached
check of the same texts written to a fresh directory; for an open document that does
not parse, the other modules see its last text that did (the server's choice: a
half-typed line does not make every importer's findings jump).
"""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path

from hypothesis import event, given
from hypothesis import strategies as st

from bgtask_lint.config import load_settings
from bgtask_lint.lsp.service import Service
from bgtask_lint.project import Project
from bgtask_lint.runner import check_paths
from test_cache_properties import ABSENT, MODULES, NAMES, file_of, layout, property_settings, state

TASK_MODULES = ("a", "b")


def _texts(name: str) -> st.SearchStrategy[int]:
    return st.one_of(st.just(0), st.integers(0, len(MODULES[name]) - 1))


edit = st.tuples(st.sampled_from(("unsaved", "disk", "fix")), st.sampled_from(NAMES)).flatmap(
    lambda kind_name: st.tuples(st.just(kind_name[0]), st.just(kind_name[1]), _texts(kind_name[1])))


def _written(texts: dict[str, str | None], scratch: Path) -> Path:
    """`texts` written to a new directory; its root."""
    root = scratch / f"fresh{len(list(scratch.iterdir()))}"
    (root / "app").mkdir(parents=True)
    for name, text in texts.items():
        if text is not ABSENT:
            file_of(root, name).write_text(text)
    return root


def _fresh(texts: dict[str, str | None], scratch: Path, names: list[str]) -> dict[str, list[tuple]]:
    """An uncached check of `texts` written to a new directory: the findings of `names`."""
    root = _written(texts, scratch)
    found = check_paths([root], load_settings(None, root), root=root).findings
    return {name: sorted((f.line, f.col, f.code, f.message) for f in found if f.path.name == f"{name}.py")
            for name in names}


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


@property_settings(max_examples=100)
@given(first=state, edits=st.lists(edit, min_size=1, max_size=6))
def test_the_server_reports_what_a_fresh_check_does_after_any_edits(first: dict[str, int],
                                                                    edits: list[tuple[str, str, int]]) -> None:
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        root = scratch / "proj"
        layout(root, first)
        on_disk = {name: MODULES[name][variant] for name, variant in first.items()}
        service = Service([root])
        buffers: dict[str, str] = {}  # the open documents' texts
        shown: dict[str, str] = {}  # the last text of each that parsed: what the other modules see
        versions = 0

        def edit_buffer(name: str, text: str) -> None:
            nonlocal versions
            versions += 1
            path = file_of(root, name)
            buffers[name] = text
            if _parses(text):
                shown[name] = text
            service.change(path.as_uri(), path, text, versions)

        for name in TASK_MODULES:
            edit_buffer(name, on_disk[name])
        for kind, name, variant in edits:
            text = MODULES[name][variant]
            if kind == "fix":  # (of an open document: the one the name drawn picks)
                name = sorted(buffers)[NAMES.index(name) % len(buffers)]
            if kind == "fix" and _parses(buffers[name]):
                # "fix all" on an open document (the client then applies the edit) is what
                # fixing its text on a fresh project of the same texts gives
                fixed = service.fix_all(file_of(root, name))
                fresh_root = _written({**on_disk, **shown}, scratch)
                fresh = Project.load([fresh_root], load_settings(None, fresh_root), root=fresh_root).fix_text(
                    file_of(fresh_root, name), buffers[name])
                assert fixed == (fresh.new_text if fresh.error is None and fresh.changed else None)
                event("fixed a document" if fixed is not None else "nothing to fix in a document")
                if fixed is not None:
                    edit_buffer(name, fixed)
            elif kind == "unsaved" and text is not ABSENT and name != "pyproject":
                edit_buffer(name, text)
            elif kind != "fix" and name not in buffers:  # on disk (a deletion too, the settings too), for a module not open
                path = file_of(root, name)
                on_disk[name] = text
                if text is ABSENT:
                    path.unlink(missing_ok=True)
                else:
                    path.write_text(text)
                service.disk_changed(path)
            # an open document that does not parse has no findings but its error
            checked = sorted(n for n, text in buffers.items() if _parses(text))
            served = {n: sorted((f.line, f.col, f.code, f.message) for f in service.check(file_of(root, n)).findings)
                      for n in checked}
            assert served == _fresh({**on_disk, **shown}, scratch, checked)
