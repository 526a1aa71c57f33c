"""Snapshots: the machine's whole state as bytes, and back, in any process.

The format is versioned JSON with an explicit heap table, written and read with loops,
never recursion, so a 100,000-frame stack or a deeply nested value encodes like any other.
It never uses pickle: a snapshot holds data, not code, and code is referred to by
``(unit, node id)``, the unit by its hash.

Layout of version 3 (machines, from ``encode``)::

    {"v": 3, "units": [hash, ...], "machine": [field, ...], "heap": [entry, ...],
     "current": fiber id or null}

A heap entry is a JSON array whose first item is a tag (``"V"`` vector, ``"C"`` closure,
``"l"`` Python list...). Inside entries a JSON scalar is itself, ``[n]`` refers to heap
entry ``n``, and a few identity-free leaves are written in place as ``[tag, ...]`` with a
string tag: ``["k", name]`` a keyword (interned), ``["N", unit, id]`` a code node and
``["U", unit]`` a code unit (``unit`` indexes ``"units"``, so each hash is written once),
``["G", name]`` a value of the base environment (built-ins, the prelude's functions), so a
snapshot holds only what the program itself made, and ``["s", ...]`` a span.

``"machine"`` lists the machine's fields in ``_MACHINE_LAYOUT`` order. Its containers, its
fibers and their stacks of frames are private to the machine (no program value can reach
them, so their identity does not matter): they are written in place, to a fixed depth
(``["d", k, v, ...]`` a dict, ``["l", ...]`` a list, ``["t", ...]`` a tuple, ``["M", k,
v, ...]`` the map of a definition's docs), instead of as heap entries; a fiber is
``[id, stack, mode, node, env, val, status, wait, waiters, fault]`` and a frame on its
stack ``[kind, field...]``. The fixed depth keeps encoding iterative. Everything a program
can reach (its values, environments, closures) stays in the heap, where sharing and
cycles are kept. Fewer heap entries is what makes encoding cheap enough for every commit.

The bytes are the JSON text itself when it is small (at most ``_PLAIN_LIMIT`` bytes),
zlib-compressed JSON otherwise.

Older versions are still read. Version 2 had only ``"root"`` and ``"heap"``: the machine,
its containers, fibers, frames, keywords and nodes were all heap entries, a node written
``["N", [unit entry], id]``. Version 1 wrote a node ``["N", hash, id]`` and was always
compressed. ``encode_value`` still writes version 1, byte for byte: a code unit's hash is
the hash of that encoding, so it must not change.
"""

from __future__ import annotations

import json
import math
import operator
import zlib
from collections import deque
from collections.abc import Callable
from itertools import islice
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from . import machine as M
from . import nodes as N
from .core.registry import BUILTINS, Builtin
from .data import Atom, Keyword, List, Map, Set, Span, Symbol, Transient, Vector, kw
from .errors import ExInfo, TraceEntry
from .functions import PRIMITIVES, Closure, Future, Macro, Primitive

try:
    import orjson as _orjson
except ImportError:  # optional: the standard library's encoder does the same, slower
    _orjson = None  # type: ignore[assignment]

__all__ = ["encode", "decode", "encode_value", "decode_value", "SnapshotError", "VERSION"]

VERSION = 3
"""The format ``encode`` writes; ``decode`` also reads versions 1 and 2."""
_VALUE_VERSION = 1  # what encode_value writes (code unit hashes depend on it)
_VERSIONS = (1, 2, 3)
_PLAIN_LIMIT = 960
"""Snapshots up to this many bytes of JSON are stored uncompressed: compressing a small
one costs more than its bytes are worth, and it stays within one database page anyway (an
SQLite row keeps about its first thousand bytes in its page)."""
_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)
_PLAIN = frozenset((str, int, bool, type(None)))  # scalars that are always JSON as they are
_FRAMES = {cls.KIND: cls for cls in M.FRAME_TYPES}
# The layouts of version 2's machine ("Z") and fiber ("f") entries, still read.
_MACHINE_FIELDS = (
    "glob", "docs", "max_depth", "steps", "fibers", "runq", "next_fiber", "next_effect",
    "effects", "inbox", "message_waiters", "callbacks", "callback_waiters", "new_requests",
    "cancelled", "result", "status", "error", "extra",
)
_FIBER_FIELDS = ("id", "stack", "mode", "node", "env", "val", "status", "wait", "waiters",
                 "fault")


class SnapshotError(Exception):
    """The bytes are not a snapshot this version can read."""


def _referrer(objs: list[Any], todo: list[int]) -> Callable[[Any], Any]:
    """``ref(x)``: a scalar as itself, anything else as ``[i]``, its index in the heap. An
    object first seen is appended to ``objs`` and its index to ``todo``. A closure, not a
    method: it runs for every value of every snapshot."""
    ids: dict[int, int] = {}
    get, append, push = ids.get, objs.append, todo.append

    def ref(obj: Any) -> Any:
        t = type(obj)
        if t in _SCALAR_TYPES and (t is not float or obj == obj):
            return obj
        found = get(id(obj))
        if found is None:
            found = ids[id(obj)] = len(objs)
            append(obj)
            push(found)
        return [found]

    return ref


