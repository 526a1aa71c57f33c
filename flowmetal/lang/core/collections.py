"""Collections and sequences: building, reading, "changing" (by making new ones) and slicing.

Values are immutable: every function here returns a new collection and never mutates the
one it was given. As in Clojure, sequence functions return lists (``rest``, ``take``,
``concat``...) while vector-specific ones return vectors (``vec``, ``subvec``, ``conj`` on
a vector). Everything is eager.

``nil`` is an empty collection wherever that makes sense: ``(first nil)``, ``(count nil)``,
``(get nil :a)``, ``(conj nil 1)`` and ``(assoc nil :a 1)`` all work.
"""

from __future__ import annotations

from typing import Any

from ..data import (
    EMPTY_LIST,
    EMPTY_MAP,
    EMPTY_SET,
    EMPTY_VECTOR,
    Keyword,
    List,
    Map,
    Set,
    Symbol,
    Transient,
    Vector,
    kw,
    store_key,
    type_name,
)
from ..errors import fail
from .registry import builtin
from .values import (
    MISSING,
    NUMBERS,
    SEQUENTIAL,
    check_int,
    check_length,
    equals,
    seq_items,
    sort_key,
    type_error,
)

__all__ = [
    "add_to_map", "end_transient", "live_items", "map_from_pairs", "out_of_bounds", "set_index",
]

_COUNTED = frozenset((List, Vector, Map, Set, str))
_INDEXED = frozenset((List, Vector, str))


def out_of_bounds(fn: str, index: Any, size: int) -> Exception:
    """The throw for an index outside a collection of ``size`` items."""
    return fail(
        "index-out-of-bounds",
        f"{fn}: index {index} is out of bounds for size {size}",
        function=fn,
        index=index,
    )


class _Ended(list):
    """The items of a vector transient that ``persistent!`` has ended (always empty)."""


class _EndedMap(Map):
    """The items of a map or set transient that ``persistent!`` has ended (always empty)."""


# Ended transients keep an empty container of the usual Python type rather than ``None``,
# so code that walks machine state (the snapshot encoder) treats them like any transient.
ENDED_VECTOR_ITEMS = _Ended()
ENDED_MAP_ITEMS = _EndedMap()


def end_transient(t: Transient) -> None:
    """Mark ``t`` as used up: from now on ``live_items`` throws ``:transient-error``."""
    t.items = ENDED_VECTOR_ITEMS if t.kind == "vector" else ENDED_MAP_ITEMS


def live_items(t: Transient, fn: str) -> Any:
    """The items of a transient (a list, or a ``Map`` for map and set transients), or a
    ``:transient-error`` if ``persistent!`` ended it."""
    items = t.items
    if items is ENDED_VECTOR_ITEMS or items is ENDED_MAP_ITEMS or items is None:
        raise fail(
            "transient-error",
            f"{fn}: transient used after persistent!",
            function=fn,
        )
    if type(items) is dict:  # restored from a snapshot as a plain dict: keys as = sees them
        items = t.items = Map(items)
    return items


def map_from_pairs(fn: str, items: Any) -> Map:
    """A map from a flat sequence ``k1 v1 k2 v2 ...``; an odd count is an argument error."""
    if len(items) % 2:
        raise fail("argument-error", f"{fn} expects an even number of keys and values, "
                   f"got {len(items)}", function=fn)
    it = iter(items)
    return Map(zip(it, it))


def _entry(fn: str, x: Any) -> tuple[Any, Any]:
    if type(x) in SEQUENTIAL and len(x) == 2:
        return x[0], x[1]
    raise type_error(fn, "a [key value] vector", x)


def add_to_map(fn: str, new: dict, x: Any) -> None:
    """Add an item conj'd onto a map: a ``[k v]`` pair, a map, or nil (nothing)."""
    if type(x) is Map:
        new.update(x)
    elif x is not None:
        k, v = _entry(fn, x)
        new[k] = v


# -- building ------------------------------------------------------------------------------


@builtin("list", arglists="[& items]")
def list_(*items: Any) -> List:
    """A list of the arguments.

    (list 1 2 3) ;=> (1 2 3)
    """
    return List(items)


@builtin("vector", arglists="[& items]")
def vector(*items: Any) -> Vector:
    """A vector of the arguments.

    (vector 1 2 3) ;=> [1 2 3]
    """
    return Vector(items)


