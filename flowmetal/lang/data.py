"""Flowmetal's data types: the values programs compute with and the forms code is made of.

Scalars map onto Python: ``nil`` is ``None``, booleans are ``bool``, integers ``int``,
floats ``float``, strings ``str``. The rest are defined here:

- ``Symbol`` and ``Keyword`` (keywords are interned, symbols carry a source span);
- ``List`` and ``Vector`` (immutable, tuple-based, equal to each other like Clojure's);
- ``Map`` and ``Set`` (immutable, iteration in insertion order, never hash order);
- ``Atom``, the only mutable value;
- ``Transient``, a builder that the prelude uses to make collections in linear time.

Collections read from source carry a ``span`` so errors can point at them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Span",
    "Symbol",
    "Keyword",
    "List",
    "Vector",
    "Map",
    "Set",
    "Atom",
    "Transient",
    "sym",
    "kw",
    "EMPTY_LIST",
    "EMPTY_VECTOR",
    "EMPTY_MAP",
    "EMPTY_SET",
    "span_of",
    "type_name",
]


@dataclass(frozen=True, slots=True)
class Span:
    """Where a form came from: ``source`` is a file name or ``<repl>``; lines and columns from 1."""

    source: str
    line: int
    col: int
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.col}"


class Symbol:
    """A name. ``ns`` is the part before ``/`` (``str/join`` has ns ``str``).

    The span is where this occurrence was read; it is not part of equality.
    """

    __slots__ = ("name", "ns", "full", "span", "_hash")

    def __init__(self, full: str, span: Span | None = None) -> None:
        self.full = full
        if "/" in full and full != "/" and not full.startswith("/"):
            ns, _, name = full.partition("/")
            self.ns: str | None = ns
            self.name = name
        else:
            self.ns = None
            self.name = full
        self.span = span
        self._hash = hash(("sym", full))

    def __eq__(self, other: object) -> bool:
        return type(other) is Symbol and other.full == self.full

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return self.full

    def with_span(self, span: Span | None) -> Symbol:
        return Symbol(self.full, span)


class Keyword:
    """An interned keyword such as ``:status`` or ``:http/get``; call ``kw(name)`` to get one."""

    __slots__ = ("full", "name", "ns", "_hash")
    _table: dict[str, Keyword] = {}

    def __new__(cls, full: str) -> Keyword:
        found = cls._table.get(full)
        if found is not None:
            return found
        self = object.__new__(cls)
        self.full = full
        if "/" in full and not full.startswith("/"):
            ns, _, name = full.partition("/")
            self.ns = ns
            self.name = name
        else:
            self.ns = None
            self.name = full
        self._hash = hash(("kw", full))
        cls._table[full] = self
        return self

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return ":" + self.full

    def __reduce__(self) -> tuple:
        return (Keyword, (self.full,))


def sym(name: str) -> Symbol:
    return Symbol(name)


def kw(name: str) -> Keyword:
    return Keyword(name)


class List(tuple):
    """An immutable list, ``(a b c)``. Equal to a vector with the same items, as in Clojure."""

    # No __slots__: the reader sets ``span`` on the instances it makes; others inherit None.
    span: Span | None = None

    def __repr__(self) -> str:
        return "(" + " ".join(map(repr, self)) + ")"


class Vector(tuple):
    """An immutable vector, ``[a b c]``."""

    span: Span | None = None

    def __repr__(self) -> str:
        return "[" + " ".join(map(repr, self)) + "]"


class Map(dict):
    """An immutable map, ``{:a 1}``. Iterates in insertion order; equality ignores order."""

    span: Span | None = None

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def assoc(self, key: Any, value: Any) -> Map:
        new = Map(self)
        new[key] = value
        return new

    def dissoc(self, *keys: Any) -> Map:
        new = Map(self)
        for key in keys:
            new.pop(key, None)
        return new

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r} {v!r}" for k, v in self.items()) + "}"


class Set:
    """An immutable set, ``#{a b}``. Iterates in insertion order; equality ignores order."""

    __slots__ = ("_items", "span")

    def __init__(self, items: Iterable[Any] = ()) -> None:
        self._items: dict[Any, None] = dict.fromkeys(items)
        self.span: Span | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Set) and self._items.keys() == other._items.keys()

    def __hash__(self) -> int:
        return hash(frozenset(self._items))

    def conj(self, *items: Any) -> Set:
        new = Set(self._items)
        new._items.update(dict.fromkeys(items))
        return new

    def disj(self, *items: Any) -> Set:
        new = Set(self._items)
        for item in items:
            new._items.pop(item, None)
        return new

    def __repr__(self) -> str:
        return "#{" + " ".join(map(repr, self)) + "}"


class Atom:
    """The one mutable reference: ``(atom 0)``, read with ``@a``, set by ``reset!``/``swap!``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"#atom[{self.value!r}]"


class Transient:
    """A builder for a vector, map or set, made by ``transient`` and frozen by ``persistent!``.

    It exists so that prelude loops (``map``, ``filter``, ``into``...) run in linear time.
    """

    __slots__ = ("kind", "items")

    def __init__(self, kind: str, items: Any) -> None:
        self.kind = kind  # "vector" (items: list), "map" (dict) or "set" (dict of keys)
        self.items = items

    def __repr__(self) -> str:
        return f"#transient[{self.kind} {len(self.items)}]"


EMPTY_LIST = List()
EMPTY_VECTOR = Vector()
EMPTY_MAP = Map()
EMPTY_SET = Set()

def span_of(form: Any) -> Span | None:
    """The source span of a form, if the reader recorded one."""
    return getattr(form, "span", None)


_TYPE_NAMES = {
    type(None): "nil",
    bool: "boolean",
    int: "integer",
    float: "float",
    str: "string",
    Symbol: "symbol",
    Keyword: "keyword",
    List: "list",
    Vector: "vector",
    Map: "map",
    Set: "set",
    Atom: "atom",
    Transient: "transient",
}


def type_name(value: Any) -> str:
    """The Flowmetal name of a value's type, for error messages and ``type``."""
    name = _TYPE_NAMES.get(type(value))
    if name is not None:
        return name
    return getattr(value, "type_name", type(value).__name__)