class _Encoder:
    """Builds the heap table: ``heap[i]`` is the entry of ``objs[i]``, numbered in the
    order first seen, entries made last-seen-first (so the same value always encodes to the
    same bytes: a code unit's hash is the hash of its encoding).

    Entries are made by a per-type function (``_ENTRIES``) rather than a chain of type
    tests. This class writes version 1 (``encode_value``); ``_MachineEncoder``, which
    runs at every commit, writes version 3 with the same entries.
    """

    version = _VALUE_VERSION

    def __init__(self, keep_spans: bool) -> None:
        self.objs: list[Any] = []  # also keeps encoded objects alive, so ids stay unique
        self.todo: list[int] = []
        self.keep_spans = keep_spans
        self.ref = _referrer(self.objs, self.todo)

    def run(self, root: Any) -> dict:
        root_ref = self.ref(root)
        return {"v": self.version, "root": root_ref, "heap": self.heap()}

    def heap(self) -> list:
        """Make the entries of every object referred to so far (and of theirs)."""
        ref = self.ref
        objs, todo = self.objs, self.todo
        plain = _PLAIN
        heap: list[Any] = []
        while todo:
            i = todo.pop()
            obj = objs[i]
            t = type(obj)
            # lists and dicts, the commonest entries, are made here (as _ENTRIES would)
            if t is list:
                entry = ["l", *[x if type(x) in plain else ref(x) for x in obj]]
            elif t is dict:
                entry = ["d", *[x if type(x) in plain else ref(x)
                                for kv in obj.items() for x in kv]]
            else:
                entry = (_ENTRIES.get(t) or _entry_maker(t))(self, obj)
            if i < len(heap):
                heap[i] = entry
            else:  # entries come last-seen-first: make room up to this one
                heap.extend([None] * (i - len(heap)))
                heap.append(entry)
        return heap

    def span(self, span: Span | None) -> Any:
        return None if span is None else self.ref(span)

    def form_span(self, span: Span | None) -> Any:
        """A code form's span: kept only when asked (``encode_value(keep_spans=True)``)."""
        return None if span is None or not self.keep_spans else self.ref(span)


# In the entries below, ``x if type(x) in _PLAIN else r(x)`` is ``r(x)`` with the call
# saved for the commonest children (floats still go through ``ref``, for NaN).


def _seq_entry(tag: str) -> Callable[[_Encoder, Any], list]:
    def entry(enc: _Encoder, obj: Any) -> list:
        r = enc.ref
        return [tag, enc.form_span(obj.span), *[x if type(x) in _PLAIN else r(x) for x in obj]]
    return entry


def _map_entry(enc: _Encoder, obj: Any) -> list:
    r = enc.ref
    return ["M", enc.form_span(obj.span),
            *[x if type(x) in _PLAIN else r(x) for kv in obj.items() for x in kv]]


def _items_entry(tag: str) -> Callable[[_Encoder, Any], list]:
    def entry(enc: _Encoder, obj: Any) -> list:
        r = enc.ref
        return [tag, *[x if type(x) in _PLAIN else r(x) for x in obj]]
    return entry


def _dict_entry(enc: _Encoder, obj: dict) -> list:
    r = enc.ref
    return ["d", *[x if type(x) in _PLAIN else r(x) for kv in obj.items() for x in kv]]


def _transient_entry(enc: _Encoder, obj: Transient) -> list:
    items = obj.items
    flat = list(items) if obj.kind == "vector" else [x for kv in items.items() for x in kv]
    r = enc.ref
    return ["T", obj.kind, *[r(x) for x in flat]]


_dict_items = dict.items
_ENTRIES: dict[type, Callable[[_Encoder, Any], list]] = {
    # NaN (and, in machines, infinities): JSON has no spelling for them that round-trips
    float: lambda enc, obj: ["n"] if obj != obj else ["n", 1 if obj > 0 else -1],
    Keyword: lambda enc, obj: ["k", obj.full],
    Symbol: lambda enc, obj: ["y", obj.full, enc.form_span(obj.span)],
    Vector: _seq_entry("V"),
    List: _seq_entry("L"),
    Set: _seq_entry("S"),
    Map: _map_entry,
    Span: lambda enc, obj: ["s", obj.source, obj.line, obj.col, obj.end_line, obj.end_col],
    list: _items_entry("l"),
    deque: _items_entry("l"),
    tuple: _items_entry("t"),
    dict: _dict_entry,
    Atom: lambda enc, obj: ["A", enc.ref(obj.value)],
    Transient: _transient_entry,
    Closure: lambda enc, obj: ["C", enc.ref(obj.fn), enc.ref(obj.env)],
    Macro: lambda enc, obj: ["m", enc.ref(obj.closure)],
    Builtin: lambda enc, obj: ["B", obj.name],
    Primitive: lambda enc, obj: ["P", obj.name],
    Future: lambda enc, obj: ["F", obj.fiber],
    ExInfo: lambda enc, obj: ["X", obj.message, enc.ref(obj.data), enc.ref(obj.cause),
                              enc.ref(obj.trace), enc.span(obj.span)],
    TraceEntry: lambda enc, obj: ["r", obj.name, enc.span(obj.span)],
    N.CodeUnit: lambda enc, obj: ["U", obj.hash],
    M.Request: lambda enc, obj: ["q", obj.id, obj.kind, enc.ref(obj.data)],
}