@builtin("vec")
def vec(coll: Any) -> Vector:
    """A vector of the items of a collection.

    (vec '(1 2)) ;=> [1 2]
    (vec {:a 1}) ;=> [[:a 1]]
    """
    if type(coll) is Vector:
        return coll
    return Vector(seq_items(coll, "vec"))


@builtin("hash-map", arglists="[& keyvals]")
def hash_map(*keyvals: Any) -> Map:
    """A map of the key/value arguments, in the order given.

    (hash-map :a 1 :b 2) ;=> {:a 1, :b 2}
    """
    return map_from_pairs("hash-map", keyvals)


@builtin("hash-set", arglists="[& items]")
def hash_set(*items: Any) -> Set:
    """A set of the arguments.

    (hash-set 1 2 1) ;=> #{1 2}
    """
    return Set(items)


@builtin("set")
def set_(coll: Any) -> Set:
    """A set of the items of a collection, in their first-seen order.

    (set [1 2 1]) ;=> #{1 2}
    """
    if type(coll) is Set:
        return coll
    return Set(seq_items(coll, "set"))


@builtin("keyword", arglists="[name] [ns name]")
def keyword(name: Any, local: Any = MISSING) -> Keyword | None:
    """A keyword from a string, symbol or keyword; with two arguments, namespace and name.

    (keyword "a") ;=> :a
    (keyword "http" "get") ;=> :http/get
    """
    if local is not MISSING:
        if name is not None and type(name) is not str:
            raise type_error("keyword", "a string or nil namespace", name)
        if type(local) is not str:
            raise type_error("keyword", "a string name", local)
        return kw(local if name is None else f"{name}/{local}")
    t = type(name)
    if t is str:
        return kw(name)
    if t is Keyword:
        return name
    if t is Symbol:
        return kw(name.full)
    if name is None:
        return None
    raise type_error("keyword", "a string, symbol or keyword", name)


@builtin("symbol", arglists="[name] [ns name]")
def symbol(name: Any, local: Any = MISSING) -> Symbol:
    """A symbol from a string, keyword or symbol; with two arguments, namespace and name.

    (symbol "a") ;=> a
    (symbol "str" "join") ;=> str/join
    """
    if local is not MISSING:
        if name is not None and type(name) is not str:
            raise type_error("symbol", "a string or nil namespace", name)
        if type(local) is not str:
            raise type_error("symbol", "a string name", local)
        return Symbol(local if name is None else f"{name}/{local}")
    t = type(name)
    if t is str:
        return Symbol(name)
    if t is Symbol:
        return name
    if t is Keyword:
        return Symbol(name.full)
    raise type_error("symbol", "a string, symbol or keyword", name)


@builtin("name")
def name(x: Any) -> str:
    """The name of a keyword or symbol without its namespace; a string is itself.

    (name :http/get) ;=> "get"
    """
    t = type(x)
    if t is Keyword or t is Symbol:
        return x.name
    if t is str:
        return x
    raise type_error("name", "a keyword, symbol or string", x)


@builtin("namespace")
def namespace(x: Any) -> str | None:
    """The namespace of a keyword or symbol, or nil if it has none.

    (namespace :http/get) ;=> "http"
    """
    t = type(x)
    if t is Keyword or t is Symbol:
        return x.ns
    raise type_error("namespace", "a keyword or symbol", x)


@builtin("range", arglists="[end] [start end] [start end step]")
def range_(a: Any, b: Any = MISSING, step: Any = MISSING) -> List:
    """A list of numbers from start (default 0) up to, not including, end, by step (default 1).

    Eager, so it needs an end; it refuses to build more than ten million numbers.

    (range 3) ;=> (0 1 2)
    (range 10 0 -3) ;=> (10 7 4 1)
    """
    start, end = (0, a) if b is MISSING else (a, b)
    if step is MISSING:
        step = 1
    for x in (start, end, step):
        if type(x) not in NUMBERS:
            raise type_error("range", "numbers", x)
    if step == 0:
        if start == end:
            return EMPTY_LIST
        raise fail("argument-error", "range with a step of 0 would never end", function="range")
    if type(start) is int and type(end) is int and type(step) is int:
        r = range(start, end, step)
        try:
            check_length("range", len(r))
        except OverflowError:  # longer than a C ssize_t, so certainly too long
            check_length("range", abs(end - start))
        return List(r)
    try:
        n = max(0, int((end - start) / step) + 1)
    except (OverflowError, ValueError):
        raise fail("argument-error", "range needs finite numbers", function="range") from None
    check_length("range", n)
    out = []
    x = start
    while (x < end) if step > 0 else (x > end):
        out.append(x)
        x += step
    return List(out)


