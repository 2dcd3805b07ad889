"""What a fix sees of a module: its skeleton.

LibCST's cost grows with the code it parses, annotates and rewrites, so a fix that
fixes three calls in a module (of 1 MB, or of 30 KB) gets the module with what holds
none of its targets replaced by placeholder lines:

- every def and class, at module level, in a class that holds targets, or nested in a
  def that holds targets: `def name(): ...  # marker` for a def whose name the fixes
  may ask about, one such line with a name of its own for a run of the others;
- every run of other module-level statements (assignments, `if`s, calls) that bind no
  name the code left mentions or a fix adds, and hold no import or def: one
  `pass  # marker` line;
- in a def that holds targets, every run of its statements around them (also within the
  branches, loops and `try`s that hold them, not within a `with`) that import, define,
  yield and bind nothing a fix adds: one `pass  # marker` line.

Imports and loggers stay whole, so what the fixes ask of the module (which imports
are there, is the registry bound) has the same answer; what depends on the code cut
(loggers, lazy imports, names bound by a `global` in a def, the names a new variable
must not take) the fixes ask of the whole module's model and tree, which fix.py hands
them with the skeleton's line maps. Afterwards each placeholder is put back verbatim
(an edit that moved one is refused), and the lines of the edit are mapped so the
targets of the next fix can be moved.
"""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass, field
from typing import Callable

from bgtask_lint.diffs import longest_increasing, unique_pairs
from bgtask_lint.files import line_within, source_lines

SKELETON_MIN_CHARS = 0  # every module: LibCST costs per character shown, and skipping a def is cheap
MARKER = "__bgtask_lint_gap_{}__"
_MARKER = re.compile(r"# __bgtask_lint_gap_(\d+)__")
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
KEEP_PREFIXES = ("_background_task_done",)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# names the fixes add or look for: loggers, the imports they add, the BGT103 registry
_FIX_NAMES = re.compile(r"(logger|log|LOGGER|_logger|_log|LOG|logging|asyncio|aiofiles|functools|httpx|aiohttp"
                        r"|redis|requests|time|task(_\d+)?|_background_\w*)$")

Target = tuple[int, int, int, int]


@dataclass
class Region:
    start: int  # 1-based, first line (its first decorator's)
    end: int  # 1-based, inclusive
    placeholder: str
    statements: list[ast.stmt] = field(default_factory=list)  # what the placeholder stands for


@dataclass
class Expansion:
    """A fix's output put back into the module (`Skeleton.expand_parts`)."""

    text: str  # the new module text
    line_map: Callable[[int], int | None]  # old module line -> new module line (None: changed)
    output_lines: dict[int, int]  # output line (1-based) -> its new module line, but placeholders
    placeholders: dict[int, int]  # a placeholder's output line -> its region's index
    region_starts: dict[int, int]  # region index -> the region's first line in the new module


