"""Snapshots: the machine's whole state as bytes, and back, in any process.

The format is versioned JSON with an explicit heap table, written and read with loops,
never recursion, so a 100,000-frame stack or a deeply nested value encodes like any other.
It never uses pickle: a snapshot holds data, not code, and code is referred to by
``(unit, node id)``, the unit by its hash.

Layout: ``{"v": 2, "root": ref, "heap": [entry, ...]}``. An entry is a JSON array whose
first item is a tag (``"V"`` vector, ``"C"`` closure, ``"K"`` frame...). Inside entries a
JSON scalar is itself and ``[n]`` refers to heap entry ``n``. Values that are part of the
base environment (built-ins and the prelude's functions) are written by name (``"G"``), so
a snapshot holds only what the program itself made. The bytes are the JSON text itself when
it is small (at most ``_PLAIN_LIMIT`` bytes), zlib-compressed JSON otherwise.

Versions: 2 (machines, from ``encode``) writes a node as ``["N", [unit entry], id]``, so a
unit's 64-character hash is written once; 1 wrote it in every node, ``["N", hash, id]``, and
was always compressed. Both are read. ``encode_value`` still writes version 1, compressed:
a code unit's hash is the hash of that encoding, so it must not change.
"""

from __future__ import annotations

import json
import operator
import zlib
from collections import deque
from collections.abc import Callable
from itertools import islice
from operator import is_not
from typing import Any

from . import machine as M
from . import nodes as N
from .core.registry import BUILTINS, Builtin
from .data import Atom, Keyword, List, Map, Set, Span, Symbol, Transient, Vector, kw
from .errors import ExInfo, TraceEntry
from .functions import PRIMITIVES, Closure, Future, Macro, Primitive

__all__ = ["encode", "decode", "encode_value", "decode_value", "SnapshotError", "VERSION"]