@builtin("repeat")
def repeat(n: Any, x: Any) -> List:
    """A list of n copies of x.

    The one-argument, endless form is not supported: everything is eager.

    (repeat 3 :a) ;=> (:a :a :a)
    """
    check_int("repeat", n, "an integer count")
    check_length("repeat", n)
    return List((x,) * max(n, 0))


@builtin("identity")
def identity(x: Any) -> Any:
    """Return x unchanged.

    (identity 4) ;=> 4
    """
    return x


@builtin("zipmap")
def zipmap(keys: Any, vals: Any) -> Map:
    """A map pairing each key with the value at the same position; stops at the shorter.

    (zipmap [:a :b] [1 2]) ;=> {:a 1, :b 2}
    """
    return Map(zip(seq_items(keys, "zipmap"), seq_items(vals, "zipmap")))


@builtin("frequencies")
def frequencies(coll: Any) -> Map:
    """A map from each distinct item to how many times it occurs, in first-seen order.

    (frequencies [:a :b :a]) ;=> {:a 2, :b 1}
    """
    counts = Map()
    for x in seq_items(coll, "frequencies"):
        counts[x] = counts.get(x, 0) + 1
    return counts


# -- reading -------------------------------------------------------------------------------


@builtin("count")
def count(coll: Any) -> int:
    """The number of items in a collection or characters in a string; nil has 0.

    (count [1 2 3]) ;=> 3
    """
    if type(coll) in _COUNTED:
        return len(coll)
    if coll is None:
        return 0
    if type(coll) is Transient:
        return len(live_items(coll, "count"))
    raise fail("type-error", f"count not supported on {type_name(coll)}", function="count",
               got=kw(type_name(coll)))


@builtin("get")
def get(coll: Any, key: Any, default: Any = None) -> Any:
    """The value at key in a map, index in a vector or string, or the item in a set.

    Returns default (nil if not given) when it is missing, or when coll is not something
    that has keys (as in Clojure, ``(get 5 :a)`` is nil).

    (get {:a 1} :a) ;=> 1
    (get [10 20] 5 :none) ;=> :none
    """
    t = type(coll)
    if t is Map:
        return coll.get(key, default)
    if t is Vector or t is str:
        if type(key) is int and 0 <= key < len(coll):
            return coll[key]
        return default
    if t is Set:
        return key if key in coll else default
    if t is Transient:
        items = live_items(coll, "get")
        if coll.kind == "vector":
            return items[key] if type(key) is int and 0 <= key < len(items) else default
        if coll.kind == "set":
            return key if key in items else default
        return items.get(key, default)
    return default


@builtin("get!")
def get_strict(coll: Any, key: Any) -> Any:
    """Strict access: the value at key, or a :missing-key error when there is none.

    Use it where a missing key is a bug, so the program stops there with restarts
    instead of carrying a nil along.

    (get! {:a 1} :a) ;=> 1
    """
    found = get(coll, key, MISSING)
    if found is MISSING:
        from ..printer import pr_str

        raise fail("missing-key", f"get!: no key {pr_str(key)} in this {type_name(coll)}",
                   key=key)
    return found


@builtin("get-in")
def get_in(m: Any, ks: Any, default: Any = None) -> Any:
    """Follow a sequence of keys into nested collections; default if the path is missing.

    (get-in {:a {:b 1}} [:a :b]) ;=> 1
    """
    for k in seq_items(ks, "get-in"):
        m = get(m, k, MISSING)
        if m is MISSING:
            return default
    return m


@builtin("contains?")
def contains(coll: Any, key: Any) -> bool:
    """True if the map or set has the key, or the vector or string has the index.

    Not a search of the values: ``(contains? [:a] :a)`` is false.

    (contains? {:a nil} :a) ;=> true
    (contains? [10 20] 1) ;=> true
    """
    t = type(coll)
    if t is Map or t is Set:
        return key in coll
    if t is Vector or t is str:
        return type(key) is int and 0 <= key < len(coll)
    if coll is None:
        return False
    if t is Transient:
        items = live_items(coll, "contains?")
        if coll.kind == "vector":
            return type(key) is int and 0 <= key < len(items)
        return key in items
    raise type_error("contains?", "a map, set, vector or string", coll)


_COLLECTIONS = (List, Vector, Map, Set)


