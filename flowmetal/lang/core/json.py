"""JSON: ``json/parse`` and ``json/stringify``.

JSON maps onto Flowmetal data one to one: objects are maps (string keys, or keywords on
request), arrays are vectors, ``null`` is nil. Both directions are iterative, so deeply
nested data is only limited by memory (Python's own JSON parser is recursive, so very deep
*input text* is refused with a ``:json-error``).
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring
from typing import Any

from ..data import Keyword, List, Map, Set, Vector, kw, type_name
from ..errors import fail
from ..printer import pr_brief, pr_str
from .registry import builtin
from .values import MISSING, type_error

__all__ = ["parse", "stringify"]

_KEYWORDS = kw("keywords")
_PRETTY = kw("pretty")


class _Object(list):
    """The ``(key, value)`` pairs of a JSON object, before they become a ``Map``."""


def _options(fn: str, options: Any, known: tuple[Keyword, ...]) -> Map:
    if options is MISSING or options is None:
        return Map()
    if type(options) is not Map:
        raise type_error(fn, "an options map", options)
    for key in options.keys():
        if key not in known:
            names = " ".join(pr_str(k) for k in known)
            raise fail("argument-error", f"{fn}: unknown option {pr_brief(key)} (known: {names})",
                       function=fn)
    return options


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_error(message: str, **data: Any) -> Exception:
    return fail("json-error", message, **data)


@builtin("json/parse", arglists="[text] [text options]")
def parse(text: Any, options: Any = MISSING) -> Any:
    """Read JSON text into Flowmetal data: objects become maps, arrays vectors, null nil.

    Object keys stay strings unless the options map says ``{:keywords true}``. Text that
    is not valid JSON (NaN and Infinity are not) throws ``:json-error`` with the line and
    column.

    (json/parse "{\\"a\\": [1, null]}") ;=> {"a" [1 nil]}
    (json/parse "{\\"a\\": 1}" {:keywords true}) ;=> {:a 1}
    """
    if type(text) is not str:
        raise type_error("json/parse", "a string", text)
    keywordize = bool(_options("json/parse", options, (_KEYWORDS,)).get(_KEYWORDS))
    try:
        raw = json.loads(text, object_pairs_hook=_Object, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _json_error(
            f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            line=exc.lineno,
            column=exc.colno,
        ) from None
    except RecursionError:
        raise _json_error("Invalid JSON: nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, or an integer with too many digits
        raise _json_error(f"Invalid JSON: {exc}") from None
    return _convert(raw, keywordize)


def _children(node: list) -> Any:
    return iter(node) if type(node) is list else (value for _, value in node)


def _build(node: list, values: list, keywordize: bool) -> Any:
    if type(node) is list:
        return Vector(values)
    keys = (kw(k) for k, _ in node) if keywordize else (k for k, _ in node)
    return Map(zip(keys, values))


def _convert(raw: Any, keywordize: bool) -> Any:
    """Turn Python lists and ``_Object`` pairs into vectors and maps, without recursion."""
    if type(raw) is not list and type(raw) is not _Object:
        return raw
    # Each frame is [node, iterator over its child values, converted child values].
    stack = [[raw, _children(raw), []]]
    while True:
        frame = stack[-1]
        for child in frame[1]:
            if type(child) is list or type(child) is _Object:
                stack.append([child, _children(child), []])
                break
            frame[2].append(child)
        else:
            stack.pop()
            value = _build(frame[0], frame[2], keywordize)
            if not stack:
                return value
            stack[-1][2].append(value)


def _key_text(key: Any) -> str:
    t = type(key)
    if t is str:
        return encode_basestring(key)
    if t is Keyword:
        return encode_basestring(key.full)
    raise _json_error(f"json/stringify: object keys must be strings or keywords, "
                      f"got {type_name(key)}", function="json/stringify")


@builtin("json/stringify", arglists="[x] [x options]")
def stringify(x: Any, options: Any = MISSING) -> str:
    """Write Flowmetal data as JSON text; ``{:pretty true}`` indents by two spaces.

    Maps need string or keyword keys (``:a/b`` becomes ``"a/b"``); lists, vectors and sets
    become arrays; keyword values become strings; nil is null. Keys keep their order and
    non-ASCII text is kept as is. Anything else (atoms, functions, NaN) throws
    ``:json-error``.

    (json/stringify {:a [1 nil "x"]}) ;=> "{\\"a\\":[1,null,\\"x\\"]}"
    """
    pretty = bool(_options("json/stringify", options, (_PRETTY,)).get(_PRETTY))
    return _stringify(x, 2 if pretty else 0)


def _stringify(value: Any, indent: int) -> str:
    out: list[str] = []
    colon = ": " if indent else ":"
    # Each frame is [iterator over items, closing bracket, is a map?, items written].
    stack: list[list[Any]] = []
    item = value
    while True:
        t = type(item)
        if t is str:
            out.append(encode_basestring(item))
        elif item is None:
            out.append("null")
        elif t is bool:
            out.append("true" if item else "false")
        elif t is int:
            try:
                out.append(int.__repr__(item))
            except ValueError:
                raise _json_error("json/stringify: integer has too many digits",
                                  function="json/stringify") from None
        elif t is float:
            if not math.isfinite(item):
                raise _json_error(f"json/stringify: {pr_str(item)} is not valid JSON",
                                  function="json/stringify")
            out.append(float.__repr__(item))
        elif t is Keyword:
            out.append(encode_basestring(item.full))
        elif t is Map:
            if item:
                out.append("{")
                stack.append([iter(item.items()), "}", True, 0])
            else:
                out.append("{}")
        elif t is Vector or t is List or t is Set:
            if item:
                out.append("[")
                stack.append([iter(item), "]", False, 0])
            else:
                out.append("[]")
        else:
            raise _json_error(f"json/stringify: can't write a {type_name(item)} as JSON",
                              function="json/stringify")
        while stack:
            frame = stack[-1]
            nxt = next(frame[0], MISSING)
            if nxt is MISSING:
                stack.pop()
                if indent:
                    out.append("\n" + " " * (indent * len(stack)))
                out.append(frame[1])
                continue
            if frame[3]:
                out.append(",")
            frame[3] += 1
            if indent:
                out.append("\n" + " " * (indent * len(stack)))
            if frame[2]:
                key, nxt = nxt
                out.append(_key_text(key))
                out.append(colon)
            item = nxt
            break
        else:
            return "".join(out)
