"""How far to indent the next line of unfinished input, Clojure style.

- inside ``[`` or ``{`` (or ``#{``): one column past the bracket, lining up the items;
- inside ``(`` whose head is a definition or a block form (``defn``, ``let``, ``fn``,
  ``when``...): two columns past the paren, like a body;
- inside any other ``(``: under the first argument when it is on the paren's line,
  otherwise one column past the paren.

    (defn f [x]
      (let [a 1
            b 2]
        (+ a
           b)))
"""

from __future__ import annotations

import re

__all__ = ["indent_for", "BODY_FORMS"]

BODY_FORMS = frozenset({
    "fn", "let", "loop", "do", "try", "catch", "finally", "when", "when-not", "when-let",
    "when-some", "if-let", "doseq", "dotimes", "while", "for", "case", "cond", "condp",
    "comment", "async", "binding", "with-open", "def", "defn", "defn-", "defmacro",
    "defmethod", "defmulti", "defprotocol", "defrecord", "cond->", "as->", "letfn",
})

_TOKENS = re.compile(
    r'"[^"\\]*(?:\\.[^"\\]*)*"?|;[^\n]*|#![^\n]*|\\.|#\{|#\(|[()\[\]{}]'
    r"|[^\s,()\[\]{}\";]+|[\s,]+",
    re.DOTALL,
)


def _column(text: str, i: int) -> int:
    """The column (from 0) of offset ``i`` on its line."""
    return i - (text.rfind("\n", 0, i) + 1)


def indent_for(text: str) -> int:
    """The indentation (in spaces) for a new line after ``text``."""
    stack: list[tuple[int, str]] = []  # (offset of the opener, opener)
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("(", "[", "{", "#{", "#("):
            stack.append((match.end() - 1, token))
        elif token in (")", "]", "}") and stack:
            stack.pop()
    if not stack:
        return 0
    at, opener = stack[-1]
    column = _column(text, at)
    if opener != "(" and opener != "#(":
        return column + 1
    inner = list(_TOKENS.finditer(text, at + 1))
    words = [m for m in inner if not m.group().isspace() and m.group()[:1] not in (",", ";")]
    if not words:
        return column + 1
    head = words[0].group()
    if head in BODY_FORMS or head.startswith(("def", "with-")):
        return column + 2
    line_end = text.find("\n", at)
    if len(words) > 1 and (line_end < 0 or words[1].start() < line_end):
        return _column(text, words[1].start())
    return column + 1
