"""bgtask-lint: find and fix the bugs that make FastAPI/Starlette background tasks fail silently."""
