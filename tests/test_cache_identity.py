"""The settings table and the declared dependencies, kept beside the pack by the metadata
of the files they were read from (bgtask_lint/cache/identity.py): a warm run of a
project with a pyproject.toml and a lock file parses neither, and any change to one of
those files (or to a requirements file one of them includes) is seen."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bgtask_lint.cache import identity
from bgtask_lint.cache.scan import RACY_NS
from bgtask_lint.cache.store import CACHE_DIR
from bgtask_lint.commands import resolve_settings
from test_cache import run

BLOCKING = "import time\n\n\nasync def poll():\n    time.sleep(1)\n"
LOCK = "version = 1\n\n" + "".join(f'[[package]]\nname = "pkg-{i}"\nversion = "1.0"\n\n' for i in range(50))


def _aged(*paths: Path, seconds: int = 100) -> None:
    when = time.time_ns() - seconds * 10**9
    for path in paths:
        os.utime(path, ns=(when, when))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "app" / "main.py").write_text(BLOCKING)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\ndependencies = ["fastapi"]\n')
    (root / "uv.lock").write_text(LOCK)
    _aged(root / "pyproject.toml", root / "uv.lock")
    return root


def test_the_racy_margin_is_the_scans() -> None:
    assert identity.RACY_NS == RACY_NS


def test_a_warm_check_with_a_pyproject_and_a_lock_file_loads_no_toml_parser(project: Path) -> None:
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('toml loaded:', 'tomllib' in sys.modules or 'tomli' in sys.modules,"
             " file=sys.stderr))\n"
             "sys.argv = ['bgtask-lint', 'check', '.']\n"
             "from bgtask_lint.launch import run\nrun()\n")
    loaded = []
    for _ in range(3):  # the first run makes the cache directory, the second keeps what it read
        done = subprocess.run([sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, timeout=120)
        assert "app/main.py:5:5: BGT301" in done.stdout
        loaded.append(done.stderr.strip().splitlines()[-1])
    assert loaded == ["toml loaded: True", "toml loaded: True", "toml loaded: False"]


def test_a_changed_settings_table_is_read_again(project: Path) -> None:
    run(project)
    assert resolve_settings(None, project, None, None, cached=True).ignore == ()
    assert (project / CACHE_DIR / identity.MEMO).exists()
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.bgtask-lint]\nignore = ["BGT301"]\n')
    _aged(pyproject, seconds=50)  # new metadata, and old enough to be kept
    settings = resolve_settings(None, project, None, None, cached=True)
    assert settings.ignore == ("BGT301",)
    from bgtask_lint.runner import check_paths

    assert not check_paths([project], settings, root=project, cache=True).findings
    assert resolve_settings(None, project, None, None, cached=True).ignore == ("BGT301",)  # from the memo


def test_a_table_is_not_kept_from_a_file_changed_just_now(project: Path) -> None:
    (project / CACHE_DIR).mkdir()
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.bgtask-lint]\nignore = ["BGT301"]\n')
    assert resolve_settings(None, project, None, None, cached=True).ignore == ("BGT301",)
    assert not (project / CACHE_DIR / identity.MEMO).exists()
    _aged(pyproject)
    resolve_settings(None, project, None, None, cached=True)
    assert (project / CACHE_DIR / identity.MEMO).exists()


def test_an_included_requirements_file_that_changes_is_read_again(project: Path) -> None:
    (project / CACHE_DIR).mkdir()
    (project / "requirements.txt").write_text("-r deps/base.txt\n")
    (project / "deps").mkdir()
    base = project / "deps" / "base.txt"
    base.write_text("httpx\n")
    _aged(project / "requirements.txt", base)
    assert "httpx" in identity.declared_names(project)
    assert "aiofiles" not in identity.declared_names(project)  # (from the memo)
    base.write_text("httpx\naiofiles\n")
    _aged(base, seconds=50)
    assert "aiofiles" in identity.declared_names(project)


def test_a_new_declaration_file_is_read(project: Path) -> None:
    (project / CACHE_DIR).mkdir()
    assert "aiofiles" not in identity.declared_names(project)
    assert (project / CACHE_DIR / identity.MEMO).exists()
    (project / "requirements-dev.txt").write_text("aiofiles\n")
    _aged(project / "requirements-dev.txt", project)
    assert "aiofiles" in identity.declared_names(project)


def test_a_declared_dependency_changes_the_pack(project: Path) -> None:
    run(project)
    run(project)
    packs = {p.name for p in (project / CACHE_DIR).glob("*.json")}
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"fastapi"', '"fastapi", "aiofiles"'))
    _aged(pyproject, seconds=50)
    _, stats = run(project)  # (compared with an uncached run)
    assert stats["checked"] == 1  # another identity: nothing from the old pack
    assert {p.name for p in (project / CACHE_DIR).glob("*.json")} - packs


def test_no_cache_reads_the_files_themselves(project: Path) -> None:
    """The memo trusts metadata, as the scan does: a change with the size and times put
    back is not seen by a cached run (the documented price); `--no-cache` reads the file."""
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.bgtask-lint]\nselect = ["BGT3"]\n')
    _aged(pyproject)
    (project / CACHE_DIR).mkdir()
    assert resolve_settings(None, project, None, None, cached=True).select == ("BGT3",)  # kept
    before = pyproject.stat()
    with open(pyproject, "r+") as handle:  # the same inode and size
        handle.write(pyproject.read_text().replace('"BGT3"', '"BGT1"'))
    os.utime(pyproject, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert pyproject.stat().st_size == before.st_size
    assert resolve_settings(None, project, None, None, cached=True).select == ("BGT3",)
    assert resolve_settings(None, project, None, None, cached=False).select == ("BGT1",)


def test_a_table_json_cannot_hold_is_not_kept(project: Path) -> None:
    """A TOML date has no JSON form: such a table is read from the file every time (here
    it is an unknown key, so every run says so)."""
    from bgtask_lint.config import ConfigError

    (project / CACHE_DIR).mkdir()
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.bgtask-lint]\nsince = 2024-01-01\n")
    _aged(pyproject)
    for _ in range(2):
        with pytest.raises(ConfigError, match="since"):
            resolve_settings(None, project, None, None, cached=True)
    assert not (project / CACHE_DIR / identity.MEMO).exists()


def test_a_cached_run_reads_the_lock_file_once_and_then_not_at_all(project: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The identity and the fix-safety check (is aiofiles declared? BGT301's open())
    share one reading; once the memo holds, the checks use the names it kept."""
    from bgtask_lint import dependencies
    from bgtask_lint.config import load_settings
    from bgtask_lint.runner import check_paths

    (project / "app" / "main.py").write_text("async def f(path):\n    with open(path) as h:\n        return h.read()\n")
    read: list[str] = []
    real = dependencies._toml
    monkeypatch.setattr(dependencies, "_toml", lambda path: (read.append(path.name), real(path))[1])
    for expected in (["pyproject.toml", "uv.lock"], ["pyproject.toml", "uv.lock"], []):
        dependencies._CACHE.clear()  # a new process
        read.clear()
        (project / "app" / "main.py").write_text((project / "app" / "main.py").read_text() + "# edited\n")
        found = check_paths([project], load_settings(None, project), root=project, cache=True).findings
        assert [f.code for f in found] == ["BGT301"]
        assert read == expected


def test_declared_follows_an_included_requirements_file_in_one_process(tmp_path: Path) -> None:
    """A long-lived process (the language server) asks again after an included file changed."""
    from bgtask_lint.dependencies import declared

    (tmp_path / "requirements.txt").write_text("-r base.txt\n")
    (tmp_path / "base.txt").write_text("httpx\n")
    _aged(tmp_path / "requirements.txt", tmp_path / "base.txt")
    assert declared(tmp_path) == {"httpx"}
    (tmp_path / "base.txt").write_text("httpx\naiofiles\n")
    assert declared(tmp_path) == {"httpx", "aiofiles"}
