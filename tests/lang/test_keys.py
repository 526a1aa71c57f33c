"""Map keys and set members are compared as ``=`` compares them: ``1``, ``1.0`` and ``true``
are three different keys (Python's ``1 == 1.0 == True`` must not leak through), while a
list and a vector with equal items are one key."""

from __future__ import annotations

import pytest

from flowmetal.lang.data import Map, Set, Vector, kw
from flowmetal.lang.snapshot import decode_value, encode_value

from .core_helpers import K, L, M, S, V, call, same
from .flow_helpers import show

# Pairs of values Python's == confuses and Flowmetal's = does not.
CONFUSED = [(1, True), (0, False), (1, 1.0), (True, 1.0), (0, 0.0), (False, 0.0)]


class TestMaps:
    @pytest.mark.parametrize("a, b", CONFUSED)
    def test_keys_python_confuses_stay_apart(self, a, b):
        m = M(a, "a", b, "b")
        assert len(m) == 2
        assert m.get(a) == "a" and m.get(b) == "b"
        assert same(list(m.keys()), [a, b])

    def test_a_missing_key_is_not_found_through_a_look_alike(self):
        m = M(1, "one")
        assert m.get(True) is None and m.get(1.0) is None
        assert True not in m and 1.0 not in m
        with pytest.raises(KeyError):
            m[True]

    def test_items_keys_and_lookups_speak_in_program_values(self):
        m = Map([(True, 1), (1.5, 2), (kw("k"), 3)])
        assert same(list(m.items()), [(True, 1), (1.5, 2), (kw("k"), 3)])
        assert same(list(m.keys()), [True, 1.5, kw("k")])
        assert m[1.5] == 2 and m.pop(True) == 1 and True not in m
        assert same(list(reversed(Map([(1, 0), (True, 0)]))), [True, 1])

    def test_copies_updates_and_dissoc_keep_keys_apart(self):
        m = M(1, "a", True, "b")
        copy = Map(m)
        copy.update(M(1.0, "c"))
        assert same(list(copy.keys()), [1, True, 1.0])
        assert same(list(m.assoc(1.0, "c").keys()), [1, True, 1.0])
        assert same(list(m.dissoc(True).keys()), [1])
        assert same(list(m.dissoc(1).keys()), [True])

    def test_collection_keys_compare_their_items_strictly(self):
        m = M(V(1), "int", V(True), "bool", V(1.0), "float")
        assert len(m) == 3
        assert m.get(L(True)) == "bool"  # a list and a vector with equal items are one key
        assert m.get(V(V(1))) is None
        nested = M(M(K("a"), 1), "x", M(K("a"), True), "y", S(1), "z", S(True), "w")
        assert len(nested) == 4
        assert nested.get(M(K("a"), True)) == "y"
        assert nested.get(S(True)) == "w"

    def test_deeply_nested_keys_do_not_hit_the_recursion_limit(self):
        key = True
        for _ in range(20_000):
            key = V(key)
        m = Map([(key, 1)])
        assert m.get(key) == 1 and len(Map([(key, 1), (V(key), 2)])) == 2


class TestSets:
    @pytest.mark.parametrize("a, b", CONFUSED)
    def test_members_python_confuses_stay_apart(self, a, b):
        s = S(a, b)
        assert len(s) == 2 and a in s and b in s
        assert same(list(s), [a, b])

    def test_conj_disj_and_equality(self):
        s = S(1).conj(True, 1.0)
        assert same(list(s), [1, True, 1.0])
        assert same(list(s.disj(True)), [1, 1.0])
        assert s == Set([1.0, True, 1]) and S(1) != S(True)
        assert 1 not in S(True)


