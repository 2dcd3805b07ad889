"""Example upload service used to exercise bgtask-lint (CSV imports, orders, newsletter)."""
