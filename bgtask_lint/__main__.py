from bgtask_lint.launch import run

run()
