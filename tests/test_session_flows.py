"""V2.4: a request session that reaches a task through a project helper, a project-wide
fact kept in the index (`ProjectIndex.session_flows`, digested through `flow_summary`)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bgtask_lint import flows
from bgtask_lint.config import Settings
from bgtask_lint.project import Project
from markers import FIXTURES

PROJECT = FIXTURES / "projects" / "session_flow"
SCHEDULING = PROJECT / "app" / "scheduling.py"
API = PROJECT / "app" / "api.py"


def _load() -> Project:
    return Project.load([PROJECT], Settings(select=("BGT201",)), root=PROJECT)


def test_the_helper_finding_names_the_endpoint_and_where_it_passes_the_session() -> None:
    project = _load()
    findings = project.check(project.module(SCHEDULING))
    by_line = {f.line: f.message for f in findings}
    assert "from endpoint 'recompute_user' (app.api:15)" in by_line[10]
    assert "parameter 'session' of 'queue_partial'" in by_line[14]


def test_flow_summary_is_sorted_plain_values_and_stable() -> None:
    first, second = _load().index.flow_summary(), _load().index.flow_summary()
    assert first == second and list(first) == sorted(first)
    hash(first)
    assert all(isinstance(v, (str, int)) for row in first for v in row)
    helpers = {(Path(row[0]).name, row[1], row[2]) for row in first}
    assert ("scheduling.py", "queue_recompute", "db") in helpers
    assert ("scheduling.py", "Scheduler.later", "db") in helpers
    assert not any(row[1] == "queue_receipt" for row in first)  # hands only the ID on


def test_flow_summary_follows_an_edit_of_a_caller() -> None:
    project = _load()
    before = project.index.flow_summary()
    edited = API.read_text(encoding="utf-8").replace(
        "scheduling.queue_recompute(background_tasks, db, user_id)",
        "scheduling.queue_recompute(background_tasks, user_id, user_id)")
    project.replace(API, edited)
    after = project.index.flow_summary()
    assert not any(row[1] == "queue_recompute" for row in after)
    assert set(after) < set(before)
    lines = {f.line for f in project.check(project.module(SCHEDULING))}
    assert 10 not in lines and 14 in lines


def test_an_edit_of_another_module_does_not_scan_an_unchanged_caller_again(monkeypatch) -> None:
    """The calls of a module that the flows resolve depend on its own text and the helpers'
    names: the module keeps them (in the editor every edit recomputes the flows)."""
    project = _load()
    before = project.index.flow_summary()
    api = project.module(API)
    api_statements = {id(stmt) for function in api.functions.values() for stmt in function.body}
    walked: list[list] = []
    real_walk = flows.walk_local
    monkeypatch.setattr(flows, "walk_local", lambda body: walked.append(body) or real_walk(body))

    class Imports(dict):  # tells when every import is listed again (the words they are named by)
        listed = 0

        def values(self):
            Imports.listed += 1
            return super().values()

    api.imports = Imports(api.imports)
    project.replace(SCHEDULING, SCHEDULING.read_text(encoding="utf-8") + "\n# an edit\n")
    assert project.index.flow_summary() == before
    assert walked  # the edited module was scanned again
    assert not any(id(stmt) in api_statements for body in walked for stmt in body)
    assert Imports.listed == 0


def test_a_new_helper_name_scans_the_callers_again() -> None:
    project = _load()
    assert not any(row[1] == "queue_receipt" for row in project.index.flow_summary())
    edited = SCHEDULING.read_text(encoding="utf-8").replace(
        "tasks.add_task(send_receipt, user_id)", "tasks.add_task(send_receipt, db, user_id)")
    project.replace(SCHEDULING, edited)
    assert ("queue_receipt", "db") in {(row[1], row[2]) for row in project.index.flow_summary()}


def test_only_modules_given_to_the_index_are_scanned_for_callers() -> None:
    """Callers in modules parsed lazily by resolution are not scanned, so the answer does
    not depend on which lookups happened first (a helper checked alone knows no caller)."""
    project = Project.load([SCHEDULING], Settings(select=("BGT201",)), root=PROJECT)
    assert project.index.flow_summary()  # api.py schedules tasks: Project.load parses it
    lone = Project(PROJECT, Settings(select=("BGT201",)))
    helper = lone.replace(SCHEDULING, SCHEDULING.read_text(encoding="utf-8"))
    lone.index.register(sorted(PROJECT.rglob("*.py")), lambda path: lone.parse(path))
    assert lone.index.find_module("app.api", helper) is not None  # parsed lazily now
    assert lone.index.flow_summary() == ()


def test_a_cached_run_looks_for_callers_only_where_compute_session_flows_does(
        tmp_path: Path, monkeypatch) -> None:
    """The calls parts a cached run stores are searched (by text, for the helpers' names)
    only in modules that import something named like a helper's module, as the index's
    own computation does: not narrowed, litellm's 3,135 modules were each searched for 69
    names (0.7 s of a cold run). The findings stay the uncached run's."""
    import shutil

    from bgtask_lint import flows
    from bgtask_lint.runner import check_paths

    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    (root / "app" / "unrelated.py").write_text(
        "def queue_recompute(tasks, db, user_id):\n    return None\n\n\n"
        "def caller(db):\n    queue_recompute(None, db, 1)\n", encoding="utf-8")
    searched: list[str] = []
    call_lines = flows._call_lines

    def recording(source: str, names: set[str]) -> list[int]:
        if "def caller(db)" in source:
            searched.extend(names)
        return call_lines(source, names)

    monkeypatch.setattr(flows, "_call_lines", recording)
    settings = Settings(select=("BGT201",))
    cached = check_paths([root], settings, root=root, jobs=1, cache=True)
    assert searched == []  # it imports nothing named like app.scheduling (or any module)
    uncached = check_paths([root], settings, root=root, jobs=1, cache=False)
    assert [(f.path, f.line, f.message) for f in cached.findings] == \
        [(f.path, f.line, f.message) for f in uncached.findings]
    assert any(f.path.name == "scheduling.py" for f in cached.findings)


WORDS = ["notify", "notify_all", "_notify", "xnotify", "run", "run1", "é", "ünotify", "1notify"]


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(WORDS + ["(", ")", " ", "\n", ".", "_", "=", "# ", "\u00e9"]), max_size=60),
       names=st.sets(st.sampled_from(WORDS), min_size=1))
