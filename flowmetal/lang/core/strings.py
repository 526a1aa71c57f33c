"""Strings: ``str``, ``subs``, ``format`` and the ``str/`` namespace (``str/join``,
``str/split``, ``str/trim``...).

Indexes count Unicode code points (Python's), not UTF-16 units as on the JVM. Where Clojure
takes a regular expression (``str/split``, ``str/replace``) Flowmetal takes a plain string:
there are no regular expressions in the core library.
"""

from __future__ import annotations

import re
from typing import Any

from ..data import Vector
from ..errors import fail
from ..printer import pr_brief
from .registry import builtin
from .values import MISSING, check_int, seq_items, type_error

__all__ = ["to_str"]

_MAX_FORMAT_WIDTH = 10_000
# Python %-style conversion specs: flags, width, precision, length modifier, conversion.
_FORMAT_SPEC = re.compile(r"%(\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)?", re.DOTALL)


def to_str(x: Any) -> str:
    """Clojure's ``str`` of one value: nil is "", a string is itself, others print readably."""
    t = type(x)
    if t is str:
        return x
    if x is None:
        return ""
    if t is int and x.bit_length() < 10_000:  # longer ints need the printer's digit code
        return str(x)
    from flowmetal.lang.printer import str_of

    return str_of(x)


def _check_str(fn: str, s: Any, what: str = "a string") -> str:
    if type(s) is not str:
        raise type_error(fn, what, s)
    return s


@builtin("str", arglists="[& xs]")
def str_(*xs: Any) -> str:
    """Concatenate the text of the values: nil is empty, strings as they are, others printed.

    (str "n=" 5 nil :k) ;=> "n=5:k"
    """
    if len(xs) == 1 and type(xs[0]) is str:
        return xs[0]
    return "".join([x if type(x) is str else to_str(x) for x in xs])


@builtin("subs")
def subs(s: Any, start: Any, end: Any = MISSING) -> str:
    """The part of s from start up to, not including, end (default: the end).

    (subs "hello" 1 3) ;=> "el"
    """
    _check_str("subs", s)
    check_int("subs", start, "an integer index")
    if end is MISSING:
        end = len(s)
    check_int("subs", end, "an integer index")
    if not 0 <= start <= end <= len(s):
        raise fail("index-out-of-bounds",
                   f"subs: [{start}, {end}) is out of bounds for a string of length {len(s)}",
                   function="subs")
    return s[start:end]


def _format_arg(x: Any) -> Any:
    t = type(x)
    if t is int or t is float or t is str:
        return x
    if x is None:
        return "nil"
    if t is bool:
        return "true" if x else "false"
    return to_str(x)


_NUMERIC = frozenset("dioxXeEfFgG")
_CONVERSIONS = "%s %d %i %x %X %o %e %E %f %F %g %G %c %r %a %%"


def _check_format(fmt: str, args: tuple[Any, ...]) -> None:
    """Check the conversions of ``fmt`` against ``args``, so that a mistake is reported in
    Flowmetal's terms (its values, its argument numbers) rather than Python's."""
    wanted = 0
    for match in _FORMAT_SPEC.finditer(fmt):
        conv = match.group(4)
        if match.group(1) is not None:
            raise fail("format-error", "format: named %(...) conversions are not supported",
                       function="format")
        for part in (match.group(2), match.group(3)):
            if part == "*":
                raise fail("format-error", "format: * widths are not supported",
                           function="format")
            if part is not None and (len(part) > 5 or int(part) > _MAX_FORMAT_WIDTH):
                raise fail("format-error",
                           f"format: widths above {_MAX_FORMAT_WIDTH} are not supported",
                           function="format")
        if conv is None:
            raise fail("format-error", f"format: {pr_brief(fmt)} ends in the middle of a "
                       f"conversion (write %% for a percent sign)", function="format")
        if conv == "%":
            continue
        if conv not in "sdioxXeEfFgGcra":
            raise fail("format-error",
                       f"format: unknown conversion %{conv} at index {match.start()} of "
                       f"{pr_brief(fmt)}; use one of {_CONVERSIONS}", function="format")
        wanted += 1
        if wanted <= len(args):
            _check_arg(conv, args[wanted - 1], wanted)
    if wanted != len(args):
        given = "1 argument was" if len(args) == 1 else f"{len(args)} arguments were"
        raise fail("format-error", f"format: {pr_brief(fmt)} has {wanted} conversion"
                   f"{'' if wanted == 1 else 's'} but {given} given", function="format")


