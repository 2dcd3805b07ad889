"""`Value`: the base of the checker's value classes, without `dataclasses`.

Importing dataclasses (and inspect, dis, ast and tokenize, which it pulls in) and building
eleven classes with it took ~10 ms of a ~55 ms warm check over the standard library; the
two dozen classes of the index, scopes, loggers and fixes took ~30 ms of a 0.12 s cold
check of a small project (the fix path, which imports LibCST, still uses dataclasses). A
subclass names its fields in `__slots__` and writes its own `__init__`; this base gives it
what `@dataclass` gave: `__eq__` over the compared fields (all of them unless
`compared=` names fewer), `__hash__` over them when `frozen=True` (else none, as a mutable
dataclass has), with `ordered=True` the order of `order=True` (the tuples of the compared
fields), and a dataclass-style `__repr__` over every field. A frozen class refuses
assignment, as a frozen dataclass does (its `__init__` sets the fields with
`object.__setattr__`), and pickles by its fields in `__slots__` order, which must be the
order of its `__init__`'s parameters.
"""

from __future__ import annotations

from operator import attrgetter


class Value:
    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _key = staticmethod(lambda value: ())

    def __init_subclass__(cls, *, compared: tuple[str, ...] | None = None, frozen: bool = False,
                          ordered: bool = False) -> None:
        super().__init_subclass__()
        cls._fields = tuple(name for name in cls.__slots__ if not name.startswith("__"))  # (`__weakref__`)
        names = cls._fields if compared is None else compared
        # attrgetter of one name gives the bare value: keep keys tuples
        cls._key = staticmethod(attrgetter(*names) if len(names) > 1 else lambda value: (getattr(value, names[0]),))
        if frozen:
            cls.__setattr__ = cls.__delattr__ = _refuse  # type: ignore[assignment]
            cls.__reduce__ = _rebuilt  # type: ignore[assignment]
        else:
            cls.__hash__ = None  # type: ignore[assignment]
        if ordered:  # `order=True`: compared as the tuples of the compared fields
            cls.__lt__, cls.__le__, cls.__gt__, cls.__ge__ = _lt, _le, _gt, _ge  # type: ignore[method-assign]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key(self) == self._key(other)

    def __hash__(self) -> int:
        return hash(self._key(self))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({shown})"


def _lt(self: Value, other: object) -> bool:
    return self._key(self) < self._key(other) if other.__class__ is self.__class__ else NotImplemented


def _le(self: Value, other: object) -> bool:
    return self._key(self) <= self._key(other) if other.__class__ is self.__class__ else NotImplemented


def _gt(self: Value, other: object) -> bool:
    return self._key(self) > self._key(other) if other.__class__ is self.__class__ else NotImplemented


def _ge(self: Value, other: object) -> bool:
    return self._key(self) >= self._key(other) if other.__class__ is self.__class__ else NotImplemented


def _refuse(self: Value, name: str, *value: object) -> None:
    raise AttributeError(f"cannot assign to field {name!r} of a frozen {self.__class__.__qualname__}")


def _rebuilt(self: Value) -> tuple:
    return (self.__class__, tuple(getattr(self, name) for name in self._fields))
