"""The codemod command around a fix (`FindingFix`), for `python -m libcst.tool codemod`."""

from __future__ import annotations

import argparse
from abc import ABC
from typing import ClassVar, Iterable

import libcst as cst
from bgtask_lint.codemods._base import FindingFix, Target
from libcst.codemod import CodemodCommand, CodemodContext
from libcst.metadata import MetadataWrapper


class FindingCommand(CodemodCommand, ABC):
    """A codemod that runs one rule's fix (`FIX`) on each module it is given: at the
    positions it is given, or at those a check of the file with its project finds.

    Abstract (ABC), so that `python -m libcst.tool list` does not offer it as a command.
    """

    FIX: ClassVar[type[FindingFix]]

    def __init__(self, context: CodemodContext, targets: Iterable[Target] | None = None,
                 unsafe_fixes: bool = False, connect_timeout: float | None = None) -> None:
        super().__init__(context)
        self.options = {"targets": targets, "unsafe_fixes": unsafe_fixes, "connect_timeout": connect_timeout}

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.add_argument("--unsafe-fixes", action="store_true", default=False,
                                help="Also apply fixes that may change behaviour.")
        arg_parser.add_argument("--connect-timeout", type=float, default=None,
                                help="Timeout in seconds that BGT501 fixes insert (default 10.0).")

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        # a fix of its own per module: what it learns of one module is not another's
        fix = self.FIX(self.context.filename, **self.options)
        return fix.run(MetadataWrapper(tree, unsafe_skip_copy=True))
