"""The reader: Flowmetal source text to forms (plain data).

    forms = read("(defn f [x] (* x 2))", source="job.flow")

Forms are the data types of ``data.py``. Every ``Symbol`` carries the ``Span`` it was read
from, and so does every ``List``, ``Vector``, ``Map`` and ``Set`` (set on the instance), so
later stages can point at the code. A span's ``end_line``/``end_col`` is the position just
past the form's last character; lines and columns count from 1, columns in characters.

The reader is iterative: open collections and pending reader macros live on an explicit
stack, so nesting is limited by memory, never by Python's recursion limit. Any malformed text
raises ``ReadError`` (and nothing else) with the span of the fault and its source line;
``incomplete`` is set when more text could fix it (an unclosed bracket or string), which is
how the REPL's ``is_complete`` decides whether Enter evaluates.

Syntax beyond EDN: ``'x`` ``\\`x`` ``~x`` ``~@x`` ``@x`` expand to ``(quote x)``,
``(quasiquote x)``, ``(unquote x)``, ``(unquote-splicing x)``, ``(deref x)``; ``#(...)``
expands to ``(fn [%1 %2 & %&] (...))``; ``#_`` discards the next form; ``#!`` starts a
comment (for shebang lines), like ``;``.
"""

from __future__ import annotations

import decimal
import math
import re
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from .data import List, Map, Set, Span, Symbol, Vector, kw
from .errors import ReadError
from .printer import pr_str

__all__ = ["read", "read_one", "is_complete", "open_depth"]

# Whitespace (commas included, and a byte-order mark) and ``;`` comments, skipped together.
_SKIP = re.compile(r"(?:[\s,\ufeff]+|;[^\n]*)*")
# A token runs until whitespace or a character that starts or ends another form.
_TOKEN = re.compile(r"""[^\s,\ufeff()\[\]{}";@^`~\\]+""")
# The inside of a string: stops at the closing quote, or at the end of the text.
_STRING_BODY = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
_INT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]*(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)")
# Clojure's rule: a digit first, or + - . then a digit, makes a number (or an invalid one).
_NUMERIC = re.compile(r"[+\-.]?\d")
_LEADING_ZERO = re.compile(r"[+-]?0[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?")
# Characters allowed in symbol and keyword names: letters, digits and these (Clojure's set,
# plus ``%`` for ``#()`` arguments and ``#`` for gensym-style names such as ``x#``).
_BAD_NAME_CHAR = re.compile(r"[^\w*+!\-'?<>=/.&%#]")
_FN_ARG = re.compile(r"%(?:&|[1-9][0-9]*)")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_DEPTH_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|;[^\n]*|#![^\n]*|\\.|[()\[\]{}]', re.DOTALL)