def _check_arg(conv: str, x: Any, position: int) -> None:
    t = type(x)
    if conv in "xXo":
        ok = t is int
    elif conv in _NUMERIC:
        ok = t is int or t is float
    elif conv == "c":
        ok = t is int or (t is str and len(x) == 1)
    else:
        ok = True
    if not ok:
        need = {"c": "an integer or a one-character string", "x": "an integer",
                "X": "an integer", "o": "an integer"}.get(conv, "a number")
        raise fail("format-error", f"format: %{conv} needs {need}, but argument {position} is "
                   f"{pr_brief(x)}", function="format")


@builtin("format", arglists="[fmt & args]")
def format_(fmt: Any, *args: Any) -> str:
    """Format the arguments with a Python %-style format string (%s %d %.2f %x %%...).

    ``%s`` shows nil as ``nil``, booleans as ``true``/``false`` and other values as
    ``str`` does. A bad format string, or arguments that do not fit it, throw
    ``:format-error``.

    (format "%s has %d items" "cart" 3) ;=> "cart has 3 items"
    (format "%.2f" 3.14159) ;=> "3.14"
    """
    _check_str("format", fmt)
    _check_format(fmt, args)
    try:
        return fmt % tuple(_format_arg(a) for a in args)
    except (TypeError, ValueError, OverflowError) as exc:
        raise fail("format-error", f"format: {exc}", function="format") from None


# -- the str/ namespace --------------------------------------------------------------------


@builtin("str/join", arglists="[coll] [separator coll]")
def join(separator: Any, coll: Any = MISSING) -> str:
    """Join the text of the items of coll (as ``str`` shows each), with separator between.

    (str/join ", " [1 "a" :b]) ;=> "1, a, :b"
    (str/join [1 2]) ;=> "12"
    """
    if coll is MISSING:
        separator, coll = "", separator
    _check_str("str/join", separator, "a string separator")
    return separator.join([to_str(x) for x in seq_items(coll, "str/join")])


@builtin("str/split", arglists="[s separator] [s separator limit]")
def split(s: Any, separator: Any, limit: Any = MISSING) -> Vector:
    """Split s at each occurrence of the plain string separator (not a regex) into a vector.

    As in Clojure, trailing empty strings are dropped unless a limit is given; a positive
    limit caps the number of parts. An empty separator splits into characters.

    (str/split "a,b,,c,," ",") ;=> ["a" "b" "" "c"]
    (str/split "a=b=c" "=" 2) ;=> ["a" "b=c"]
    """
    _check_str("str/split", s)
    _check_str("str/split", separator, "a string separator")
    if limit is not MISSING:
        check_int("str/split", limit, "an integer limit")
    maxsplit = min(limit, len(s) + 1) - 1 if limit is not MISSING and limit > 0 else -1
    if separator:
        parts = s.split(separator, maxsplit)
    else:
        parts = list(s) or [""]
        if maxsplit >= 0 and len(parts) > maxsplit + 1:
            parts = parts[:maxsplit] + ["".join(parts[maxsplit:])]
    if limit is MISSING or limit == 0:
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        if parts == [""] and s:
            parts = []
    return Vector(parts)


@builtin("str/split-lines")
def split_lines(s: Any) -> Vector:
    r"""Split s into lines at ``\n`` or ``\r\n``; trailing empty lines are dropped.

    (str/split-lines "a\nb\r\nc\n") ;=> ["a" "b" "c"]
    """
    _check_str("str/split-lines", s)
    parts = re.split(r"\r?\n", s)
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if parts == [""] and s:
        parts = []
    return Vector(parts)


@builtin("str/trim")
def trim(s: Any) -> str:
    """s without whitespace at either end.

    (str/trim "  a b  ") ;=> "a b"
    """
    return _check_str("str/trim", s).strip()


@builtin("str/triml")
def triml(s: Any) -> str:
    """s without whitespace at the start.

    (str/triml "  a ") ;=> "a "
    """
    return _check_str("str/triml", s).lstrip()


@builtin("str/trimr")
def trimr(s: Any) -> str:
    """s without whitespace at the end.

    (str/trimr "  a ") ;=> "  a"
    """
    return _check_str("str/trimr", s).rstrip()


@builtin("str/upper-case")
def upper_case(s: Any) -> str:
    """s in upper case.

    (str/upper-case "abc") ;=> "ABC"
    """
    return _check_str("str/upper-case", s).upper()


@builtin("str/lower-case")
def lower_case(s: Any) -> str:
    """s in lower case.

    (str/lower-case "ABC") ;=> "abc"
    """
    return _check_str("str/lower-case", s).lower()


@builtin("str/capitalize")
def capitalize(s: Any) -> str:
    """s with its first character in upper case and the rest in lower case.

    (str/capitalize "hELLO") ;=> "Hello"
    """
    _check_str("str/capitalize", s)
    return s[:1].upper() + s[1:].lower()


