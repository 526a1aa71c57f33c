"""Type and truth predicates: ``nil? some? true? false? number? ... empty? not``.

Every predicate except ``empty?`` accepts any value and answers true or false.
"""

from __future__ import annotations

from typing import Any

from ..data import Atom, Keyword, List, Map, Set, Symbol, Vector
from .registry import builtin
from .values import NUMBERS, type_error

_COLLECTIONS = frozenset((List, Vector, Map, Set))
_SIZED = frozenset((List, Vector, Map, Set, str))


def is_function(x: Any) -> bool:
    """True for anything callable as a function: built-ins, closures, primitives."""
    return getattr(type(x), "type_name", None) == "function"


@builtin("nil?")
def is_nil(x: Any) -> bool:
    """True if x is nil.

    (nil? nil) ;=> true
    """
    return x is None


@builtin("some?")
def is_some(x: Any) -> bool:
    """True if x is not nil (false counts as something).

    (some? false) ;=> true
    """
    return x is not None


@builtin("true?")
def is_true(x: Any) -> bool:
    """True if x is the value true, not merely truthy.

    (true? 1) ;=> false
    """
    return x is True


@builtin("false?")
def is_false(x: Any) -> bool:
    """True if x is the value false, not merely falsey.

    (false? nil) ;=> false
    """
    return x is False


@builtin("boolean?")
def is_boolean(x: Any) -> bool:
    """True if x is true or false.

    (boolean? false) ;=> true
    """
    return type(x) is bool


@builtin("number?")
def is_number(x: Any) -> bool:
    """True if x is an integer or a float (booleans are not numbers).

    (number? 1.5) ;=> true
    """
    return type(x) in NUMBERS


@builtin("integer?")
def is_integer(x: Any) -> bool:
    """True if x is an integer.

    (integer? 1.0) ;=> false
    """
    return type(x) is int


@builtin("float?")
def is_float(x: Any) -> bool:
    """True if x is a floating-point number.

    (float? 1.0) ;=> true
    """
    return type(x) is float


@builtin("string?")
def is_string(x: Any) -> bool:
    """True if x is a string.

    (string? "a") ;=> true
    """
    return type(x) is str


@builtin("keyword?")
def is_keyword(x: Any) -> bool:
    """True if x is a keyword.

    (keyword? :a) ;=> true
    """
    return type(x) is Keyword


@builtin("symbol?")
def is_symbol(x: Any) -> bool:
    """True if x is a symbol.

    (symbol? 'a) ;=> true
    """
    return type(x) is Symbol


@builtin("map?")
def is_map(x: Any) -> bool:
    """True if x is a map.

    (map? {}) ;=> true
    """
    return type(x) is Map


@builtin("vector?")
def is_vector(x: Any) -> bool:
    """True if x is a vector.

    (vector? [1]) ;=> true
    """
    return type(x) is Vector


@builtin("list?")
def is_list(x: Any) -> bool:
    """True if x is a list.

    (list? '(1)) ;=> true
    """
    return type(x) is List


@builtin("set?")
def is_set(x: Any) -> bool:
    """True if x is a set.

    (set? #{1}) ;=> true
    """
    return type(x) is Set


@builtin("coll?")
def is_coll(x: Any) -> bool:
    """True if x is a list, vector, map or set.

    (coll? "abc") ;=> false
    """
    return type(x) in _COLLECTIONS


@builtin("seq?")
def is_seq(x: Any) -> bool:
    """True if x is a sequence: a list (what the sequence functions return).

    (seq? (rest [1 2])) ;=> true
    """
    return type(x) is List


@builtin("fn?")
def is_fn(x: Any) -> bool:
    """True if x is a function (built-in or made with fn). Keywords and maps are not.

    (fn? inc) ;=> true
    """
    return is_function(x)


@builtin("atom?")
def is_atom(x: Any) -> bool:
    """True if x is an atom.

    (atom? (atom 0)) ;=> true
    """
    return type(x) is Atom


@builtin("empty?")
def is_empty(coll: Any) -> bool:
    """True if the collection or string has no items; nil is empty.

    (empty? []) ;=> true
    (empty? nil) ;=> true
    """
    if type(coll) in _SIZED:
        return not coll
    if coll is None:
        return True
    raise type_error("empty?", "a collection", coll)


@builtin("not")
def not_(x: Any) -> bool:
    """True if x is nil or false, false otherwise.

    (not nil) ;=> true
    """
    return x is None or x is False


@builtin("boolean")
def boolean(x: Any) -> bool:
    """x's truth as a boolean: false for nil and false, true for everything else.

    (boolean nil) ;=> false
    (boolean 0) ;=> true
    """
    return x is not None and x is not False


@builtin("int?")
def is_int(x: Any) -> bool:
    """True if x is an integer; the same as integer? (integers are never boxed apart).

    (int? 1) ;=> true
    """
    return type(x) is int


@builtin("double?")
def is_double(x: Any) -> bool:
    """True if x is a floating-point number; the same as float?.

    (double? 1.5) ;=> true
    """
    return type(x) is float


@builtin("pos-int?")
def is_pos_int(x: Any) -> bool:
    """True if x is an integer above zero.

    (pos-int? 1) ;=> true
    """
    return type(x) is int and x > 0


@builtin("neg-int?")
def is_neg_int(x: Any) -> bool:
    """True if x is an integer below zero.

    (neg-int? -1) ;=> true
    """
    return type(x) is int and x < 0


@builtin("nat-int?")
def is_nat_int(x: Any) -> bool:
    """True if x is an integer of zero or more.

    (nat-int? 0) ;=> true
    """
    return type(x) is int and x >= 0


@builtin("sequential?")
def is_sequential(x: Any) -> bool:
    """True if x is a list or a vector: ordered, and equal to each other item by item.

    (sequential? [1]) ;=> true
    (sequential? #{1}) ;=> false
    """
    return type(x) is List or type(x) is Vector


@builtin("associative?")
def is_associative(x: Any) -> bool:
    """True if x takes assoc: a map, or a vector (by index).

    (associative? [1]) ;=> true
    """
    return type(x) is Map or type(x) is Vector


@builtin("identical?")
def is_identical(x: Any, y: Any) -> bool:
    """True if x and y are the very same object, not merely equal.

    (identical? :a :a) ;=> true
    """
    return x is y
