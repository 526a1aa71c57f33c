"""Transients: short-lived mutable builders that make collections in linear time.

The prelude's ``map``, ``filter``, ``into`` and friends build their results with
``(persistent! (reduce conj! (transient []) ...))``; adding to an immutable vector one
item at a time would copy it every time. ``transient`` copies its collection, so the
original is never touched; ``persistent!`` freezes the result and ends the transient:
using it again throws ``:transient-error``.
"""

from __future__ import annotations

from typing import Any

from ..data import Map, Set, Transient, Vector
from ..errors import fail
from .collections import add_to_map, end_transient, live_items, set_index
from .registry import builtin
from .values import type_error

__all__ = ["freeze"]


def _check(fn: str, t: Any, kinds: tuple[str, ...] = ("vector", "map", "set")) -> Any:
    if type(t) is not Transient:
        raise type_error(fn, "a transient", t)
    items = live_items(t, fn)
    if t.kind not in kinds:
        raise fail("type-error", f"{fn} doesn't work on a transient {t.kind}", function=fn)
    return items


@builtin("transient")
def transient(coll: Any) -> Transient:
    """A mutable copy of a vector, map or set: fill it with conj!, then call persistent!.

    (persistent! (conj! (transient [1]) 2)) ;=> [1 2]
    """
    t = type(coll)
    if t is Vector:
        return Transient("vector", list(coll))
    if t is Map:
        return Transient("map", Map(coll))
    if t is Set:
        return Transient("set", coll.as_map())
    raise type_error("transient", "a vector, map or set", coll)


@builtin("conj!", arglists="[t & xs]", pure=False)
def conj_bang(t: Any, *xs: Any) -> Transient:
    """Add items to a transient in place, as ``conj`` would; returns the transient.

    (conj! (transient #{}) 1)
    """
    items = _check("conj!", t)
    if t.kind == "vector":
        items.extend(xs)
    elif t.kind == "set":
        for x in xs:
            items[x] = None
    else:
        for x in xs:
            add_to_map("conj!", items, x)
    return t


@builtin("assoc!", arglists="[t key val & kvs]", pure=False)
def assoc_bang(t: Any, key: Any, val: Any, *kvs: Any) -> Transient:
    """Set keys (or vector indexes) of a transient in place; returns the transient.

    (assoc! (transient {}) :a 1)
    """
    items = _check("assoc!", t, ("vector", "map"))
    if len(kvs) % 2:
        raise fail("argument-error", "assoc! expects an even number of keys and values",
                   function="assoc!")
    pairs = [(key, val), *zip(kvs[::2], kvs[1::2])]
    for k, v in pairs:
        if t.kind == "map":
            items[k] = v
        else:
            set_index(items, k, v, "assoc!")
    return t


@builtin("dissoc!", arglists="[t & ks]", pure=False)
def dissoc_bang(t: Any, *ks: Any) -> Transient:
    """Remove keys from a transient map in place; returns the transient.

    (dissoc! (transient {:a 1}) :a)
    """
    items = _check("dissoc!", t, ("map",))
    for k in ks:
        items.pop(k, None)
    return t


@builtin("disj!", arglists="[t & xs]", pure=False)
def disj_bang(t: Any, *xs: Any) -> Transient:
    """Remove items from a transient set in place; returns the transient.

    (disj! (transient #{1 2}) 1)
    """
    items = _check("disj!", t, ("set",))
    for x in xs:
        items.pop(x, None)
    return t


def freeze(t: Transient) -> Any:
    """The immutable collection a transient holds; the transient is ended."""
    items = live_items(t, "persistent!")
    end_transient(t)
    if t.kind == "vector":
        return Vector(items)
    if t.kind == "map":
        return Map(items)
    return Set.of_keys(items)


@builtin("persistent!", pure=False)
def persistent(t: Any) -> Any:
    """Freeze a transient into an immutable vector, map or set; the transient is then used up.

    (persistent! (conj! (transient []) 1 2)) ;=> [1 2]
    """
    if type(t) is not Transient:
        raise type_error("persistent!", "a transient", t)
    return freeze(t)
