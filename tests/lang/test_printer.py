"""The printer: exact text for each kind of value, caps, deep nesting, read/print round trips."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowmetal.lang.data import (
    Atom,
    Keyword,
    List,
    Map,
    Set,
    Symbol,
    Transient,
    Vector,
    kw,
    sym,
)
from flowmetal.lang.errors import ExInfo
from flowmetal.lang.printer import pr_str, print_str, str_of
from flowmetal.lang.reader import read, read_one

# -- scalars ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (None, "nil"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-42, "-42"),
        (2**70, "1180591620717411303424"),
        (kw("a"), ":a"),
        (kw("http/get"), ":http/get"),
        (sym("x"), "x"),
        (sym("str/join"), "str/join"),
        (sym("/"), "/"),
    ],
)
def test_scalars_print_as_edn(value: Any, text: str) -> None:
    assert pr_str(value) == text


@pytest.mark.parametrize(
    "value, text",
    [
        (1.0, "1.0"),
        (-2.5, "-2.5"),
        (1e16, "1e+16"),
        (1.5e-7, "1.5e-07"),
        (-0.0, "-0.0"),
        (math.inf, "##Inf"),
        (-math.inf, "##-Inf"),
        (math.nan, "##NaN"),
    ],
)
def test_floats_always_print_as_floats(value: float, text: str) -> None:
    assert pr_str(value) == text
    back = read_one(text)
    assert type(back) is float


def test_huge_int_prints_past_pythons_str_limit() -> None:
    big = 7**20_000  # about 16,900 digits
    text = pr_str(-big)
    assert text.startswith("-") and len(text) == 16_903
    assert read_one(text) == -big


@pytest.mark.parametrize(
    "value, text",
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("a\nb\tc\rd", '"a\\nb\\tc\\rd"'),
        ("\x00\x1b\x7f\x85", '"\\u0000\\u001b\\u007f\\u0085"'),
        ("héllo → 世界 😀", '"héllo → 世界 😀"'),
        ("\ud800", '"\\ud800"'),
        ("", '""'),
    ],
)
def test_strings_print_quoted_and_escaped(value: str, text: str) -> None:
    assert pr_str(value) == text
    assert read_one(text) == value


# -- collections -----------------------------------------------------------------------------


def test_collections_print_in_clojure_style() -> None:
    assert pr_str(List([1, 2])) == "(1 2)"
    assert pr_str(Vector([1, "a", kw("b")])) == '[1 "a" :b]'
    assert pr_str(Map({kw("a"): 1, kw("b"): 2})) == "{:a 1, :b 2}"
    assert pr_str(Set([1, 2])) == "#{1 2}"


def test_empty_collections() -> None:
    assert [pr_str(x) for x in (List(), Vector(), Map(), Set())] == ["()", "[]", "{}", "#{}"]


def test_maps_and_sets_print_in_insertion_order() -> None:
    assert pr_str(Map({kw("z"): 1, kw("a"): 2})) == "{:z 1, :a 2}"
    assert pr_str(Set([3, 1, 2])) == "#{3 1 2}"


def test_nested_collections() -> None:
    value = Map({Vector([1, List([2])]): Set([Map({kw("k"): None})])})
    assert pr_str(value) == "{[1 (2)] #{{:k nil}}}"


# -- print_str and str_of --------------------------------------------------------------------


def test_print_str_leaves_strings_raw_at_every_level() -> None:
    assert print_str("a\nb") == "a\nb"
    assert print_str(Vector(["a", Map({"k": "v"})])) == "[a {k v}]"
    assert print_str(None) == "nil"


@pytest.mark.parametrize(
    "value, text",
    [
        (None, ""),
        ('raw "s"', 'raw "s"'),
        (1, "1"),
        (1.5, "1.5"),
        (kw("k"), ":k"),
        (sym("s"), "s"),
        (True, "true"),
        (Vector(["a"]), '["a"]'),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (math.nan, "NaN"),
        (Vector([math.inf]), "[##Inf]"),
    ],
)
def test_str_of_follows_clojure_str(value: Any, text: str) -> None:
    assert str_of(value) == text


# -- values that are not data ----------------------------------------------------------------


class FakeFunction:
    type_name = "function"

    def __init__(self, name: str | None) -> None:
        self.name = name


def test_atom_prints_its_value() -> None:
    assert pr_str(Atom(Vector([1, "a"]))) == '#atom[[1 "a"]]'
    assert print_str(Atom("a")) == "#atom[a]"


def test_atom_holding_itself_prints_without_looping() -> None:
    atom = Atom(None)
    atom.value = Map({kw("self"): atom})
    assert pr_str(atom) == "#atom[{:self #atom[...]}]"


def test_same_atom_twice_in_a_collection_prints_twice() -> None:
    atom = Atom(1)
    assert pr_str(Vector([atom, atom])) == "[#atom[1] #atom[1]]"


def test_functions_print_with_their_name() -> None:
    assert pr_str(FakeFunction("inc")) == "#<fn inc>"
    assert pr_str(Vector([FakeFunction(None)])) == "[#<fn>]"


def test_error_values_print_message_and_data() -> None:
    error = ExInfo("boom", Map({kw("type"): kw("oops"), kw("n"): 1}))
    assert pr_str(error) == '#error {:message "boom", :data {:type :oops, :n 1}}'
    outer = ExInfo("outer", Map(), cause=ExInfo("inner"))
    assert pr_str(outer) == (
        '#error {:message "outer", :data {}, :cause #error {:message "inner", :data {}}}'
    )


def test_transient_prints_kind_and_size() -> None:
    assert pr_str(Transient("vector", [1, 2, 3])) == "#transient[vector 3]"


def test_other_values_print_their_type_name() -> None:
    assert pr_str(object()) == "#<object>"
    assert pr_str(Vector([b"x"])) == "[#<bytes>]"


# -- display caps ----------------------------------------------------------------------------


def test_max_length_cuts_long_collections() -> None:
    assert pr_str(Vector([1, 2, 3]), max_length=2) == "[1 2 ...]"
    assert pr_str(Vector([1, 2]), max_length=2) == "[1 2]"
    assert pr_str(List([1, 2, 3]), max_length=0) == "(...)"
    assert pr_str(Map({kw("a"): 1, kw("b"): 2, kw("c"): 3}), max_length=2) == "{:a 1, :b 2, ...}"
    assert pr_str(Set(range(10)), max_length=3) == "#{0 1 2 ...}"


def test_max_depth_cuts_deep_collections() -> None:
    value = Map({kw("a"): Vector([1, Vector([2])])})
    assert pr_str(value, max_depth=1) == "{:a ...}"
    assert pr_str(value, max_depth=2) == "{:a [1 ...]}"
    assert pr_str(value, max_depth=3) == "{:a [1 [2]]}"
    assert pr_str(value, max_depth=0) == "..."
    assert pr_str(1, max_depth=0) == "1"


def test_caps_apply_to_print_str_and_atoms() -> None:
    assert print_str(Vector(["a", "b", "c"]), max_length=1) == "[a ...]"
    assert pr_str(Atom(Vector([1])), max_depth=1) == "#atom[...]"


def test_no_caps_by_default() -> None:
    value = Vector(range(1000))
    assert pr_str(value).count(" ") == 999


# -- deep nesting ----------------------------------------------------------------------------

DEEP = 100_000


def test_deeply_nested_list_prints_without_recursion() -> None:
    value: Any = sym("x")
    for _ in range(DEEP):
        value = List([value])
    assert pr_str(value) == "(" * DEEP + "x" + ")" * DEEP


def test_deeply_nested_mixed_collections_print_and_read_back() -> None:
    value: Any = 1
    for _ in range(DEEP // 4):
        value = Vector([Map({kw("k"): Set([value])}), "s"])
    text = pr_str(value)
    assert text.startswith("[{:k #{[{:k #{") and text.endswith('}} "s"]}} "s"]')
    back = read_one(text)
    assert same(back, value)


def test_deeply_nested_capped_print_is_short() -> None:
    value: Any = 1
    for _ in range(DEEP):
        value = List([value])
    assert pr_str(value, max_depth=3) == "(((...)))"


# -- round trips -----------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types at every level and in the same order; NaN equals NaN.

    Iterative, so it can compare the deep values above.
    """
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if type(x) is float:
            if not (math.isnan(x) and math.isnan(y)) and (
                x != y or math.copysign(1, x) != math.copysign(1, y)
            ):
                return False
        elif type(x) in (List, Vector, Set):
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y))
        elif type(x) is Map:
            if len(x) != len(y):
                return False
            pending.extend(zip(x.keys(), y.keys()))
            pending.extend(zip(x.values(), y.values()))
        elif x != y:
            return False
    return True


