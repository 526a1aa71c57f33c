"""Snapshots: the machine's whole state as bytes, and back, in any process.

The format is versioned JSON (zlib-compressed) with an explicit heap table, written and
read with loops, never recursion, so a 100,000-frame stack or a deeply nested value
encodes like any other. It never uses pickle: a snapshot holds data, not code, and code is
referred to by ``(unit hash, node id)``.

Layout: ``{"v": 1, "root": ref, "heap": [entry, ...]}``. An entry is a JSON array whose
first item is a tag (``"V"`` vector, ``"C"`` closure, ``"K"`` frame...). Inside entries a
JSON scalar is itself and ``[n]`` refers to heap entry ``n``. Values that are part of the
base environment (built-ins and the prelude's functions) are written by name (``"G"``), so
a snapshot holds only what the program itself made.
"""

from __future__ import annotations

import json
import zlib
from collections import deque
from collections.abc import Callable
from typing import Any

from . import machine as M
from . import nodes as N
from .core.registry import BUILTINS, Builtin
from .data import Atom, Keyword, List, Map, Set, Span, Symbol, Transient, Vector, kw
from .errors import ExInfo, TraceEntry
from .functions import PRIMITIVES, Closure, Future, Macro, Primitive

__all__ = ["encode", "decode", "encode_value", "decode_value", "SnapshotError", "VERSION"]

VERSION = 1
_SCALARS = (str, int, float, bool, type(None))
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


class _Encoder:
    def __init__(self, base_names: dict[int, str], keep_spans: bool) -> None:
        self.ids: dict[int, int] = {}
        self.heap: list[Any] = []
        self.keep: list[Any] = []  # keep encoded objects alive so ids stay unique
        self.todo: list[Any] = []
        self.base_names = base_names
        self.keep_spans = keep_spans

    def ref(self, obj: Any) -> Any:
        if type(obj) in _SCALARS and not (type(obj) is float and obj != obj):
            return obj
        key = id(obj)
        found = self.ids.get(key)
        if found is None:
            found = len(self.heap)
            self.ids[key] = found
            self.heap.append(None)
            self.keep.append(obj)
            self.todo.append(obj)
        return [found]

    def run(self, root: Any) -> dict:
        root_ref = self.ref(root)
        while self.todo:
            obj = self.todo.pop()
            self.heap[self.ids[id(obj)]] = self.entry(obj)
        return {"v": VERSION, "root": root_ref, "heap": self.heap}

    def span(self, span: Span | None) -> Any:
        if span is None:
            return None
        return self.ref(span)

    def entry(self, obj: Any) -> list:
        r = self.ref
        t = type(obj)
        name = self.base_names.get(id(obj))
        if name is not None:
            return ["G", name]
        if t is float:
            return ["n"]  # NaN: JSON has no spelling for it that round-trips by identity
        if t is Keyword:
            return ["k", obj.full]
        if t is Symbol:
            return ["y", obj.full, self.span(obj.span) if self.keep_spans else None]
        if t is Vector or t is List:
            tag = "V" if t is Vector else "L"
            out = [tag, self.span(obj.span) if self.keep_spans else None]
            out.extend(r(x) for x in obj)
            return out
        if t is Map:
            out = ["M", self.span(obj.span) if self.keep_spans else None]
            for k, v in obj.items():
                out.append(r(k))
                out.append(r(v))
            return out
        if t is Set:
            out = ["S", self.span(obj.span) if self.keep_spans else None]
            out.extend(r(x) for x in obj)
            return out
        if t is Span:
            return ["s", obj.source, obj.line, obj.col, obj.end_line, obj.end_col]
        if t is list:
            return ["l", *[r(x) for x in obj]]
        if t is tuple:
            return ["t", *[r(x) for x in obj]]
        if t is dict:
            out = ["d"]
            for k, v in obj.items():
                out.append(r(k))
                out.append(r(v))
            return out
        if t is Atom:
            return ["A", r(obj.value)]
        if t is Transient:
            items = obj.items
            flat = list(items) if obj.kind == "vector" else [
                x for kv in items.items() for x in kv]
            return ["T", obj.kind, *[r(x) for x in flat]]
        if t is Closure:
            return ["C", r(obj.fn), r(obj.env)]
        if t is Macro:
            return ["m", r(obj.closure)]
        if t is Builtin:
            return ["B", obj.name]
        if t is Primitive:
            return ["P", obj.name]
        if t is Future:
            return ["F", obj.fiber]
        if t is ExInfo:
            return ["X", obj.message, r(obj.data), r(obj.cause), r(obj.trace), self.span(obj.span)]
        if t is TraceEntry:
            return ["r", obj.name, self.span(obj.span)]
        if isinstance(obj, N.Node):
            return ["N", obj.unit.hash, obj.id]
        if t is N.CodeUnit:
            return ["U", obj.hash]
        kind = getattr(t, "KIND", None)
        if kind is not None and kind in _FRAMES:
            return ["K", kind, *[r(getattr(obj, f)) for f in t.__slots__]]
        if t is M.Fiber:
            return ["f", *[r(getattr(obj, f)) for f in _FIBER_FIELDS]]
        if t is M.Request:
            return ["q", obj.id, obj.kind, r(obj.data)]
        if t is M.Machine:
            return ["Z", *[r(getattr(obj, f)) for f in _MACHINE_FIELDS]]
        if t is deque:
            return ["l", *[r(x) for x in obj]]
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
            return Transient(e[1], [] if e[1] == "vector" else {})
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
        if tag == "N":
            return self.unit(e[1]).nodes[e[2]]
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
            for name, x in zip(type(obj).__slots__, e[2:]):
                setattr(obj, name, v(x))
        elif tag == "f":
            for name, x in zip(_FIBER_FIELDS, e[1:]):
                setattr(obj, name, v(x))
        elif tag == "q":
            obj.data = v(e[3])
        elif tag == "Z":
            for name, x in zip(_MACHINE_FIELDS, e[1:]):
                setattr(obj, name, v(x))


