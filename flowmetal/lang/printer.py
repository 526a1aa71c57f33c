"""The printer: values back to text.

Three entry points, as in Clojure:

- ``pr_str(x)`` prints readable EDN, so ``read_one(pr_str(x)) == x`` for every data value;
- ``print_str(x)`` is what ``print`` shows: strings raw, at every level (``[a]`` for ``["a"]``);
- ``str_of(x)`` is ``str`` of one value: ``nil`` is empty, a string is itself, the rest is
  ``pr_str``.

Like the reader, the printer is iterative (an explicit stack of open collections), so a
100,000-deep list prints without touching Python's recursion limit. Values that are not data
(atoms, functions, errors, transients) print in ``#...`` forms that are not meant to be read.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Iterator
from itertools import chain
from typing import Any

from .data import Atom, Keyword, List, Map, Set, Symbol, Transient, Vector, kw, type_name
from .errors import ExInfo

__all__ = ["pr_brief", "pr_str", "print_str", "str_of"]

# Characters a readable string must escape. Other control characters and lone surrogates
# become \uXXXX so that printed text is always safe to show in a terminal and to encode.
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f-\x9f\ud800-\udfff]')
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def pr_str(value: Any, max_depth: int | None = None, max_length: int | None = None) -> str:
    """Readable text for ``value``: ``(read-string (pr-str x))`` gives back ``x``.

    ``max_depth`` and ``max_length`` are for display (the REPL): a collection nested deeper
    than ``max_depth`` prints as ``...``, and items past ``max_length`` print as one ``...``::

        pr_str(Vector([1, 2, 3]), max_length=2)  # '[1 2 ...]'

    Symbols and keywords print their names as they are, as in Clojure: one made at run time
    with a name the reader rejects (a space, a ``$``) does not read back.
    """
    return _Printer(True, max_depth, max_length).render(value)


def pr_brief(value: Any) -> str:
    """``pr_str`` cut short (3 levels, 10 items) for quoting a value in an error message."""
    return _Printer(True, 3, 10).render(value)


def print_str(value: Any, max_depth: int | None = None, max_length: int | None = None) -> str:
    """Text as ``print`` shows it: like ``pr_str`` but strings are not quoted, at any depth."""
    return _Printer(False, max_depth, max_length).render(value)


def str_of(value: Any) -> str:
    """Clojure's ``str`` of one value: ``nil`` → ``""``, a string as is, others ``pr_str``.

    As in Clojure, a top-level infinity or NaN gives ``Infinity``, ``-Infinity`` or ``NaN``
    (inside a collection it stays ``##Inf``, as ``pr-str`` prints it).
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    return pr_str(value)


def _quote(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is None:
        return '"' + text + '"'
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, text) + '"'


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _int_text(value: int) -> str:
    """Decimal digits of any int; Python's ``str`` refuses ints past ~4300 digits."""
    try:
        return str(value)
    except ValueError:
        return str(decimal.Decimal(value))


def _float_text(value: float) -> str:
    """``repr`` always has a ``.`` or an exponent, so the text reads back as a float."""
    if value != value:
        return "##NaN"
    if value in (math.inf, -math.inf):
        return "##Inf" if value > 0 else "##-Inf"
    return repr(value)


def _is_function(value: Any) -> bool:
    return getattr(type(value), "type_name", None) == "function" and hasattr(value, "name")


class _Open:
    """A collection being printed: its remaining items and how to separate and close them."""

    __slots__ = ("items", "close", "count", "is_map", "atom_id")

    def __init__(self, items: Iterator[Any], close: str, is_map: bool, atom_id: int) -> None:
        self.items = items
        self.close = close
        self.count = 0
        self.is_map = is_map
        self.atom_id = atom_id  # id() of the atom this frame prints, 0 for collections


_END = object()


class _Printer:
    """One printing job; ``readable`` decides whether strings are quoted."""

    def __init__(self, readable: bool, max_depth: int | None, max_length: int | None) -> None:
        self.readable = readable
        self.max_depth = max_depth
        self.max_length = max_length
        self.out: list[str] = []
        self.stack: list[_Open] = []
        self.atoms: set[int] = set()  # atoms being printed, so a self-containing atom ends

    def render(self, value: Any) -> str:
        self.emit(value)
        while self.stack:
            self.step(self.stack[-1])
        return "".join(self.out)

    def step(self, frame: _Open) -> None:
        """Print the next item of the innermost open collection, or close it."""
        item = next(frame.items, _END)
        if item is _END:
            self.finish(frame)
            return
        if frame.count:
            # Clojure's map style, {:a 1, :b 2}: a space inside an entry, ", " between entries.
            self.out.append(", " if frame.is_map and not frame.count % 2 else " ")
        limit = self.max_length
        if limit is not None and frame.count >= (2 * limit if frame.is_map else limit):
            self.out.append("...")
            self.finish(frame)
            return
        frame.count += 1
        self.emit(item)

    def finish(self, frame: _Open) -> None:
        self.out.append(frame.close)
        self.stack.pop()
        self.atoms.discard(frame.atom_id)

    def open(
        self, opener: str, items: Iterator[Any], close: str, is_map: bool = False, atom_id: int = 0
    ) -> None:
        if self.max_depth is not None and len(self.stack) >= self.max_depth:
            self.out.append("...")
            return
        self.out.append(opener)
        self.stack.append(_Open(items, close, is_map, atom_id))

    def emit(self, value: Any) -> None:
        """Print a scalar now, or open a collection whose items ``step`` will print."""
        kind = type(value)
        if kind is str:
            self.out.append(_quote(value) if self.readable else value)
        elif value is None:
            self.out.append("nil")
        elif kind is bool:
            self.out.append("true" if value else "false")
        elif kind is int:
            self.out.append(_int_text(value))
        elif kind is float:
            self.out.append(_float_text(value))
        elif kind is Keyword:
            self.out.append(":" + value.full)
        elif kind is Symbol:
            self.out.append(value.full)
        elif isinstance(value, List):
            self.open("(", iter(value), ")")
        elif isinstance(value, Vector):
            self.open("[", iter(value), "]")
        elif isinstance(value, Map):
            self.open("{", chain.from_iterable(value.items()), "}", is_map=True)
        elif isinstance(value, Set):
            self.open("#{", iter(value), "}")
        else:
            self.emit_other(value)

    def emit_other(self, value: Any) -> None:
        """Subclasses of scalars, and values that are not data (these need not read back)."""
        if isinstance(value, str):
            self.emit(str(value))
        elif isinstance(value, bool):
            self.emit(bool(value))
        elif isinstance(value, int):
            self.emit(int(value))
        elif isinstance(value, float):
            self.emit(float(value))
        elif isinstance(value, Atom):
            self.emit_atom(value)
        elif isinstance(value, Transient):
            self.out.append(f"#transient[{value.kind} {len(value.items)}]")
        elif isinstance(value, ExInfo):
            self.emit_error(value)
        elif _is_function(value):
            self.out.append(f"#<fn {value.name}>" if value.name else "#<fn>")
        else:
            self.out.append(f"#<{type_name(value)}>")

    def emit_atom(self, atom: Atom) -> None:
        if id(atom) in self.atoms:
            self.out.append("#atom[...]")
            return
        self.atoms.add(id(atom))
        self.open("#atom[", iter((atom.value,)), "]", atom_id=id(atom))
        if not self.stack or self.stack[-1].atom_id != id(atom):
            self.atoms.discard(id(atom))  # cut off by max_depth: nothing left open

    def emit_error(self, error: ExInfo) -> None:
        fields = Map({kw("message"): error.message, kw("data"): error.data})
        if error.cause is not None:
            fields[kw("cause")] = error.cause
        self.out.append("#error ")
        self.emit(fields)
