"""LibCST codemod commands, one per fixable bgtask-lint rule.

Run them through `bgtask-lint fix` (which finds the targets with the project-wide
checker, cross-module facts included), or stand-alone with
`python -m libcst.tool codemod <module>.<Command> PATHS` (each command then finds its
targets in the one module it sees).
"""
