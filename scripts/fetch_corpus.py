#!/usr/bin/env python3
"""Fetch the real-world development corpus listed in realworld/apps.json.

Each app is a pinned FastAPI/Starlette application distribution on PyPI.  It is
downloaded without dependencies (``pip download --no-deps``) into a cache
directory outside the repository and unpacked to ``<dir>/<name>-<version>/``.
No third-party code ever lands in the repository.

Cache directory, in order of precedence: ``--dir``, ``$BGTASK_CORPUS_DIR``,
``~/.cache/bgtask-lint/corpus``.

Usage::

    python scripts/fetch_corpus.py                 # fetch everything
    python scripts/fetch_corpus.py --only gradio,prefect
    python scripts/fetch_corpus.py --dir /tmp/corpus

From tests (stdlib only, load by path)::

    spec = importlib.util.spec_from_file_location("fetch_corpus", ROOT / "scripts/fetch_corpus.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    dirs = mod.corpus_paths(["gradio"])   # {"gradio": Path(".../gradio-6.31.0")}

Stdlib only; Python 3.10+.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

REPO_ROOT = Path(__file__).resolve().parent.parent
APPS_JSON = REPO_ROOT / "realworld" / "apps.json"
ENV_VAR = "BGTASK_CORPUS_DIR"
DEFAULT_DIR = Path("~/.cache/bgtask-lint/corpus")
DOWNLOADS = "_downloads"
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip")


class FetchError(RuntimeError):
    """A download, verification or unpack step failed (message is one line)."""


# --------------------------------------------------------------------------- config


def load_apps(path: Path = APPS_JSON) -> list[dict]:
    apps = json.loads(Path(path).read_text(encoding="utf-8"))
    seen = set()
    for app in apps:
        for key in ("name", "dist", "version", "roots"):
            if key not in app:
                raise FetchError(f"{path}: entry {app!r} lacks {key!r}")
        if app["name"] in seen:
            raise FetchError(f"{path}: duplicate app name {app['name']!r}")
        seen.add(app["name"])
    return apps


def select_apps(apps: list[dict], only: Iterable[str] | None) -> list[dict]:
    if only is None:
        return list(apps)
    wanted = [n.strip() for n in only if n.strip()]
    by_name = {a["name"]: a for a in apps}
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise FetchError(
            f"unknown app(s): {', '.join(unknown)} (known: {', '.join(by_name)})"
        )
    return [by_name[n] for n in dict.fromkeys(wanted)]


def corpus_dir(explicit: str | os.PathLike | None = None) -> Path:
    raw = explicit or os.environ.get(ENV_VAR) or DEFAULT_DIR
    path = Path(raw).expanduser().resolve()
    if path == REPO_ROOT or REPO_ROOT in path.parents:
        raise FetchError(
            f"corpus directory {path} is inside the repository; third-party code "
            f"must stay outside it (use --dir or ${ENV_VAR})"
        )
    return path


def app_dir(base: Path, app: dict) -> Path:
    return base / f"{app['name']}-{app['version']}"


# --------------------------------------------------------------------------- download


def _find_archive(directory: Path) -> Path | None:
    if not directory.is_dir():
        return None
    found = sorted(
        p for p in directory.iterdir() if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES)
    )
    return found[0] if found else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pip_download(app: dict, dest: Path, binary: bool) -> subprocess.CompletedProcess:
    spec = f"{app['dist']}=={app['version']}"
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
        "--disable-pip-version-check", "--ignore-requires-python",
        "--dest", str(dest),
    ]
    if binary:
        cmd.append("--only-binary=:all:")
        if app.get("platform"):
            cmd += ["--platform", app["platform"], "--implementation", "cp",
                    "--python-version", app.get("python", "3.10")]  # a cp311-only wheel: "python": "3.11"
    else:
        cmd.append("--no-binary=:all:")
    cmd.append(spec)
    return subprocess.run(cmd, capture_output=True, text=True)


def _pip_error(proc: subprocess.CompletedProcess) -> str:
    """The most telling line of pip's output, for a one-line message."""
    lines = [l.strip() for l in (proc.stderr + "\n" + proc.stdout).splitlines()
             if l.strip() and "is ignored: it is neither" not in l]
    for prefix in ("ERROR:", "error:"):
        hits = [l for l in lines if l.startswith(prefix)]
        if hits:
            return hits[-1]
    return lines[-1] if lines else f"pip exited {proc.returncode}"


def download(app: dict, base: Path) -> Path:
    """Return the archive for ``app``, downloading it into ``base/_downloads``."""
    final_dir = base / DOWNLOADS / f"{app['name']}-{app['version']}"
    archive = _find_archive(final_dir)
    if archive is None:
        final_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".dl-{app['name']}-", dir=final_dir.parent))
        try:
            proc = _pip_download(app, tmp, binary=True)
            why = _pip_error(proc)
            if proc.returncode != 0 and not app.get("platform"):
                # sdist fallback; note pip must build the sdist's metadata for this
                proc = _pip_download(app, tmp, binary=False)
                why = f"no wheel ({why}); sdist: {_pip_error(proc)}"
            archive = _find_archive(tmp)
            if proc.returncode != 0 or archive is None:
                raise FetchError(
                    f"failed to download {app['dist']}=={app['version']}: {why}"
                )
            try:
                os.rename(tmp, final_dir)
            except OSError:
                if _find_archive(final_dir) is None:  # not a concurrent winner
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        archive = _find_archive(final_dir)
        assert archive is not None
    expected = app.get("sha256")
    if expected:
        actual = _sha256(archive)
        if actual != expected:
            raise FetchError(
                f"sha256 mismatch for {archive.name}: got {actual}, apps.json pins "
                f"{expected} (delete {final_dir} to retry)"
            )
    return archive


