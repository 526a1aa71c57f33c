"""Pretty-printing REPL results: readable EDN laid out to the terminal's width, with caps.

A value that fits on one line prints as ``pr_str`` prints it. A collection that does not
fit is broken: a map puts one entry per line, a sequence fills each line with as many
items as fit and gives an item that itself breaks lines of its own::

    {:id "p-1a2b3c",
     :items [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28
             29 30 ...],
     :owner {:name "Ada", :roles #{:admin :ops}}}

Collections nested deeper than ``max_depth`` print as ``...``, and items past
``max_length`` as one ``...``, so an enormous result never floods the terminal.
"""

from __future__ import annotations

from typing import Any

from ..lang.data import Atom, List, Map, Set, Vector
from ..lang.printer import pr_str

__all__ = ["pretty", "MAX_DEPTH", "MAX_LENGTH"]

MAX_DEPTH = 12
MAX_LENGTH = 100


def pretty(value: Any, width: int = 80, max_depth: int = MAX_DEPTH,
           max_length: int = MAX_LENGTH) -> str:
    """``value`` as readable text, broken over lines to fit ``width`` columns."""
    return _Layout(width, max_length).layout(value, 0, max_depth)


def _parts(value: Any) -> tuple[str, list[Any], str, bool] | None:
    """``(opener, items, closer, is_map)`` of a collection, None for anything else."""
    if isinstance(value, Map):
        return "{", list(value.items()), "}", True
    if isinstance(value, Vector):
        return "[", list(value), "]", False
    if isinstance(value, List):
        return "(", list(value), ")", False
    if isinstance(value, Set):
        return "#{", list(value), "}", False
    if isinstance(value, Atom):
        return "#atom[", [value.value], "]", False
    return None


class _Layout:
    def __init__(self, width: int, max_length: int) -> None:
        self.width = max(20, width)
        self.max_length = max_length

    def layout(self, value: Any, col: int, depth: int) -> str:
        flat = pr_str(value, depth, self.max_length)
        parts = _parts(value)
        if parts is None or depth <= 1 or col + len(flat) <= self.width:
            return flat
        opener, items, closer, is_map = parts
        more = len(items) > self.max_length
        items = items[: self.max_length]
        inner = col + len(opener)
        if is_map:
            entries = [self.entry(k, v, inner, depth - 1) for k, v in items]
            if more:
                entries.append("...")
            return opener + (",\n" + " " * inner).join(entries) + closer
        rendered = [self.layout(item, inner, depth - 1) for item in items]
        if more:
            rendered.append("...")
        return opener + self.fill(rendered, inner) + closer

    def entry(self, key: Any, value: Any, col: int, depth: int) -> str:
        k = self.layout(key, col, depth)
        value_col = col + len(k.rsplit("\n", 1)[-1]) + 1
        v = self.layout(value, value_col, depth)
        if "\n" in v and "\n" not in k and len(k) > 16:
            # A long key pushes its value too far right: put the value under the key.
            v = self.layout(value, col + 1, depth)
            return k + "\n" + " " * (col + 1) + v
        return k + " " + v

    def fill(self, rendered: list[str], col: int) -> str:
        """Pack items onto lines; an item that breaks lines starts a line of its own."""
        out = ""
        line_len = col
        for i, text in enumerate(rendered):
            multi = "\n" in text
            if i == 0:
                out = text
            elif not multi and line_len + 1 + len(text) <= self.width:
                out += " " + text
                line_len += 1 + len(text)
                continue
            else:
                out += "\n" + " " * col + text
            # Nothing goes on the same line after an item that broke lines.
            line_len = self.width if multi else col + len(text)
        return out
