"""Tab completion for the REPL: symbols, keywords and comma commands.

The word before the cursor is completed from ``Names``: special forms, the session's own
definitions, built-ins and prelude, and (for a word starting with ``:``) the keywords seen
in the session. Names that start with the word come first, then names that contain it.
Each completion shows its argument list (or the first line of its doc) beside it. At the
start of the input, ``,`` completes the comma commands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from .names import Names

__all__ = ["FlowmetalCompleter"]

# The symbol or keyword being typed: the reader's name characters, and ':' for keywords.
_WORD = re.compile(r"[\w*+!\-'?<>=/.&%#$:]*$")
_COMMAND = re.compile(r"^\s*(,[\w-]*)$")


class FlowmetalCompleter(Completer):
    """Completes from ``names``; ``commands`` maps each comma command to its summary."""

    def __init__(self, names: Names, commands: dict[str, str] | None = None) -> None:
        self.names = names
        self.commands = commands or {}

    def get_completions(self, document: Document, complete_event: CompleteEvent
                        ) -> Iterator[Completion]:
        before = document.text_before_cursor
        command = _COMMAND.match(before)
        if command and document.text.count("\n") == 0:
            yield from self._commands(command.group(1))
            return
        if _in_string_or_comment(before):
            return
        word = _WORD.search(before).group()  # type: ignore[union-attr]
        word = word.lstrip("'`~@#")
        if not word:
            return
        candidates = sorted(self.names.keywords) if word.startswith(":") else (
            self.names.symbols())
        for name in _ranked(word, candidates):
            info = self.names.info(name)
            meta = info.meta if info is not None else ""
            yield Completion(name, start_position=-len(word), display_meta=meta)

    def _commands(self, typed: str) -> Iterator[Completion]:
        for name, summary in self.commands.items():
            if name.startswith(typed):
                yield Completion(name, start_position=-len(typed), display_meta=summary)


def _ranked(word: str, candidates: Iterable[str]) -> list[str]:
    """The word itself (its arglists are worth seeing), prefix matches (shortest first),
    then other names containing the word."""
    exact, prefix, inner = [], [], []
    for name in candidates:
        if name == word:
            exact.append(name)
        elif name.startswith(word):
            prefix.append(name)
        elif len(word) > 1 and word in name:
            inner.append(name)
    prefix.sort(key=lambda n: (len(n), n))
    inner.sort(key=lambda n: (len(n), n))
    return exact + prefix + inner


def _in_string_or_comment(text: str) -> bool:
    """True when the end of ``text`` is inside a string or a ``;`` comment."""
    in_string = False
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c == ";":
            newline = text.find("\n", i)
            if newline < 0:
                return True
            i = newline
        elif c == "\\":
            i += 1
        i += 1
    return in_string