def test_the_one_pass_search_finds_the_call_lines_the_search_by_name_finds(pieces: list[str], names: set[str]) -> None:
    """Past ONE_PASS_NAMES names the text is read once, for every `word(`: the same lines
    (a word glued to a letter, a digit, `_` or a non-ASCII letter is another name)."""
    source = "".join(pieces)
    by_name = sorted(flows._call_lines(source, names))  # few names: a search per name
    assert sorted(flows._call_lines_one_pass(source, names)) == by_name


def test_many_names_are_looked_for_in_one_pass_over_the_module(monkeypatch) -> None:
    """A 1 MB module searched for 344 helper names was read 344 times (0.15 s of each
    check of bench/big_module.py's module): past ONE_PASS_NAMES names, once."""
    names = {f"helper_{n}" for n in range(flows.ONE_PASS_NAMES + 1)}
    source = "".join(f"def helper_{n}(x):\n    return helper_{n + 1}(x)\n" for n in range(100))
    reads: list[str] = []

    class CountingText(str):
        def find(self, *args):
            reads.append("find")
            return str.find(self, *args)

    lines = flows._call_lines(CountingText(source), names)
    assert reads == []
    # each helper's def line (`helper_n(`), and each return that calls a helper of the set
    assert sorted(lines) == list(range(1, 2 * len(names)))
