"""`bgtask-lint lsp`: a language server over stdio (pygls), with the engine of the CLI.

* `positions`  pure position arithmetic (ast lines and byte columns as LSP positions, edits)
* `service`    the documents, one `Project` per root, checks and fixes; no pygls
* `server`     the pygls server class and its handlers; pygls is imported only when a
               server is created, so importing this package never needs pygls
"""

from bgtask_lint.lsp.server import PyglsMissing, load_pygls, serve

__all__ = ["PyglsMissing", "load_pygls", "serve"]
