"""Arithmetic and numeric comparison: ``+ - * / quot rem mod inc dec max min abs``,
``< > <= >= ==`` and ``zero? pos? neg? even? odd?``.

Numbers are Python ``int`` (unbounded) and ``float``; booleans are not numbers. The
two-argument calls are what hot loops make, so each function checks for them first, with
exact type tests (``type(x) is int``) and no ``*args`` packing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..errors import fail
from .registry import builtin
from .values import MISSING, NUMBERS, type_error

__all__ = ["add", "sub", "mul", "div"]


def _check(fn: str, x: Any) -> None:
    if type(x) not in NUMBERS:
        raise type_error(fn, "a number", x)


def _too_large(fn: str) -> Exception:
    return fail("arithmetic-error", f"{fn}: number too large for a float", function=fn)


def _divide_by_zero(fn: str) -> Exception:
    return fail("arithmetic-error", "Divide by zero", function=fn)


def _fold(fn: str, op: Callable[[Any, Any], Any], acc: Any, xs: tuple) -> Any:
    for x in xs:
        if type(x) not in NUMBERS:
            raise type_error(fn, "a number", x)
        acc = op(acc, x)
    return acc


# The hot two-argument paths below test ``t is int or t is float`` inline: it is measurably
# faster than a set lookup or a helper call, and these run in every loop.


@builtin("+", arglists="[& xs]")
def add(a: Any = 0, b: Any = 0, *more: Any) -> Any:
    """Sum the numbers; ``(+)`` is 0. Integers stay exact; any float makes a float.

    (+ 1 2 3) ;=> 6
    """
    try:
        if not more:
            ta = type(a)
            tb = type(b)
            if (ta is int or ta is float) and (tb is int or tb is float):
                return a + b
        return _fold("+", lambda x, y: x + y, 0, (a, b, *more))
    except OverflowError:
        raise _too_large("+") from None


@builtin("-", arglists="[x & more]")
def sub(x: Any, y: Any = MISSING, *more: Any) -> Any:
    """Subtract the rest from the first number; with one argument, negate it.

    (- 10 1 2) ;=> 7
    (- 5) ;=> -5
    """
    try:
        if not more:
            tx = type(x)
            ty = type(y)
            if (tx is int or tx is float) and (ty is int or ty is float):
                return x - y
        _check("-", x)
        if y is MISSING:
            return -x
        return _fold("-", lambda a, b: a - b, x, (y, *more))
    except OverflowError:
        raise _too_large("-") from None


@builtin("*", arglists="[& xs]")
def mul(a: Any = 1, b: Any = 1, *more: Any) -> Any:
    """Multiply the numbers; ``(*)`` is 1.

    (* 2 3 4) ;=> 24
    """
    try:
        if not more:
            ta = type(a)
            tb = type(b)
            if (ta is int or ta is float) and (tb is int or tb is float):
                return a * b
        return _fold("*", lambda x, y: x * y, 1, (a, b, *more))
    except OverflowError:
        raise _too_large("*") from None


def _divide(a: Any, b: Any) -> Any:
    if type(b) not in NUMBERS:
        raise type_error("/", "a number", b)
    if b == 0:
        raise _divide_by_zero("/")
    if type(a) is int and type(b) is int:
        q, r = divmod(a, b)
        if r == 0:
            return q
    try:
        return a / b
    except OverflowError:
        raise _too_large("/") from None


@builtin("/", arglists="[x & more]")
def div(x: Any, *more: Any) -> Any:
    """Divide the first number by the rest; with one argument, 1 divided by it.

    Integers divide to an integer when exact, otherwise to a float. Dividing by zero
    throws an ``:arithmetic-error``.

    (/ 12 3) ;=> 4
    (/ 1 2) ;=> 0.5
    """
    _check("/", x)
    if not more:
        return _divide(1, x)
    for y in more:
        x = _divide(x, y)
    return x


def _int_quot(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _division_args(fn: str, a: Any, b: Any) -> bool:
    """Check both are numbers and ``b`` is not zero; true if both are integers."""
    _check(fn, a)
    _check(fn, b)
    if b == 0:
        raise _divide_by_zero(fn)
    return type(a) is int and type(b) is int


@builtin("quot")
def quot(num: Any, div: Any) -> Any:
    """The quotient of dividing num by div, rounded toward zero.

    (quot 7 2) ;=> 3
    (quot -7 2) ;=> -3
    """
    if _division_args("quot", num, div):
        return _int_quot(num, div)
    try:
        return float(math.trunc(num / div))
    except (OverflowError, ValueError):
        raise fail("arithmetic-error", "quot: result is not a finite number",
                   function="quot") from None


@builtin("rem")
def rem(num: Any, div: Any) -> Any:
    """The remainder of dividing num by div; it has the sign of num.

    (rem -7 2) ;=> -1
    """
    if _division_args("rem", num, div):
        return num - div * _int_quot(num, div)
    try:
        return math.fmod(num, div)
    except (OverflowError, ValueError):
        raise fail("arithmetic-error", "rem: result is not a finite number",
                   function="rem") from None


@builtin("mod")
def mod(num: Any, div: Any) -> Any:
    """The modulus of num and div; it has the sign of div.

    (mod -7 2) ;=> 1
    """
    _division_args("mod", num, div)
    try:
        return num % div
    except OverflowError:
        raise _too_large("mod") from None


@builtin("inc")
def inc(x: Any) -> Any:
    """x plus one.

    (inc 1) ;=> 2
    """
    if type(x) is int or type(x) is float:
        return x + 1
    raise type_error("inc", "a number", x)


@builtin("dec")
def dec(x: Any) -> Any:
    """x minus one.

    (dec 1) ;=> 0
    """
    if type(x) is int or type(x) is float:
        return x - 1
    raise type_error("dec", "a number", x)


@builtin("max", arglists="[x & more]")
def max_(x: Any, *more: Any) -> Any:
    """The greatest of the numbers (NaN if any is NaN).

    (max 1 3 2) ;=> 3
    """
    _check("max", x)
    for y in more:
        _check("max", y)
        if y > x or y != y:
            x = y
    return x


@builtin("min", arglists="[x & more]")
def min_(x: Any, *more: Any) -> Any:
    """The least of the numbers (NaN if any is NaN).

    (min 1 3 2) ;=> 1
    """
    _check("min", x)
    for y in more:
        _check("min", y)
        if y < x or y != y:
            x = y
    return x


@builtin("abs")
def abs_(x: Any) -> Any:
    """The absolute value of a number.

    (abs -3) ;=> 3
    """
    _check("abs", x)
    return abs(x)


def _to_int(fn: str, x: Any) -> int:
    t = type(x)
    if t is int:
        return x
    if t is float:
        if not math.isfinite(x):
            raise fail("argument-error", f"{fn}: {'NaN' if x != x else 'infinity'} has no "
                       "integer value", function=fn)
        return int(x)
    raise type_error(fn, "a number", x)


@builtin("int")
def int_(x: Any) -> int:
    """x as an integer: a float is truncated toward zero. Integers never overflow.

    (int 2.7) ;=> 2
    (int -2.7) ;=> -2
    """
    return _to_int("int", x)


@builtin("long")
def long_(x: Any) -> int:
    """The same as int: there is one integer type, and it never overflows.

    (long 2.7) ;=> 2
    """
    return _to_int("long", x)


@builtin("double")
def double(x: Any) -> float:
    """x as a float.

    (double 1) ;=> 1.0
    """
    t = type(x)
    if t is float:
        return x
    if t is int:
        try:
            return float(x)
        except OverflowError:
            raise _too_large("double") from None
    raise type_error("double", "a number", x)


def _chain(fn: str, op: Callable[[Any, Any], bool], x: Any, y: Any, more: tuple) -> bool:
    _check(fn, x)
    if y is MISSING:
        return True
    _check(fn, y)
    for z in more:
        _check(fn, z)
    if not op(x, y):
        return False
    for z in more:
        if not op(y, z):
            return False
        y = z
    return True


@builtin("<", arglists="[x & more]")
def lt(x: Any, y: Any = MISSING, *more: Any) -> bool:
    """True if the numbers are in strictly increasing order.

    (< 1 2 3) ;=> true
    """
    if not more:
        tx = type(x)
        ty = type(y)
        if (tx is int or tx is float) and (ty is int or ty is float):
            return x < y
    return _chain("<", lambda a, b: a < b, x, y, more)


@builtin(">", arglists="[x & more]")
def gt(x: Any, y: Any = MISSING, *more: Any) -> bool:
    """True if the numbers are in strictly decreasing order.

    (> 3 2 1) ;=> true
    """
    if not more:
        tx = type(x)
        ty = type(y)
        if (tx is int or tx is float) and (ty is int or ty is float):
            return x > y
    return _chain(">", lambda a, b: a > b, x, y, more)


@builtin("<=", arglists="[x & more]")
def le(x: Any, y: Any = MISSING, *more: Any) -> bool:
    """True if the numbers are in non-decreasing order.

    (<= 1 1 2) ;=> true
    """
    if not more:
        tx = type(x)
        ty = type(y)
        if (tx is int or tx is float) and (ty is int or ty is float):
            return x <= y
    return _chain("<=", lambda a, b: a <= b, x, y, more)


@builtin(">=", arglists="[x & more]")
def ge(x: Any, y: Any = MISSING, *more: Any) -> bool:
    """True if the numbers are in non-increasing order.

    (>= 2 2 1) ;=> true
    """
    if not more:
        tx = type(x)
        ty = type(y)
        if (tx is int or tx is float) and (ty is int or ty is float):
            return x >= y
    return _chain(">=", lambda a, b: a >= b, x, y, more)


@builtin("==", arglists="[x & more]")
def num_eq(x: Any, y: Any = MISSING, *more: Any) -> bool:
    """True if the numbers are all equal in value, whatever their type.

    (== 1 1.0) ;=> true
    """
    if not more:
        tx = type(x)
        ty = type(y)
        if (tx is int or tx is float) and (ty is int or ty is float):
            return x == y
    return _chain("==", lambda a, b: a == b, x, y, more)


@builtin("zero?")
def is_zero(x: Any) -> bool:
    """True if the number is zero.

    (zero? 0.0) ;=> true
    """
    _check("zero?", x)
    return x == 0


@builtin("pos?")
def is_pos(x: Any) -> bool:
    """True if the number is greater than zero.

    (pos? 3) ;=> true
    """
    _check("pos?", x)
    return x > 0


@builtin("neg?")
def is_neg(x: Any) -> bool:
    """True if the number is less than zero.

    (neg? -1) ;=> true
    """
    _check("neg?", x)
    return x < 0


@builtin("even?")
def is_even(n: Any) -> bool:
    """True if the integer is even.

    (even? 4) ;=> true
    """
    if type(n) is not int:
        raise type_error("even?", "an integer", n)
    return n % 2 == 0


@builtin("odd?")
def is_odd(n: Any) -> bool:
    """True if the integer is odd.

    (odd? 3) ;=> true
    """
    if type(n) is not int:
        raise type_error("odd?", "an integer", n)
    return n % 2 == 1
