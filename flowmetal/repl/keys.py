"""The REPL's own keys, on top of prompt-toolkit's Emacs bindings.

=================  ================================================================
Enter              evaluate when the input is complete (our reader decides: brackets
                   in strings and comments don't count); else a new, indented line
Esc Enter          evaluate now, complete or not (an unfinished form reports where)
Tab                at the start of a line, indent it; elsewhere, complete
=================  ================================================================

Everything else is prompt-toolkit's: Ctrl-R searches the history, Up/Down walk it by
prefix, Right (or Ctrl-E) accepts the grey suggestion, Ctrl-C cancels, Ctrl-D exits.
"""

from __future__ import annotations

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.enums import DEFAULT_BUFFER
from prompt_toolkit.filters import Condition, has_completions, has_focus
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from ..lang.reader import is_complete
from .indent import indent_for

__all__ = ["repl_key_bindings", "should_evaluate"]


def should_evaluate(text: str) -> bool:
    """Does Enter evaluate ``text``? Yes when blank, a comma command, or complete."""
    stripped = text.strip()
    return not stripped or stripped.startswith(",") or is_complete(text)


def newline_and_indent(buffer: Buffer) -> None:
    """Break the line at the cursor and indent the new line for the open brackets."""
    before = buffer.document.text_before_cursor
    buffer.insert_text("\n" + " " * indent_for(before))


def _reindent_line(buffer: Buffer) -> None:
    doc = buffer.document
    line_start = doc.cursor_position - len(doc.current_line_before_cursor)
    above = doc.text[:line_start]
    wanted = indent_for(above) if above.strip() else 0
    current = len(doc.current_line) - len(doc.current_line.lstrip(" "))
    buffer.text = doc.text[:line_start] + " " * wanted + doc.text[line_start + current:]
    buffer.cursor_position = line_start + wanted


@Condition
def _blank_before_cursor_on_line() -> bool:
    from prompt_toolkit.application import get_app

    doc = get_app().current_buffer.document
    return not doc.current_line_before_cursor.strip() and doc.line_count > 1


def repl_key_bindings() -> KeyBindings:
    """The bindings described in this module's docstring."""
    kb = KeyBindings()
    editing = has_focus(DEFAULT_BUFFER)  # not the Ctrl-R search field

    @kb.add("enter", filter=editing)
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        state = buffer.complete_state
        if state is not None and state.current_completion is not None:
            buffer.apply_completion(state.current_completion)
            return
        if should_evaluate(buffer.text):
            buffer.validate_and_handle()
        else:
            newline_and_indent(buffer)

    @kb.add("escape", "enter", filter=editing)
    def _force(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    @kb.add("tab", filter=editing & _blank_before_cursor_on_line & ~has_completions)
    def _indent(event: KeyPressEvent) -> None:
        _reindent_line(event.current_buffer)

    return kb