# --------------------------------------------------------------------------- unpack


def _extract(archive: Path, dest: Path) -> None:
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)  # zipfile strips absolute paths and '..'
        return
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()
        if hasattr(tarfile, "data_filter"):
            tf.extractall(dest, filter="data")
        else:  # pragma: no cover - Python < 3.10.12 without the extraction filter
            for m in members:
                target = (dest / m.name).resolve()
                if dest.resolve() not in target.parents or not (m.isfile() or m.isdir()):
                    continue
                tf.extract(m, dest)
    # sdists wrap everything in "<dist>-<version>/": hoist it so roots are comparable.
    entries = list(dest.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        inner = entries[0]
        for child in inner.iterdir():
            child.rename(dest / child.name)
        inner.rmdir()


def unpack(app: dict, archive: Path, base: Path) -> Path:
    """Unpack atomically to ``<base>/<name>-<version>``; skip if already there."""
    target = app_dir(base, app)
    if target.is_dir():
        return target
    tmp = Path(tempfile.mkdtemp(prefix=f".unpack-{app['name']}-", dir=base))
    try:
        _extract(archive, tmp)
        missing = [r for r in app["roots"] if not (tmp / r).is_dir()]
        if missing:
            raise FetchError(
                f"{archive.name} has no root(s) {', '.join(missing)}; "
                f"top level: {', '.join(sorted(p.name for p in tmp.iterdir()))}"
            )
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # lost a race to a concurrent fetch: fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# --------------------------------------------------------------------------- API


def fetch(app: dict, base: Path) -> Path:
    target = app_dir(base, app)
    if target.is_dir():
        return target
    base.mkdir(parents=True, exist_ok=True)
    return unpack(app, download(app, base), base)


def fetch_all(apps: list[dict], base: Path, jobs: int = 4) -> dict[str, Path]:
    """Fetch ``apps`` in parallel; raise the first failure in apps.json order."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [(a, pool.submit(fetch, a, base)) for a in apps]
        results, errors = {}, []
        for app, fut in futures:
            try:
                results[app["name"]] = fut.result()
            except FetchError as exc:
                errors.append(exc)
            except Exception as exc:  # surface unexpected errors as one line too
                errors.append(FetchError(f"{app['name']}: {type(exc).__name__}: {exc}"))
    if errors:
        raise errors[0]
    return results


def count_py(app: dict, directory: Path) -> int:
    return sum(1 for r in app["roots"] for _ in (directory / r).rglob("*.py"))


def corpus_paths(
    apps: Iterable[str] | None = None, directory: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Ensure ``apps`` (names; all when None) are fetched and return their directories.

    Each value is the unpacked app directory ``<dir>/<name>-<version>``: the
    directory holding the app's roots (``realworld/apps.json`` "roots"), which is
    also what label paths in ``realworld/labels/<name>.csv`` are relative to.
    Use :func:`corpus_roots` for the root package directories themselves.
    Raises :class:`FetchError` if a download fails.
    """
    if isinstance(apps, str):
        apps = apps.split(",")
    selected = select_apps(load_apps(), apps)
    return fetch_all(selected, corpus_dir(directory))


def corpus_roots(
    apps: Iterable[str] | None = None, directory: str | os.PathLike | None = None
) -> dict[str, list[Path]]:
    """Like :func:`corpus_paths` but map each app to its root package directories."""
    by_name = {a["name"]: a for a in load_apps()}
    return {
        name: [path / r for r in by_name[name]["roots"]]
        for name, path in corpus_paths(apps, directory).items()
    }


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help=f"cache directory (default ${ENV_VAR} or {DEFAULT_DIR})")
    parser.add_argument("--only", help="comma-separated app names from realworld/apps.json")
    parser.add_argument("--jobs", type=int, default=4, help="parallel downloads (default 4)")
    parser.add_argument("--apps", type=Path, default=APPS_JSON,
                        help="the apps' list (default realworld/apps.json; also realworld/generalization/apps.json)")
    args = parser.parse_args(argv)

    start = time.monotonic()
    try:
        apps = select_apps(load_apps(args.apps), args.only.split(",") if args.only else None)
        base = corpus_dir(args.dir)
        paths = fetch_all(apps, base, args.jobs)
    except FetchError as exc:
        print(f"fetch_corpus: error: {exc}", file=sys.stderr)
        return 1
    width = max(len(a["name"]) for a in apps) if apps else 0
    vwidth = max(len(a["version"]) for a in apps) if apps else 0
    for app in apps:
        path = paths[app["name"]]
        print(f"{app['name']:<{width}}  {app['version']:<{vwidth}}  {path}  "
              f"{count_py(app, path)} .py")
    print(f"{len(apps)} app(s) in {base} ({time.monotonic() - start:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
