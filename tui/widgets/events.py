"""The event list: the program's log, one row per event, with the step it happened at.

The cursor follows the timeline. Moving it by hand shows that event in the Event tab;
Enter jumps the timeline to the event's step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from .timeline import GLYPHS

__all__ = ["EventTable"]

MAX_ROWS = 20_000


class EventTable(DataTable):
    """Columns: #, seq, step, type, summary. Rows past the fork point are marked ``↳``."""

    DEFAULT_CSS = """
    EventTable {
        height: 1fr;
        overflow-x: hidden;
    }
    """

    @dataclass
    class Chosen(Message):
        """The user moved to (``jump=False``) or picked (``jump=True``) event ``index``."""

        index: int
        jump: bool

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.marks: list[Any] = []
        self._expected: int | None = None  # a row we moved to ourselves: not a choice

    def on_mount(self) -> None:
        self.add_column("#", width=5)
        self.add_column("step", width=7)
        self.add_column("type", width=18)
        self.add_column("what", width=90)  # fixed widths: no re-layout as rows arrive

    def load(self, marks: list[Any], diverged_from: int | None = None) -> None:
        """Show ``marks`` (``timeline.Mark``); rows from index ``diverged_from`` on are new
        in a fork."""
        self._expected = 0
        self.clear()
        self.marks = marks[:MAX_ROWS]
        for mk in self.marks:
            glyph, style, _ = GLYPHS.get(mk.category, GLYPHS["other"])
            new = diverged_from is not None and mk.index >= diverged_from
            num = Text(f"{'↳' if new else ' '}{mk.seq}", style="bold red" if new else "")
            step = Text(f"{mk.step:,}" if mk.applied else "—", style="" if mk.applied
                        else "dim")
            kind = Text.assemble((glyph + " ", style), mk.type)
            self.add_row(num, step, kind, mk.summary()[:90])

    def follow(self, index: int | None) -> None:
        """Put the cursor on event ``index`` without reporting it as a choice."""
        if index is None or not 0 <= index < len(self.marks) or index == self.cursor_row:
            return
        self._expected = index
        self.move_cursor(row=index, animate=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.cursor_row == self._expected:
            self._expected = None
            return
        self.post_message(self.Chosen(event.cursor_row, False))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.Chosen(event.cursor_row, True))