_UNSET = object()


def _dumps(doc: dict) -> bytes:
    return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 1)


def _loads(blob: bytes) -> dict:
    try:
        doc = json.loads(zlib.decompress(blob))
    except (zlib.error, ValueError) as exc:
        raise SnapshotError(f"not a Flowmetal snapshot: {exc}") from None
    if not isinstance(doc, dict) or doc.get("v") != VERSION:
        version = doc.get("v") if isinstance(doc, dict) else None
        raise SnapshotError(f"snapshot format version {version!r} is not supported "
                            f"(this Flowmetal reads version {VERSION})")
    return doc


def encode_value(value: Any, keep_spans: bool = False) -> bytes:
    """Encode a data value (code forms keep their spans with ``keep_spans``)."""
    return _dumps(_Encoder({}, keep_spans).run(value))


def decode_value(blob: bytes) -> Any:
    doc = _loads(blob)
    return _Decoder(doc["heap"], None, {}).run(doc["root"])


_NAMES_CACHE: list[Any] = [None, None]


def _base_names(base: dict[str, Any]) -> dict[int, str]:
    """id -> name for the base environment's values; computed once per base."""
    if _NAMES_CACHE[0] is not base:
        _NAMES_CACHE[0] = base
        _NAMES_CACHE[1] = {id(v): k for k, v in base.items() if type(v) not in _SCALARS}
    return _NAMES_CACHE[1]


def encode(machine: M.Machine, base: dict[str, Any]) -> bytes:
    """Encode a machine, writing values that are in ``base`` (the prelude) by name."""
    names = _base_names(base)
    saved_glob = machine.glob
    machine._save()
    machine.glob = {k: v for k, v in saved_glob.items() if base.get(k, _UNSET) is not v}
    current = machine.fiber
    try:
        machine.fiber = None
        enc = _Encoder(names, False)
        doc = enc.run(machine)
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