@builtin("find")
def find(coll: Any, key: Any) -> Vector | None:
    """The ``[key value]`` entry for key in a map (or index in a vector), or nil.

    (find {:a 1} :a) ;=> [:a 1]
    """
    t = type(coll)
    if t is Map:
        value = coll.get(key, MISSING)
        if value is MISSING:
            return None
        if type(key) in _COLLECTIONS:  # (find {[1] :a} '(1)) gives the map's own key, [1]
            wanted = store_key(key)
            key = next(k for k in coll.keys() if store_key(k) == wanted)
        return Vector((key, value))
    if t is Vector:
        if type(key) is int and 0 <= key < len(coll):
            return Vector((key, coll[key]))
        return None
    if coll is None:
        return None
    raise type_error("find", "a map or vector", coll)


@builtin("keys")
def keys(m: Any) -> List | None:
    """A list of the map's keys in insertion order, or nil if it is empty.

    (keys {:a 1 :b 2}) ;=> (:a :b)
    """
    if type(m) is Map:
        return List(m.keys()) if m else None
    if m is None:
        return None
    raise type_error("keys", "a map", m)


@builtin("vals")
def vals(m: Any) -> List | None:
    """A list of the map's values in insertion order, or nil if it is empty.

    (vals {:a 1 :b 2}) ;=> (1 2)
    """
    if type(m) is Map:
        return List(m.values()) if m else None
    if m is None:
        return None
    raise type_error("vals", "a map", m)


@builtin("first")
def first(coll: Any) -> Any:
    """The first item of a collection, or nil if it is empty or nil.

    (first [1 2]) ;=> 1
    (first nil) ;=> nil
    """
    t = type(coll)
    if t is List or t is Vector or t is str:
        return coll[0] if coll else None
    if coll is None:
        return None
    if t is Map:
        for entry in coll.items():
            return Vector(entry)
        return None
    if t is Set:
        for item in coll:
            return item
        return None
    raise type_error("first", "a collection", coll)


@builtin("second")
def second(coll: Any) -> Any:
    """The second item of a collection, or nil.

    (second [1 2]) ;=> 2
    """
    t = type(coll)
    if t is List or t is Vector or t is str:
        return coll[1] if len(coll) > 1 else None
    items = seq_items(coll, "second")
    return items[1] if len(items) > 1 else None


@builtin("last")
def last(coll: Any) -> Any:
    """The last item of a collection, or nil if it is empty.

    (last [1 2 3]) ;=> 3
    """
    items = seq_items(coll, "last")
    return items[-1] if items else None


@builtin("nth")
def nth(coll: Any, index: Any, default: Any = MISSING) -> Any:
    """The item at index in a vector, list or string.

    Out of range, returns default if given, else throws ``:index-out-of-bounds``.
    ``(nth nil i)`` is nil.

    (nth [:a :b] 1) ;=> :b
    (nth [:a :b] 5 :none) ;=> :none
    """
    t = type(coll)
    if t in _INDEXED:
        if type(index) is int:
            if 0 <= index < len(coll):
                return coll[index]
            if default is MISSING:
                raise out_of_bounds("nth", index, len(coll))
            return default
        raise type_error("nth", "an integer index", index)
    if coll is None:
        check_int("nth", index, "an integer index")
        return None if default is MISSING else default
    raise type_error("nth", "a vector, list or string", coll)


@builtin("peek")
def peek(coll: Any) -> Any:
    """The item ``conj`` would have added last: a vector's last item, a list's first.

    (peek [1 2 3]) ;=> 3
    (peek '(1 2 3)) ;=> 1
    """
    t = type(coll)
    if t is Vector:
        return coll[-1] if coll else None
    if t is List:
        return coll[0] if coll else None
    if coll is None:
        return None
    raise type_error("peek", "a vector or list", coll)


@builtin("pop")
def pop(coll: Any) -> Any:
    """The collection without the item ``peek`` returns; popping an empty one throws.

    (pop [1 2 3]) ;=> [1 2]
    (pop '(1 2 3)) ;=> (2 3)
    """
    t = type(coll)
    if t is Vector or t is List:
        if not coll:
            raise fail("argument-error", f"pop: can't pop an empty {type_name(coll)}",
                       function="pop")
        return Vector(coll[:-1]) if t is Vector else List(coll[1:])
    if coll is None:
        return None
    raise type_error("pop", "a vector or list", coll)


# -- sequences -----------------------------------------------------------------------------


