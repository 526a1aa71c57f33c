"""Finding top-level forms in REPL input and files, without evaluating anything.

The reader turns text into forms but does not say where each one ends in the text; the
REPL needs that to evaluate ``(def a 1) (inc a)`` as two inputs with two results, to split
a piped script, and to show the source of a definition. This scanner agrees with the
reader about what is a string, a comment or a bracket; malformed text still splits (the
reader then reports the error when the piece is evaluated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Piece", "split_forms", "form_at_line"]

# One token: a string (maybe unclosed), a comment, a character escape, a discard, a
# dispatch or plain bracket, a prefix reader macro, or a run of anything else (an atom).
_TOKENS = re.compile(
    r'(?P<string>"[^"\\]*(?:\\.[^"\\]*)*"?)'
    r"|(?P<comment>;[^\n]*|#![^\n]*)"
    r"|(?P<space>[\s,\ufeff]+)"
    r"|(?P<open>#\{|#\(|[(\[{])"
    r"|(?P<close>[)\]}])"
    r"|(?P<prefix>#_|~@|['`~@^])"
    r"|(?P<atom>\\.[^\s,()\[\]{}\";]*|[^\s,()\[\]{}\";]+)",
    re.DOTALL,
)


@dataclass(frozen=True)
class Piece:
    """One top-level form's text, and the line (from 1) where it starts in the whole text."""

    text: str
    line: int


def split_forms(text: str) -> list[Piece]:
    """The top-level forms of ``text`` as pieces of text, comments between them dropped.

    >>> [p.text for p in split_forms("(def a 1) ; one\\n(inc a)")]
    ['(def a 1)', '(inc a)']

    Text left unfinished at the end (an unclosed bracket) is the last piece, so that
    evaluating it reports the read error; a stray closing bracket is a piece of its own.
    """
    pieces: list[Piece] = []
    depth = 0
    start: int | None = None
    for match in _TOKENS.finditer(text):
        kind = match.lastgroup
        if kind in ("space", "comment"):
            continue
        if start is None:
            start = match.start()
        if kind == "open":
            depth += 1
            continue
        if kind == "prefix":
            continue  # belongs to the form that follows
        if kind == "close" and depth:
            depth -= 1
        if depth == 0:
            end = match.end()
            pieces.append(Piece(text[start:end], text.count("\n", 0, start) + 1))
            start = None
    if start is not None:
        pieces.append(Piece(text[start:].rstrip(), text.count("\n", 0, start) + 1))
    return pieces


def form_at_line(text: str, line: int) -> str | None:
    """The top-level form of ``text`` that starts on ``line`` (or spans it), for ``,source``."""
    found = None
    for piece in split_forms(text):
        if piece.line > line:
            break
        found = piece
    if found is None:
        return None
    last_line = found.line + found.text.count("\n")
    return found.text if last_line >= line else None