@dataclass
class Skeleton:
    lines: list[str]  # the module's lines, with their line ends
    regions: list[Region] = field(default_factory=list)

    @classmethod
    def whole(cls, text: str) -> "Skeleton":
        return cls(source_lines(text, keepends=True))

    def __post_init__(self) -> None:
        parts, position = [], 1
        for region in self.regions:
            parts.extend(self.lines[position - 1:region.start - 1])
            parts.append(region.placeholder)
            position = region.end + 1
        parts.extend(self.lines[position - 1:])
        self.skeleton_lines = parts
        self.text = "".join(parts)
        self._outside: str | None = None
        # for the line maps (bisect: a fix maps a line per target and per call)
        self._starts = [region.start for region in self.regions]
        self._removed_through: list[int] = []  # lines cut by this region and those before it
        self._placeholder_lines: list[int] = []  # each placeholder's line in the skeleton
        removed = 0
        for region in self.regions:
            self._placeholder_lines.append(region.start - removed)
            removed += region.end - region.start
            self._removed_through.append(removed)

    # --- module lines -> skeleton lines ---------------------------------------------------

    def to_skeleton_line(self, line: int) -> int | None:
        """The skeleton line of a module line (None for a line a placeholder stands for)."""
        at = bisect.bisect_right(self._starts, line) - 1
        if at < 0:
            return line
        if line <= self.regions[at].end:
            return None
        return line - self._removed_through[at]

    def to_module_line(self, line: int) -> int | None:
        """The module line of a skeleton line (None for a placeholder's)."""
        at = bisect.bisect_right(self._placeholder_lines, line) - 1
        if at < 0:
            return line
        if line == self._placeholder_lines[at]:
            return None
        return line + self._removed_through[at]

    def to_skeleton(self, spans: set[Target]) -> set[Target]:
        if not self.regions:
            return set(spans)
        moved = set()
        for first, column, last, end_column in spans:
            a, b = self.to_skeleton_line(first), self.to_skeleton_line(last)
            if a is not None and b is not None:
                moved.add((a, column, b, end_column))
        return moved

    def used_outside(self, name: str) -> bool:
        """Whether `name` appears (as a word) in the code the fix did not see."""
        if self._outside is None:
            self._outside = "".join("".join(self.lines[r.start - 1:r.end]) for r in self.regions)
        return re.search(rf"\b{re.escape(name)}\b", self._outside) is not None

    # --- the fix's output -> the module's new text ----------------------------------------

    def expand(self, new_skeleton: str) -> tuple[str, Callable[[int], int | None]]:
        """The new module text, and old module line -> new module line for the lines the
        edit left unchanged (None for the others)."""
        expansion = self.expand_parts(new_skeleton)
        return expansion.text, expansion.line_map

    def expand_parts(self, new_skeleton: str) -> Expansion:
        """`expand`, and where each line of the fix's output went (fix_splice.py builds the
        new module's tree from them)."""
        new_lines = source_lines(new_skeleton, keepends=True)
        output: list[str] = []
        new_position: dict[int, int] = {}  # skeleton output line (1-based) -> module line
        region_start: dict[int, int] = {}  # region index -> its first line in the new module
        placeholders: dict[int, int] = {}
        for number, line in enumerate(new_lines, start=1):
            match = _MARKER.search(line) if self.regions else None
            if match is not None and int(match.group(1)) < len(self.regions):
                region = self.regions[int(match.group(1))]
                # a placeholder indented anew: its lines, put back as they were, would not fit
                if _indent(line) != _indent(region.placeholder):
                    raise ValueError("a fix moved a part of the module it was not given")
                region_start[int(match.group(1))] = len(output) + 1
                placeholders[number] = int(match.group(1))
                output.extend(self.lines[region.start - 1:region.end])
                continue
            new_position[number] = len(output) + 1
            output.append(line)
        if len(region_start) != len(self.regions):
            raise ValueError("a fix changed a part of the module it was not given")
        kept = line_mapping(self.skeleton_lines, new_lines)
        starts, regions = self._starts, self.regions

        def line_map(line: int) -> int | None:
            at = bisect.bisect_right(starts, line) - 1
            if at >= 0 and line <= regions[at].end:
                return region_start[at] + line - regions[at].start
            in_skeleton = self.to_skeleton_line(line)
            moved = kept(in_skeleton) if in_skeleton is not None else None
            return new_position.get(moved) if moved is not None else None

        return Expansion("".join(output), line_map, new_position, placeholders, region_start)


def line_mapping(old_lines: list[str], new_lines: list[str]) -> Callable[[int], int | None]:
    """old 1-based line -> new 1-based line, for lines an edit left as they were.

    Patience-style: lines that occur once in each text anchor the mapping (the longest
    run of anchors in the same order), and the lines between two anchors map where they
    are equal from either end. Linear-ish where difflib is quadratic on code full of
    repeated lines; a line it cannot place only makes its target wait for a re-check.
    """
    anchors = [(-1, -1), *longest_increasing(unique_pairs(old_lines, new_lines)), (len(old_lines), len(new_lines))]
    mapping: dict[int, int] = {}
    for (i1, j1), (i2, j2) in zip(anchors, anchors[1:]):
        if i1 >= 0:
            mapping[i1 + 1] = j1 + 1
        # the gap between two anchors: equal lines from its start, then from its end
        a, b = i1 + 1, j1 + 1
        while a < i2 and b < j2 and old_lines[a] == new_lines[b]:
            mapping[a + 1] = b + 1
            a, b = a + 1, b + 1
        c, d = i2 - 1, j2 - 1
        while c >= a and d >= b and old_lines[c] == new_lines[d]:
            mapping[c + 1] = d + 1
            c, d = c - 1, d - 1
    return mapping.get