def _node_entry(enc: _Encoder, obj: N.Node) -> list:
    return ["N", obj.unit.hash, obj.id]


def _entry_maker(t: type) -> Callable[[_Encoder, Any], list]:
    """The entry function for a type first met: every Node subclass is code by reference."""
    if issubclass(t, N.Node):
        _ENTRIES[t] = _node_entry
        return _node_entry
    raise SnapshotError(f"can't store a value of type {t.__name__}")


def _node_types() -> frozenset[type]:
    """Every class of code node (all are defined in ``nodes``, so this is known at import)."""
    found, todo = set(), [N.Node]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return frozenset(found)


_NODE_TYPES = _node_types()
_LEAVES: dict[type, Callable[[Any], list]] = {
    Span: lambda obj: ["s", obj.source, obj.line, obj.col, obj.end_line, obj.end_col],
    Builtin: lambda obj: ["B", obj.name],
    Primitive: lambda obj: ["P", obj.name],
}
"""Identity-free values (besides keywords, nodes and units) written in place in version 3."""


# What ``_MachineEncoder``'s ``ref`` does with a value, by its type (absent: a heap entry).
_K_SCALAR, _K_FLOAT, _K_KEYWORD, _K_NODE, _K_NAMED, _K_LEAF, _K_UNIT = range(7)


def _kinds(named: frozenset[type]) -> dict[type, int]:
    """The kinds for a base whose named values have the types ``named``. Later entries
    win, in the order of the tests they replace: a named type may also be a leaf."""
    kinds = dict.fromkeys(_LEAVES, _K_LEAF)
    kinds[N.CodeUnit] = _K_UNIT
    kinds.update(dict.fromkeys(named, _K_NAMED))
    kinds.update(dict.fromkeys(_NODE_TYPES, _K_NODE))
    kinds[Keyword] = _K_KEYWORD
    kinds.update(dict.fromkeys(_SCALARS, _K_SCALAR))
    kinds[float] = _K_FLOAT
    return kinds


