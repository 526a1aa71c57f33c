"""Flowmetal's data types: the values programs compute with and the forms code is made of.

Scalars map onto Python: ``nil`` is ``None``, booleans are ``bool``, integers ``int``,
floats ``float``, strings ``str``. The rest are defined here:

- ``Symbol`` and ``Keyword`` (keywords are interned, symbols carry a source span);
- ``List`` and ``Vector`` (immutable, tuple-based, equal to each other like Clojure's);
- ``Map`` and ``Set`` (immutable, iteration in insertion order, never hash order; keys are
  compared as ``=`` compares them, so ``1``, ``1.0`` and ``true`` are three keys);
- ``Atom``, the only mutable value;
- ``Transient``, a builder that the prelude uses to make collections in linear time.

Collections read from source carry a ``span`` so errors can point at them.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView
from dataclasses import dataclass
from operator import is_, itemgetter
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

    __slots__ = ("full", "name", "ns")
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
        cls._table[full] = self
        return self

    # Interned, so equality is identity and the hash is object's own, both in C: keywords are
    # the commonest map keys, and a Python-level __hash__ would run at every lookup.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

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
    _key: Any = None  # what a map stores for this list as a key, once asked (see store_key)

    def __repr__(self) -> str:
        return _pr(self)


class Vector(tuple):
    """An immutable vector, ``[a b c]``."""

    span: Span | None = None
    _key: Any = None  # as for List

    def __repr__(self) -> str:
        return _pr(self)


# -- keys ------------------------------------------------------------------------------------
#
# Python's ``==`` says ``1 == 1.0 == True``, so a plain dict would collapse ``{1 :a true :b}``
# into one entry. Flowmetal's ``=`` tells them apart, as Clojure does. Keys whose Python
# equality is already exact (strings, integers, keywords, symbols, nil, and collections with
# no boolean or float inside) are stored as they are; the others are stored wrapped in a
# ``_Key`` that compares a tagged canonical form. Maps of keyword and string keys, the
# common case, pay one type check per access, and copying a map stays a C-level copy.

_PLAIN_KEYS = frozenset((str, int, Keyword, Symbol, type(None)))


class _Tag:
    """A marker heading a canonical form; no program value can ever equal one."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_BOOL, _FLOAT, _SEQ, _MAP, _SET = (_Tag(n) for n in ("bool", "float", "seq", "map", "set"))


class _Key:
    """A stored map key or set member whose Python ``==`` is looser than Flowmetal's ``=``.

    ``canon`` is a tagged tuple (``(_BOOL, True)``, ``(_FLOAT, 1.0)``...) that is equal to
    another key's exactly when the values are ``=``; ``value`` is what iteration gives back.
    """

    __slots__ = ("value", "canon", "hash")

    def __init__(self, value: Any, canon: Any) -> None:
        self.value = value
        self.canon = canon
        self.hash = hash(canon)

    def __eq__(self, other: object) -> bool:
        return type(other) is _Key and (self is other or self.canon == other.canon)

    def __hash__(self) -> int:
        return self.hash

    def __repr__(self) -> str:
        return f"_Key({self.value!r})"


_TRUE_KEY = _Key(True, (_BOOL, True))
_FALSE_KEY = _Key(False, (_BOOL, False))


def store_key(key: Any) -> Any:
    """What a map or set stores for ``key``: the key itself, or a ``_Key`` wrapping it."""
    t = type(key)
    if t in _PLAIN_KEYS or t is _Key:
        return key
    if t is bool:
        return _TRUE_KEY if key else _FALSE_KEY
    if t is float:
        return _Key(key, (_FLOAT, key))
    if t is Set:
        return _set_key(key)
    if t is List or t is Vector or t is Map:
        return _collection_key(key)
    return key


_SELF: Any = _Tag("self")  # cached on a list or vector that is its own key
_WALK: Any = _Tag("walk")


def _shallow_key(x: Any) -> Any:
    """``store_key(x)`` when it is known without looking inside ``x``, else ``_WALK``."""
    t = type(x)
    if t in _PLAIN_KEYS:
        return x
    if t is List or t is Vector:
        cached = x._key
        if cached is None:
            return _WALK
        return x if cached is _SELF else cached
    if t is Map:
        return _WALK
    return store_key(x)