VERSION = 2
"""The format ``encode`` writes; ``decode`` also reads version 1."""
_VALUE_VERSION = 1  # what encode_value writes (code unit hashes depend on it)
_VERSIONS = (1, 2)
_PLAIN_LIMIT = 960
"""Snapshots up to this many bytes of JSON are stored uncompressed: compressing a small
one costs more than its bytes are worth, and it stays within one database page anyway (an
SQLite row keeps about its first thousand bytes in its page)."""
_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)
_PLAIN = frozenset((str, int, bool, type(None)))  # scalars that are always JSON as they are
_FRAMES = {cls.KIND: cls for cls in M.FRAME_TYPES}
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
    tests: a snapshot is encoded at every commit, so this loop is on the effect path.
    """

    def __init__(self, base_names: dict[int, str], keep_spans: bool,
                 named_types: frozenset[type] = frozenset(), version: int = VERSION) -> None:
        self.objs: list[Any] = []  # also keeps encoded objects alive, so ids stay unique
        self.todo: list[int] = []
        self.base_names = base_names
        self.named_types = named_types  # the types of the values in base_names
        self.keep_spans = keep_spans
        self.version = version
        self.ref = _referrer(self.objs, self.todo)

    def run(self, root: Any) -> dict:
        ref = self.ref
        root_ref = ref(root)
        objs, todo, names, named = self.objs, self.todo, self.base_names, self.named_types
        plain = _PLAIN
        heap: list[Any] = []
        while todo:
            i = todo.pop()
            obj = objs[i]
            t = type(obj)
            if t in named and (name := names.get(id(obj))) is not None:
                entry = ["G", name]
            # lists and dicts, the commonest entries, are made here (as _ENTRIES would)
            elif t is list:
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
        return {"v": self.version, "root": root_ref, "heap": heap}

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


def _fields_entry(head: tuple, fields: tuple[str, ...]) -> Callable[[_Encoder, Any], list]:
    """An entry ``[*head, field, field...]`` for an object with these fields."""
    getter = operator.attrgetter(*fields) if len(fields) > 1 else (
        lambda obj: (getattr(obj, fields[0]),))

    def entry(enc: _Encoder, obj: Any) -> list:
        r = enc.ref
        return [*head, *[x if type(x) in _PLAIN else r(x) for x in getter(obj)]]
    return entry


_ENTRIES: dict[type, Callable[[_Encoder, Any], list]] = {
    float: lambda enc, obj: ["n"],  # NaN: JSON has no spelling for it that round-trips
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
    M.Fiber: _fields_entry(("f",), _FIBER_FIELDS),
    M.Request: lambda enc, obj: ["q", obj.id, obj.kind, enc.ref(obj.data)],
    M.Machine: _fields_entry(("Z",), _MACHINE_FIELDS),
    **{cls: _fields_entry(("K", cls.KIND), cls.__slots__) for cls in M.FRAME_TYPES},
}


def _node_entry(enc: _Encoder, obj: N.Node) -> list:
    if enc.version == 1:
        return ["N", obj.unit.hash, obj.id]
    return ["N", enc.ref(obj.unit), obj.id]


def _entry_maker(t: type) -> Callable[[_Encoder, Any], list]:
    """The entry function for a type first met: every Node subclass is code by reference."""
    if issubclass(t, N.Node):
        _ENTRIES[t] = _node_entry
        return _node_entry
    raise SnapshotError(f"can't store a value of type {t.__name__}")


_MUTABLE = frozenset("l d A T C m f K Z q".split())


class _Decoder:
    def __init__(self, heap: list, units: Callable[[str], N.CodeUnit] | None,
                 base: dict[str, Any]) -> None:
        self.heap = heap
        self.units = units
        self.base = base
        self.objs: list[Any] = [_UNSET] * len(heap)

    def unit(self, h: str) -> N.CodeUnit:
        if self.units is None:
            raise SnapshotError("this snapshot refers to code, but no code loader was given")
        return self.units(h)

    def val(self, x: Any) -> Any:
        if type(x) is list:
            return self.objs[x[0]]
        return x

    def run(self, root: Any) -> Any:
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
        return self.val(root)

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
        return [x[0] for x in e[1:] if type(x) is list]

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
            try:
                return self.base[e[1]]
            except KeyError:
                raise SnapshotError(f"snapshot refers to unknown global {e[1]}") from None
        if tag == "n":
            return float("nan")
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


def _dumps(doc: dict, plain_limit: int = _PLAIN_LIMIT) -> bytes:
    text = _JSON.encode(doc).encode()
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
    return _dumps(_Encoder({}, keep_spans, version=_VALUE_VERSION).run(value), plain_limit=-1)


def decode_value(blob: bytes) -> Any:
    doc = _loads(blob)
    return _Decoder(doc["heap"], None, {}).run(doc["root"])


class _Base:
    """What encoding needs to know of one base environment, computed once per base."""

    def __init__(self, base: dict[str, Any]) -> None:
        self.glob = base
        self.names = {id(v): k for k, v in base.items() if type(v) not in _SCALARS}
        self.types = frozenset(type(v) for v in base.values() if type(v) not in _SCALARS)
        self.keys = list(base)
        self.values = list(base.values())

    def user_globals(self, glob: dict[str, Any]) -> dict[str, Any]:
        """The part of ``glob`` that is not the base's: what the program defined.

        A machine's globals are a copy of the base followed by the program's own names, so
        this usually compares the two prefixes at C speed (this runs at every commit) and
        only falls back to a name-by-name diff when a base name was redefined.
        """
        n = len(self.keys)
        if (len(glob) >= n and list(islice(glob, n)) == self.keys
                and not any(map(is_not, glob.values(), self.values))):
            return dict(islice(glob.items(), n, None))
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
    saved_glob = machine.glob
    machine._save()
    machine.glob = info.user_globals(saved_glob)
    current = machine.fiber
    try:
        machine.fiber = None
        doc = _Encoder(info.names, False, info.types).run(machine)
        doc["current"] = current.id if current is not None else None
        return _dumps(doc)
    finally:
        machine.glob = saved_glob
        machine.fiber = current


def decode(blob: bytes, base: dict[str, Any], units: Callable[[str], N.CodeUnit]) -> M.Machine:
    """Rebuild a machine; ``units(hash)`` supplies compiled code for each unit it names."""
    doc = _loads(blob)
    try:
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
