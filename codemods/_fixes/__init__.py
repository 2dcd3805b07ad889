"""The fixes, one plain LibCST transformer per fixable rule: what `bgtask-lint fix` runs.

They import nothing of `libcst.codemod` (its import, LibCST's matchers included, costs
more than most fixes); each is wrapped as a codemod command in the module of the same
name one level up, for `python -m libcst.tool codemod`.
"""
