"""The timeline scrubber: the whole run in one strip, one column per stretch of steps.

The top row marks the events of the log by kind; the bottom row is the track, with the
cursor at the current step, bookmarks and the point where a fork left its parent.

| Key | Action |
|---|---|
| ← / → | one step back / forward |
| shift+← / shift+→ | one column back / forward |
| home / end | first / last step |

Clicking a column jumps to its first step.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

__all__ = ["Timeline", "GLYPHS"]

# category -> (glyph, style, priority when several events share a column)
GLYPHS: dict[str, tuple[str, str, int]] = {
    "error": ("✖", "bold red", 7),
    "effect": ("◆", "bold yellow", 6),
    "message": ("●", "bold magenta", 5),
    "timer": ("◇", "bold cyan", 4),
    "control": ("▼", "bold white", 3),
    "done": ("■", "bold green", 2),
    "output": ("•", "green", 1),
    "other": ("·", "bright_black", 0),
}


class Timeline(Widget, can_focus=True):
    """A scrubber over ``total`` machine steps with event markers."""

    BINDINGS = [
        Binding("left", "move(-1)", "Back", key_display="←"),
        Binding("right", "move(1)", "Step", key_display="→"),
        Binding("shift+right", "move_column(1)", "Column ▶", show=False),
        Binding("shift+left", "move_column(-1)", "◀ Column", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    DEFAULT_CSS = """
    Timeline {
        height: 2;
        width: 1fr;
        padding: 0 1;
    }
    Timeline:focus {
        background: $boost;
    }
    """

    step: reactive[int] = reactive(0, always_update=False)
    """The step under the cursor; setting it posts ``StepSelected``."""

    total: reactive[int] = reactive(0)
    """How many steps the run has (the last valid step)."""

    @dataclass
    class StepSelected(Message):
        """The cursor moved to ``step``."""

        timeline: Timeline
        step: int

        @property
        def control(self) -> Timeline:
            return self.timeline

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.marks: list[tuple[int, str]] = []
        self.bookmarks: set[int] = set()
        self.fork_step: int | None = None

    def validate_step(self, step: int) -> int:
        return max(0, min(step, self.total))

    def watch_step(self, step: int) -> None:
        self.post_message(self.StepSelected(self, step))
        self.refresh()

    def watch_total(self, total: int) -> None:
        self.refresh()

    # -- rendering --------------------------------------------------------------------------

    def _column(self, step: int, width: int) -> int:
        if self.total <= 0 or width <= 1:
            return 0
        return min(width - 1, step * (width - 1) // self.total)

    def render(self) -> Text:
        width = max(1, self.content_size.width)
        cells: list[tuple[str, str, int]] = [("·", "bright_black", -1)] * width
        for step, category in self.marks:
            glyph = GLYPHS.get(category, GLYPHS["other"])
            col = self._column(step, width)
            if glyph[2] > cells[col][2]:
                cells[col] = glyph
        cursor = self._column(self.step, width)
        top = Text()
        for i, (glyph, style, _prio) in enumerate(cells):
            top.append(glyph, style + (" reverse" if i == cursor else ""))
        track = ["━"] * width
        styles = ["blue"] * width
        for b in self.bookmarks:
            col = self._column(b, width)
            track[col], styles[col] = "★", "bold yellow"
        if self.fork_step is not None:
            col = self._column(self.fork_step, width)
            track[col], styles[col] = "┼", "bold red"
        track[cursor], styles[cursor] = "▲", "bold reverse"
        bottom = Text()
        for ch, style in zip(track, styles):
            bottom.append(ch, style)
        return Text("\n").join([top, bottom])

    # -- mouse and actions ------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        width = max(1, self.content_size.width)
        x = event.x - self.gutter.left
        if 0 <= x < width and width > 1:
            self.step = (x * self.total + width - 2) // (width - 1)
        self.focus()

    def action_move(self, delta: int) -> None:
        self.step = self.step + delta

    def action_move_column(self, delta: int) -> None:
        width = max(2, self.content_size.width)
        self.step = self.step + delta * max(1, self.total // (width - 1))

    def action_jump(self, where: int) -> None:
        self.step = self.total if where < 0 else where

    # -- public -----------------------------------------------------------------------------

    def set_marks(self, marks: list[tuple[int, str]], total: int) -> None:
        """Show ``(step, category)`` markers over a run of ``total`` steps."""
        self.marks = marks
        self.total = total
        self.refresh()
