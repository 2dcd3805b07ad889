from bgtask_lint.cli import main

main()