class _MachineEncoder(_Encoder):
    """Writes version 3: the machine's own containers, fibers and frames in place, and
    keywords, code and base values as leaves (see the module docstring); the program's
    values go through the heap table as in version 1.

    Made once per base and reused (``reset``), since building its closures is a fair
    part of encoding a small machine.
    """

    version = VERSION

    def __init__(self, base: _Base) -> None:
        self.objs = []  # also keeps encoded objects alive, so ids stay unique
        self.todo = []
        self.keep_spans = False
        self.hashes: list[str] = []  # the "units" table
        self.ids: dict[int, int] = {}
        # id -> (index in "units", the unit itself: kept alive, so its id stays unique)
        self.units: dict[int, tuple[int, N.CodeUnit]] = {}
        self.ref = self._referrer(base.names, base.types)
        self.in1, self.in2 = self._inliners()
        self.doc_cache: dict[int, tuple[Map, list]] = {}  # id -> (docs map, its encoding)

    def reset(self) -> None:
        """Forget the last snapshot (and let go of its objects)."""
        self.objs.clear()
        self.todo.clear()
        self.hashes.clear()
        self.ids.clear()
        self.units.clear()

    def _referrer(self, names: dict[int, str], named: frozenset[type]
                  ) -> Callable[[Any], Any]:
        """``ref(x)``: a scalar as itself, a leaf in place, anything else as ``[i]``. A
        closure, not a method: it runs for every value of every snapshot. One lookup of
        the type says which (``_kinds``): most values are heap entries, found at once."""
        ids, units, objs, hashes = self.ids, self.units, self.objs, self.hashes
        get, append, push, unit_get = ids.get, objs.append, self.todo.append, units.get
        name_of, leaves, kind_of = names.get, _LEAVES, _kinds(named).get
        plain, nodes = _PLAIN, _NODE_TYPES

        def unit(u: N.CodeUnit) -> int:
            found = units[id(u)] = (len(hashes), u)
            hashes.append(u.hash)
            return found[0]

        def ref(obj: Any) -> Any:
            k = kind_of(type(obj))
            if k is not None:
                if k == _K_KEYWORD:
                    return ["k", obj.full]
                if k == _K_NODE:
                    u = unit_get(id(obj.unit))
                    return ["N", unit(obj.unit) if u is None else u[0], obj.id]
                if k == _K_SCALAR:
                    return obj
                if k == _K_FLOAT:
                    if obj - obj == 0.0:  # NaN and infinities: heap entries
                        return obj
                elif k == _K_NAMED:
                    name = name_of(id(obj))
                    if name is not None:
                        return ["G", name]
                    leaf = leaves.get(type(obj))
                    if leaf is not None:
                        return leaf(obj)
                elif k == _K_LEAF:
                    return leaves[type(obj)](obj)
                else:  # _K_UNIT
                    u = unit_get(id(obj))
                    return ["U", unit(obj) if u is None else u[0]]
            found = get(id(obj))
            if found is None:
                found = ids[id(obj)] = len(objs)
                append(obj)
                push(found)
            return [found]

        def items(xs: Any, out: list) -> list:
            """``out`` with ``ref(x)`` appended for each ``x`` of ``xs``; the commonest
            (scalars, lists, code nodes) without a call: one call for a whole frame."""
            for x in xs:
                t = type(x)
                if t in plain:
                    out.append(x)
                elif t is list:
                    found = get(id(x))
                    if found is None:
                        found = ids[id(x)] = len(objs)
                        append(x)
                        push(found)
                    out.append([found])
                elif t in nodes:
                    u = unit_get(id(x.unit))
                    out.append(["N", unit(x.unit) if u is None else u[0], x.id])
                else:
                    out.append(ref(x))
            return out

        self.items = items
        return ref

    def heap(self) -> list:
        """As ``_Encoder.heap``, with the commonest entries of a machine made right here
        (no code form keeps its span in a machine snapshot). Explicit loops, not
        comprehensions: for the short lists of a snapshot they cost a third less. A list
        inside a list (an environment's parent) and a keyword key of a map are written
        without calling ``ref``: a call costs more than the rest of an item."""
        ref, objs, todo, plain = self.ref, self.objs, self.todo, _PLAIN
        ids, get, keyword = self.ids, self.ids.get, Keyword
        entries, make = _ENTRIES, _entry_maker
        heap: list[Any] = []
        while todo:
            i = todo.pop()
            obj = objs[i]
            t = type(obj)
            if t is list:
                entry = ["l"]
                for x in obj:
                    tx = type(x)
                    if tx in plain:
                        entry.append(x)
                    elif tx is list:  # always a heap entry (as in ``ref``)
                        j = get(id(x))
                        if j is None:
                            j = ids[id(x)] = len(objs)
                            objs.append(x)
                            todo.append(j)
                        entry.append([j])
                    else:
                        entry.append(ref(x))
            elif t is Map:
                entry = ["M", None]
                for k, v in (obj.items() if obj._wide else _dict_items(obj)):
                    tk = type(k)
                    entry.append(k if tk in plain else ["k", k.full] if tk is keyword
                                 else ref(k))
                    entry.append(v if type(v) in plain else ref(v))
            elif t is Closure:
                entry = ["C", ref(obj.fn), ref(obj.env)]
            elif t is Vector:
                entry = ["V", None]
                for x in obj:
                    entry.append(x if type(x) in plain else ref(x))
            elif t is dict:
                entry = ["d"]
                for k, v in obj.items():
                    entry.append(k if type(k) in plain else ref(k))
                    entry.append(v if type(v) in plain else ref(v))
            elif t is Symbol:
                entry = ["y", obj.full, None]
            else:
                entry = (entries.get(t) or make(t))(self, obj)
            if i < len(heap):
                heap[i] = entry
            else:  # entries come last-seen-first: make room up to this one
                heap.extend([None] * (i - len(heap)))
                heap.append(entry)
        return heap

    def _inliners(self) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
        """``in1(x)``, ``in2(x)``: a container private to the machine written in place, one
        or two levels down (a dict ``["d", k, v...]``, a list or deque ``["l", ...]``, a
        tuple ``["t", ...]``); below that, and for anything else, ``ref``."""
        ref, plain = self.ref, _PLAIN

        def in1(obj: Any) -> Any:
            t = type(obj)
            if t is dict:
                out = ["d"]
                for k, v in obj.items():
                    out.append(k if type(k) in plain else ref(k))
                    out.append(v if type(v) in plain else ref(v))
                return out
            if t is list or t is deque or t is tuple:
                out = ["t" if t is tuple else "l"]
                for x in obj:
                    out.append(x if type(x) in plain else ref(x))
                return out
            return obj if t in plain else ref(obj)

        def in2(obj: Any) -> Any:
            t = type(obj)
            if t is dict:
                out = ["d"]
                for k, v in obj.items():
                    out.append(k if type(k) in plain else ref(k))
                    out.append(in1(v))
                return out
            if t is list or t is deque or t is tuple:
                out = ["t" if t is tuple else "l"]
                for x in obj:
                    out.append(in1(x))
                return out
            return in1(obj)

        return in1, in2

    def machine(self, m: M.Machine, info: _Base) -> list:
        """The ``"machine"`` record, in ``_MACHINE_LAYOUT`` (field by field here: this
        runs at every commit), with only the program's own globals (``info``'s
        ``user_globals``). Empty containers, the usual case, are written without a call."""
        ref, plain, in1, in2 = self.ref, _PLAIN, self.in1, self.in2
        result, error = m.result, m.error
        runq, effects, inbox, waiters = m.runq, m.effects, m.inbox, m.message_waiters
        callbacks, cb_waiters, requests, cancelled = (
            m.callbacks, m.callback_waiters, m.new_requests, m.cancelled)
        empty = _EMPTY.get
        return [
            in1(info.user_globals(m.glob, m.docs)), self.docs(m.docs), m.max_depth, m.steps,
            [self.fiber(f) for f in m.fibers.values()],
            (not runq and empty(type(runq))) or in1(runq), m.next_fiber, m.next_effect,
            (not effects and empty(type(effects))) or in2(effects),
            (not inbox and empty(type(inbox))) or in2(inbox),
            (not waiters and empty(type(waiters))) or in2(waiters),
            (not callbacks and empty(type(callbacks))) or in2(callbacks),
            (not cb_waiters and empty(type(cb_waiters))) or in1(cb_waiters),
            (not requests and empty(type(requests))) or in1(requests),
            (not cancelled and empty(type(cancelled))) or in1(cancelled),
            result if type(result) in plain else ref(result), m.status,
            error if type(error) in plain else ref(error), in2(m.extra),
        ]

    def docs(self, docs: dict[str, Map]) -> list:
        """The docs of the program's definitions: maps that only the machine and the REPL
        read, so each is written in place (``["M", k, v...]``), not as a heap entry.

        A docs map is made once by ``define`` and never changed, and nearly always holds
        only keywords and plain scalars, whose encoding depends on nothing else: that
        encoding is kept (``doc_cache``, by the map's identity) for the next commits."""
        ref, plain, cache, out = self.ref, _PLAIN, self.doc_cache, ["d"]
        for name, info in docs.items():
            out.append(name)
            hit = cache.get(id(info))
            if hit is not None and hit[0] is info:
                out.append(hit[1])
            elif type(info) is Map and not info._wide and info.span is None:
                entry, constant = ["M"], True
                for k, v in _dict_items(info):
                    for x in (k, v):
                        t = type(x)
                        if t in plain:
                            entry.append(x)
                        else:
                            entry.append(ref(x))
                            constant = constant and t is Keyword
                if constant:
                    if len(cache) >= _DOC_CACHE_SIZE:  # redefined in a long REPL session
                        cache.clear()
                    cache[id(info)] = (info, entry)  # the map kept alive: its id stays its own
                out.append(entry)
            else:
                out.append(ref(info))
        return out

    def fiber(self, f: M.Fiber) -> list:
        in1, frames, items = self.in1, _FRAME_RECORDS, self.items
        stack = []
        for k in f.stack:
            stack.append(items(frames[type(k)](k), [k.KIND]))
        wait, waiters, fault = f.wait, f.waiters, f.fault
        return [f.id, stack, f.mode, *items((f.node, f.env, f.val), []), f.status,
                None if wait is None else in1(wait),
                ["l"] if type(waiters) is list and not waiters else in1(waiters),
                None if fault is None else in1(fault)]