@builtin("seq")
def seq(coll: Any) -> List | None:
    """A list of the items of a collection, or nil if it is empty: the usual "any left?" test.

    (seq [1 2]) ;=> (1 2)
    (seq []) ;=> nil
    (seq "ab") ;=> ("a" "b")
    """
    if type(coll) is List:
        return coll if coll else None
    items = seq_items(coll, "seq")
    return List(items) if items else None


@builtin("rest")
def rest(coll: Any) -> List:
    """A list of the items after the first; empty (never nil) when there are none.

    (rest [1 2 3]) ;=> (2 3)
    (rest nil) ;=> ()
    """
    t = type(coll)
    if t is List or t is Vector or t is str:
        return List(coll[1:]) if len(coll) > 1 else EMPTY_LIST
    items = seq_items(coll, "rest")
    return List(items[1:])


@builtin("next")
def next_(coll: Any) -> List | None:
    """A list of the items after the first, or nil if there are none.

    (next [1 2 3]) ;=> (2 3)
    (next [1]) ;=> nil
    """
    t = type(coll)
    if t is List or t is Vector or t is str:
        return List(coll[1:]) if len(coll) > 1 else None
    items = seq_items(coll, "next")
    return List(items[1:]) if len(items) > 1 else None


@builtin("butlast")
def butlast(coll: Any) -> List | None:
    """A list of all but the last item, or nil if that leaves nothing.

    (butlast [1 2 3]) ;=> (1 2)
    """
    items = seq_items(coll, "butlast")
    return List(items[:-1]) if len(items) > 1 else None


@builtin("cons")
def cons(x: Any, coll: Any) -> List:
    """A list of x followed by the items of coll.

    (cons 0 [1 2]) ;=> (0 1 2)
    """
    return List((x, *seq_items(coll, "cons")))


@builtin("concat", arglists="[& colls]")
def concat(*colls: Any) -> List:
    """A list of the items of each collection in turn.

    (concat [1 2] '(3) nil "ab") ;=> (1 2 3 "a" "b")
    """
    out: list[Any] = []
    for coll in colls:
        out.extend(seq_items(coll, "concat"))
    return List(out)


def _count_arg(fn: str, n: Any) -> int:
    return check_int(fn, n, "an integer count")


@builtin("nthrest")
def nthrest(coll: Any, n: Any) -> List:
    """A list of the items after the first n (empty, never nil, if none are left).

    (nthrest [1 2 3] 1) ;=> (2 3)
    """
    n = _count_arg("nthrest", n)
    return List(seq_items(coll, "nthrest")[max(n, 0):])


@builtin("nthnext")
def nthnext(coll: Any, n: Any) -> List | None:
    """A list of the items after the first n, or nil if none are left.

    (nthnext [1 2 3] 3) ;=> nil
    """
    n = _count_arg("nthnext", n)
    items = seq_items(coll, "nthnext")[max(n, 0):]
    return List(items) if items else None


@builtin("take")
def take(n: Any, coll: Any) -> List:
    """A list of the first n items (all of them if there are fewer).

    (take 2 [1 2 3]) ;=> (1 2)
    """
    n = _count_arg("take", n)
    return List(seq_items(coll, "take")[: max(n, 0)])


@builtin("drop")
def drop(n: Any, coll: Any) -> List:
    """A list of the items after the first n.

    (drop 2 [1 2 3]) ;=> (3)
    """
    n = _count_arg("drop", n)
    return List(seq_items(coll, "drop")[max(n, 0):])


@builtin("take-last")
def take_last(n: Any, coll: Any) -> List | None:
    """A list of the last n items, or nil if that is none.

    (take-last 2 [1 2 3]) ;=> (2 3)
    """
    n = _count_arg("take-last", n)
    items = seq_items(coll, "take-last")
    if n <= 0 or not items:
        return None
    return List(items[-n:])


@builtin("drop-last", arglists="[coll] [n coll]")
def drop_last(n: Any, coll: Any = MISSING) -> List:
    """A list of all but the last n items (n defaults to 1).

    (drop-last [1 2 3]) ;=> (1 2)
    (drop-last 2 [1 2 3]) ;=> (1)
    """
    if coll is MISSING:
        n, coll = 1, n
    n = _count_arg("drop-last", n)
    items = seq_items(coll, "drop-last")
    return List(items[: max(len(items) - n, 0)] if n > 0 else items)


@builtin("reverse")
def reverse(coll: Any) -> List:
    """A list of the items in reverse order.

    (reverse [1 2 3]) ;=> (3 2 1)
    """
    return List(reversed(seq_items(coll, "reverse")))


