"""F1: every key of the screen below, grouped as in the footer, and what it does."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

__all__ = ["HelpScreen", "key_rows"]


def key_rows(bindings: list[Binding]) -> list[tuple[str, str]]:
    """``(keys, description)`` for each binding, keys shown as a user types them."""
    rows = []
    for b in bindings:
        if not isinstance(b, Binding):
            continue
        keys = " / ".join(_key_name(k) for k in b.key.split(","))
        rows.append((keys, b.tooltip or b.description))
    return rows


_NAMES = {"slash": "/", "apostrophe": "'", "quotation_mark": '"', "greater_than_sign": ">",
          "less_than_sign": "<", "equals_sign": "=", "question_mark": "?", "full_stop": ".",
          "comma": ",", "escape": "Esc", "enter": "Enter", "right": "→", "left": "←",
          "home": "Home", "end": "End", "shift+right": "Shift+→", "shift+left": "Shift+←",
          "f1": "F1", "ctrl+p": "Ctrl+P", "tab": "Tab"}


def _key_name(key: str) -> str:
    key = key.strip()
    return _NAMES.get(key, key)


class HelpScreen(ModalScreen[None]):
    """Lists ``rows`` (``(keys, what)``); any of Esc, F1 or q closes it."""

    BINDINGS = [Binding("escape,f1,q", "close", "Close")]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > Vertical {
        width: 110;
        height: 90%;
        border: round $accent;
        background: $surface;
    }
    HelpScreen DataTable {
        height: 1fr;
    }
    """

    def __init__(self, title: str, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_ = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_
            box.border_subtitle = "Esc closes · Ctrl+P: command palette"
            yield DataTable(cursor_type="row", id="help-keys")
            yield Label(" Keys that can't act at this step are greyed out in the footer.")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("key", width=16)
        table.add_column("action")
        for keys, what in self.rows:
            table.add_row(keys, what)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