def _fields(cls: type) -> Callable[[Any], tuple]:
    """The fields of a frame of class ``cls``, in ``__slots__`` order, as a tuple."""
    fields = cls.__slots__
    if len(fields) > 1:
        return operator.attrgetter(*fields)
    return lambda obj: (getattr(obj, fields[0]),)


_FRAME_RECORDS = {cls: _fields(cls) for cls in M.FRAME_TYPES}
_EMPTY = {dict: ["d"], list: ["l"], deque: ["l"], tuple: ["t"]}
"""What ``in1`` and ``in2`` write for an empty container (shared: a document is only read)."""
_DOC_CACHE_SIZE = 4096
_FIBERS = -1
_MACHINE_LAYOUT = (
    ("glob", 1), ("docs", 2), ("max_depth", 0), ("steps", 0), ("fibers", _FIBERS),
    ("runq", 1), ("next_fiber", 0), ("next_effect", 0), ("effects", 2), ("inbox", 2),
    ("message_waiters", 2), ("callbacks", 2), ("callback_waiters", 1),
    ("new_requests", 1), ("cancelled", 1), ("result", 0), ("status", 0), ("error", 0),
    ("extra", 2),
)
"""Each field of the machine in a version 3 snapshot, and how many levels of it are the
machine's own containers, written in place (``_FIBERS``: the fibers, their stacks and
frames). The values inside (messages, effect data, globals...) go to the heap. A new field
goes at the end: older snapshots then leave it at the value ``Machine()`` gives it."""


