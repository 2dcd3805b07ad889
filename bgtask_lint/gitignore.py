"""`.gitignore` matching with the standard library, as git decides it.

Only inside a git work tree (a `.git` directory or file at or above the walk): there git
itself ignores those files, outside it nothing does (ruff does the same). The rules come
from `.git/info/exclude` and every `.gitignore` from the work tree's top down to the
directory being walked; a deeper file, and a later line, win. A directory that matches is
not walked, so a `!negation` cannot bring back a file below it (git's rule too). The
user's global `core.excludesFile` is not read: it is not part of the project.

Pattern syntax (gitignore(5)): `#` comments, `\\` escapes, `!` negates, a trailing `/`
matches directories only, a `/` at the start or in the middle anchors the pattern to the
directory of its `.gitignore`, `*` `?` `[...]` do not match `/`, and `**` as a whole
path segment matches any number of directories.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bgtask_lint.plain import Value

_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "blank": " \\t", "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~",
    "punct": "!-/:-@\\[-`{-~", "space": " \\t\\n\\r\\f\\v", "upper": "A-Z", "xdigit": "0-9A-Fa-f",
}


class Rule(Value, frozen=True):
    __slots__ = ("regex", "negated", "directories_only")

    def __init__(self, regex: re.Pattern[str], negated: bool, directories_only: bool) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "regex", regex)
        set_field(self, "negated", negated)
        set_field(self, "directories_only", directories_only)


def _strip_trailing_spaces(line: str) -> str:
    """Trailing spaces are dropped unless the last one is escaped with a backslash."""
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        # an odd number of backslashes escapes the first trailing space
        backslashes = len(stripped) - len(stripped.rstrip("\\"))
        if backslashes % 2 == 1:
            return stripped + " "
    return stripped


def _class_char(char: str) -> str:
    return "\\" + char if char in "\\]^-[" else char


def _character_class(pattern: str, start: int) -> tuple[str, int] | None:
    """`[...]` at `start` as a regex class and the index after it; None if it never closes."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    i += negate
    body: list[str] = []
    first = True
    while i < len(pattern):
        char = pattern[i]
        if char == "]" and not first:
            joined = "".join(body)
            return (f"[^/{joined}]" if negate else f"(?!/)[{joined}]"), i + 1
        first = False
        if pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            if end != -1 and pattern[i + 2:end] in _POSIX_CLASSES:
                body.append(_POSIX_CLASSES[pattern[i + 2:end]])
                i = end + 2
                continue
        if char == "\\" and i + 1 < len(pattern):
            i += 1
            char = pattern[i]
        if i + 2 < len(pattern) and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            high, after = pattern[i + 2], i + 3
            if high == "\\" and after < len(pattern):
                high, after = pattern[after], after + 1
            body.append(f"{_class_char(char)}-{_class_char(high)}")
            i = after
            continue
        body.append(_class_char(char))
        i += 1
    return None


def _segment(segment: str) -> str:
    """One path segment (no `/`) as a regex."""
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            while i + 1 < len(segment) and segment[i + 1] == "*":
                i += 1  # `a**b` is `a*b`
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            found = _character_class(segment, i)
            if found is None:
                out.append(re.escape(char))
            else:
                out.append(found[0])
                i = found[1]
                continue
        elif char == "\\" and i + 1 < len(segment):
            i += 1
            out.append(re.escape(segment[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def parse_line(line: str) -> Rule | None:
    """One line of a `.gitignore` as a rule matching paths relative to its directory."""
    line = line.rstrip("\r\n")
    if not line or line.startswith("#"):
        return None
    line = _strip_trailing_spaces(line)
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    elif line.startswith("\\!") or line.startswith("\\#"):
        line = line[1:]
    directories_only = line.endswith("/") and not line.endswith("\\/")
    line = line.rstrip("/") if directories_only else line
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    segments = line.split("/")
    if not anchored:
        segments = ["**", *segments]
    regex = ""
    for number, segment in enumerate(segments):
        last = number == len(segments) - 1
        if segment == "**":
            if last:
                regex += ".*" if number == 0 else "/.*"  # `dir/**`: everything inside
            elif number == 0:
                regex += "(?:.*/)?"
            else:
                regex += "/(?:.*/)?"
            continue
        if number > 0 and segments[number - 1] != "**":
            regex += "/"
        regex += _segment(segment)
    try:
        compiled = re.compile(f"^{regex}$", re.DOTALL)
    except re.error:  # e.g. a reversed range `[z-a]`: git matches nothing with it
        return None
    return Rule(compiled, negated, directories_only)


def parse_file(path: Path) -> tuple[Rule, ...]:
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "surrogateescape")
    except OSError:
        return ()
    return tuple(rule for rule in (parse_line(line) for line in text.split("\n")) if rule is not None)


def find_work_tree(directory: Path) -> Path | None:
    """The top of the git work tree holding `directory` (absolute), if any."""
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


class IgnoreRules(Value, frozen=True):
    """The rules that apply in one directory: `(base directory, rules)` from the shallowest
    source to the deepest."""

    __slots__ = ("sources",)

    def __init__(self, sources: tuple[tuple[str, tuple[Rule, ...]], ...] = ()) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "sources", sources)

    @classmethod
    def for_directory(cls, directory: Path) -> "IgnoreRules | None":
        """The rules in force in `directory` (absolute) from every `.gitignore` above it and
        its own; None outside a git work tree."""
        top = find_work_tree(directory)
        if top is None:
            return None
        rules = cls(((str(top), parse_file(top / ".git" / "info" / "exclude")),))
        try:
            below = directory.relative_to(top).parts
        except ValueError:
            return rules
        current = top
        rules = rules.entering(current)
        for part in below:
            current = current / part
            rules = rules.entering(current)
        return rules

    def entering(self, directory: Path | str) -> "IgnoreRules":
        """The rules in force in a subdirectory: these, then its own `.gitignore`."""
        found = parse_file(Path(directory) / ".gitignore")
        return IgnoreRules(self.sources + ((str(directory), found),)) if found else self

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Whether git ignores `path` (absolute), its parent directories not considered."""
        verdict = False
        for base, rules in self.sources:
            prefix = base if base.endswith(os.sep) else base + os.sep
            if not path.startswith(prefix):
                continue
            relative = path[len(prefix):].replace(os.sep, "/")
            for rule in rules:
                if (is_dir or not rule.directories_only) and rule.regex.match(relative):
                    verdict = not rule.negated
        return verdict