class TestBuiltins:
    def test_literals_and_constructors(self):
        assert show("{1 :a true :b 1.0 :c}") == "{1 :a, true :b, 1.0 :c}"
        assert show("#{1 true 1.0 0 false}") == "#{1 true 1.0 0 false}"
        assert show("(hash-map 1 :a true :b)") == "{1 :a, true :b}"
        assert show("(set [1 true 1.0 1])") == "#{1 true 1.0}"
        assert show("(zipmap [1 true] [:a :b])") == "{1 :a, true :b}"
        assert show("(into {} [[1 :a] [true :b]])") == "{1 :a, true :b}"
        assert show("(merge {1 :a} {true :b} {1.0 :c})") == "{1 :a, true :b, 1.0 :c}"
        assert show("(conj #{1} true)") == "#{1 true}"

    def test_lookups(self):
        assert show("(get {1 :a} true)") == "nil"
        assert show("(get {1 :a true :b} true)") == ":b"
        assert show("(get {1 :a} 1.0)") == "nil"
        assert show("(contains? {1 :a} true)") == "false"
        assert show("(contains? #{1} 1.0)") == "false"
        assert show("({1 :a true :b} true)") == ":b"
        assert show("(#{1} true)") == "nil"
        assert show("(select-keys {1 :a true :b} [true])") == "{true :b}"
        assert show("(find {1 :a true :b} true)") == "[true :b]"
        assert show("(let [{a true b 1} {true :t 1 :one}] [a b])") == "[:t :one]"

    def test_equality_distinct_frequencies_group_by(self):
        assert show("(= {1 :a} {true :a})") == "false"
        assert show("(= {true :a} {true :a})") == "true"
        assert show("(= #{1 true} #{true 1})") == "true"
        assert show("(= #{1 true} #{1 1.0})") == "false"
        assert show("(distinct [1 1.0 true 1])") == "(1 1.0 true)"
        assert show("(frequencies [1 1.0 true 1])") == "{1 2, 1.0 1, true 1}"
        assert show("(group-by identity [1 1.0 true])") == "{1 [1], 1.0 [1.0], true [true]}"
        assert show("(keys {1 :a true :b})") == "(1 true)"
        assert show("(dissoc {1 :a true :b} true)") == "{1 :a}"
        assert show("(disj #{1 true} true)") == "#{1}"

    def test_transients(self):
        assert show("(persistent! (conj! (transient #{1}) true 1.0))") == "#{1 true 1.0}"
        assert show("(persistent! (assoc! (transient {1 :a}) true :b))") == "{1 :a, true :b}"
        assert show("(persistent! (dissoc! (transient {1 :a true :b}) true))") == "{1 :a}"
        assert show("(get (transient {true 1}) 1)") == "nil"
        assert show("(contains? (transient #{true}) 1)") == "false"
        assert show("(into #{} [1 true 1.0 1])") == "#{1 true 1.0}"

    def test_duplicates_in_literals_are_still_read_errors(self):
        for text in ("#{1 1}", "{true 1 true 2}", "#{[1] (1)}"):
            with pytest.raises(Exception, match="Duplicate"):
                show(text)

    def test_hash_agrees_with_equality(self):
        assert call("hash", M(True, 1)) == call("hash", M(True, 1))
        assert call("=", S(V(1), V(True)), S(L(True), L(1)))


def test_stored_values_come_back_with_their_keys_apart():
    value = M(1, "a", True, "b", 1.0, "c", V(True), S(1, True))
    back = decode_value(encode_value(value))
    assert same(back, value) and back.get(True) == "b" and back.get(V(True)) == S(1, True)
    assert same(decode_value(encode_value(Vector([S(0, False, 0.0)]))), V(S(0, False, 0.0)))


def test_nan_is_equal_to_nothing_so_each_nan_read_is_its_own_key():
    """As in Clojure: ##NaN is not = to itself, so two of them are two keys, and only the
    very same NaN finds its entry. The map prints and reads back."""
    assert show("{##NaN 1 ##NaN 2}") == "{##NaN 1, ##NaN 2}"
    assert show("(count #{##NaN ##NaN})") == "2"
    assert show("[(get {##NaN 1} ##NaN) (let [n ##NaN] (get {n 1} n))]") == "[nil 1]"