@builtin("sort")
def sort(coll: Any) -> List:
    """A list of the items in natural order (see ``compare``); equal items keep their order.

    (sort [3 1 2]) ;=> (1 2 3)
    (sort ["b" "a"]) ;=> ("a" "b")
    """
    items = seq_items(coll, "sort")
    kinds = set(map(type, items))
    if kinds <= NUMBERS or kinds == {str}:
        return List(sorted(items))
    return List(sorted(items, key=sort_key))


@builtin("distinct")
def distinct(coll: Any) -> List:
    """A list of the items with duplicates removed, keeping first occurrences.

    (distinct [1 2 1 3]) ;=> (1 2 3)
    """
    return List(Set(seq_items(coll, "distinct")))


@builtin("interleave", arglists="[& colls]")
def interleave(*colls: Any) -> List:
    """A list of the first item of each collection, then the second of each, and so on.

    It stops at the end of the shortest collection.

    (interleave [:a :b] [1 2]) ;=> (:a 1 :b 2)
    """
    seqs = [seq_items(c, "interleave") for c in colls]
    return List(x for group in zip(*seqs) for x in group)


@builtin("flatten")
def flatten(x: Any) -> List:
    """A list of the non-sequential things inside nested lists and vectors.

    Maps, sets and strings are not taken apart; ``(flatten 5)`` is ``()``.

    (flatten [1 [2 [3]] '(4)]) ;=> (1 2 3 4)
    """
    if type(x) not in SEQUENTIAL:
        return EMPTY_LIST
    out: list[Any] = []
    stack = [iter(x)]
    while stack:
        for item in stack[-1]:
            if type(item) in SEQUENTIAL:
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return List(out)


# -- changing (by making new collections) --------------------------------------------------


@builtin("conj", arglists="[coll & xs]")
def conj(coll: Any = MISSING, *xs: Any) -> Any:
    """Add items where the collection adds them, and return the new collection.

    A vector adds at the end, a list (or nil) at the front, a set as members, a map
    takes ``[k v]`` entries or whole maps.

    (conj [1 2] 3) ;=> [1 2 3]
    (conj '(1 2) 3) ;=> (3 1 2)
    (conj {:a 1} [:b 2]) ;=> {:a 1, :b 2}
    """
    t = type(coll)
    if t is Vector:
        return Vector(coll + xs) if xs else coll
    if t is List or coll is None:
        if not xs:
            return coll
        return List((*reversed(xs), *(coll or ())))
    if t is Map:
        if not xs:
            return coll
        new = Map(coll)
        for x in xs:
            add_to_map("conj", new, x)
        return new
    if t is Set:
        return coll.conj(*xs) if xs else coll
    if coll is MISSING:
        return EMPTY_VECTOR
    raise type_error("conj", "a collection", coll)


@builtin("into")
def into(to: Any, from_: Any) -> Any:
    """Add every item of ``from`` to ``to`` as ``conj`` would.

    (into [] '(1 2)) ;=> [1 2]
    (into {} [[:a 1]]) ;=> {:a 1}
    (into '(1) [2 3]) ;=> (3 2 1)
    """
    t = type(to)
    if t is Map and type(from_) is Map:
        new = Map(to)
        new.update(from_)
        return new
    if t not in (Vector, List, Map, Set) and to is not None:
        raise type_error("into", "a collection", to)
    return conj(to, *seq_items(from_, "into"))


@builtin("assoc", arglists="[coll key val & kvs]")
def assoc(coll: Any, key: Any, val: Any, *kvs: Any) -> Any:
    """Set keys to values in a map, or indexes in a vector (index = count appends).

    (assoc {:a 1} :b 2) ;=> {:a 1, :b 2}
    (assoc [1 2] 0 :x) ;=> [:x 2]
    (assoc nil :a 1) ;=> {:a 1}
    """
    if len(kvs) % 2:
        raise fail("argument-error", "assoc expects an even number of keys and values",
                   function="assoc")
    t = type(coll)
    if t is Map or coll is None:
        new = Map(coll) if coll else Map()
        new[key] = val
        if not kvs:
            return new
        for i in range(0, len(kvs), 2):
            new[kvs[i]] = kvs[i + 1]
        return new
    if t is Vector:
        items = list(coll)
        set_index(items, key, val)
        for i in range(0, len(kvs), 2):
            set_index(items, kvs[i], kvs[i + 1])
        return Vector(items)
    raise type_error("assoc", "a map, vector or nil", coll)


