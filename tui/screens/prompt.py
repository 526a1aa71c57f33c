"""A one-line question: go to step N, search events, add a watch, a file path..."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

__all__ = ["PromptModal"]


class PromptModal(ModalScreen[str | None]):
    """Asks one question; answers the text (Enter) or None (Escape).

    ``check(text)`` returns an error message to show instead of accepting, or None.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    PromptModal {
        align: center middle;
    }
    PromptModal > Vertical {
        width: 70;
        height: auto;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    PromptModal #prompt-error {
        color: $error;
        height: auto;
    }
    """

    def __init__(self, title: str, *, placeholder: str = "", value: str = "",
                 check: Callable[[str], str | None] | None = None, hint: str = "") -> None:
        super().__init__()
        self.title_ = title
        self.placeholder = placeholder
        self.value = value
        self.check = check
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Label(self.hint, id="prompt-hint")
            yield Label("", id="prompt-error")

    def on_mount(self) -> None:
        self.query_one("#prompt-hint", Label).display = bool(self.hint)

    @on(Input.Submitted, "#prompt-input")
    def submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if self.check is not None:
            problem = self.check(text)
            if problem:
                self.query_one("#prompt-error", Label).update(problem)
                return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
