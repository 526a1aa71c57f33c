"""Equality, ordering, hashing and ``type``: the helpers in ``core.values`` and their built-ins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowmetal.lang.core import compare, equals, seq_items, stable_hash
from flowmetal.lang.data import Atom, Symbol
from flowmetal.lang.errors import Thrown

from .core_helpers import K, L, M, S, V, call, same, throws

# Flowmetal data, for property tests: scalars and nested collections of them.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.sampled_from(["a", "b", "ns/c"]).map(K),
)
data = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: V(*xs)),
        st.lists(inner, max_size=4).map(lambda xs: L(*xs)),
        st.lists(st.tuples(scalars, inner), max_size=4).map(
            lambda kvs: M(*[x for kv in kvs for x in kv])
        ),
    ),
    max_leaves=12,
)


class TestEquals:
    def test_integer_is_not_equal_to_float_or_boolean(self):
        assert not call("=", 1, 1.0)
        assert not call("=", 1, True)
        assert not call("=", 0, False)
        assert not call("=", None, False)

    def test_list_equals_vector_with_the_same_items(self):
        assert call("=", V(1, 2), L(1, 2))
        assert call("=", L(V(1), L(2)), V(L(1), V(2)))

    def test_nested_numbers_are_compared_strictly(self):
        assert not call("=", V(1), V(1.0))
        assert not call("=", M(K("a"), V(1)), M(K("a"), V(True)))

    def test_maps_and_sets_ignore_order(self):
        assert call("=", M(K("a"), 1, K("b"), 2), M(K("b"), 2, K("a"), 1))
        assert call("=", S(1, 2), S(2, 1))

    def test_map_keys_are_compared_strictly(self):
        assert not equals(M(1, K("x")), M(1.0, K("x")))
        assert not equals(S(1), S(True))
        assert equals(M(V(1), 2), M(L(1), 2))

    def test_map_is_not_equal_to_vector_or_set(self):
        assert not call("=", M(), V())
        assert not call("=", S(), V())
        assert not call("=", L(), None)

    def test_variadic_and_single_argument(self):
        assert call("=", 1)
        assert call("=", 2, 2, 2)
        assert not call("=", 2, 2, 3)
        assert call("not=", 1, 2)
        assert not call("not=", 1, 1, 1)

    def test_strings_keywords_and_symbols(self):
        assert call("=", "a", "a")
        assert not call("=", "a", K("a"))
        assert call("=", Symbol("x"), Symbol("x"))
        assert not call("=", K("a"), K("b"))

    def test_nan_is_not_equal_to_itself(self):
        assert not call("=", float("nan"), float("nan"))

    def test_atoms_are_equal_only_to_themselves(self):
        a = Atom(1)
        assert call("=", a, a)
        assert not call("=", a, Atom(1))

    def test_deeply_nested_values_do_not_hit_the_recursion_limit(self):
        a, b = V(), L()
        for _ in range(50_000):
            a, b = V(a), L(b)
        assert equals(a, b)

    @given(data)
    def test_every_value_equals_itself_and_a_copy(self, x):
        assert equals(x, x)

    @given(data, data)
    def test_equality_is_symmetric(self, x, y):
        assert equals(x, y) == equals(y, x)


class TestCompare:
    def test_numbers_compare_by_value_across_types(self):
        assert call("compare", 1, 2) == -1
        assert call("compare", 2, 1.5) == 1
        assert call("compare", 1, 1.0) == 0

    def test_nil_sorts_first(self):
        assert call("compare", None, 0) == -1
        assert call("compare", "a", None) == 1
        assert call("compare", None, None) == 0

    def test_strings_keywords_symbols_booleans(self):
        assert call("compare", "a", "b") == -1
        assert call("compare", K("b"), K("a")) == 1
        assert call("compare", K("a"), K("x/a")) == -1
        assert call("compare", Symbol("a/b"), Symbol("a/c")) == -1
        assert call("compare", False, True) == -1

    def test_vectors_compare_by_length_then_items(self):
        assert call("compare", V(1, 2), V(1, 3)) == -1
        assert call("compare", V(9), V(1, 1)) == -1
        assert call("compare", V(1, V("b")), V(1, V("a"))) == 1

    def test_incomparable_types_throw_type_error(self):
        with throws("type-error", "compare"):
            call("compare", 1, "a")
        with throws("type-error"):
            call("compare", M(), M())
        with throws("type-error"):
            call("compare", True, 1)

    @given(st.lists(st.one_of(st.integers(), st.floats(allow_nan=False)), max_size=10))
    def test_sorting_numbers_by_compare_matches_python(self, xs):
        assert same(L(*sorted(xs)), call("sort", V(*xs)))


class TestHash:
    def test_equal_values_hash_the_same(self):
        assert call("hash", V(1, 2)) == call("hash", L(1, 2))
        assert call("hash", M(K("a"), 1, K("b"), 2)) == call("hash", M(K("b"), 2, K("a"), 1))
        assert call("hash", S(1, 2)) == call("hash", S(2, 1))

    def test_hash_is_a_64_bit_integer(self):
        for x in ["abc", V(*range(100)), M("k", S(K("x")))]:
            h = call("hash", x)
            assert type(h) is int and -(2**63) <= h < 2**63

    def test_hash_is_the_same_in_another_process(self):
        value = M("text", V(K("a/b"), Symbol("s"), 1.5, None, True))
        code = (
            "from flowmetal.lang.core import stable_hash;"
            "from flowmetal.lang.data import Map, Vector, Symbol, kw;"
            "print(stable_hash(Map({'text': Vector((kw('a/b'), Symbol('s'), 1.5, None, True))})))"
        )
        env = {"PYTHONHASHSEED": "12345"}
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, cwd=root, check=True).stdout
        assert int(out) == stable_hash(value)

    def test_non_data_values_cannot_be_hashed(self):
        with throws("type-error", "atom"):
            call("hash", Atom(1))

    def test_deep_values_hash_without_recursion(self):
        v = V()
        for _ in range(50_000):
            v = V(v)
        assert isinstance(stable_hash(v), int)

    @given(data)
    def test_hash_agrees_with_equality(self, x):
        copy = _copy_swapping_lists_and_vectors(x)
        assert equals(x, copy)
        assert stable_hash(x) == stable_hash(copy)


def _copy_swapping_lists_and_vectors(x):
    if type(x) is V().__class__:
        return L(*map(_copy_swapping_lists_and_vectors, x))
    if type(x) is L().__class__:
        return V(*map(_copy_swapping_lists_and_vectors, x))
    if type(x) is M().__class__:
        return M(*[y for k, v in x.items() for y in (k, _copy_swapping_lists_and_vectors(v))])
    return x


class TestType:
    @pytest.mark.parametrize(
        "value, name",
        [
            (None, "nil"), (True, "boolean"), (1, "integer"), (1.5, "float"), ("s", "string"),
            (K("k"), "keyword"), (Symbol("s"), "symbol"), (L(), "list"), (V(), "vector"),
            (M(), "map"), (S(), "set"), (Atom(0), "atom"),
        ],
    )
    def test_type_names_a_value_with_a_keyword(self, value, name):
        assert call("type", value) is K(name)

    def test_builtin_functions_have_type_function(self):
        from flowmetal.lang.core import BUILTINS

        assert call("type", BUILTINS["inc"]) is K("function")


class TestSeqItems:
    def test_items_of_each_seqable(self):
        assert list(seq_items(None, "f")) == []
        assert list(seq_items("ab", "f")) == ["a", "b"]
        assert same(list(seq_items(M(K("a"), 1), "f"))[0], V(K("a"), 1))
        assert list(seq_items(S(3, 1), "f")) == [3, 1]

    def test_non_seqable_throws_type_error_naming_the_function(self):
        with pytest.raises(Thrown) as info:
            seq_items(5, "frobnicate")
        assert "frobnicate" in info.value.value.message
        assert "integer" in info.value.value.message


def test_compare_helper_is_importable_for_the_prelude():
    assert compare(V(1), V(2)) == -1
