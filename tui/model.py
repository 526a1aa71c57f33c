"""What one debugging session remembers besides the run: bookmarks, breakpoints, watches,
the last search. Plain Python, so it is tested without a terminal.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from flowmetal.runtime.timeline import Mark, Timeline

__all__ = ["Session", "Breakpoints", "form_text", "parse_lines"]


@dataclass
class Breakpoints:
    """Where ``continue`` stops: source lines, event kinds, and an optional condition.

    ``events`` holds event types (``message``), effect kinds (``http``) or marker
    categories (``error``); a condition alone is checked wherever execution reaches a new
    line of the program's source.
    """

    lines: set[tuple[str, int]] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    condition: str | None = None

    def __bool__(self) -> bool:
        return bool(self.lines or self.events or self.condition)

    def matches(self, mark: Mark) -> bool:
        return bool(self.events & {mark.type, mark.kind or "", mark.category})

    def describe(self) -> str:
        parts = [f"{src.rsplit('/', 1)[-1]}:{line}" for src, line in sorted(self.lines)]
        parts += sorted(self.events)
        if self.condition:
            parts.append(f"when {self.condition}")
        return ", ".join(parts) or "none"


def parse_lines(text: str, default_source: str) -> set[tuple[str, int]]:
    """``"12, approval.flow:30"`` -> {(default, 12), (…/approval.flow, 30)}."""
    out: set[tuple[str, int]] = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        src, _, line = part.rpartition(":")
        if not line.isdigit():
            raise ValueError(f"not a line: {part!r} (write 12 or file.flow:12)")
        source = default_source
        if src and not default_source.endswith(src):
            source = src
        out.add((source, int(line)))
    return out


@dataclass
class Session:
    """The debugger's state for one program, around its ``Timeline``."""

    timeline: Timeline
    bookmarks: list[int] = field(default_factory=list)
    breakpoints: Breakpoints = field(default_factory=Breakpoints)
    watches: list[str] = field(default_factory=list)
    search: str = ""
    diff_mark: int | None = None
    _hits: tuple[str, set[int]] | None = field(default=None, repr=False)

    def toggle_bookmark(self, step: int) -> bool:
        """Add or remove a bookmark; True if it is now set."""
        if step in self.bookmarks:
            self.bookmarks.remove(step)
            return False
        bisect.insort(self.bookmarks, step)
        return True

    def next_bookmark(self, step: int, backward: bool = False) -> int | None:
        if backward:
            i = bisect.bisect_left(self.bookmarks, step) - 1
            return self.bookmarks[i] if i >= 0 else None
        i = bisect.bisect_right(self.bookmarks, step)
        return self.bookmarks[i] if i < len(self.bookmarks) else None

    def search_hit(self, step: int, backward: bool = False) -> Mark | None:
        """The next (previous) event matching the last search."""
        if not self.search:
            return None
        if self._hits is None or self._hits[0] != self.search:
            self._hits = (self.search, {mk.index for mk in self.timeline.search(self.search)})
        hits = self._hits[1]
        return self.timeline.next_mark(step, lambda mk: mk.index in hits, backward)

    def toggle_line(self, source: str, line: int) -> bool:
        key = (source, line)
        if key in self.breakpoints.lines:
            self.breakpoints.lines.discard(key)
            return False
        self.breakpoints.lines.add(key)
        return True

    def event_breakpoint_hit(self, step: int, backward: bool = False) -> Mark | None:
        if not self.breakpoints.events:
            return None
        return self.timeline.next_mark(step, self.breakpoints.matches, backward)


def form_text(sources: dict[str, str], span: Any, limit: int = 120) -> str | None:
    """The source text of the form at ``span``, on one line, cut to ``limit``."""
    if span is None:
        return None
    text = sources.get(span.source)
    if text is None:
        return None
    lines = text.splitlines()
    if not 0 < span.line <= len(lines):
        return None
    end_line = span.end_line or span.line
    end_col = span.end_col or (span.col + 1)
    chunk = lines[span.line - 1:end_line]
    if not chunk:
        return None
    if len(chunk) == 1:
        piece = chunk[0][span.col - 1:end_col - 1]
    else:
        piece = "\n".join([chunk[0][span.col - 1:], *chunk[1:-1], chunk[-1][:end_col - 1]])
    flat = " ".join(piece.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
