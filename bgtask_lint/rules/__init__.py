"""The rule catalogue: one module per rule, found in this package's folder (no hand-kept list).

A rule is a class with a stable `code`, a kebab-case `name`, a `message`, a ruff-style
docstring, `valid`/`invalid` examples (the tests run them; `invalid` ones carry
`# BGTxxx` end-of-line markers), and `visit_<NodeType>(node, ctx)` methods that the
engine calls during its one traversal of each file.
"""

from __future__ import annotations

import ast
import importlib
import os
from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from bgtask_lint.config import Settings
    from bgtask_lint.context import RuleContext


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    message: ClassVar[str]
    # "safe", "unsafe" or None: whether a codemod can fix findings of this rule
    fix: ClassVar[str | None] = None
    fix_title: ClassVar[str | None] = None
    valid: ClassVar[tuple[str, ...]] = ()
    invalid: ClassVar[tuple[str, ...]] = ()
    # the prefilter: words without which the rule cannot fire in a module (empty: no such words)
    words: ClassVar[tuple[str, ...]] = ()
    # also run on modules that define a background task (scheduled anywhere in the project)
    on_task_modules: ClassVar[bool] = False

    @classmethod
    def words_for(cls, settings: "Settings") -> tuple[str, ...]:
        return cls.words

    @classmethod
    def applies_to(cls, source: str, defines_task: bool, settings: "Settings") -> bool:
        words = cls.words_for(settings)
        if not words and not cls.on_task_modules:
            return True
        return (cls.on_task_modules and defines_task) or any(word in source for word in words)

    def __init__(self, settings: "Settings"):
        self.settings = settings

    def report(self, ctx: "RuleContext", node: ast.AST, message: str | None = None, *,
               fix: str | None = "default") -> None:
        ctx.report(self, node, message, fix=self.fix if fix == "default" else fix)

    @classmethod
    def handlers(cls) -> dict[str, str]:
        """node type name -> method name, for the dispatcher."""
        return {name[len("visit_"):]: name for name in dir(cls) if name.startswith("visit_")}


@lru_cache(maxsize=None)
def all_rules() -> tuple[type[Rule], ...]:
    found: list[type[Rule]] = []
    for name in _module_names():
        module = importlib.import_module(f"{__name__}.{name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and value is not Rule \
                    and value.__module__ == module.__name__ and hasattr(value, "code"):
                found.append(value)
    return tuple(sorted(found, key=lambda rule: rule.code))


def _module_names() -> list[str]:
    """The modules of this package, as `pkgutil.iter_modules` lists them from a folder
    (which imports `inspect`: 7 ms of a 100 ms check of a small project)."""
    names = []
    for folder in __path__:
        for entry in sorted(os.listdir(folder)):
            stem, _, suffix = entry.partition(".")
            if suffix == "py" and stem.isidentifier() and stem != "__init__":
                names.append(stem)
    return names


def rule_by_code(code: str) -> type[Rule] | None:
    for rule in all_rules():
        if rule.code == code.upper():
            return rule
    return None


def selected_rules(select: tuple[str, ...], ignore: tuple[str, ...]) -> tuple[type[Rule], ...]:
    """Longest matching prefix wins, as in ruff: `select=BGT4, ignore=BGT402`."""
    chosen = []
    for rule in all_rules():
        sel = max((len(p) for p in select if rule.code.startswith(p)), default=-1)
        ign = max((len(p) for p in ignore if rule.code.startswith(p)), default=-1)
        if sel >= 0 and sel > ign:
            chosen.append(rule)
    return tuple(chosen)