_LETTERS = st.characters(categories=("Lu", "Ll", "Lo"))
_FIRST = st.one_of(_LETTERS, st.sampled_from("*+!-_?<>=.&%"))
_LATER = st.one_of(_LETTERS, st.sampled_from("0123456789*+!-_'?<>=.&%#"))


def _valid_name(name: str) -> bool:
    if name in ("nil", "true", "false"):
        return False
    return not (len(name) > 1 and name[0] in "+-." and name[1].isdigit())


names = st.builds(lambda first, rest: first + "".join(rest), _FIRST, st.lists(_LATER, max_size=6))
names = names.filter(_valid_name)
qualified = st.one_of(names, st.builds(lambda ns, n: f"{ns}/{n}", names, names), st.just("/"))
symbols = qualified.map(Symbol)
keywords = st.one_of(qualified, st.from_regex(r"[0-9][a-z0-9]{0,3}", fullmatch=True)).map(kw)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    keywords,
    symbols,
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5).map(List),
        st.lists(children, max_size=5).map(Vector),
        st.lists(st.tuples(children, children), max_size=5).map(Map),
        st.lists(children, max_size=5).map(Set),
    ),
    max_leaves=30,
)


@settings(max_examples=400)
@given(values)
def test_read_of_pr_str_gives_back_the_value_with_the_same_types(value: Any) -> None:
    text = pr_str(value)
    forms = read(text)
    assert len(forms) == 1
    assert same(forms[0], value), text


@given(symbols)
def test_symbols_read_back_with_their_namespace(symbol: Symbol) -> None:
    back = read_one(pr_str(symbol))
    assert (back.full, back.ns, back.name) == (symbol.full, symbol.ns, symbol.name)


@given(keywords)
def test_keywords_read_back_as_the_same_interned_keyword(keyword: Keyword) -> None:
    assert read_one(pr_str(keyword)) is keyword


@given(st.text(alphabet=st.characters(codec=None, categories=("Cs", "Cc", "Zs", "Lo"))))
def test_strings_with_control_characters_and_lone_surrogates_round_trip(text: str) -> None:
    assert read_one(pr_str(text)) == text


@given(values, st.integers(0, 4), st.integers(0, 4))
def test_capped_printing_never_fails(value: Any, depth: int, length: int) -> None:
    assert isinstance(pr_str(value, max_depth=depth, max_length=length), str)
    assert isinstance(print_str(value, max_depth=depth, max_length=length), str)