def set_index(items: list, index: Any, value: Any, fn: str = "assoc") -> None:
    if type(index) is not int:
        raise type_error(fn, "an integer index for a vector", index)
    if 0 <= index < len(items):
        items[index] = value
    elif index == len(items):
        items.append(value)
    else:
        raise out_of_bounds(fn, index, len(items))


@builtin("assoc-in")
def assoc_in(m: Any, ks: Any, v: Any) -> Any:
    """Set a value inside nested collections, making maps where the path is missing.

    (assoc-in {:a {:b 1}} [:a :c] 2) ;=> {:a {:b 1, :c 2}}
    (assoc-in nil [:a :b] 1) ;=> {:a {:b 1}}
    """
    path = seq_items(ks, "assoc-in")
    if not path:
        return assoc(m, None, v)
    # Walk down, remembering each level, then rebuild from the bottom up.
    levels = [m]
    for k in path[:-1]:
        levels.append(get(levels[-1], k))
    value = v
    for level, k in zip(reversed(levels), reversed(path)):
        value = assoc(level, k, value)
    return value


@builtin("dissoc", arglists="[m & ks]")
def dissoc(m: Any, *ks: Any) -> Map | None:
    """A map without the given keys.

    (dissoc {:a 1 :b 2} :a) ;=> {:b 2}
    """
    if type(m) is Map:
        return m.dissoc(*ks) if ks else m
    if m is None:
        return None
    raise type_error("dissoc", "a map", m)


@builtin("disj", arglists="[s & ks]")
def disj(s: Any, *ks: Any) -> Set | None:
    """A set without the given items.

    (disj #{1 2 3} 2) ;=> #{1 3}
    """
    if type(s) is Set:
        return s.disj(*ks) if ks else s
    if s is None:
        return None
    raise type_error("disj", "a set", s)


@builtin("merge", arglists="[& maps]")
def merge(*maps: Any) -> Map | None:
    """One map with the entries of all, later ones winning; nil arguments are skipped.

    (merge {:a 1} nil {:a 2 :b 3}) ;=> {:a 2, :b 3}
    (merge) ;=> nil
    """
    result = None
    copied = False
    for m in maps:
        if m is None:
            continue
        if type(m) is not Map:
            raise type_error("merge", "maps", m)
        if result is None:
            result = m
        elif m:
            if not copied:
                result = Map(result)
                copied = True
            result.update(m)
    return result


@builtin("select-keys")
def select_keys(m: Any, ks: Any) -> Map:
    """A map of only those entries of m whose keys are in ks.

    (select-keys {:a 1 :b 2} [:a :c]) ;=> {:a 1}
    """
    if m is not None and type(m) is not Map:
        raise type_error("select-keys", "a map", m)
    out = Map()
    for k in seq_items(ks, "select-keys"):
        if m is not None and k in m:
            out[k] = m[k]
    return out


@builtin("subvec")
def subvec(v: Any, start: Any, end: Any = MISSING) -> Vector:
    """The part of a vector from start up to, not including, end (default: the end).

    (subvec [0 1 2 3] 1 3) ;=> [1 2]
    """
    if type(v) is not Vector:
        raise type_error("subvec", "a vector", v)
    check_int("subvec", start, "an integer index")
    if end is MISSING:
        end = len(v)
    check_int("subvec", end, "an integer index")
    if not 0 <= start <= end <= len(v):
        raise fail("index-out-of-bounds",
                   f"subvec: [{start}, {end}) is out of bounds for size {len(v)}",
                   function="subvec")
    return Vector(v[start:end])


@builtin("empty")
def empty(coll: Any) -> Any:
    """An empty collection of the same type, or nil for anything that is not one.

    (empty [1 2]) ;=> []
    """
    t = type(coll)
    if t is Vector:
        return EMPTY_VECTOR
    if t is List:
        return EMPTY_LIST
    if t is Map:
        return EMPTY_MAP
    if t is Set:
        return EMPTY_SET
    return None


@builtin("not-empty")
def not_empty(coll: Any) -> Any:
    """coll itself if it has items, else nil.

    (not-empty []) ;=> nil
    (not-empty [1]) ;=> [1]
    """
    if type(coll) in _COUNTED:
        return coll if coll else None
    if coll is None:
        return None
    raise type_error("not-empty", "a collection", coll)


# -- more sequence functions ---------------------------------------------------------------


def _entry_part(fn: str, entry: Any, index: int) -> Any:
    if type(entry) in SEQUENTIAL and len(entry) == 2:
        return entry[index]
    raise type_error(fn, "a map entry (a [key value] vector)", entry)