@builtin("str/starts-with?")
def starts_with(s: Any, substr: Any) -> bool:
    """True if s begins with substr.

    (str/starts-with? "flowmetal" "flow") ;=> true
    """
    _check_str("str/starts-with?", s)
    return s.startswith(_check_str("str/starts-with?", substr))


@builtin("str/ends-with?")
def ends_with(s: Any, substr: Any) -> bool:
    """True if s ends with substr.

    (str/ends-with? "flowmetal" "metal") ;=> true
    """
    _check_str("str/ends-with?", s)
    return s.endswith(_check_str("str/ends-with?", substr))


@builtin("str/includes?")
def includes(s: Any, substr: Any) -> bool:
    """True if substr occurs in s.

    (str/includes? "flowmetal" "owm") ;=> true
    """
    _check_str("str/includes?", s)
    return _check_str("str/includes?", substr) in s


@builtin("str/replace")
def replace(s: Any, match: Any, replacement: Any) -> str:
    """s with every occurrence of the plain string match replaced (no regexes).

    (str/replace "a-b-c" "-" "+") ;=> "a+b+c"
    """
    _check_str("str/replace", s)
    _check_str("str/replace", match)
    return s.replace(match, _check_str("str/replace", replacement))


@builtin("str/blank?")
def is_blank(s: Any) -> bool:
    """True if s is nil, empty, or only whitespace.

    (str/blank? "  ") ;=> true
    """
    if s is None:
        return True
    return not _check_str("str/blank?", s, "a string or nil").strip()


@builtin("str/index-of")
def index_of(s: Any, value: Any, from_index: Any = MISSING) -> int | None:
    """The index of the first occurrence of value in s (at or after from-index), or nil.

    (str/index-of "banana" "an") ;=> 1
    (str/index-of "banana" "an" 2) ;=> 3
    """
    _check_str("str/index-of", s)
    _check_str("str/index-of", value)
    start = 0 if from_index is MISSING else check_int("str/index-of", from_index)
    found = s.find(value, max(start, 0))
    return None if found < 0 else found


@builtin("str/last-index-of")
def last_index_of(s: Any, value: Any, from_index: Any = MISSING) -> int | None:
    """The index of the last occurrence of value in s (at or before from-index), or nil.

    (str/last-index-of "banana" "an") ;=> 3
    (str/last-index-of "banana" "an" 2) ;=> 1
    """
    _check_str("str/last-index-of", s)
    _check_str("str/last-index-of", value)
    if from_index is MISSING:
        found = s.rfind(value)
    else:
        start = check_int("str/last-index-of", from_index)
        if start < 0:
            return None
        found = s.rfind(value, 0, start + len(value))
    return None if found < 0 else found


@builtin("str/reverse")
def reverse(s: Any) -> str:
    """The characters of s in reverse order.

    (str/reverse "abc") ;=> "cba"
    """
    return _check_str("str/reverse", s)[::-1]


_LONG = re.compile(r"[+-]?[0-9]+")
_DOUBLE = re.compile(r"[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")


@builtin("parse-long")
def parse_long(s: Any) -> int | None:
    """The integer written in s (digits with an optional sign), or nil if s is not one.

    (parse-long "-42") ;=> -42
    (parse-long "4.2") ;=> nil
    """
    _check_str("parse-long", s)
    if not _LONG.fullmatch(s):
        return None
    from flowmetal.lang.reader import _parse_int  # Python's int() refuses 4300+ digits

    return _parse_int(s)


@builtin("parse-double")
def parse_double(s: Any) -> float | None:
    """The float written in s (as Clojure reads it: 1.5, -2e3, .5, NaN, Infinity), or nil.

    (parse-double "2.5") ;=> 2.5
    (parse-double "x") ;=> nil
    """
    _check_str("parse-double", s)
    if not _DOUBLE.fullmatch(s):
        return None
    return float(s.replace("Infinity", "inf"))


@builtin("pr-str", arglists="[& xs]")
def pr_str_(*xs: Any) -> str:
    """The values printed readably (strings quoted), separated by spaces.

    (pr-str "a" [1 :b]) ;=> "\\"a\\" [1 :b]"
    """
    from flowmetal.lang.printer import pr_str

    return " ".join(pr_str(x) for x in xs)


@builtin("read-string")
def read_string(s: Any) -> Any:
    """The first form in s, as data (not evaluated); (read-string (pr-str x)) equals x.

    (read-string "[1 :a]") ;=> [1 :a]
    """
    from flowmetal.lang.errors import ReadError
    from flowmetal.lang.reader import read_one

    try:
        return read_one(_check_str("read-string", s), "<read-string>")
    except ReadError as err:
        raise fail("read-error", f"read-string: {err.message}") from None
