"""Turning results and errors into text: error reports, and the colours of highlighting.

An error report names its kind (read, compile or runtime), where it happened, the line of
source with a caret under the column, and the Flowmetal stack, never a Python traceback::

    <repl 3>:1:26: runtime error (type-error): * expects a number, got string
      (defn sq "square it" [x] (* x x))
                               ^
      at sq (<repl 3>:1:26)
      at <toplevel> (<repl 4>:1:1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prompt_toolkit.formatted_text import FormattedText, PygmentsTokens
from prompt_toolkit.styles import Style
from pygments.token import Token

from ..lang.data import Map, kw
from ..lang.printer import pr_str
from ..runtime.codec import from_json
from .lexer import FlowmetalLexer

__all__ = ["runtime_error_report", "highlight", "STYLE", "UI_STYLE"]

# ANSI colours, so highlighting follows the terminal's own theme (light or dark).
_TOKEN_COLOURS = {
    Token.Keyword: "ansimagenta bold",
    Token.Keyword.Constant: "ansicyan",
    Token.Name.Builtin: "ansiblue",
    Token.Name.Builtin.Pseudo: "ansiyellow bold",
    Token.Name.Function: "ansigreen bold",
    Token.Name.Tag: "ansicyan",
    Token.Literal.String: "ansigreen",
    Token.Literal.String.Symbol: "ansicyan",
    Token.Literal.String.Escape: "ansiyellow",
    Token.Literal.Number: "ansicyan",
    Token.Comment: "ansibrightblack italic",
    Token.Operator: "ansiyellow",
}

UI_STYLE = {
    "prompt": "ansigreen bold",
    "continuation": "ansibrightblack",
    "note": "ansibrightblack",
    "error": "ansired",
    "error.head": "ansired bold",
    "mock": "ansiyellow bold",
    "matching-bracket.cursor": "bg:ansibrightblack bold",
    "matching-bracket.other": "bg:ansibrightblack bold",
}


def _style_name(token: Any) -> str:
    return "pygments." + ".".join(token).lower() if token else "pygments"


STYLE = Style.from_dict({**{_style_name(t): c for t, c in _TOKEN_COLOURS.items()}, **UI_STYLE})

_LEXER = FlowmetalLexer(stripnl=False, ensurenl=False)


def highlight(text: str) -> FormattedText:
    """``text`` (Flowmetal code or a printed value) as highlighted formatted text."""
    return FormattedText(PygmentsTokens(list(_LEXER.get_tokens(text))).__pt_formatted_text__())


def _split_where(where: str | None) -> tuple[str, int, int] | None:
    """``"<repl 3>:1:26"`` -> ``("<repl 3>", 1, 26)``."""
    if not where:
        return None
    parts = where.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


def snippet(where: str | None, source_text: Callable[[str], str | None]) -> list[str]:
    """The source line at ``where`` and a caret under its column (empty if unknown)."""
    place = _split_where(where)
    if place is None:
        return []
    source, line, col = place
    text = source_text(source)
    if text is None:
        return []
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return []
    return ["  " + lines[line - 1], "  " + " " * (max(col, 1) - 1) + "^"]


def runtime_error_report(error: dict, source_text: Callable[[str], str | None]) -> str:
    """The report for an error a program threw and did not catch (as the log stores it)."""
    lines: list[str] = []
    _report(error, source_text, lines, caused=False)
    return "\n".join(lines)


def _report(error: dict, source_text: Callable[[str], str | None], lines: list[str],
            caused: bool) -> None:
    kind = f"runtime error ({error.get('type') or 'error'})"
    where = error.get("where")
    head = f"{where}: {kind}: " if where else f"{kind}: "
    lines.append(("caused by: " if caused else "") + head + str(error.get("message", "")))
    lines.extend(snippet(where, source_text))
    for name, place in error.get("trace") or []:
        lines.append(f"  at {name} ({place or '?'})")
    extra = _extra_data(error.get("data"))
    if extra:
        lines.append(f"  data: {extra}")
    cause = error.get("cause")
    if isinstance(cause, dict):
        _report(cause, source_text, lines, caused=True)


def _extra_data(data: Any) -> str:
    """The error's data map without ``:type`` (already shown), or a thrown non-error value."""
    if data is None:
        return ""
    try:
        value = from_json(data)
    except (TypeError, ValueError):
        return ""
    if isinstance(value, Map):
        value = value.dissoc(kw("type"))
        if not value:
            return ""
    return pr_str(value, 4, 20)
