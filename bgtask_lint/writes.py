"""Writing a source file back: atomically, in its own encoding, BOM, newlines and mode.

Used by `fix` and by `check --add-noqa`; a file is never left half-written.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

from bgtask_lint.files import read_source


class ChangedMeanwhile(Exception):
    """The file on disk is no longer the text that was edited."""


def write_atomically(path: Path, text: str, encoding: str, bom: bool) -> None:
    data = text.encode(encoding)
    if bom:
        data = codecs.BOM_UTF8 + data
    import tempfile  # here: a check that writes nothing need not import it

    mode = stat.S_IMODE(path.stat().st_mode)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bgtask-tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def read_for_write(path: Path) -> tuple[str, bool]:
    """The encoding to write back with, and whether the file starts with a UTF-8 BOM."""
    with path.open("rb") as handle:
        raw_start = handle.read(3)
    source = read_source(path)
    bom = raw_start == codecs.BOM_UTF8
    encoding = "utf-8" if source.encoding in ("utf-8-sig", "utf-8") else source.encoding
    return encoding, bom