_MUTABLE = frozenset("l d A T C m f K Z q".split())


class _Decoder:
    """Rebuilds the heap (any version), then, for version 3, the machine written in place.

    Inside an entry a list is either a reference ``[n]`` (an int first) or a leaf written
    in place (a string tag first, version 3 only), so one ``val`` reads every version.
    """

    def __init__(self, heap: list, units: Callable[[str], N.CodeUnit] | None,
                 base: dict[str, Any], hashes: list[str] = ()) -> None:
        self.heap = heap
        self.units = units
        self.base = base
        self.objs: list[Any] = [_UNSET] * len(heap)
        self.unit_table = [self.unit(h) for h in hashes]  # version 3's "units"

    def unit(self, h: str) -> N.CodeUnit:
        if self.units is None:
            raise SnapshotError("this snapshot refers to code, but no code loader was given")
        return self.units(h)

    def val(self, x: Any) -> Any:
        if type(x) is list:
            i = x[0]
            if type(i) is int:
                return self.objs[i]
            return self.leaf(x)
        return x

    def leaf(self, x: list) -> Any:
        tag = x[0]
        if tag == "k":
            return kw(x[1])
        if tag == "N":
            return self.unit_table[x[1]].nodes[x[2]]
        if tag == "G":
            return self.named(x[1])
        if tag == "U":
            return self.unit_table[x[1]]
        if tag == "s":
            return Span(*x[1:])
        if tag == "B":
            return BUILTINS[x[1]]
        if tag == "P":
            return PRIMITIVES[x[1]]
        raise SnapshotError(f"unknown value {tag!r}")

    def named(self, name: str) -> Any:
        try:
            return self.base[name]
        except KeyError:
            raise SnapshotError(f"snapshot refers to unknown global {name}") from None

    def inline(self, x: Any, depth: int) -> Any:
        """A container written in place ``depth`` levels down (``_MachineEncoder.inline``)."""
        if depth and type(x) is list:
            tag = x[0]
            if tag == "d":
                items = x[1:]
                return {self.val(items[i]): self.inline(items[i + 1], depth - 1)
                        for i in range(0, len(items), 2)}
            if tag == "l":
                return [self.inline(y, depth - 1) for y in x[1:]]
            if tag == "t":
                return tuple(self.inline(y, depth - 1) for y in x[1:])
            if tag == "M":  # a map of the machine's own (its docs), no deeper
                items = [self.val(y) for y in x[1:]]
                return Map([(items[i], items[i + 1]) for i in range(0, len(items), 2)])
        return self.val(x)

    def machine(self, record: list) -> M.Machine:
        m = M.Machine({})
        for (name, depth), x in zip(_MACHINE_LAYOUT, record):
            if depth == _FIBERS:
                m.fibers = {f.id: f for f in map(self.fiber, x)}
            else:
                setattr(m, name, self.inline(x, depth))
        return m

    def fiber(self, record: list) -> M.Fiber:
        v, inline = self.val, self.inline
        f = M.Fiber(record[0])
        f.stack = [self.frame(k) for k in record[1]]
        f.mode, f.node, f.env, f.val, f.status = (
            record[2], v(record[3]), v(record[4]), v(record[5]), record[6])
        f.wait, f.waiters, f.fault = (
            inline(record[7], 1), inline(record[8], 1), inline(record[9], 1))
        return f

    def frame(self, record: list) -> Any:
        cls = _FRAMES[record[0]]
        obj = cls.__new__(cls)
        v = self.val
        slots = cls.__slots__
        for name, x in zip(slots, record[1:]):
            setattr(obj, name, v(x))
        for name in slots[len(record) - 1:]:  # a field added since the snapshot was taken
            setattr(obj, name, None)
        return obj

    def run(self, root: Any) -> Any:
        self.build_heap()
        return self.val(root)

    def build_heap(self) -> None:
        heap, objs = self.heap, self.objs
        # 1. shells for every mutable object, so cycles through them can be closed later
        for i, e in enumerate(heap):
            tag = e[0]
            if tag in _MUTABLE:
                objs[i] = self.shell(e)
        # 2. immutable values, children first (they cannot form cycles)
        for i in range(len(heap)):
            if objs[i] is _UNSET:
                self.build_tree(i)
        # 3. fill the shells
        for i, e in enumerate(heap):
            if e[0] in _MUTABLE:
                self.fill(objs[i], e)

    def shell(self, e: list) -> Any:
        tag = e[0]
        if tag == "l":
            return []
        if tag == "d":
            return {}
        if tag == "A":
            return Atom(None)
        if tag == "T":
            return Transient(e[1], [] if e[1] == "vector" else Map())
        if tag == "C":
            return Closure.__new__(Closure)
        if tag == "m":
            return Macro.__new__(Macro)
        if tag == "f":
            return M.Fiber(0)
        if tag == "K":
            return _FRAMES[e[1]].__new__(_FRAMES[e[1]])
        if tag == "q":
            return M.Request(e[1], e[2], Map())
        if tag == "Z":
            return M.Machine({})
        raise SnapshotError(f"unknown entry {tag!r}")

    def children(self, e: list) -> list[int]:
        return [x[0] for x in e[1:] if type(x) is list and type(x[0]) is int]

    def build_tree(self, start: int) -> None:
        objs, heap = self.objs, self.heap
        stack = [start]
        while stack:
            i = stack[-1]
            if objs[i] is not _UNSET:
                stack.pop()
                continue
            pending = [c for c in self.children(heap[i]) if objs[c] is _UNSET]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            objs[i] = self.build(heap[i])

    def build(self, e: list) -> Any:
        v = self.val
        tag = e[0]
        if tag == "G":
            return self.named(e[1])
        if tag == "n":
            return float("nan") if len(e) == 1 else math.inf * e[1]
        if tag == "k":
            return kw(e[1])
        if tag == "y":
            return Symbol(e[1], v(e[2]))
        if tag in ("V", "L"):
            out = (Vector if tag == "V" else List)(v(x) for x in e[2:])
            if e[1] is not None:
                out.span = v(e[1])
            return out
        if tag == "M":
            items = e[2:]
            out = Map((v(items[i]), v(items[i + 1])) for i in range(0, len(items), 2))
            if e[1] is not None:
                out.span = v(e[1])
            return out
        if tag == "S":
            out = Set(v(x) for x in e[2:])
            if e[1] is not None:
                out.span = v(e[1])
            return out
        if tag == "s":
            return Span(*e[1:])
        if tag == "t":
            return tuple(v(x) for x in e[1:])
        if tag == "B":
            return BUILTINS[e[1]]
        if tag == "P":
            return PRIMITIVES[e[1]]
        if tag == "F":
            return Future(e[1])
        if tag == "X":
            return ExInfo(e[1], v(e[2]), v(e[3]), v(e[4]) or (), v(e[5]))
        if tag == "r":
            return TraceEntry(e[1], v(e[2]))
        if tag == "N":  # version 1 names the unit by hash, version 2 refers to its entry
            unit = self.unit(e[1]) if type(e[1]) is str else v(e[1])
            return unit.nodes[e[2]]
        if tag == "U":
            return self.unit(e[1])
        raise SnapshotError(f"unknown entry {tag!r}")

    def fill(self, obj: Any, e: list) -> None:
        v = self.val
        tag = e[0]
        if tag == "l":
            obj.extend(v(x) for x in e[1:])
        elif tag == "d":
            items = e[1:]
            for i in range(0, len(items), 2):
                obj[v(items[i])] = v(items[i + 1])
        elif tag == "A":
            obj.value = v(e[1])
        elif tag == "T":
            items = [v(x) for x in e[2:]]
            if obj.kind == "vector":
                obj.items.extend(items)
            else:
                for i in range(0, len(items), 2):
                    obj.items[items[i]] = items[i + 1]
        elif tag == "C":
            obj.fn, obj.env = v(e[1]), v(e[2])
        elif tag == "m":
            obj.closure = v(e[1])
        elif tag == "K":
            slots = type(obj).__slots__
            for name, x in zip(slots, e[2:]):
                setattr(obj, name, v(x))
            for name in slots[len(e) - 2:]:  # a field added since the snapshot was taken
                setattr(obj, name, None)
        elif tag == "f":
            for name, x in zip(_FIBER_FIELDS, e[1:]):
                setattr(obj, name, v(x))
        elif tag == "q":
            obj.data = v(e[3])
        elif tag == "Z":
            for name, x in zip(_MACHINE_FIELDS, e[1:]):
                setattr(obj, name, v(x))