def _collection_key(x: Any) -> Any:
    """The key of a list, vector or map: itself when no boolean or float is inside, else a
    ``_Key`` whose canonical form holds the keys of the parts.

    Iterative, so nesting depth is not limited; a list's or vector's key is cached on it
    (they are immutable), so a structure used as keys level by level costs O(1) per level.
    A set's members and a map's keys are stored as keys already: only map values and
    sequence items are walked.
    """
    found = _shallow_key(x)
    if found is not _WALK:
        return found
    stack = [(x, _parts(x), [])]
    while True:
        node, parts, done = stack[-1]
        for part in parts:
            key = _shallow_key(part)
            if key is _WALK:
                stack.append((part, _parts(part), []))
                break
            done.append(key)
        else:
            stack.pop()
            key = _finish_key(node, done)
            if not stack:
                return key
            stack[-1][2].append(key)


def _parts(node: Any) -> Iterator[Any]:
    return iter(_dict_values(node)) if type(node) is Map else iter(node)


def _finish_key(node: Any, done: list[Any]) -> Any:
    if type(node) is Map:
        stored = list(_dict_keys(node))
        if _Key not in set(map(type, stored)) and all(map(is_, done, _dict_values(node))):
            return node
        return _Key(node, (_MAP, frozenset(zip(stored, done))))
    if all(map(is_, done, node)):
        node._key = _SELF
        return node
    key = node._key = _Key(node, (_SEQ, tuple(done)))
    return key


def _set_key(s: Set) -> Any:
    cached = s._key
    if cached is None:
        stored = s._items
        wide = _Key in set(map(type, stored))
        cached = s._key = _Key(s, (_SET, frozenset(stored))) if wide else _SELF
    return s if cached is _SELF else cached


_first = itemgetter(0)


def _unwrap(key: Any) -> Any:
    return key.value if type(key) is _Key else key


_dict_get = dict.get
_dict_set = dict.__setitem__
_dict_keys = dict.keys
_dict_items = dict.items
_dict_values = dict.values


class _KeysView(KeysView):
    """``keys()`` of a map holding wrapped keys: the keys as the program sees them."""

    def __iter__(self) -> Iterator[Any]:
        return map(_unwrap, _dict_keys(self._mapping))