Item = tuple[ast.stmt, int, int]  # a statement, its first line (decorators included), its last


def build_skeleton(text: str, tree: ast.Module, target_lines: set[int]) -> Skeleton:
    lines = source_lines(text, keepends=True)

    sorted_targets = sorted(target_lines)

    def free(start: int, end: int) -> bool:
        return not line_within(sorted_targets, start, end)

    defs = _defs_without_targets(tree.body, lines, free)
    statements = _runs(tree.body, lambda number, stmt, start, end: (
        free(start, end) and stmt.col_offset == 0 and not _is_docstring(number, stmt)
        and not isinstance(stmt, (*_DEFS, ast.Import, ast.ImportFrom)) and _self_contained(stmt)
        and _omissible(stmt, end, lines)))
    # in a function, what the fixes ask about names they ask of the whole module's tree
    in_functions = _statements_in_functions(tree.body, lines, free)
    omitted = sorted((start, end) for run in [*defs, *statements, *in_functions] for _, start, end in run)
    kept, position = [], 1
    for start, end in omitted:
        kept.extend(lines[position - 1:start - 1])
        position = end + 1
    kept.extend(lines[position - 1:])
    # "is this name bound here" must keep its answer for every name the code the fix
    # sees mentions, and every name a fix may add (a logger, an import, the registry): such
    # a def keeps a placeholder of its own, `def name(): ...`, and such a module-level
    # statement stays. The others go by runs, one `def` (or `pass`) line per run.
    mentioned = set(_WORD.findall("".join(kept)))
    regions: list[Region] = []
    for run in statements:
        for group in _split(run, lambda item: bool(_bound_names(item[0]) & mentioned)):
            _close(group, lines, regions, "pass")
    for run in in_functions:
        _close(run, lines, regions, '""' if _is_docstring(0, run[0][0]) else "pass")
    for run in defs:
        pending: list[Item] = []
        for item in run:
            name = item[0].name  # type: ignore[attr-defined]
            if name in mentioned or _FIX_NAMES.match(name):
                _close(pending, lines, regions, "def {marker}(): ...")
                pending = []
                head = f"class {name}: ..." if isinstance(item[0], ast.ClassDef) else f"def {name}(): ..."
                _close([item], lines, regions, head)
            else:
                pending.append(item)
        _close(pending, lines, regions, "def {marker}(): ...")
    regions.sort(key=lambda r: r.start)
    for index, region in enumerate(regions):
        region.placeholder = region.placeholder.replace("{marker}", MARKER.format(index))
    return Skeleton(lines, regions)


def _runs(body: list[ast.stmt], omit: Callable[[int, ast.stmt, int, int], bool]) -> list[list[Item]]:
    """The runs of consecutive statements of `body` that `omit(number, stmt, start, end)` accepts."""
    runs: list[list[Item]] = [[]]
    for number, stmt in enumerate(body):
        start = min([d.lineno for d in getattr(stmt, "decorator_list", [])] + [stmt.lineno])
        end = stmt.end_lineno or stmt.lineno
        if omit(number, stmt, start, end):
            runs[-1].append((stmt, start, end))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _defs_without_targets(body: list[ast.stmt], lines: list[str], free: Callable[[int, int], bool]) -> list[list[Item]]:
    """Runs of defs and classes without targets in `body`, and in the defs and classes that
    hold targets (a task nested in a 1,000-line factory of route handlers: gradio's
    `create_app`)."""
    runs = _runs(body, lambda number, stmt, start, end: (
        isinstance(stmt, _DEFS) and free(start, end) and _omissible(stmt, end, lines)))
    for stmt in body:
        if isinstance(stmt, _DEFS) and not free(stmt.lineno, stmt.end_lineno or stmt.lineno):
            runs.extend(_defs_without_targets(stmt.body, lines, free))
    return runs


