"""Type and truth predicates."""

from __future__ import annotations

import pytest

from flowmetal.lang.core import BUILTINS
from flowmetal.lang.data import Atom, Symbol, Transient
from flowmetal.lang.errors import ExInfo

from .core_helpers import K, L, M, S, V, call, throws

SAMPLES = {
    "nil": None,
    "true": True,
    "false": False,
    "int": 1,
    "float": 1.5,
    "string": "s",
    "keyword": K("k"),
    "symbol": Symbol("s"),
    "list": L(1),
    "vector": V(1),
    "map": M(K("a"), 1),
    "set": S(1),
    "atom": Atom(0),
    "fn": BUILTINS["inc"],
}

# Which samples each predicate accepts; every other sample must give false.
EXPECTED = {
    "nil?": {"nil"},
    "some?": set(SAMPLES) - {"nil"},
    "true?": {"true"},
    "false?": {"false"},
    "boolean?": {"true", "false"},
    "number?": {"int", "float"},
    "integer?": {"int"},
    "float?": {"float"},
    "string?": {"string"},
    "keyword?": {"keyword"},
    "symbol?": {"symbol"},
    "map?": {"map"},
    "vector?": {"vector"},
    "list?": {"list"},
    "set?": {"set"},
    "coll?": {"list", "vector", "map", "set"},
    "seq?": {"list"},
    "fn?": {"fn"},
    "atom?": {"atom"},
    "not": {"nil", "false"},
}


@pytest.mark.parametrize("predicate", sorted(EXPECTED))
def test_predicate_is_true_exactly_for_its_values(predicate):
    for label, value in SAMPLES.items():
        result = call(predicate, value)
        assert result is (label in EXPECTED[predicate]), (predicate, label)


def test_fn_is_true_for_any_object_whose_type_name_is_function():
    class FakeClosure:
        type_name = "function"

    assert call("fn?", FakeClosure())
    assert not call("fn?", K("a"))
    assert not call("fn?", M())


def test_booleans_are_not_numbers_or_integers():
    assert not call("number?", True)
    assert not call("integer?", False)


def test_empty_is_true_for_nil_and_empty_collections_and_strings():
    for value in [None, "", L(), V(), M(), S()]:
        assert call("empty?", value) is True
    for value in ["a", L(1), V(1), M(1, 2), S(1)]:
        assert call("empty?", value) is False


def test_empty_of_a_non_collection_is_a_type_error():
    with throws("type-error", "empty? expects a collection, got integer"):
        call("empty?", 5)
    with throws("type-error"):
        call("empty?", Transient("vector", []))


def test_error_values_are_not_collections():
    assert not call("coll?", ExInfo("x"))
    assert call("some?", ExInfo("x"))


def test_boolean_is_truthiness_as_a_value():
    assert [call("boolean", x) for x in (None, False, 0, "", V())] == [False, False, True,
                                                                       True, True]


def test_integer_predicates_never_count_booleans_or_floats():
    assert call("int?", 1) and not call("int?", True) and not call("int?", 1.0)
    assert call("double?", 1.5) and not call("double?", 1)
    assert call("pos-int?", 1) and not call("pos-int?", 0) and not call("pos-int?", True)
    assert call("neg-int?", -1) and not call("neg-int?", -1.0)
    assert call("nat-int?", 0) and not call("nat-int?", -1) and not call("nat-int?", False)


def test_sequential_associative_identical():
    assert call("sequential?", L()) and call("sequential?", V(1))
    assert not call("sequential?", S(1)) and not call("sequential?", "ab")
    assert call("associative?", M()) and call("associative?", V())
    assert not call("associative?", L()) and not call("associative?", None)
    v = V(1)
    assert call("identical?", v, v) and call("identical?", K("a"), K("a"))
    assert not call("identical?", v, V(1))
