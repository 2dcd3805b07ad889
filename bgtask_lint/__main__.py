from bgtask_lint.cli import run

run()