def _statements_in_functions(body: list[ast.stmt], lines: list[str], free: Callable[[int, int], bool],
                             block: str | None = None) -> list[list[Item]]:
    """Runs of statements without targets in the body of each def that holds targets (and
    of the defs and classes in it that do, and of the branches, loops and `try`s in it that
    do): a 600-line endpoint with one task to fix. Never inside a `with` that holds a
    target (a `with open(...) as f:` to convert owns its body's `f.read()`). Not a
    statement that imports, defines, declares `global`/`nonlocal`, yields, or binds a
    name the fixes add. A def's docstring of several lines is a run of its own (its
    placeholder is a string: a fix that puts a line after the docstring still can).
    `block`: what `body` is, "def" or "block" (None: a module's or a class's)."""
    runs: list[list[Item]] = []
    if block is not None:
        runs = _runs(body, lambda number, stmt, start, end: (
            free(start, end) and not _is_docstring(number, stmt)
            and not isinstance(stmt, (*_DEFS, ast.Import, ast.ImportFrom)) and _self_contained(stmt)
            and _omissible(stmt, end, lines)))
        first = body[0] if block == "def" else None
        if first is not None and _is_docstring(0, first) and (first.end_lineno or first.lineno) > first.lineno:
            end = first.end_lineno or first.lineno
            if free(first.lineno, end) and _omissible(first, end, lines):
                runs.append([(first, first.lineno, end)])
    for stmt in body:
        if free(stmt.lineno, stmt.end_lineno or stmt.lineno):
            continue
        if isinstance(stmt, _DEFS):
            inside = None if isinstance(stmt, ast.ClassDef) else "def"
            runs.extend(_statements_in_functions(stmt.body, lines, free, inside))
        elif block is not None:
            for inner in _blocks(stmt):
                runs.extend(_statements_in_functions(inner, lines, free, "block"))
    return runs


def _blocks(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The blocks of a branch, loop or `try` whose statements can be cut around a target
    in one of them (a `with` is not entered: what it binds, its body uses)."""
    if isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While)):
        return [stmt.body, stmt.orelse]
    if isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
        return [stmt.body, *(handler.body for handler in stmt.handlers), stmt.orelse, stmt.finalbody]
    return []


def _split(run: list[Item], stays: Callable[[Item], bool]) -> list[list[Item]]:
    """The parts of `run` between the items that stay in the skeleton."""
    parts: list[list[Item]] = [[]]
    for item in run:
        if stays(item):
            parts.append([])
        else:
            parts[-1].append(item)
    return [part for part in parts if part]


def _is_docstring(number: int, stmt: ast.stmt) -> bool:
    return number == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _self_contained(stmt: ast.stmt) -> bool:
    """No import, def, class, `global` or `yield` inside (a `yield` makes its def a
    generator: the def the fixes see must stay one), and no name bound that a fix adds or
    looks for."""
    for node in ast.walk(stmt):
        if isinstance(node, (*_DEFS, ast.Lambda, ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal,
                             ast.Yield, ast.YieldFrom)):
            return False
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load) and _FIX_NAMES.match(node.id):
            return False
    return True


def _bound_names(stmt: ast.stmt) -> set[str]:
    """Every name the statement binds (assignment targets, loop variables, `as` names, `:=`)."""
    names = {node.id for node in ast.walk(stmt) if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)}
    names.update(node.name for node in ast.walk(stmt) if isinstance(node, ast.ExceptHandler) and node.name)
    return names


def _omissible(stmt: ast.stmt, end: int, lines: list[str]) -> bool:
    if lines[stmt.lineno - 1].encode("utf-8")[:stmt.col_offset].strip():
        return False  # it shares its first line with a clause's header (`else: y = 1`)
    rest = lines[end - 1].encode("utf-8")[stmt.end_col_offset or 0:].decode("utf-8", "ignore").strip()  # type: ignore[attr-defined]
    if rest and not rest.startswith("#"):
        return False  # something else shares its last line
    # what a fix added before (the BGT103 callback) is looked at again
    return not getattr(stmt, "name", "").startswith(KEEP_PREFIXES)


def _close(run: list[Item], lines: list[str], regions: list[Region], head: str) -> None:
    """One placeholder line, `head` with the run's indent and its last line's ending, for
    a run of statements (a def where the module has defs, `pass` for other statements)."""
    if not run:
        return
    _, start, _ = run[0]
    _, _, end = run[-1]
    last_line = lines[end - 1]
    ending = last_line[len(last_line.rstrip("\r\n")):]
    regions.append(Region(start, end, f"{_indent(lines[start - 1])}{head}  # {{marker}}{ending}",
                          [stmt for stmt, _, _ in run]))


def _indent(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]
