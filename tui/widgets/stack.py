"""The continuation stack: every fiber's frames, innermost first, with function and place.

Moving the cursor selects a frame (``FrameSelected``): its bindings and its form are shown.
Row 0 of a fiber is its registers: what it evaluates, returns or waits for now.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from ..messages import FrameSelected

__all__ = ["StackTable"]

_MAX_FRAMES = 300


class StackTable(DataTable):
    """One row per frame: fiber, frame kind, function, file:line."""

    DEFAULT_CSS = """
    StackTable {
        height: 1fr;
        overflow-x: hidden;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.frame_rows: list[tuple[int, int]] = []
        self._expected: int | None = None  # a row we moved to ourselves: not a choice

    def on_mount(self) -> None:
        self.add_column("fiber", width=3)
        self.add_column("frame", width=7)
        self.add_column("function", width=15)
        self.add_column("where", width=20)

    def show(self, view: Any, keep: tuple[int, int] | None = None) -> None:
        """Fill from a ``StepView``; keep the cursor on ``keep`` (fiber, frame) if there."""
        self.clear()
        self.frame_rows = []
        for fv in view.fibers:
            mark = "▶" if fv.current else " "
            shown = fv.frames[:_MAX_FRAMES]
            for i, frame in enumerate(shown):
                fib = Text(f"{mark}{fv.id}" if i == 0 else "", style="bold" if fv.current
                           else "")
                kind = frame.kind if i else f"{frame.kind}" + (f" ({fv.status})"
                                                              if fv.status != "run" else "")
                where = ""
                if frame.span is not None:
                    where = (f"{frame.span.source.rsplit('/', 1)[-1]}:{frame.span.line}"
                             f":{frame.span.col}")
                self.add_row(fib, kind, frame.fn_name or "", where)
                self.frame_rows.append((fv.id, i))
            if len(fv.frames) > _MAX_FRAMES:
                self.add_row("", "…", f"{len(fv.frames) - _MAX_FRAMES} more frames", "")
                self.frame_rows.append((fv.id, _MAX_FRAMES - 1))
            if not fv.frames:
                self.add_row(Text(f"{mark}{fv.id}"), fv.status, "", "")
                self.frame_rows.append((fv.id, 0))
        row = self.frame_rows.index(keep) if keep in self.frame_rows else 0
        if self.frame_rows:
            self._expected = row
            self.move_cursor(row=row, animate=False)

    def selected(self) -> tuple[int, int] | None:
        if not self.frame_rows or not 0 <= self.cursor_row < len(self.frame_rows):
            return None
        return self.frame_rows[self.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.cursor_row == self._expected:
            self._expected = None
            return
        sel = self.selected()
        if sel is not None:
            self.post_message(FrameSelected(*sel))