_UNSET = object()


_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)
"""Compact, and without the cycle check: a heap table is flat, its entries refer by index."""


def _json_text() -> Callable[[dict], str]:
    """``_JSON.encode``, minus the per-call set-up of its C encoder (about a microsecond,
    at every commit): the same encoder, made once, gives the same text."""
    if c_make_encoder is None:  # a Python built without the _json accelerator
        return _JSON.encode
    make = c_make_encoder(None, _JSON.default, encode_basestring_ascii, None, ":", ",",
                          False, False, True)
    return lambda doc: "".join(make(doc, 0))


_json = _json_text()


def _dumps(doc: dict, plain_limit: int = _PLAIN_LIMIT, fast: bool = False) -> bytes:
    """The document's JSON text as stored: plain up to ``plain_limit`` bytes, else zlib.

    ``fast`` (machine documents) writes it through orjson when it is installed: a tenth of
    the instructions of the standard library's C encoder, and this runs at every commit. A
    machine document holds no NaN or infinity (they are heap entries), which orjson would
    write as null; what orjson refuses (an integer beyond 64 bits, a lone surrogate in a
    string) goes through the standard library."""
    text = None
    if fast and _orjson is not None:
        try:
            text = _orjson.dumps(doc)
        except _orjson.JSONEncodeError:
            pass
    if text is None:
        text = _json(doc).encode()
    return text if len(text) <= plain_limit else zlib.compress(text, 1)


