"""Transients: ``transient``, ``conj!``, ``assoc!``, ``dissoc!``, ``disj!``, ``persistent!``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flowmetal.lang.core import BUILTINS
from flowmetal.lang.data import Transient

from .core_helpers import K, M, S, V, call, same, throws


def test_vector_transient_appends_in_place_and_freezes_to_a_vector():
    t = call("transient", V(1))
    assert call("conj!", t, 2, 3) is t
    assert call("count", t) == 3
    assert same(call("persistent!", t), V(1, 2, 3))


def test_map_transient_takes_entries_assoc_and_dissoc():
    t = call("transient", M(K("a"), 1))
    call("conj!", t, V(K("b"), 2), M(K("c"), 3))
    call("assoc!", t, K("d"), 4, K("a"), 0)
    call("dissoc!", t, K("b"))
    assert same(call("persistent!", t), M(K("a"), 0, K("c"), 3, K("d"), 4))


def test_set_transient_adds_and_removes():
    t = call("transient", S(1))
    call("conj!", t, 2, 1, 3)
    call("disj!", t, 1)
    assert same(call("persistent!", t), S(2, 3))


def test_vector_transient_assoc_by_index_and_at_the_end():
    t = call("transient", V(1, 2))
    call("assoc!", t, 0, K("x"), 2, K("y"))
    assert same(call("persistent!", t), V(K("x"), 2, K("y")))
    with throws("index-out-of-bounds"):
        call("assoc!", call("transient", V()), 3, 1)


def test_transient_copies_so_the_original_is_untouched():
    v = V(1)
    call("conj!", call("transient", v), 2)
    assert same(v, V(1))


def test_get_and_contains_see_into_transients():
    t = call("transient", M(K("a"), 1))
    assert call("get", t, K("a")) == 1
    assert call("contains?", t, K("a"))
    tv = call("transient", V(5))
    assert call("get", tv, 0) == 5
    assert not call("contains?", tv, 1)


def test_using_a_transient_after_persistent_is_a_transient_error():
    t = call("transient", V())
    call("persistent!", t)
    for name, args in [("conj!", (t, 1)), ("persistent!", (t,)), ("count", (t,)),
                       ("assoc!", (t, 0, 1)), ("get", (t, 0))]:
        with throws("transient-error", "after persistent!"):
            call(name, *args)


def test_wrong_kinds_and_types():
    with throws("type-error", "transient expects a vector, map or set, got list"):
        call("transient", call("list", 1))
    with throws("type-error", "dissoc!"):
        call("dissoc!", call("transient", V()), 0)
    with throws("type-error", "assoc!"):
        call("assoc!", call("transient", S()), 0, 1)
    with throws("type-error", "conj! expects a transient, got vector"):
        call("conj!", V(), 1)
    with throws("type-error", "[key value]"):
        call("conj!", call("transient", M()), 5)


def test_mutating_built_ins_are_marked_impure():
    for name in ["conj!", "assoc!", "dissoc!", "disj!", "persistent!"]:
        assert BUILTINS[name].pure is False, name


@given(st.lists(st.integers(), max_size=20))
def test_building_with_a_transient_equals_building_with_conj(xs):
    t = call("transient", V())
    slow = V()
    for x in xs:
        call("conj!", t, x)
        slow = call("conj", slow, x)
    assert same(call("persistent!", t), slow)
    assert isinstance(t, Transient)
    with throws("transient-error"):
        call("conj!", t, 0)


def test_an_ended_transient_still_looks_like_a_transient_to_code_walking_state():
    for coll in [V(1), M(K("a"), 1), S(1)]:
        t = call("transient", coll)
        call("persistent!", t)
        assert len(t.items) == 0
        assert (list(t.items) if t.kind == "vector" else list(t.items.items())) == []