@builtin("key")
def key(entry: Any) -> Any:
    """The key of a map entry, as ``seq`` or ``first`` of a map gives them.

    (key (first {:a 1})) ;=> :a
    """
    return _entry_part("key", entry, 0)


@builtin("val")
def val(entry: Any) -> Any:
    """The value of a map entry.

    (val (first {:a 1})) ;=> 1
    (map val {:a 1 :b 2}) ;=> (1 2)
    """
    return _entry_part("val", entry, 1)


@builtin("list*", arglists="[& args coll]")
def list_star(first_: Any, *more: Any) -> List | None:
    """A list of the arguments followed by the items of the last one; nil if that is empty.

    (list* 1 2 [3 4]) ;=> (1 2 3 4)
    """
    args = (first_, *more)
    items = (*args[:-1], *seq_items(args[-1], "list*"))
    return List(items) if items else None


@builtin("doall", arglists="[coll] [n coll]")
def doall(n: Any, coll: Any = MISSING) -> Any:
    """coll itself: sequences are eager, so there is nothing left to realize.

    Kept so that Clojure code reads the same.

    (doall (map inc [1 2])) ;=> (2 3)
    """
    return n if coll is MISSING else coll


@builtin("dorun", arglists="[coll] [n coll]")
def dorun(n: Any, coll: Any = MISSING) -> None:
    """nil: sequences are eager, so their effects already happened (kept for Clojure code).

    (dorun (map inc [1 2])) ;=> nil
    """
    return None


@builtin("distinct?", arglists="[x & more]")
def is_distinct(x: Any, *more: Any) -> bool:
    """True if no two of the arguments are equal.

    (distinct? 1 2 3) ;=> true
    (distinct? 1 2 1) ;=> false
    """
    return len(Set((x, *more))) == len(more) + 1


@builtin("dedupe")
def dedupe(coll: Any) -> List:
    """A list of the items without consecutive duplicates.

    (dedupe [1 1 2 1 1]) ;=> (1 2 1)
    """
    out: list[Any] = []
    for x in seq_items(coll, "dedupe"):
        if not out or not equals(out[-1], x):
            out.append(x)
    return List(out)


@builtin("interpose")
def interpose(sep: Any, coll: Any) -> List:
    """A list of the items with sep between each two.

    (interpose ", " ["a" "b" "c"]) ;=> ("a" ", " "b" ", " "c")
    """
    out: list[Any] = []
    for x in seq_items(coll, "interpose"):
        if out:
            out.append(sep)
        out.append(x)
    return List(out)


@builtin("split-at")
def split_at(n: Any, coll: Any) -> Vector:
    """A vector of two lists: the first n items, and the rest.

    (split-at 2 [1 2 3]) ;=> [(1 2) (3)]
    """
    n = max(_count_arg("split-at", n), 0)
    items = seq_items(coll, "split-at")
    return Vector((List(items[:n]), List(items[n:])))


# -- sets ----------------------------------------------------------------------------------


def _sets(fn: str, sets: tuple[Any, ...]) -> list[Set]:
    """The arguments of a set/ function, nil read as the empty set."""
    for s in sets:
        if type(s) is not Set and s is not None:
            raise type_error(fn, "sets", s)
    return [EMPTY_SET if s is None else s for s in sets]


@builtin("set/union", arglists="[& sets]")
def set_union(*sets: Any) -> Set:
    """A set of the members of all the sets, in first-seen order; nil counts as empty.

    (set/union #{1 2} #{2 3}) ;=> #{1 2 3}
    """
    given = _sets("set/union", sets)
    if not given:
        return EMPTY_SET
    return given[0].conj(*(x for s in given[1:] for x in s))


@builtin("set/intersection", arglists="[s & sets]")
def set_intersection(s: Any, *sets: Any) -> Set:
    """A set of the members of s that are in every other set; nil counts as empty.

    (set/intersection #{1 2 3} #{2 3 4}) ;=> #{2 3}
    """
    first_set, *others = _sets("set/intersection", (s, *sets))
    return Set([x for x in first_set if all(x in o for o in others)])


@builtin("set/difference", arglists="[s & sets]")
def set_difference(s: Any, *sets: Any) -> Set:
    """A set of the members of s that are in none of the other sets; nil counts as empty.

    (set/difference #{1 2 3} #{2}) ;=> #{1 3}
    """
    first_set, *others = _sets("set/difference", (s, *sets))
    return Set([x for x in first_set if not any(x in o for o in others)])