def _loads(blob: bytes) -> dict:
    try:
        # JSON text starts with "{"; a zlib stream never does (its first byte is 0x?8)
        doc = json.loads(blob if blob[:1] == b"{" else zlib.decompress(blob))
    except (zlib.error, ValueError) as exc:
        raise SnapshotError(f"not a Flowmetal snapshot: {exc}") from None
    if not isinstance(doc, dict) or doc.get("v") not in _VERSIONS:
        version = doc.get("v") if isinstance(doc, dict) else None
        raise SnapshotError(f"snapshot format version {version!r} is not supported "
                            f"(this Flowmetal reads versions 1 to {VERSION})")
    return doc


def encode_value(value: Any, keep_spans: bool = False) -> bytes:
    """Encode a data value (code forms keep their spans with ``keep_spans``)."""
    return _dumps(_Encoder(keep_spans).run(value), plain_limit=-1)


def decode_value(blob: bytes) -> Any:
    doc = _loads(blob)
    return _Decoder(doc["heap"], None, {}).run(doc["root"])


class _Base:
    """What encoding needs to know of one base environment, computed once per base."""

    def __init__(self, base: dict[str, Any]) -> None:
        self.glob = base
        self.names = {id(v): k for k, v in base.items() if type(v) not in _SCALARS}
        self.types = frozenset(type(v) for v in base.values() if type(v) not in _SCALARS)
        self.keys = base.keys()
        self.size = len(base)
        self.last = next(reversed(base), None)
        self.encoders: list[_MachineEncoder] = []  # ready for the next encode

    def user_globals(self, glob: dict[str, Any], defined: dict[str, Any]) -> dict[str, Any]:
        """The part of ``glob`` that is not the base's: what the program defined.

        This runs at every commit, so it must not look at all the base's names. A
        machine's globals are a copy of the base followed by the names the program added
        (by ``def``, or the runtime's ``*1`` and the like), so those are the last
        ``len(glob) - len(base)`` entries; and a base name is rebound only by ``def``,
        which records it in ``defined`` (the machine's docs). When the first part of
        the assumption does not hold (a name was removed, or ``glob`` is not a copy of
        this base), this falls back to comparing every name.
        """
        added = len(glob) - self.size
        if added >= 0 and self.last is not None:
            tail = list(islice(reversed(glob.items()), added + 1))
            if tail.pop()[0] == self.last:
                tail.reverse()
                if self.keys.isdisjoint(defined):  # no base name rebound: the usual case
                    return dict(tail)
                rebound = defined.keys() & self.keys
                out = {k: glob[k] for k in defined if k in rebound and k in glob}
                out.update(tail)
                return out
        base = self.glob
        return {k: v for k, v in glob.items() if base.get(k, _UNSET) is not v}


_BASE_CACHE: list[_Base] = []


def _base_info(base: dict[str, Any]) -> _Base:
    if not _BASE_CACHE or _BASE_CACHE[0].glob is not base:
        _BASE_CACHE[:] = [_Base(base)]
    return _BASE_CACHE[0]


def encode(machine: M.Machine, base: dict[str, Any]) -> bytes:
    """Encode a machine, writing values that are in ``base`` (the prelude) by name."""
    info = _base_info(base)
    machine._save()
    current = machine.fiber
    pool = info.encoders  # pop and append are atomic: threads never share an encoder
    enc = pool.pop() if pool else _MachineEncoder(info)
    try:
        record = enc.machine(machine, info)
        heap = enc.heap()
        return _dumps({"v": VERSION, "units": enc.hashes, "machine": record, "heap": heap,
                       "current": current.id if current is not None else None}, fast=True)
    finally:
        enc.reset()
        pool.append(enc)


def decode(blob: bytes, base: dict[str, Any], units: Callable[[str], N.CodeUnit]) -> M.Machine:
    """Rebuild a machine; ``units(hash)`` supplies compiled code for each unit it names."""
    doc = _loads(blob)
    try:
        if doc["v"] >= 3:
            dec = _Decoder(doc["heap"], units, base, doc["units"])
            dec.build_heap()
            machine = dec.machine(doc["machine"])
        else:
            machine = _Decoder(doc["heap"], units, base).run(doc["root"])
    except SnapshotError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        # A well-formed JSON document that is not a machine (or names unknown code).
        raise SnapshotError(f"damaged snapshot: {type(exc).__name__}: {exc}") from None
    if not isinstance(machine, M.Machine):
        raise SnapshotError("snapshot root is not a machine")
    glob = dict(base)
    glob.update(machine.glob)
    machine.glob = glob
    machine.runq = deque(machine.runq)
    machine.fiber = None
    machine.pending_fault = None
    current = doc.get("current")
    if current is not None:
        machine._switch_to(machine.fibers[current])
    return machine
