"""The source pane: the file of the selected frame, its current form highlighted.

Only the lines that fit are rendered, centred on the form, so moving through a long file
costs the same as a short one.
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual.widget import Widget

__all__ = ["SourceView"]

_FORM = Style(bgcolor="#3a3a7a", bold=True)


class SourceView(Widget):
    """Shows ``text`` (the source called ``name``) around ``span``."""

    DEFAULT_CSS = """
    SourceView {
        height: 1fr;
        width: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.name_: str | None = None
        self.text: str | None = None
        self.span: Any = None
        self.breakpoints: set[int] = set()

    def show(self, name: str | None, text: str | None, span: Any,
             breakpoints: set[int] | None = None) -> None:
        self.name_, self.text, self.span = name, text, span
        self.breakpoints = breakpoints or set()
        self.refresh()

    def render(self) -> RenderableType:
        if self.text is None:
            if self.name_ is None:
                return Text("no source position for this frame", style="dim italic")
            return Text(f"the source of {self.name_} is not in the store", style="dim italic")
        lines = self.text.splitlines() or [""]
        height = max(1, self.content_size.height)
        line = self.span.line if self.span is not None else 1
        end_line = getattr(self.span, "end_line", 0) or line
        start = max(1, min(line - height // 3, len(lines) - height + 1))
        end = min(len(lines), start + height - 1)
        syntax = Syntax(self.text, "clojure", line_numbers=True, line_range=(start, end),
                        highlight_lines={line} if self.span is not None else set(),
                        theme="ansi_dark", word_wrap=False,
                        indent_guides=False)
        if self.span is not None:
            end_col = getattr(self.span, "end_col", 0) or (self.span.col + 1)
            syntax.stylize_range(_FORM, (line, self.span.col - 1), (end_line, end_col - 1))
        for bp in self.breakpoints:
            if start <= bp <= end:
                syntax.stylize_range(Style(color="red", bold=True), (bp, 0), (bp, 1))
        return syntax
