"""Edit the breakpoints: source lines, event kinds, and a condition."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from ..model import Breakpoints, parse_lines

__all__ = ["BreakpointsModal"]


class BreakpointsModal(ModalScreen[Breakpoints | None]):
    """Three fields; Enter in any (or Save) answers the new ``Breakpoints``."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    BreakpointsModal {
        align: center middle;
    }
    BreakpointsModal > Vertical {
        width: 80;
        height: auto;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    BreakpointsModal #bp-error {
        color: $error;
        height: auto;
    }
    BreakpointsModal .buttons {
        height: auto;
        align-horizontal: right;
    }
    """

    def __init__(self, current: Breakpoints, source: str) -> None:
        super().__init__()
        self.current = current
        self.source = source

    def compose(self) -> ComposeResult:
        bp = self.current
        lines = ", ".join(f"{s.rsplit('/', 1)[-1]}:{n}" if s != self.source else str(n)
                          for s, n in sorted(bp.lines))
        with Vertical() as box:
            box.border_title = "Breakpoints (c / C run to the next / previous hit)"
            yield Label(f"Lines of {self.source.rsplit('/', 1)[-1]} (or file.flow:N), "
                        "comma-separated")
            yield Input(lines, placeholder="12, 30", id="bp-lines")
            yield Label("Events: types, effect kinds or kinds of marker")
            yield Input(", ".join(sorted(bp.events)),
                        placeholder="message, http, timer-fired, error", id="bp-events")
            yield Label("Condition: stop only where this is truthy")
            yield Input(bp.condition or "", placeholder="(> amount 100)", id="bp-condition")
            yield Label("", id="bp-error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="bp-save")
                yield Button("Clear all", id="bp-clear")
                yield Button("Cancel", id="bp-cancel")

    def _collect(self) -> Breakpoints | None:
        try:
            lines = parse_lines(self.query_one("#bp-lines", Input).value, self.source)
        except ValueError as exc:
            self.query_one("#bp-error", Label).update(str(exc))
            return None
        events = {e.strip() for e in self.query_one("#bp-events", Input).value.split(",")
                  if e.strip()}
        condition = self.query_one("#bp-condition", Input).value.strip() or None
        return Breakpoints(lines, events, condition)

    @on(Input.Submitted)
    @on(Button.Pressed, "#bp-save")
    def save(self) -> None:
        bps = self._collect()
        if bps is not None:
            self.dismiss(bps)

    @on(Button.Pressed, "#bp-clear")
    def clear(self) -> None:
        self.dismiss(Breakpoints())

    @on(Button.Pressed, "#bp-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
