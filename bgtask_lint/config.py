"""Settings from `[tool.bgtask-lint]` in pyproject.toml (or flake8 options)."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

from bgtask_lint.files import DEFAULT_EXCLUDES, ExcludePatterns
from bgtask_lint.plain import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a warm check
if TYPE_CHECKING:
    from typing import Any, Callable

CODE_PREFIX = re.compile(r"^BGT\d{0,3}$")


class ConfigError(Exception):
    """A configuration problem; the message is one line for the user."""


_SETTINGS_FIELDS = ("select", "ignore", "exclude", "guard_decorators", "connect_calls", "connect_timeout",
                    "per_file_ignores", "blocking_calls", "check_tests", "respect_gitignore", "force_exclude",
                    "config_path")


class Settings(Value, frozen=True, compared=_SETTINGS_FIELDS[:-1]):  # where they were read does not count
    __slots__ = _SETTINGS_FIELDS

    def __init__(self, select: tuple[str, ...] = ("BGT",), ignore: tuple[str, ...] = (),
                 exclude: tuple[str, ...] = (), guard_decorators: tuple[str, ...] = (),
                 connect_calls: tuple[str, ...] = (), connect_timeout: float = 10.0,
                 per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = (),
                 blocking_calls: tuple[str, ...] = (), check_tests: bool = False,
                 respect_gitignore: bool = True, force_exclude: bool = False,
                 config_path: Path | None = None) -> None:
        set_field = object.__setattr__  # frozen: see plain.Value
        set_field(self, "select", select)
        set_field(self, "ignore", ignore)
        set_field(self, "exclude", exclude)
        set_field(self, "guard_decorators", guard_decorators)
        set_field(self, "connect_calls", connect_calls)
        set_field(self, "connect_timeout", connect_timeout)
        set_field(self, "per_file_ignores", per_file_ignores)
        set_field(self, "blocking_calls", blocking_calls)  # extra dotted names for BGT301/BGT302
        set_field(self, "check_tests", check_tests)  # report BGT3xx-5xx in test files too
        set_field(self, "respect_gitignore", respect_gitignore)  # skip what .gitignore files ignore (in a git work tree)
        set_field(self, "force_exclude", force_exclude)  # exclude applies to paths named on the command line too
        set_field(self, "config_path", config_path)

    def replace(self, **changes: Any) -> "Settings":
        """A copy with these fields changed (`dataclasses.replace`)."""
        return Settings(**{name: getattr(self, name) for name in _SETTINGS_FIELDS} | changes)

    @property
    def excludes(self) -> tuple[str, ...]:
        return ExcludePatterns(DEFAULT_EXCLUDES + self.exclude, self.respect_gitignore)

    def with_overrides(self, **changes: Any) -> "Settings":
        return self.replace(**{k: v for k, v in changes.items() if v is not None})


def valid_timeout(value: Any) -> bool:
    """A usable timeout: a number, not a bool, above 0 and finite (`timeout=inf` is no code)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value < math.inf


_LIST_KEYS = {"select", "ignore", "exclude", "guard-decorators", "connect-calls", "blocking-calls"}
_BOOL_KEYS = {"check-tests", "respect-gitignore", "force-exclude"}
_KNOWN_KEYS = _LIST_KEYS | _BOOL_KEYS | {"connect-timeout", "per-file-ignores"}
DOTTED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def validate_codes(codes: tuple[str, ...], option: str) -> tuple[str, ...]:
    known = _known_codes()
    for code in codes:
        if not CODE_PREFIX.match(code) or not any(k.startswith(code) for k in known):
            raise ConfigError(f"{option}: unknown rule code or prefix {code!r}")
    return codes


def _known_codes() -> set[str]:
    from bgtask_lint.rules import all_rules

    return {rule.code for rule in all_rules()}


def _str_list(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def settings_from_table(table: dict[str, Any], where: str) -> Settings:
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown option '{unknown[0]}'")
    values: dict[str, Any] = {}
    for key in _LIST_KEYS & set(table):
        values[key.replace("-", "_")] = _str_list(table, key, where)
    for key in ("select", "ignore"):
        if key in values:
            validate_codes(values[key], f"{where}: '{key}'")
    for key in ("guard_decorators", "connect_calls", "blocking_calls"):
        for name in values.get(key, ()):
            if not DOTTED_NAME.match(name):
                raise ConfigError(f"{where}: '{key.replace('_', '-')}': {name!r} is not a dotted name")
    for key in _BOOL_KEYS & set(table):
        if not isinstance(table[key], bool):
            raise ConfigError(f"{where}: '{key}' must be true or false")
        values[key.replace("-", "_")] = table[key]
    if "connect-timeout" in table:
        timeout = table["connect-timeout"]
        if not valid_timeout(timeout):
            raise ConfigError(f"{where}: 'connect-timeout' must be a positive number")
        values["connect_timeout"] = float(timeout)
    if "per-file-ignores" in table:
        pfi = table["per-file-ignores"]
        if not isinstance(pfi, dict):
            raise ConfigError(f"{where}: 'per-file-ignores' must be a table of glob = [codes]")
        pairs = []
        for glob, codes in pfi.items():
            if isinstance(codes, str):
                codes = [c.strip() for c in codes.split(",") if c.strip()]
            if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                raise ConfigError(f"{where}: 'per-file-ignores' values must be lists of codes")
            pairs.append((glob, validate_codes(tuple(codes), f"{where}: 'per-file-ignores'")))
        values["per_file_ignores"] = tuple(pairs)
    return Settings(**values)


def toml_parser():
    """tomllib (tomli before 3.11), imported when a TOML file is read: a warm check of a
    project without one does not pay for it."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    return tomllib


def tool_table(path: Path) -> dict[str, Any]:
    """The `[tool.bgtask-lint]` table of a pyproject.toml ({} when it has none). Raises
    ConfigError."""
    tomllib = toml_parser()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    tool = data.get("tool", {})
    table = tool.get("bgtask-lint", tool.get("bgtask_lint", {})) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.bgtask-lint] must be a table")
    return table


def load_pyproject(path: Path, read_table: Callable[[Path], dict[str, Any]] = tool_table) -> Settings:
    """`read_table`: how the table is read (tool_table; a cached run keeps it,
    cache/identity.py)."""
    return settings_from_table(read_table(path), str(path)).replace(config_path=path)


def find_pyproject(start: Path) -> Path | None:
    start = start.resolve()
    if not start.is_dir():
        start = start.parent
    for candidate in (start, *start.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            return pyproject
    return None


def load_settings(config_file: Path | None, start: Path,
                  read_table: Callable[[Path], dict[str, Any]] = tool_table) -> Settings:
    """An explicit `--config` file wins; else the nearest pyproject.toml; else defaults."""
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"{config_file}: config file not found")
        return load_pyproject(config_file, read_table)
    found = find_pyproject(start)
    return load_pyproject(found, read_table) if found else Settings()


def parse_code_list(text: str | None, option: str) -> tuple[str, ...] | None:
    if text is None:
        return None
    codes = tuple(c.strip().upper() for c in re.split(r"[,\s]+", text) if c.strip())
    return validate_codes(codes, option)
