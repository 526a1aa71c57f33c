"""Built-ins the compiler's expansions call: destructuring and syntax-quote helpers.

They live under the ``core/`` prefix so that a program redefining ``nth`` or ``list``
does not change what ``(let [[a b] v] ...)`` or a macro template means.
"""

from __future__ import annotations

from typing import Any

from ..data import List, Map, Set, Symbol, Transient, Vector, type_name
from ..errors import fail
from ..printer import pr_brief
from .registry import builtin
from .values import MISSING, equals, seq_items

_GENSYM = [0]


def reset_gensym() -> None:
    """Start gensym numbering again: the compiler calls this per unit, for stable hashes."""
    _GENSYM[0] = 0


def _items(coll: Any, who: str) -> list[Any]:
    if coll is None:
        return []
    if isinstance(coll, (List, Vector, Set)):
        return list(coll)
    if isinstance(coll, Map):
        return [Vector(kv) for kv in coll.items()]
    if type(coll) is str:
        return list(coll)
    raise fail("type-error",
               f"{who}: can't destructure a value of type {type_name(coll)} as a sequence")


@builtin("core/nth")
def core_nth(coll: Any, i: int, default: Any = None) -> Any:
    """Sequential destructuring: the i-th item of coll, or default."""
    if type(i) is not int or i < 0:
        raise fail("type-error", f"nth: index must be a non-negative integer, got {pr_brief(i)}")
    if isinstance(coll, (List, Vector)) or type(coll) is str:
        return coll[i] if i < len(coll) else default
    items = _items(coll, "nth")
    return items[i] if i < len(items) else default


@builtin("core/nthrest")
def core_nthrest(coll: Any, i: int) -> Any:
    """Sequential destructuring: the items after the first i, or nil when none."""
    if type(i) is not int or i < 0:
        raise fail("type-error",
                   f"nthrest: index must be a non-negative integer, got {pr_brief(i)}")
    items = _items(coll, "destructuring")
    return List(items[i:]) if len(items) > i else None


@builtin("core/get")
def core_get(coll: Any, key: Any, default: Any = None) -> Any:
    """Map destructuring: the value at key, or default."""
    if isinstance(coll, Map):
        return coll.get(key, default)
    if coll is None:
        return default
    raise fail("type-error", f"can't destructure a value of type {type_name(coll)} as a map")


@builtin("core/seq->map")
def core_seq_to_map(value: Any) -> Any:
    """Map destructuring of keyword arguments: (f x :a 1 :b 2) binds {:keys [a b]}."""
    if isinstance(value, (List, Vector)):
        if len(value) % 2:
            raise fail("type-error", "keyword arguments must come in pairs")
        return Map((value[i], value[i + 1]) for i in range(0, len(value), 2))
    return value


@builtin("core/list")
def core_list(*items: Any) -> List:
    """Syntax-quote helper: a list of the arguments."""
    return List(items)


def _concat(parts: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for part in parts:
        out.extend(_items(part, "~@"))
    return out


@builtin("core/list*")
def core_list_star(*parts: Any) -> List:
    """Syntax-quote helper: concatenate the parts into a list."""
    return List(_concat(parts))


@builtin("core/vector*")
def core_vector_star(*parts: Any) -> Vector:
    """Syntax-quote helper: concatenate the parts into a vector."""
    return Vector(_concat(parts))


@builtin("core/map*")
def core_map_star(*parts: Any) -> Map:
    """Syntax-quote helper: concatenate the parts into a map of alternating keys and values."""
    items = _concat(parts)
    return Map((items[i], items[i + 1]) for i in range(0, len(items) - 1, 2))


@builtin("core/set*")
def core_set_star(*parts: Any) -> Set:
    """Syntax-quote helper: concatenate the parts into a set."""
    return Set(_concat(parts))


@builtin("gensym")
def gensym(prefix: Any = "G__") -> Symbol:
    """A fresh symbol for macro-generated code. (gensym "tmp") ;=> tmp1"""
    _GENSYM[0] += 1
    return Symbol(f"{prefix}{_GENSYM[0]}")


@builtin("core/group")
def core_group(keys: Any, coll: Any) -> Map:
    """group-by's second half: the items of coll by their keys, in linear time.

    The prelude computes the keys, since that calls back into the program."""
    groups = Map()
    for k, x in zip(seq_items(keys, "group-by"), seq_items(coll, "group-by")):
        found = groups.get(k, MISSING)
        if found is MISSING:
            groups[k] = [x]
        else:
            found.append(x)
    return Map([(k, Vector(xs)) for k, xs in groups.items()])


@builtin("core/runs")
def core_runs(keys: Any, coll: Any) -> List:
    """partition-by's second half: the items of coll split where their keys change.

    The prelude computes the keys, since that calls back into the program."""
    runs: list[List] = []
    run: list[Any] = []
    last: Any = MISSING
    for k, x in zip(seq_items(keys, "partition-by"), seq_items(coll, "partition-by")):
        if run and not equals(last, k):
            runs.append(List(run))
            run = []
        run.append(x)
        last = k
    if run:
        runs.append(List(run))
    return List(runs)


@builtin("core/items")
def core_items(coll: Any) -> Vector:
    """The items of any collection as a vector (map entries as [k v]); the prelude's loops
    index into it, which keeps them linear."""
    if type(coll) is Vector:
        return coll
    return Vector(_items(coll, "seq"))


@builtin("core/transient-of")
def core_transient_of(coll: Any) -> Transient:
    """A transient of the same kind as coll, empty, for the prelude's map, filter and into."""
    if isinstance(coll, Map):
        return Transient("map", Map())
    if isinstance(coll, Set):
        return Transient("set", Map())
    return Transient("vector", [])


@builtin("core/list-of")
def core_list_of(t: Any) -> List:
    """Freeze a vector transient into a list: how the prelude's map and filter end."""
    if type(t) is not Transient or t.kind != "vector":
        raise fail("type-error", "core/list-of: expected a vector transient")
    out = List(t.items)
    t.items = []
    return out
