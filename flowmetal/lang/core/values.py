"""What the built-ins mean by equal, ordered, hashed and "a sequence of items".

The helpers here are shared by every core module and are meant to be imported by the
machine and the prelude support code too:

- ``equals(a, b)``: Flowmetal's ``=``, a deep value equality where ``1`` is not ``1.0``,
  ``1`` is not ``true``, and a list equals a vector with equal items. Iterative, so a
  deeply nested value never hits Python's recursion limit.
- ``compare(a, b)``: the natural order ``sort`` uses: ``nil`` first, numbers, strings,
  keywords, symbols, booleans, vectors (shorter first, then item by item, as in Clojure).
- ``stable_hash(x)``: a hash that is the same in every process (Python's string hash is
  salted per process, and a durable program may be replayed elsewhere).
- ``seq_items(x, fn)``: the items of anything seqable, as a Python sequence.
- ``type_error(fn, expected, value)``: the standard wrong-type throw.

This module also registers the built-ins built directly on them: ``= not= compare hash
type``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cmp_to_key
from typing import Any

from ..data import Keyword, List, Map, Set, Symbol, Vector, kw, type_name
from ..errors import Thrown, fail
from .registry import builtin

__all__ = [
    "MISSING",
    "NUMBERS",
    "SEQUENTIAL",
    "MAX_EAGER_LENGTH",
    "equals",
    "compare",
    "sort_key",
    "stable_hash",
    "seq_items",
    "type_error",
    "check_int",
    "check_length",
]


class _Missing:
    """The "argument not given" sentinel, distinct from ``nil`` (which is ``None``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()

NUMBERS = frozenset((int, float))
"""Types that are numbers. ``bool`` is deliberately absent: ``true`` is not ``1``."""

SEQUENTIAL = frozenset((List, Vector))
"""Types that are sequential collections and compare equal to each other."""

MAX_EAGER_LENGTH = 10_000_000
"""The longest collection ``range`` and ``repeat`` will build. Everything is eager, so a
typo like ``(range 1e12)`` would otherwise exhaust the worker's memory instead of failing."""

# Values whose Python ``==`` is exactly Flowmetal's ``=`` when both sides have this type.
_ATOMIC = frozenset((int, float, str, bool, type(None), Keyword, Symbol))


def type_error(fn: str, expected: str, value: Any) -> Thrown:
    """The throw for a wrong-typed argument: ``count expects a collection, got integer``."""
    got = type_name(value)
    return fail("type-error", f"{fn} expects {expected}, got {got}", function=fn, got=kw(got))


def check_int(fn: str, value: Any, what: str = "an integer") -> int:
    """Return ``value`` if it is an integer (not a boolean), else throw a type error."""
    if type(value) is not int:
        raise type_error(fn, what, value)
    return value


def check_length(fn: str, n: int) -> None:
    """Refuse to build an eager collection longer than ``MAX_EAGER_LENGTH``."""
    if n > MAX_EAGER_LENGTH:
        raise fail(
            "argument-error",
            f"{fn} would build {n} items; the limit is {MAX_EAGER_LENGTH}",
            function=fn,
        )


def seq_items(x: Any, fn: str) -> Sequence[Any]:
    """The items of a seqable value as a Python sequence (never copied for lists, vectors
    and strings): ``nil`` has none, a map gives ``[k v]`` vectors, a string 1-char strings.

    Throws a type error naming ``fn`` for anything else.
    """
    t = type(x)
    if t in SEQUENTIAL or t is str:
        return x
    if x is None:
        return ()
    if t is Map:
        return tuple(map(Vector, x.items()))
    if t is Set:
        return tuple(x)
    raise type_error(fn, "a collection", x)


# -- equality ------------------------------------------------------------------------------


def equals(a: Any, b: Any) -> bool:
    """Flowmetal's ``=``: deep value equality, strict about numeric types.

    ``equals(1, 1.0)`` and ``equals(1, True)`` are false; ``equals(Vector((1,)),
    List((1,)))`` is true; maps and sets ignore order.
    """
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if ta in _ATOMIC:
            return a == b
    elif ta not in SEQUENTIAL or tb not in SEQUENTIAL:
        return False
    return _deep_equals(a, b)


def _deep_equals(a: Any, b: Any) -> bool:
    pending = [(a, b)]
    while pending:
        a, b = pending.pop()
        ta = type(a)
        tb = type(b)
        if ta in SEQUENTIAL:
            if tb not in SEQUENTIAL or len(a) != len(b):
                return False
            if a is not b:
                pending.extend(zip(a, b))
        elif ta is not tb:
            return False
        elif ta in _ATOMIC:
            if a != b:
                return False
        elif ta is Map:
            if a is b:
                continue
            if len(a) != len(b):
                return False
            # Maps find keys as = compares them, so a found key is an equal key.
            for key, value in a.items():
                other = b.get(key, MISSING)
                if other is MISSING:
                    return False
                pending.append((value, other))
        elif ta is Set:
            if a is b:
                continue
            if len(a) != len(b) or a != b:
                return False
        elif not (a is b or a == b):
            return False
    return True


# -- ordering ------------------------------------------------------------------------------


def _sign(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def compare(a: Any, b: Any) -> int:
    """Order two values: negative, zero or positive, like Clojure's ``compare``.

    ``nil`` sorts first; numbers compare by value (``1`` and ``1.0`` are equal here);
    strings by code point; keywords and symbols by namespace (none first), then name;
    booleans ``false`` first; vectors by length, then item by item. Any other pair of
    types throws a type error.
    """
    if a is None:
        return 0 if b is None else -1
    if b is None:
        return 1
    ta = type(a)
    tb = type(b)
    if ta in NUMBERS and tb in NUMBERS:
        return _sign(a, b)
    if ta is not tb:
        raise fail(
            "type-error",
            f"compare: can't compare {type_name(a)} with {type_name(b)}",
            function="compare",
        )
    if ta is str or ta is bool:
        return _sign(a, b)
    if ta is Keyword or ta is Symbol:
        return _sign((a.ns is not None, a.ns or "", a.name), (b.ns is not None, b.ns or "", b.name))
    if ta is Vector:
        if len(a) != len(b):
            return _sign(len(a), len(b))
        for x, y in zip(a, b):
            c = compare(x, y)
            if c:
                return c
        return 0
    raise fail("type-error", f"compare: can't compare {type_name(a)}s", function="compare")


sort_key = cmp_to_key(compare)
"""A ``key=`` for Python's ``sorted`` that orders by ``compare``."""


# -- hashing -------------------------------------------------------------------------------

_MASK = (1 << 64) - 1
_HIGH = 1 << 63


def _signed(h: int) -> int:
    h &= _MASK
    return h - (1 << 64) if h >= _HIGH else h


def _text_hash(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _scalar_hash(value: Any) -> int:
    t = type(value)
    if t is str:
        return _text_hash(value)
    if t is int or t is float:
        return hash(value)  # CPython's numeric hash is the same in every process
    if value is None:
        return 0
    if t is bool:
        return 1231 if value else 1237
    if t is Keyword:
        return _text_hash(":" + value.full)
    if t is Symbol:
        return _text_hash("'" + value.full)
    raise fail(
        "type-error",
        f"hash is only defined for data values, not {type_name(value)}",
        function="hash",
    )


def stable_hash(value: Any) -> int:
    """A 64-bit hash of a data value that is the same in every process and on replay.

    Values that are ``=`` hash the same (a list and a vector with the same items too).
    Atoms, functions and other non-data values throw a type error: their identity is not
    stable across processes. Iterative: nesting depth is not limited.
    """
    # Each frame is [ordered?, iterator of children, accumulated hash].
    stack: list[list[Any]] = []
    item = value
    while True:
        t = type(item)
        if t in SEQUENTIAL:
            stack.append([True, iter(item), 1])
            h = None
        elif t is Map:
            stack.append([False, map(Vector, item.items()), 0])
            h = None
        elif t is Set:
            stack.append([False, iter(item), 0])
            h = None
        else:
            h = _scalar_hash(item)
        while True:
            if h is not None:
                if not stack:
                    return _signed(h)
                frame = stack[-1]
                frame[2] = (frame[2] * 31 + h) & _MASK if frame[0] else (frame[2] + h) & _MASK
            frame = stack[-1]
            item = next(frame[1], MISSING)
            if item is not MISSING:
                break
            stack.pop()
            h = frame[2]


# -- built-ins -----------------------------------------------------------------------------


@builtin("=", arglists="[x & more]")
def eq(x: Any, y: Any = MISSING, *more: Any) -> bool:
    """True if all arguments are equal values. Numbers of different types are not equal.

    (= [1 2] '(1 2)) ;=> true
    (= 1 1.0) ;=> false, use == to compare numbers by value
    """
    if not more:
        if x is y:  # the common case: small ints, keywords, nil, the same collection
            return type(x) is not float or x == x
        t = type(x)
        if t is type(y) and t in _ATOMIC:
            return x == y
        return y is MISSING or equals(x, y)
    if not equals(x, y):
        return False
    return all(equals(y, z) for z in more)


@builtin("not=", arglists="[x & more]")
def not_eq(x: Any, y: Any = MISSING, *more: Any) -> bool:
    """True if the arguments are not all equal; ``(not (= ...))``.

    (not= 1 2) ;=> true
    """
    return not eq(x, y, *more)


@builtin("compare")
def compare_(x: Any, y: Any) -> int:
    """Compare two values: -1, 0 or 1. nil sorts first; vectors by length, then items.

    (compare "a" "b") ;=> -1
    (compare [1 2] [1 3]) ;=> -1
    """
    return compare(x, y)


@builtin("hash")
def hash_(x: Any) -> int:
    """A hash of a data value, the same in every process; equal values hash the same.

    (= (hash [1 2]) (hash '(1 2))) ;=> true
    """
    return stable_hash(x)


@builtin("type")
def type_(x: Any) -> Keyword:
    """The type of a value, as a keyword.

    (type {:a 1}) ;=> :map
    (type inc) ;=> :function
    """
    return kw(type_name(x))
