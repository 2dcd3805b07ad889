"""BGT302's chains do not depend on what was asked before: a file's findings are the same
checked alone, after other files, in one process or in workers (blocking._chain)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bgtask_lint.config import Settings
from bgtask_lint.runner import check_paths
from projects import write_app

# six plain defs: step1 -> ... -> step6 -> time.sleep. From step2 the chain has five defs
# (reported); from step1, six (more than MAX_CHAIN: not reported).
HELPERS = "import time\n\n\n" + "".join(
    f"def step{i}():\n    step{i + 1}()\n\n\n" for i in range(1, 6)) + "def step6():\n    time.sleep(1)\n"
FROM_STEP2 = "from app.helpers import step2\n\n\nasync def near():\n    step2()\n"
FROM_STEP1 = "from app.helpers import step1\n\n\nasync def far():\n    step1()\n"
# a cycle: searching from `pong`, `ping` is searched with `pong` on the path, so the search
# from `ping` is cut where it calls `pong` back: that answer holds on that path only
CYCLE = ("import time\n\n\ndef ping(n):\n    pong(n)\n\n\ndef pong(n):\n    ping(n - 1)\n"
         "    helper_sleep()\n\n\ndef helper_sleep():\n    time.sleep(1)\n\n\ndef start():\n    ping(1)\n")
PING = "async def calls_ping():\n    ping(1)\n"
PONG = "async def calls_pong():\n    pong(1)\n"
START = "async def calls_start():\n    start()\n"


def _bgt302(root: Path, names: list[str], jobs: int = 1) -> dict[str, list[str]]:
    paths = [root / "app" / f"{name}.py" for name in names]
    result = check_paths(paths, Settings(), root=root, jobs=jobs)
    found: dict[str, list[str]] = {}
    for finding in result.findings:
        if finding.code == "BGT302":
            found.setdefault(finding.path.stem, []).append(finding.message)
    return found


@pytest.mark.parametrize("order", [["a_near", "b_far"], ["b_far"], ["a_near"]])
def test_a_chain_found_from_one_def_is_not_stretched_past_the_limit_from_another(tmp_path: Path,
                                                                                 order: list[str]) -> None:
    write_app(tmp_path, {"helpers": HELPERS, "a_near": FROM_STEP2, "b_far": FROM_STEP1})
    found = _bgt302(tmp_path, order)
    assert "b_far" not in found  # six defs, checked alone or after a_near
    if "a_near" in order:
        assert found["a_near"] == ["async def calls a helper that blocks the event loop: "
                                   "step2() -> step3() -> step4() -> step5() -> step6() -> time.sleep"]


@pytest.mark.parametrize("order", [(PING, PONG, START), (PONG, START, PING), (START, PONG, PING)])
def test_chains_through_a_cycle_are_the_same_in_any_order(tmp_path: Path, order: tuple[str, ...]) -> None:
    callers = "from app.cycle import ping, pong, start\n\n\n" + "\n\n".join(order)
    write_app(tmp_path, {"cycle": CYCLE, "callers": callers})
    assert sorted(_bgt302(tmp_path, ["callers"])["callers"]) == [
        "async def calls a helper that blocks the event loop: ping() -> pong() -> helper_sleep() -> time.sleep",
        "async def calls a helper that blocks the event loop: pong() -> helper_sleep() -> time.sleep",
        "async def calls a helper that blocks the event loop: start() -> ping() -> pong() -> helper_sleep() -> time.sleep"]


def _fixture_roots() -> list[Path]:
    fixtures = Path(__file__).parent / "fixtures"
    return sorted({path.parent for path in fixtures.rglob("*.py")})


def _calls_with_function(node: ast.AST, function: ast.AST | None = None):
    """Every call under `node`, with its innermost enclosing def (None at module level)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Call):
            yield child, function
        inner = child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
        yield from _calls_with_function(child, inner)


SHADOWING = {
    "helpers": "import time\n\n\ndef nap():\n    time.sleep(1)\n\n\ndef other():\n    return 1\n",
    "shadows": (
        "from app.helpers import nap, other\nfrom app import helpers\n\n\n"
        "def nap():  # the def wins over the import\n    return 0\n\n\n"
        "other = helpers.other  # and so does the assignment\n\n\n"
        "class Worker:\n    def helpers(self):\n        return 2\n\n"
        "    async def run(self, helpers):  # a parameter shadows too\n"
        "        helpers.nap()\n        self.helpers()\n        other()\n\n"
        "    async def run_module(self):\n        helpers.nap()\n\n\n"
        "async def nested():\n    def inner():\n        from app.helpers import nap as napping\n        napping()\n"
        "    inner()\n    nap()\n"),
}


def test_import_rooted_agrees_with_resolve_on_every_fixture_call(tmp_path: Path) -> None:
    """The chain memo is keyed by `import_rooted`'s answer: wherever it says resolution
    starts at an import, the def resolving the call gives (what the chain search uses)
    must be the one following that import and the attributes after it gives."""
    from bgtask_lint.index import FunctionSym, import_rooted
    from bgtask_lint.project import Project

    def plain_def(symbol):
        return symbol if isinstance(symbol, FunctionSym) and isinstance(symbol.node, ast.FunctionDef) else None

    write_app(tmp_path, SHADOWING)
    compared = 0
    for root in [*_fixture_roots(), tmp_path]:
        project = Project.load([root], Settings(), root)
        index = project.index
        for path in project.targets:
            module = index.by_path[path]
            for call, function in _calls_with_function(module.tree):
                owner = module.owner_class.get(id(function)) if function is not None else None
                rooted = import_rooted(module, call.func, function, owner)
                if rooted is None:
                    continue
                ref, attributes = rooted
                followed = index._follow(module, ref, 1)
                for attribute in attributes:
                    followed = index.member(followed, attribute) if followed is not None else None
                assert plain_def(index.resolve(module, call.func, function, owner)) == plain_def(followed), \
                    (path, call.lineno)
                compared += 1
    assert compared > 100
