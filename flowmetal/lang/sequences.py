"""Higher-order sequence functions as machine frames: ``map``, ``mapv``, ``filter``,
``remove``, ``keep``, ``reduce``, ``some``, ``every?``.

Each is a primitive that pushes a ``SeqK`` frame and calls the function on the first
item; every time the function returns, the frame folds the result in and calls it on the
next item. The loop is machine state, so the function may wait on any effect (a webhook
inside a ``map``) and the whole computation still snapshots as data. When the function is
a pure built-in (``(reduce + xs)``), nothing can suspend and the loop runs inline.
"""

from __future__ import annotations

from typing import Any

from .core.registry import Builtin
from .core.values import seq_items
from .data import List, Vector
from .functions import PRIMITIVES, Primitive
from .machine import RETURN, Machine, SeqK
from .nodes import builtin_error

__all__ = ["step"]

_NONE = object()


def _finish(op: str, acc: Any) -> Any:
    if op == "mapv":
        return Vector(acc)
    if op in ("map", "filter", "remove", "keep"):
        return List(acc)
    if op == "some":
        return None
    if op == "every?":
        return True
    return acc  # reduce


def _fold(frame: SeqK, value: Any) -> bool:
    """Fold the function's result for item ``frame.i`` in; False to stop early."""
    op = frame.op
    if op == "map" or op == "mapv":
        frame.acc.append(value)
    elif op == "filter":
        if value is not None and value is not False:
            frame.acc.append(frame.items[frame.i])
    elif op == "remove":
        if value is None or value is False:
            frame.acc.append(frame.items[frame.i])
    elif op == "keep":
        if value is not None:
            frame.acc.append(value)
    elif op == "reduce":
        frame.acc = value
    elif op == "some":
        if value is not None and value is not False:
            frame.acc = value
            return False
    elif op == "every?":
        if value is None or value is False:
            frame.acc = False
            return False
    return True


def _args(frame: SeqK) -> list[Any]:
    item = frame.items[frame.i]
    return [frame.acc, item] if frame.op == "reduce" else [item]


def step(m: Machine, frame: SeqK) -> None:
    """Resume after the function returned ``m.val`` for item ``frame.i``."""
    if not _fold(frame, m.val):
        m.val = frame.acc
        m.mode = RETURN
        return
    frame.i += 1
    _next(m, frame)


def _next(m: Machine, frame: SeqK) -> None:
    items, f = frame.items, frame.f
    if type(f) is Builtin and f.pure:
        _inline(m, frame)
        return
    if frame.i >= len(items):
        m.val = _finish(frame.op, frame.acc)
        m.mode = RETURN
        return
    m.stack.append(frame)
    m.apply(f, _args(frame), None)


def _inline(m: Machine, frame: SeqK) -> None:
    """The whole loop in Python: a pure built-in can't suspend or call back."""
    f, items, fn = frame.f, frame.items, frame.f.fn
    n = len(items)
    arity = 2 if frame.op == "reduce" else 1
    if arity < f.min_args or (f.max_args is not None and arity > f.max_args):
        m.apply(f, _args(frame), None)  # reports the arity error
        return
    while frame.i < n:
        try:
            value = fn(*_args(frame))
        except Exception as exc:
            raise builtin_error(f, exc, m.node) from None
        if not _fold(frame, value):
            m.val = frame.acc
            m.mode = RETURN
            return
        frame.i += 1
    m.val = _finish(frame.op, frame.acc)
    m.mode = RETURN


def _start(op: str, m: Machine, f: Any, coll: Any, acc: Any, node: Any = None) -> None:
    items = seq_items(coll, op)
    if type(items) is not Vector and type(items) is not List:
        items = Vector(items)
    _next(m, SeqK(op, f, items, 0, acc, node))


def _register(name: str, op: str, doc: str, arglists: str) -> None:
    def handler(m: Machine, args: list[Any], node: Any) -> None:
        _start(op, m, args[0], args[1], [] if op in ("map", "mapv", "filter", "remove",
                                                    "keep") else None, node)

    PRIMITIVES[name] = Primitive(name, handler, doc, arglists, 2, 2)


_register("core/map1", "map", "map of one collection, as a machine loop.", "[f coll]")
_register("core/mapv1", "mapv", "mapv of one collection, as a machine loop.", "[f coll]")
_register("core/filter", "filter", "filter as a machine loop.", "[pred coll]")
_register("core/remove", "remove", "remove as a machine loop.", "[pred coll]")
_register("core/keep", "keep", "keep as a machine loop.", "[f coll]")
_register("core/some", "some", "some as a machine loop.", "[pred coll]")
_register("core/every?", "every?", "every? as a machine loop.", "[pred coll]")


def _reduce(m: Machine, args: list[Any], node: Any) -> None:
    if len(args) == 3:
        _start("reduce", m, args[0], args[2], args[1], node)
        return
    f, coll = args
    items = seq_items(coll, "reduce")
    if not items:
        m.apply(f, [], node)
        return
    rest = Vector(items[1:]) if len(items) > 1 else Vector()
    _start("reduce", m, f, rest, items[0], node)


PRIMITIVES["core/reduce"] = Primitive("core/reduce", _reduce, "reduce as a machine loop.",
                                      "[f coll] [f init coll]", 2, 3)