_LITERALS: dict[str, Any] = {"nil": None, "true": True, "false": False}
_SYMBOLIC = {"Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_MAX_FN_ARG = 20  # Clojure's limit on fixed parameters; also stops ``%99999999`` from exploding

# Open collections: the closing character and the noun error messages use.
_CLOSERS = {"list": ")", "vector": "]", "map": "}", "set": "}", "fn": ")"}
_NOUNS = {"list": "list", "vector": "vector", "map": "map", "set": "set", "fn": "#() function"}
_STRAY = {")": "list", "]": "vector", "}": "map or set"}
# Reader macros that wrap the next form: what they expand to and how errors name them.
_PREFIXES = {
    "'": ("quote", "quote (')"),
    "`": ("quasiquote", "syntax quote (`)"),
    "~": ("unquote", "unquote (~)"),
    "~@": ("unquote-splicing", "unquote-splicing (~@)"),
    "@": ("deref", "deref (@)"),
    "#_": ("", "discard (#_)"),
}
_DISPATCH_ERRORS = {
    '"': 'Regex literals (#"...") are not supported; use a string',
    "'": "Var quote (#') is not supported",
    ":": "Namespaced map literals (#:ns{...}) are not supported",
    "?": "Reader conditionals (#?) are not supported",
    "^": "Metadata (#^) is not supported",
    "=": "Read-time evaluation (#=) is not supported",
}


def read(text: str, source: str = "<string>") -> list[Any]:
    """Every top-level form in ``text``, in order; ``source`` names the text in spans."""
    return _Reader(text, source).read()


def read_one(text: str, source: str = "<string>") -> Any:
    """The first form in ``text``, as ``read-string`` wants it.

    Like Clojure's ``read-string``, reading stops after the first form: whatever follows,
    even malformed text, is ignored. Text with no form at all is an (incomplete) error.
    """
    return _Reader(text, source).read_one()


def is_complete(text: str) -> bool:
    """False only while more typing could finish the text (an unclosed bracket or string).

    The REPL evaluates on Enter when this is true; text with any other error (a stray ``)``,
    a bad escape) counts as complete, so evaluating it shows the error.
    """
    try:
        _Reader(text, "<repl>").read()
    except ReadError as error:
        return not error.incomplete
    return True


def open_depth(text: str) -> int:
    """How many brackets are open at the end of ``text``, for the REPL's continuation prompt.

    Brackets in strings and comments don't count; unlike ``read`` this never fails, so
    text with errors still gets a depth.
    """
    depth = 0
    for match in _DEPTH_TOKENS.finditer(text):
        token = match.group()
        if token in ("(", "[", "{"):
            depth += 1
        elif token in (")", "]", "}") and depth:
            depth -= 1
    return depth


def _parse_int(token: str) -> int:
    """``int`` of a checked decimal token; Python's ``int`` refuses past ~4300 digits."""
    try:
        return int(token)
    except ValueError:
        return int(decimal.Decimal(token))


def _line_starts(text: str) -> list[int]:
    starts = [0]
    at = text.find("\n")
    while at >= 0:
        starts.append(at + 1)
        at = text.find("\n", at + 1)
    return starts


_SOURCE_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _quoted(text: str) -> str:
    """Source text quoted in a read error, ``')'``: the text is not a value, so not ``pr-str``;
    characters that don't show (a newline, a control character) are escaped."""
    shown = "".join(
        c if c.isprintable() else _SOURCE_ESCAPES.get(c) or f"\\u{ord(c):04x}" for c in text)
    return "'" + shown + "'"


class _Frame:
    """An open collection, or a reader macro still waiting for the form it applies to."""

    __slots__ = ("kind", "start", "width", "items", "starts", "arity", "rest")

    def __init__(self, kind: str, start: int, width: int) -> None:
        self.kind = kind  # a key of _CLOSERS, or a key of _PREFIXES for a reader macro
        self.start = start  # index of the opening character
        self.width = width  # length of the opener: "(" is 1, "#{" and "~@" are 2
        self.items: list[Any] = []
        self.starts: list[int] = []  # where each item began, for duplicate-key errors
        self.arity = 0  # for #(): the highest %n seen
        self.rest = False  # for #(): whether %& was seen


class _Reader:
    """One pass over one text. The main loop skips blanks and hands each form's first
    character to a handler; finished values go to ``deliver``, which feeds the innermost
    open frame, or the top-level list."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.stack: list[_Frame] = []
        self.forms: list[Any] = []
        self.fn_frame: _Frame | None = None  # the open #(), if any: they cannot nest
        self.line_starts = _line_starts(text)  # index of each line's first character
        self.handlers: dict[str, Callable[[int], None]] = {
            "(": self.open_list,
            "[": self.open_vector,
            "{": self.open_map,
            ")": self.close,
            "]": self.close,
            "}": self.close,
            '"': self.read_string,
            "'": self.read_prefix,
            "`": self.read_prefix,
            "~": self.read_prefix,
            "@": self.read_prefix,
            "#": self.read_dispatch,
            "\\": self.read_character,
            "^": self.read_metadata,
        }

    # -- driving -----------------------------------------------------------------------------

    def read(self, limit: int | None = None) -> list[Any]:
        text, end, handlers, forms = self.text, len(self.text), self.handlers, self.forms
        while limit is None or len(forms) < limit:
            i = _SKIP.match(text, self.pos).end()
            if i >= end:
                if self.stack:
                    raise self.unclosed(self.stack[-1])
                break
            handlers.get(text[i], self.read_token)(i)
        return forms

    def read_one(self) -> Any:
        forms = self.read(limit=1)
        if not forms:
            end = len(self.text)
            raise self.error("Expected a form, found end of input", end, incomplete=True)
        return forms[0]

    def deliver(self, value: Any, start: int, end: int) -> None:
        """Give a finished form to whatever is waiting for it, applying reader macros."""
        stack = self.stack
        while stack:
            frame = stack[-1]
            if frame.kind in _CLOSERS:
                frame.items.append(value)
                frame.starts.append(start)
                return
            stack.pop()
            if frame.kind == "#_":
                return
            head_span = self.span(frame.start, frame.start + frame.width)
            value = List((Symbol(_PREFIXES[frame.kind][0], head_span), value))
            value.span = self.span(frame.start, end)
            start = frame.start
        self.forms.append(value)

    # -- collections -------------------------------------------------------------------------

    def open(self, kind: str, i: int, width: int) -> _Frame:
        frame = _Frame(kind, i, width)
        self.stack.append(frame)
        self.pos = i + width
        return frame

    def open_list(self, i: int) -> None:
        self.open("list", i, 1)

    def open_vector(self, i: int) -> None:
        self.open("vector", i, 1)

    def open_map(self, i: int) -> None:
        self.open("map", i, 1)

    def close(self, i: int) -> None:
        char = self.text[i]
        if not self.stack:
            raise self.error(f"Unexpected {_quoted(char)} with no open {_STRAY[char]}", i)
        frame = self.stack[-1]
        closer = _CLOSERS.get(frame.kind)
        if closer is None:
            raise self.error(
                f"Expected a form after {_PREFIXES[frame.kind][1]}, found {_quoted(char)}", i)
        if closer != char:
            raise self.error(
                f"Expected {_quoted(closer)} to close the {_NOUNS[frame.kind]} opened at "
                f"{self.where(frame.start)}, found {_quoted(char)}",
                i,
            )
        self.stack.pop()
        self.pos = i + 1
        span = self.span(frame.start, i + 1)
        value = self.build(frame, span)
        self.deliver(value, frame.start, i + 1)

    def build(self, frame: _Frame, span: Span) -> Any:
        kind = frame.kind
        if kind == "list":
            value: Any = List(frame.items)
        elif kind == "vector":
            value = Vector(frame.items)
        elif kind == "fn":
            return self.build_fn(frame, span)
        else:
            try:
                value = self.build_map(frame) if kind == "map" else self.build_set(frame)
            except RecursionError:  # comparing keys nested thousands deep
                raise self.error("Keys nested too deeply to compare", frame.start) from None
        value.span = span
        return value

    def build_map(self, frame: _Frame) -> Map:
        items = frame.items
        if len(items) % 2:
            raise self.error(
                f"The map opened at {self.where(frame.start)} has an odd number of forms "
                f"({len(items)}); every key needs a value",
                frame.start,
            )
        value = Map()
        for index in range(0, len(items), 2):
            key = items[index]
            if key in value:
                raise self.duplicate(key, "key", frame, frame.starts[index])
            value[key] = items[index + 1]
        return value

    def build_set(self, frame: _Frame) -> Set:
        value = Set(frame.items)
        if len(value) != len(frame.items):
            seen = Map()  # compares members as = does, as the set did
            for item, start in zip(frame.items, frame.starts):
                if item in seen:
                    raise self.duplicate(item, "item", frame, start)
                seen[item] = None
        return value

    def duplicate(self, item: Any, what: str, frame: _Frame, start: int) -> ReadError:
        shown = pr_str(item, max_depth=3, max_length=5)
        noun = _NOUNS[frame.kind]
        where = self.where(frame.start)
        return self.error(f"Duplicate {what} {shown} in the {noun} opened at {where}", start)

    # -- #() functions -----------------------------------------------------------------------

    def open_fn(self, i: int) -> None:
        if self.fn_frame is not None:
            where = self.where(self.fn_frame.start)
            raise self.error(f"Nested #() are not allowed (inside the #() at {where})", i, i + 2)
        self.fn_frame = self.open("fn", i, 2)

    def fn_arg(self, token: str, i: int) -> str:
        """Record a ``%`` argument of the open ``#()``; ``%`` is another name for ``%1``."""
        frame = self.fn_frame
        assert frame is not None
        if token == "%":
            token = "%1"
        if not _FN_ARG.fullmatch(token) or (token != "%&" and int(token[1:]) > _MAX_FN_ARG):
            message = f"Invalid argument {token} in #(): use %, %1 to %{_MAX_FN_ARG}, or %&"
            raise self.error(message, i, i + len(token))
        if token == "%&":
            frame.rest = True
        else:
            frame.arity = max(frame.arity, int(token[1:]))
        return token

    def build_fn(self, frame: _Frame, span: Span) -> List:
        """``#(f % %2)`` becomes ``(fn [%1 %2] (f %1 %2))``."""
        self.fn_frame = None
        params = [Symbol(f"%{n}", span) for n in range(1, frame.arity + 1)]
        if frame.rest:
            params += [Symbol("&", span), Symbol("%&", span)]
        vector = Vector(params)
        vector.span = span
        body = List(frame.items)
        body.span = Span(span.source, span.line, span.col + 1, span.end_line, span.end_col)
        value = List((Symbol("fn", self.span(frame.start, frame.start + 2)), vector, body))
        value.span = span
        return value

    # -- reader macros -----------------------------------------------------------------------

    def read_prefix(self, i: int) -> None:
        """``'`` ``\\``` ``~`` ``~@`` ``@``: wait for the next form, then wrap it."""
        width = 2 if self.text.startswith("~@", i) else 1
        self.open(self.text[i : i + width], i, width)

    def read_dispatch(self, i: int) -> None:
        """``#`` and the character after it: ``#{`` ``#(`` ``#_`` ``##Inf`` ``#!``."""
        text = self.text
        if i + 1 >= len(text):
            raise self.error("Expected a character after '#'", i, incomplete=True)
        char = text[i + 1]
        if char == "{":
            self.open("set", i, 2)
        elif char == "(":
            self.open_fn(i)
        elif char == "_":
            self.open("#_", i, 2)
        elif char == "#":
            self.read_symbolic(i)
        elif char == "!":
            newline = text.find("\n", i)
            self.pos = len(text) if newline < 0 else newline
        else:
            raise self.error(self.dispatch_problem(char, i), i, i + 2)

    def dispatch_problem(self, char: str, i: int) -> str:
        known = _DISPATCH_ERRORS.get(char)
        if known:
            return known
        if char.isalpha():
            tag = _TOKEN.match(self.text, i + 1).group()
            return f"Tagged literals such as #{tag} are not supported"
        return f"Unexpected {_quoted(char)} after '#'"

    def read_symbolic(self, i: int) -> None:
        """``##Inf``, ``##-Inf`` and ``##NaN``, the floats that have no digits."""
        match = _TOKEN.match(self.text, i + 2)
        name = match.group() if match else ""
        value = _SYMBOLIC.get(name)
        end = i + 2 + len(name)
        if value is None:
            message = f"Unknown symbolic value ##{name}; expected ##Inf, ##-Inf or ##NaN"
            raise self.error(message, i, end)
        if value != value:
            # A fresh NaN per ##NaN: NaN is = to nothing, so as in Clojure {##NaN 1 ##NaN 2}
            # has two keys, and a map printed with two NaN keys reads back.
            value = float("nan")
        self.pos = end
        self.deliver(value, i, end)

    def read_character(self, i: int) -> None:
        message = "Character literals are not supported; use a one-character string"
        raise self.error(message, i, min(i + 2, len(self.text)))

    def read_metadata(self, i: int) -> None:
        raise self.error("Metadata (^) is not supported", i)

    # -- strings -----------------------------------------------------------------------------

    def read_string(self, i: int) -> None:
        text = self.text
        end = _STRING_BODY.match(text, i + 1).end()
        if end >= len(text) or text[end] != '"':  # ran out, maybe right after a backslash
            message = f"Expected '\"' to close the string opened at {self.where(i)}"
            raise self.error(message, i, incomplete=True)
        body = text[i + 1 : end]
        value = self.unescape(body, i + 1) if "\\" in body else body
        self.pos = end + 1
        self.deliver(value, i, end + 1)

    def unescape(self, body: str, offset: int) -> str:
        """Replace escapes in a string's body; ``offset`` is where the body starts in the text."""
        parts = []
        done = 0
        while (slash := body.find("\\", done)) >= 0:
            parts.append(body[done:slash])
            char = body[slash + 1]  # there is one: the body cannot end with a lone backslash
            if char in _ESCAPES:
                parts.append(_ESCAPES[char])
                done = slash + 2
            elif char == "u":
                text, done = self.unicode_escape(body, slash, offset)
                parts.append(text)
            else:
                raise self.bad_escape(char, offset + slash)
        parts.append(body[done:])
        return "".join(parts)

    def unicode_escape(self, body: str, slash: int, offset: int) -> tuple[str, int]:
        """``\\uXXXX``; a surrogate pair written as two escapes makes one character, as in JSON."""
        digits = body[slash + 2 : slash + 6]
        if not _HEX4.fullmatch(digits):
            message = "Invalid \\u escape: expected four hex digits after \\u"
            raise self.error(message, offset + slash, offset + slash + 2)
        code = int(digits, 16)
        low = body[slash + 8 : slash + 12]
        if (
            0xD800 <= code < 0xDC00
            and body.startswith("\\u", slash + 6)
            and _HEX4.fullmatch(low)
            and 0xDC00 <= int(low, 16) < 0xE000
        ):
            code = 0x10000 + ((code - 0xD800) << 10) + (int(low, 16) - 0xDC00)
            return chr(code), slash + 12
        return chr(code), slash + 6

    def bad_escape(self, char: str, at: int) -> ReadError:
        printable = char.isprintable() and not char.isspace()
        shown = _quoted("\\" + char) if printable else f"\\ + {_quoted(char)}"
        message = f'Invalid escape {shown} in string; use \\n \\t \\r \\" \\\\ or \\uXXXX'
        return self.error(message, at, at + 2)

    # -- atoms: numbers, nil/true/false, keywords, symbols -----------------------------------

    def read_token(self, i: int) -> None:
        match = _TOKEN.match(self.text, i)
        if match is None:  # defensive: every character without a handler starts a token
            raise self.error(f"Unexpected character {_quoted(self.text[i])}", i)
        token, end = match.group(), match.end()
        if token[0] == ":":
            value = self.keyword(token, i)
        elif token in _LITERALS:
            value = _LITERALS[token]
        elif _NUMERIC.match(token):
            value = self.number(token, i)
        else:
            value = self.symbol(token, i, end)
        self.pos = end
        self.deliver(value, i, end)

    def number(self, token: str, i: int) -> int | float:
        if _INT.fullmatch(token):
            return _parse_int(token)
        if _FLOAT.fullmatch(token):
            return float(token)
        message = f"Invalid number {_quoted(token)}"
        if _LEADING_ZERO.fullmatch(token):
            message += ": leading zeros are not allowed"
        elif token[0] == ".":
            message += f"; write 0{token}"
        raise self.error(message, i, i + len(token))

    def keyword(self, token: str, i: int) -> Any:
        if token == ":":
            raise self.error("Expected a keyword name after ':'", i)
        if token[1] == ":":
            message = f"Auto-resolved keywords such as {token} are not supported; write :ns/name"
            raise self.error(message, i, i + len(token))
        self.check_name(token[1:], i + 1, "keyword", token)
        return kw(token[1:])

    def symbol(self, token: str, i: int, end: int) -> Symbol:
        self.check_name(token, i, "symbol", token)
        if self.fn_frame is not None and token[0] == "%":
            token = self.fn_arg(token, i)
        return Symbol(token, self.span(i, end))

    def check_name(self, name: str, start: int, what: str, shown: str) -> None:
        """Symbols and keywords: allowed characters, and at most one ``/`` between two parts."""
        bad = _BAD_NAME_CHAR.search(name)
        if bad:
            message = (f"Unexpected character {_quoted(bad.group())} in {what} "
                       f"{_quoted(shown)}")
            raise self.error(message, start + bad.start())
        if "/" in name and name != "/":
            ns, _, local = name.partition("/")
            if not ns or not local or (local != "/" and "/" in local):
                message = (f"Invalid {what} {_quoted(shown)}: a namespaced name is written "
                           "ns/name")
                raise self.error(message, start, start + len(name))

    # -- positions and errors ----------------------------------------------------------------

    def line_col(self, i: int) -> tuple[int, int]:
        starts = self.line_starts
        line = bisect_right(starts, i)
        return line, i - starts[line - 1] + 1

    def span(self, start: int, end: int) -> Span:
        starts = self.line_starts
        line = bisect_right(starts, start)
        end_line = bisect_right(starts, end, line - 1)
        col, end_col = start - starts[line - 1] + 1, end - starts[end_line - 1] + 1
        return Span(self.source, line, col, end_line, end_col)

    def where(self, i: int) -> str:
        line, col = self.line_col(i)
        return f"{line}:{col}"

    def line_text(self, line: int) -> str:
        start = self.line_starts[line - 1]
        end = self.text.find("\n", start)
        text = self.text[start : len(self.text) if end < 0 else end]
        return text[:-1] if text.endswith("\r") else text

    def unclosed(self, frame: _Frame) -> ReadError:
        closer = _CLOSERS.get(frame.kind)
        if closer is None:
            message = f"Expected a form after {_PREFIXES[frame.kind][1]}"
        else:
            where = self.where(frame.start)
            noun = _NOUNS[frame.kind]
            message = f"Expected {_quoted(closer)} to close the {noun} opened at {where}"
        return self.error(message, frame.start, frame.start + frame.width, incomplete=True)

    def error(
        self, message: str, start: int, end: int | None = None, incomplete: bool = False
    ) -> ReadError:
        end = min(start + 1 if end is None else end, len(self.text))
        span = self.span(start, max(start, end))
        return ReadError(message, span, self.line_text(span.line), incomplete=incomplete)