class _ItemsView(ItemsView):
    """``items()`` of a map holding wrapped keys: ``(key, value)`` as the program sees them."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        m = self._mapping
        return zip(map(_unwrap, _dict_keys(m)), _dict_values(m))


class Map(dict):
    """An immutable map, ``{:a 1}``. Iterates in insertion order; equality ignores order.

    Keys are compared as ``=`` compares them (``1``, ``1.0`` and ``true`` are three keys):
    ``get``, ``[]``, ``in``, ``keys()`` and ``items()`` speak in program values. Iterate with
    ``keys()`` or ``items()``: ``iter(m)`` is left as dict's own, so that copying a map stays
    a C-level copy, and it yields the *stored* keys (a ``_Key`` for a boolean or a float).
    """

    span: Span | None = None
    _wide = False  # set once a wrapped key is stored: keys() and items() must unwrap

    def __init__(self, items: Any = (), /) -> None:
        if type(items) is Map:
            dict.__init__(self, items)  # a C copy of the stored keys, wrapped ones included
            if items._wide:
                self._wide = True
            return
        if not items:
            return
        if isinstance(items, dict):
            pairs: Any = items.items()
            keys: Any = items
        else:
            pairs = items if type(items) is list else list(items)
            keys = map(_first, pairs)
        if _PLAIN_KEYS.issuperset(map(type, keys)):
            dict.__init__(self, pairs)
        else:  # Python would merge 1 with true: store each key as Flowmetal compares it
            for key, value in pairs:
                self[key] = value

    def __setitem__(self, key: Any, value: Any) -> None:
        if type(key) not in _PLAIN_KEYS:
            key = store_key(key)
            if type(key) is _Key:
                self._wide = True
        _dict_set(self, key, value)

    def __getitem__(self, key: Any) -> Any:
        return dict.__getitem__(self, key if type(key) in _PLAIN_KEYS else store_key(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return _dict_get(self, key if type(key) in _PLAIN_KEYS else store_key(key), default)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key if type(key) in _PLAIN_KEYS else store_key(key))

    def __delitem__(self, key: Any) -> None:
        dict.__delitem__(self, key if type(key) in _PLAIN_KEYS else store_key(key))

    def pop(self, key: Any, *default: Any) -> Any:
        return dict.pop(self, key if type(key) in _PLAIN_KEYS else store_key(key), *default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        found = self.get(key, _ABSENT)
        if found is _ABSENT:
            self[key] = default
            return default
        return found

    def update(self, other: Any = (), /) -> None:  # type: ignore[override]
        if type(other) is Map:
            dict.update(self, other)  # C merge of stored keys
            if other._wide:
                self._wide = True
            return
        for key, value in other.items() if isinstance(other, dict) else other:
            self[key] = value

    def keys(self) -> KeysView[Any]:  # type: ignore[override]
        return _dict_keys(self) if not self._wide else _KeysView(self)

    def items(self) -> ItemsView[Any, Any]:  # type: ignore[override]
        return _dict_items(self) if not self._wide else _ItemsView(self)

    def __reversed__(self) -> Iterator[Any]:
        return map(_unwrap, dict.__reversed__(self))

    def popitem(self) -> tuple[Any, Any]:
        key, value = dict.popitem(self)
        return _unwrap(key), value

    def copy(self) -> Map:
        return Map(self)

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(_dict_items(self)))

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
        return _pr(self)


_ABSENT: Any = object()


class Set:
    """An immutable set, ``#{a b}``. Iterates in insertion order; equality ignores order.

    Members are compared as ``=`` compares them, stored like map keys (see ``Map``).
    """

    __slots__ = ("_items", "span", "_wide", "_key")

    def __init__(self, items: Iterable[Any] = ()) -> None:
        self.span: Span | None = None
        self._wide = False  # a _Key may be stored: iteration must unwrap
        self._key: Any = None  # what a map stores for this set as a key, once asked
        if type(items) is Set:
            self._items: dict[Any, None] = items._items.copy()
            self._wide = items._wide
            return
        seq = items if type(items) in (list, tuple, List, Vector) else list(items)
        if _PLAIN_KEYS.issuperset(map(type, seq)):
            self._items = dict.fromkeys(seq)
        else:
            self._items = dict.fromkeys(map(store_key, seq))
            self._wide = True

    @classmethod
    def of_keys(cls, m: Map) -> Set:
        """The set of a map's keys, copied as stored (how a transient set is frozen)."""
        new = cls()
        new._items = dict.fromkeys(dict.__iter__(m))
        new._wide = m._wide
        return new

    def as_map(self) -> Map:
        """A map from each member to nil, as stored (how a transient set starts)."""
        new = Map()
        dict.update(new, self._items)
        new._wide = self._wide
        return new

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items) if not self._wide else map(_unwrap, self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return (item if type(item) in _PLAIN_KEYS else store_key(item)) in self._items

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Set) and self._items.keys() == other._items.keys()

    def __hash__(self) -> int:
        return hash(frozenset(self._items))

    def conj(self, *items: Any) -> Set:
        new = Set(self)
        for item in items:
            key = store_key(item)
            if type(key) is _Key:
                new._wide = True
            new._items[key] = None
        return new

    def disj(self, *items: Any) -> Set:
        new = Set(self)
        for item in items:
            new._items.pop(store_key(item), None)
        return new

    def __repr__(self) -> str:
        return _pr(self)


class Atom:
    """The one mutable reference: ``(atom 0)``, read with ``@a``, set by ``reset!``/``swap!``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return _pr(self)


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

def _pr(value: Any) -> str:
    """``repr`` of a value is its Flowmetal text, so a value quoted anywhere reads as
    Flowmetal (``"a"``, not Python's ``'a'``); late import, as the printer imports us."""
    from .printer import pr_str

    return pr_str(value)


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
