"""Arithmetic and numeric comparison built-ins."""

from __future__ import annotations

import math
import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .core_helpers import K, V, call, same, throws

OPERATORS = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge,
             "==": operator.eq}
numbers = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False))


class TestArithmetic:
    def test_addition_is_variadic_with_zero_identity(self):
        assert call("+") == 0
        assert call("+", 5) == 5
        assert call("+", 1, 2, 3) == 6

    def test_integers_stay_exact_and_floats_contaminate(self):
        assert same(call("+", 1, 2), 3)
        assert same(call("+", 1, 2.0), 3.0)
        assert same(call("*", 2, 3, 4), 24)
        assert same(call("*"), 1)
        assert call("+", 10**30, 1) == 10**30 + 1

    def test_subtraction_negates_a_single_argument(self):
        assert call("-", 5) == -5
        assert call("-", 10, 1, 2) == 7

    def test_division_is_exact_for_integers_when_it_can_be(self):
        assert same(call("/", 12, 3), 4)
        assert same(call("/", 1, 2), 0.5)
        assert same(call("/", 2), 0.5)
        assert same(call("/", 100, 2, 5), 10)
        assert same(call("/", 3.0, 1), 3.0)

    def test_division_by_zero_throws_arithmetic_error(self):
        with throws("arithmetic-error", "Divide by zero"):
            call("/", 1, 0)
        with throws("arithmetic-error"):
            call("/", 1.5, 0.0)
        with throws("arithmetic-error"):
            call("/", 0)
        for name in ["quot", "rem", "mod"]:
            with throws("arithmetic-error"):
                call(name, 1, 0)

    def test_booleans_are_not_numbers(self):
        for name in ["+", "-", "*", "/"]:
            with throws("type-error", "boolean"):
                call(name, 1, True)
        with throws("type-error", "expects a number, got boolean"):
            call("inc", True)

    def test_wrong_types_name_the_function_and_the_type(self):
        with throws("type-error", "+ expects a number, got string"):
            call("+", 1, "2")
        with throws("type-error", "nil"):
            call("-", None)
        with throws("type-error", "keyword"):
            call("*", 2, 3, K("x"))

    def test_huge_integer_mixed_with_float_is_an_arithmetic_error(self):
        with throws("arithmetic-error"):
            call("+", 10**400, 1.0)
        with throws("arithmetic-error"):
            call("/", 10**400, 3)

    def test_quot_rem_and_mod_follow_clojure_signs(self):
        assert call("quot", 7, 2) == 3
        assert call("quot", -7, 2) == -3
        assert call("rem", -7, 2) == -1
        assert call("rem", 7, -2) == 1
        assert call("mod", -7, 2) == 1
        assert call("mod", 7, -2) == -1
        assert same(call("quot", 7.5, 2), 3.0)
        assert same(call("rem", 7.5, 2), 1.5)
        assert same(call("mod", -7.5, 2), 0.5)

    def test_quot_of_huge_integers_is_exact(self):
        assert call("quot", 10**40 + 1, 10**20) == 10**20

    def test_inc_dec_abs(self):
        assert call("inc", 1) == 2
        assert same(call("inc", 1.5), 2.5)
        assert call("dec", 1) == 0
        assert call("abs", -3) == 3
        assert same(call("abs", -2.5), 2.5)

    def test_max_and_min(self):
        assert call("max", 1, 3, 2) == 3
        assert call("min", 1, 3, 2) == 1
        assert call("max", 7) == 7
        assert same(call("max", 1, 2.0), 2.0)
        assert math.isnan(call("max", float("nan"), 1))
        assert math.isnan(call("min", 1, float("nan")))
        with throws("type-error"):
            call("max", 1, "a")

    @given(numbers, numbers)
    def test_addition_commutes(self, a, b):
        assert call("+", a, b) == call("+", b, a)

    @given(st.integers(), st.integers().filter(lambda n: n != 0))
    def test_quot_and_rem_reconstruct_the_dividend(self, a, b):
        assert call("+", call("*", call("quot", a, b), b), call("rem", a, b)) == a
        assert 0 <= abs(call("mod", a, b)) < abs(b)


class TestComparison:
    def test_less_than_is_variadic_and_strict(self):
        assert call("<", 1, 2, 3)
        assert not call("<", 1, 2, 2)
        assert call("<", 1)
        assert call("<=", 1, 1, 2)
        assert call(">", 3, 2, 1)
        assert call(">=", 3, 3, 1)
        assert not call(">", 1, 2)

    def test_comparison_mixes_integers_and_floats(self):
        assert call("<", 1, 1.5, 2)
        assert call("==", 1, 1.0, 1)
        assert not call("==", 1, 2)

    def test_comparison_rejects_non_numbers_even_after_a_false_pair(self):
        with throws("type-error", "<"):
            call("<", 1, "a")
        with throws("type-error"):
            call("<", 2, 1, "a")
        with throws("type-error"):
            call(">=", None)
        with throws("type-error"):
            call("==", True, 1)

    def test_sign_predicates(self):
        assert call("zero?", 0) and call("zero?", 0.0) and not call("zero?", 1)
        assert call("pos?", 1) and not call("pos?", 0)
        assert call("neg?", -0.5) and not call("neg?", 0)
        with throws("type-error"):
            call("zero?", None)

    def test_even_and_odd_need_integers(self):
        assert call("even?", 4) and not call("even?", 3)
        assert call("odd?", -3) and not call("odd?", 0)
        with throws("type-error", "integer"):
            call("even?", 2.0)
        with throws("type-error"):
            call("odd?", True)

    @pytest.mark.parametrize("op", sorted(OPERATORS))
    def test_two_argument_fast_path_agrees_with_the_general_path(self, op):
        check = OPERATORS[op]
        values = [1, 2, 1.5, -3, 2.0]
        for a in values:
            for b in values:
                assert call(op, a, b) is check(a, b)
                for c in values:
                    assert call(op, a, b, c) is (check(a, b) and check(b, c))

    @given(st.lists(st.integers(), min_size=1, max_size=6))
    def test_less_than_holds_exactly_for_strictly_increasing_lists(self, xs):
        increasing = all(a < b for a, b in zip(xs, xs[1:]))
        assert call("<", *xs) == increasing


def test_numeric_results_are_never_booleans():
    assert type(call("+", 0, 0)) is int
    assert type(call("max", V(1)[0], 0)) is int


class TestCoercions:
    def test_int_and_long_truncate_toward_zero(self):
        for name in ("int", "long"):
            assert call(name, 2.7) == 2 and call(name, -2.7) == -2
            assert type(call(name, 3.0)) is int and call(name, 10**30) == 10**30

    def test_int_of_nan_or_infinity_and_of_non_numbers(self):
        with throws("argument-error", "int: NaN has no integer value"):
            call("int", float("nan"))
        with throws("argument-error", "long: infinity"):
            call("long", float("-inf"))
        with throws("type-error", "int expects a number, got string"):
            call("int", "1")
        with throws("type-error"):
            call("int", True)

    def test_double(self):
        assert call("double", 1) == 1.0 and type(call("double", 1)) is float
        assert call("double", 2.5) == 2.5
        with throws("arithmetic-error", "double: number too large"):
            call("double", 10**400)
        with throws("type-error"):
            call("double", None)
