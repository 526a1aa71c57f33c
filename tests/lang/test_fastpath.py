"""The fast path (generated Python for simple arithmetic) must give exactly what the
plain tree walk gives: same values for every number type, same errors for the rest, and
it must notice a redefined built-in."""

from __future__ import annotations

import pytest

from .flow_helpers import show, uncaught

# Each expression is inside a function so that its operands are locals, the case the
# generated code checks at run time (literal numbers are checked when it is built).
CASES = [
    ("(- n 1)", "5", "4"),
    ("(- n 1)", "5.5", "4.5"),
    ("(- n 1.5)", "5", "3.5"),
    ("(< n 2)", "1.5", "true"),
    ("(< 2 n)", "1", "false"),
    ("(+ n n)", "2.5", "5.0"),
    ("(= n 1)", "1", "true"),
    ("(= n 1)", "1.0", "false"),  # (= 1 1.0) is false: ints only are inlined
    ("(= n 1.0)", "1.0", "true"),
    ("(== n 1)", "1.0", "true"),
    ("(inc n)", "41", "42"),
    ("(dec n)", "0.5", "-0.5"),
    ("(* n -1)", "3", "-3"),
    ("(+ n 4611686018427387904)", "1", "4611686018427387905"),  # a big literal
]


@pytest.mark.parametrize(("expr", "arg", "want"), CASES)
def test_inlined_arithmetic_matches_the_builtin(expr: str, arg: str, want: str) -> None:
    assert show(f"(defn f [n] {expr}) [(f {arg}) (f {arg})]") == f"[{want} {want}]"


@pytest.mark.parametrize(("arg", "kind"), [("true", "boolean"), ("nil", "nil"),
                                           ('"s"', "string"), (":k", "keyword")])
def test_non_numbers_reach_the_builtin_and_its_type_error(arg: str, kind: str) -> None:
    err = uncaught(f"(defn f [n] (- n 1)) (f {arg})")
    assert f"- expects a number, got {kind}" in str(err)
    assert "at f (<eval>:1:13)" in str(err)


def test_a_caught_type_error_from_the_fast_path_is_an_ordinary_error() -> None:
    assert show('(defn f [n] (< n 2)) (try (f "x") (catch e :caught))') == ":caught"


def test_a_redefined_builtin_is_called_instead_of_the_inlined_operator() -> None:
    src = "(defn f [n] (+ n 1)) (def a (f 1)) (def + (fn [x y] (str x y))) [a (f 1)]"
    assert show(src) == '[2 "11"]'


def test_the_returned_local_of_an_if_branch_is_its_current_value() -> None:
    src = "(defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2))))) (fib 15)"
    assert show(src) == "610"
