"""Collection and sequence built-ins: building, reading, "changing" and slicing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flowmetal.lang.core.values import MAX_EAGER_LENGTH
from flowmetal.lang.data import Keyword, List, Map, Symbol, Transient, Vector

from .core_helpers import K, L, M, S, V, call, same, throws

small_vectors = st.lists(st.integers(), max_size=8).map(lambda xs: V(*xs))
items = st.one_of(st.integers(), st.text(max_size=3), st.none())


class TestBuilding:
    def test_list_vector_hash_map_hash_set(self):
        assert same(call("list", 1, 2), L(1, 2))
        assert same(call("list"), L())
        assert same(call("vector", 1, 2), V(1, 2))
        assert same(call("hash-map", K("a"), 1, K("b"), 2), M(K("a"), 1, K("b"), 2))
        assert same(call("hash-set", 1, 2, 1), S(1, 2))

    def test_hash_map_with_a_missing_value_is_an_argument_error(self):
        with throws("argument-error", "even number"):
            call("hash-map", K("a"))

    def test_vec_and_set_take_any_seqable(self):
        assert same(call("vec", L(1, 2)), V(1, 2))
        assert same(call("vec", None), V())
        assert same(call("vec", M(K("a"), 1)), V(V(K("a"), 1)))
        assert same(call("vec", "ab"), V("a", "b"))
        assert same(call("set", V(1, 2, 1)), S(1, 2))
        assert same(call("set", None), S())

    def test_vec_and_set_reject_non_collections(self):
        with throws("type-error", "vec expects a collection, got integer"):
            call("vec", 5)
        with throws("type-error", "set"):
            call("set", K("a"))

    def test_keyword_from_strings_symbols_keywords_and_namespaces(self):
        assert call("keyword", "a") is K("a")
        assert call("keyword", "a/b") is K("a/b")
        assert call("keyword", Symbol("x")) is K("x")
        assert call("keyword", K("y")) is K("y")
        assert call("keyword", "http", "get") is K("http/get")
        assert call("keyword", None, "get") is K("get")
        assert call("keyword", None) is None
        with throws("type-error"):
            call("keyword", 1)

    def test_symbol_name_and_namespace(self):
        assert call("symbol", "str", "join") == Symbol("str/join")
        assert call("symbol", "a") == Symbol("a")
        assert call("symbol", K("k")) == Symbol("k")
        assert call("name", K("http/get")) == "get"
        assert call("name", Symbol("x")) == "x"
        assert call("name", "s") == "s"
        assert call("namespace", K("http/get")) == "http"
        assert call("namespace", K("get")) is None
        with throws("type-error", "name"):
            call("name", 5)
        with throws("type-error"):
            call("namespace", "s")

    def test_range_forms(self):
        assert same(call("range", 3), L(0, 1, 2))
        assert same(call("range", 1, 4), L(1, 2, 3))
        assert same(call("range", 10, 0, -3), L(10, 7, 4, 1))
        assert same(call("range", 0), L())
        assert same(call("range", 0, 1, 0.25), L(0, 0.25, 0.5, 0.75))
        assert same(call("range", 0, 0, 0), L())

    def test_range_refuses_endless_and_huge_ranges(self):
        with throws("argument-error", "never end"):
            call("range", 0, 5, 0)
        with throws("argument-error", "limit"):
            call("range", MAX_EAGER_LENGTH + 1)
        with throws("argument-error"):
            call("range", 0, 10**30)
        with throws("argument-error"):
            call("range", 0.0, float("inf"))
        with throws("type-error"):
            call("range", "5")

    def test_repeat_identity_zipmap_frequencies(self):
        assert same(call("repeat", 3, K("a")), L(K("a"), K("a"), K("a")))
        assert same(call("repeat", -1, 1), L())
        with throws("argument-error"):
            call("repeat", MAX_EAGER_LENGTH + 1, 0)
        v = V(1)
        assert call("identity", v) is v
        assert same(call("zipmap", V(K("a"), K("b")), L(1, 2, 3)), M(K("a"), 1, K("b"), 2))
        assert same(call("frequencies", V(K("a"), K("b"), K("a"))), M(K("a"), 2, K("b"), 1))
        assert same(call("frequencies", None), M())


class TestReading:
    def test_count_of_collections_strings_and_nil(self):
        assert call("count", V(1, 2, 3)) == 3
        assert call("count", "héllo") == 5
        assert call("count", None) == 0
        assert call("count", M(1, 2)) == 1
        assert call("count", Transient("vector", [1, 2])) == 2

    def test_count_of_a_non_collection_says_what_it_got(self):
        with throws("type-error", "count not supported on integer"):
            call("count", 5)
        with throws("type-error", "count not supported on keyword"):
            call("count", K("a"))

    def test_get_on_maps_vectors_sets_strings_and_nil(self):
        m = M(K("a"), 1, K("n"), None)
        assert call("get", m, K("a")) == 1
        assert call("get", m, K("z")) is None
        assert call("get", m, K("z"), 0) == 0
        assert call("get", m, K("n"), 0) is None
        assert call("get", V(10, 20), 1) == 20
        assert call("get", V(10, 20), 2, K("none")) is K("none")
        assert call("get", V(10, 20), -1) is None
        assert call("get", V(10, 20), True) is None
        assert call("get", S(K("x")), K("x")) is K("x")
        assert call("get", S(K("x")), K("y"), 1) == 1
        assert call("get", "abc", 1) == "b"
        assert call("get", None, K("a"), 5) == 5

    def test_get_on_a_non_collection_is_nil_as_in_clojure(self):
        assert call("get", 5, K("a")) is None
        assert call("get", K("k"), K("a"), 1) == 1

    def test_get_in_follows_a_path(self):
        m = M(K("a"), M(K("b"), V(10, 20)))
        assert call("get-in", m, V(K("a"), K("b"), 1)) == 20
        assert call("get-in", m, V(K("a"), K("x"), 1), K("none")) is K("none")
        assert call("get-in", m, V()) is m
        assert call("get-in", M(K("a"), None), V(K("a")), 5) is None

    def test_contains_checks_keys_not_values(self):
        assert call("contains?", M(K("a"), None), K("a"))
        assert not call("contains?", M(), K("a"))
        assert call("contains?", S(1), 1)
        assert call("contains?", V(K("a")), 0)
        assert not call("contains?", V(K("a")), K("a"))
        assert call("contains?", "ab", 1)
        assert not call("contains?", None, 1)
        with throws("type-error", "contains?"):
            call("contains?", 5, 1)

    def test_find_returns_an_entry_or_nil(self):
        assert same(call("find", M(K("a"), 1), K("a")), V(K("a"), 1))
        assert call("find", M(K("a"), 1), K("b")) is None
        assert same(call("find", V(5, 6), 1), V(1, 6))
        assert call("find", None, K("a")) is None

    def test_find_gives_the_key_stored_in_the_map_not_the_equal_one_asked_for(self):
        assert same(call("find", M(V(1), K("a")), L(1)), V(V(1), K("a")))
        assert same(call("find", M(L(1, 2), K("b")), V(1, 2)), V(L(1, 2), K("b")))
        with throws("type-error"):
            call("find", "s", 0)

    def test_keys_and_vals_keep_insertion_order_and_are_nil_when_empty(self):
        m = M(K("b"), 2, K("a"), 1)
        assert same(call("keys", m), L(K("b"), K("a")))
        assert same(call("vals", m), L(2, 1))
        assert call("keys", M()) is None
        assert call("vals", None) is None
        with throws("type-error", "keys expects a map"):
            call("keys", V(1))

    def test_first_second_last_of_every_seqable(self):
        assert call("first", V(1, 2)) == 1
        assert call("first", None) is None
        assert call("first", V()) is None
        assert call("first", "ab") == "a"
        assert same(call("first", M(K("a"), 1)), V(K("a"), 1))
        assert call("first", S(3, 4)) == 3
        assert call("second", L(1, 2)) == 2
        assert call("second", V(1)) is None
        assert call("second", S(3, 4)) == 4
        assert call("last", V(1, 2, 3)) == 3
        assert call("last", None) is None
        with throws("type-error", "first"):
            call("first", 1)

    def test_nth_with_and_without_default(self):
        assert call("nth", V(K("a"), K("b")), 1) is K("b")
        assert call("nth", L(1, 2), 0) == 1
        assert call("nth", "abc", 2) == "c"
        assert call("nth", V(), 5, K("none")) is K("none")
        assert call("nth", None, 3) is None
        with throws("index-out-of-bounds", "index 2"):
            call("nth", V(1, 2), 2)
        with throws("index-out-of-bounds"):
            call("nth", V(1, 2), -1)
        with throws("type-error", "integer index"):
            call("nth", V(1), 0.0)
        with throws("type-error"):
            call("nth", M(), 0)

    def test_peek_and_pop_work_at_the_conj_end(self):
        assert call("peek", V(1, 2, 3)) == 3
        assert call("peek", L(1, 2, 3)) == 1
        assert call("peek", V()) is None
        assert call("peek", None) is None
        assert same(call("pop", V(1, 2, 3)), V(1, 2))
        assert same(call("pop", L(1, 2, 3)), L(2, 3))
        assert call("pop", None) is None
        with throws("argument-error", "empty vector"):
            call("pop", V())
        with throws("type-error"):
            call("peek", S(1))


class TestSequences:
    def test_seq_is_nil_for_empty_things(self):
        assert call("seq", V()) is None
        assert call("seq", None) is None
        assert call("seq", "") is None
        assert same(call("seq", V(1, 2)), L(1, 2))
        assert same(call("seq", "ab"), L("a", "b"))
        assert same(call("seq", M(K("a"), 1)), L(V(K("a"), 1)))

    def test_rest_is_never_nil_and_next_is_nil_when_nothing_is_left(self):
        assert same(call("rest", V(1, 2, 3)), L(2, 3))
        assert same(call("rest", V()), L())
        assert same(call("rest", None), L())
        assert same(call("rest", V(1)), L())
        assert same(call("next", V(1, 2)), L(2))
        assert call("next", V(1)) is None
        assert call("next", None) is None
        assert same(call("rest", S(1, 2)), L(2))
        assert same(call("next", "ab"), L("b"))

    def test_butlast_cons_concat(self):
        assert same(call("butlast", V(1, 2, 3)), L(1, 2))
        assert call("butlast", V(1)) is None
        assert same(call("cons", 0, V(1, 2)), L(0, 1, 2))
        assert same(call("cons", 0, None), L(0))
        assert same(call("concat", V(1), L(2), None, "ab"), L(1, 2, "a", "b"))
        assert same(call("concat"), L())

    def test_take_drop_and_their_last_variants(self):
        v = V(1, 2, 3)
        assert same(call("take", 2, v), L(1, 2))
        assert same(call("take", 10, v), L(1, 2, 3))
        assert same(call("take", -1, v), L())
        assert same(call("drop", 2, v), L(3))
        assert same(call("drop", -2, v), L(1, 2, 3))
        assert same(call("take-last", 2, v), L(2, 3))
        assert call("take-last", 0, v) is None
        assert call("take-last", 2, None) is None
        assert same(call("drop-last", v), L(1, 2))
        assert same(call("drop-last", 2, v), L(1))
        assert same(call("drop-last", 5, v), L())
        assert same(call("drop-last", 0, v), L(1, 2, 3))
        with throws("type-error", "integer count"):
            call("take", "2", v)

    def test_nthrest_and_nthnext(self):
        assert same(call("nthrest", V(1, 2, 3), 1), L(2, 3))
        assert same(call("nthrest", V(1), 3), L())
        assert same(call("nthnext", V(1, 2, 3), 2), L(3))
        assert call("nthnext", V(1, 2, 3), 3) is None

    def test_reverse_sort_distinct(self):
        assert same(call("reverse", V(1, 2, 3)), L(3, 2, 1))
        assert same(call("reverse", None), L())
        assert same(call("sort", V(3, 1, 2)), L(1, 2, 3))
        assert same(call("sort", V("b", "a")), L("a", "b"))
        assert same(call("sort", V(K("b"), None, K("a"))), L(None, K("a"), K("b")))
        assert same(call("sort", V(V(2), V(1, 1), V(1))), L(V(1), V(2), V(1, 1)))
        assert same(call("distinct", V(1, 2, 1, 3, 2)), L(1, 2, 3))

    def test_sort_keeps_equal_items_in_their_order(self):
        assert same(call("sort", V(2, 1.0, 1, 0)), L(0, 1.0, 1, 2))

    def test_sort_of_mixed_types_is_a_type_error(self):
        with throws("type-error", "compare"):
            call("sort", V(1, "a"))

    def test_interleave_and_flatten(self):
        assert same(call("interleave", V(K("a"), K("b")), V(1, 2, 3)),
                    L(K("a"), 1, K("b"), 2))
        assert same(call("interleave"), L())
        assert same(call("flatten", V(1, V(2, L(3, V())), 4)), L(1, 2, 3, 4))
        assert same(call("flatten", V(M(K("a"), 1), "ab")), L(M(K("a"), 1), "ab"))
        assert same(call("flatten", 5), L())
        assert same(call("flatten", None), L())

    def test_flatten_handles_deep_nesting(self):
        v = V(1)
        for _ in range(50_000):
            v = V(v)
        assert same(call("flatten", v), L(1))

    @given(small_vectors)
    def test_rest_and_first_rebuild_the_sequence(self, v):
        if v:
            assert list(call("cons", call("first", v), call("rest", v))) == list(v)
        else:
            assert call("first", v) is None and call("next", v) is None

    @given(small_vectors, st.integers(-2, 10))
    def test_take_and_drop_split_a_sequence(self, v, n):
        assert list(call("concat", call("take", n, v), call("drop", n, v))) == list(v)


class TestChanging:
    def test_conj_adds_where_each_collection_adds(self):
        assert same(call("conj", V(1, 2), 3, 4), V(1, 2, 3, 4))
        assert same(call("conj", L(1, 2), 3, 4), L(4, 3, 1, 2))
        assert same(call("conj", None, 1, 2), L(2, 1))
        assert same(call("conj", S(1), 2, 1), S(1, 2))
        assert same(call("conj", M(K("a"), 1), V(K("b"), 2), M(K("c"), 3), None),
                    M(K("a"), 1, K("b"), 2, K("c"), 3))

    def test_conj_with_no_items(self):
        assert same(call("conj"), V())
        v = V(1)
        assert call("conj", v) is v
        assert call("conj", None) is None

    def test_conj_never_mutates_its_argument(self):
        m = M(K("a"), 1)
        call("conj", m, V(K("b"), 2))
        assert same(m, M(K("a"), 1))

    def test_conj_onto_a_map_needs_entries(self):
        with throws("type-error", "[key value]"):
            call("conj", M(), V(1, 2, 3))
        with throws("type-error", "conj expects a collection, got integer"):
            call("conj", 1, 2)

    def test_into(self):
        assert same(call("into", V(), L(1, 2)), V(1, 2))
        assert same(call("into", L(1), V(2, 3)), L(3, 2, 1))
        assert same(call("into", None, V(1, 2)), L(2, 1))
        assert same(call("into", M(), V(V(K("a"), 1))), M(K("a"), 1))
        assert same(call("into", M(K("a"), 1), M(K("a"), 2, K("b"), 3)),
                    M(K("a"), 2, K("b"), 3))
        assert same(call("into", S(), "aba"), S("a", "b"))
        assert same(call("into", V(), M(K("a"), 1)), V(V(K("a"), 1)))
        with throws("type-error", "into"):
            call("into", 5, V())

    def test_assoc_on_maps_vectors_and_nil(self):
        assert same(call("assoc", M(K("a"), 1), K("b"), 2), M(K("a"), 1, K("b"), 2))
        assert same(call("assoc", M(K("a"), 1), K("a"), 2, K("c"), 3), M(K("a"), 2, K("c"), 3))
        assert same(call("assoc", None, K("a"), 1), M(K("a"), 1))
        assert same(call("assoc", V(1, 2), 0, K("x")), V(K("x"), 2))
        assert same(call("assoc", V(1, 2), 2, 3), V(1, 2, 3))

    def test_assoc_errors(self):
        with throws("index-out-of-bounds"):
            call("assoc", V(1), 5, 0)
        with throws("type-error", "integer index"):
            call("assoc", V(1), K("a"), 0)
        with throws("argument-error"):
            call("assoc", M(), K("a"), 1, K("b"))
        with throws("type-error", "assoc"):
            call("assoc", "s", 0, "x")

    def test_assoc_in_builds_missing_levels(self):
        m = M(K("a"), M(K("b"), 1))
        assert same(call("assoc-in", m, V(K("a"), K("c")), 2),
                    M(K("a"), M(K("b"), 1, K("c"), 2)))
        assert same(m, M(K("a"), M(K("b"), 1)))
        assert same(call("assoc-in", None, V(K("a"), K("b")), 1), M(K("a"), M(K("b"), 1)))
        assert same(call("assoc-in", V(V(0)), V(0, 1), 5), V(V(0, 5)))
        with throws("type-error"):
            call("assoc-in", M(K("a"), 5), V(K("a"), K("b")), 1)

    def test_dissoc_disj_merge(self):
        assert same(call("dissoc", M(K("a"), 1, K("b"), 2), K("a")), M(K("b"), 2))
        assert call("dissoc", None, K("a")) is None
        assert same(call("disj", S(1, 2, 3), 2), S(1, 3))
        assert call("disj", None, 1) is None
        assert same(call("merge", M(K("a"), 1), None, M(K("a"), 2, K("b"), 3)),
                    M(K("a"), 2, K("b"), 3))
        assert call("merge") is None
        assert call("merge", None, None) is None
        base = M(K("a"), 1)
        assert call("merge", base, M()) is base
        with throws("type-error", "merge"):
            call("merge", M(), V())

    def test_select_keys_subvec_empty_not_empty(self):
        assert same(call("select-keys", M(K("a"), 1, K("b"), 2), V(K("a"), K("c"))),
                    M(K("a"), 1))
        assert same(call("select-keys", None, V(K("a"))), M())
        assert same(call("subvec", V(0, 1, 2, 3), 1, 3), V(1, 2))
        assert same(call("subvec", V(0, 1, 2, 3), 2), V(2, 3))
        with throws("index-out-of-bounds"):
            call("subvec", V(0, 1), 1, 3)
        assert same(call("empty", V(1)), V())
        assert same(call("empty", L(1)), L())
        assert same(call("empty", M(1, 2)), M())
        assert same(call("empty", S(1)), S())
        assert call("empty", 5) is None
        assert call("not-empty", V()) is None
        assert same(call("not-empty", V(1)), V(1))
        assert call("not-empty", "") is None
        assert call("not-empty", None) is None

    @given(small_vectors, items)
    def test_conj_onto_a_vector_adds_one_at_the_end(self, v, x):
        out = call("conj", v, x)
        assert call("count", out) == call("inc", call("count", v))
        assert call("peek", out) == x
        assert type(out) is Vector

    @given(st.lists(st.tuples(st.text(max_size=3), st.integers()), max_size=6), st.text(max_size=3))
    def test_assoc_then_get_gives_the_value_and_dissoc_removes_it(self, pairs, key):
        m = M(*[x for kv in pairs for x in kv])
        assert call("get", call("assoc", m, key, 42), key) == 42
        assert not call("contains?", call("dissoc", m, key), key)
        assert type(call("assoc", m, key, 1)) is Map


def test_sequence_results_are_lists_and_vector_results_are_vectors():
    v = V(1, 2, 3)
    for name, args in [("rest", (v,)), ("take", (1, v)), ("concat", (v,)), ("reverse", (v,)),
                       ("sort", (v,)), ("distinct", (v,)), ("cons", (0, v))]:
        assert type(call(name, *args)) is List, name
    for name, args in [("vec", (L(1),)), ("subvec", (v, 1)), ("conj", (v, 4)), ("pop", (v,))]:
        assert type(call(name, *args)) is Vector, name
    assert type(call("keyword", "a")) is Keyword


def test_strict_get_returns_the_value_or_throws_a_catchable_missing_key_error():
    from flowmetal.lang import evaluate, pr_str

    assert call("get!", M(K("a"), 1), K("a")) == 1
    assert evaluate("(get! {:a 1} :a)").value == 1
    caught = evaluate("(try (get! {:a 1} :b) (catch :missing-key e (ex-data e)))").value
    assert pr_str(caught) == "{:type :missing-key, :key :b}"
    assert evaluate("(try (get! [1 2] 5) (catch :missing-key e :missing))").value.name == "missing"


class TestMoreSequenceFunctions:
    def test_key_and_val_of_map_entries(self):
        entry = call("first", M(K("a"), 1))
        assert call("key", entry) == K("a") and call("val", entry) == 1
        with throws("type-error", "key expects a map entry"):
            call("key", V(1, 2, 3))
        with throws("type-error", "val expects a map entry"):
            call("val", None)

    def test_list_star_spreads_its_last_argument(self):
        assert same(call("list*", 1, 2, V(3, 4)), L(1, 2, 3, 4))
        assert same(call("list*", V(1)), L(1))
        assert call("list*", None) is None and call("list*", V()) is None
        with throws("type-error"):
            call("list*", 1, 2)

    def test_doall_and_dorun_are_for_clojure_habits(self):
        v = V(1)
        assert call("doall", v) is v and call("doall", 5, v) is v
        assert call("dorun", v) is None and call("dorun", 1, v) is None

    def test_distinct_and_dedupe_compare_with_equals(self):
        assert call("distinct?", 1) and call("distinct?", 1, True, 1.0)
        assert not call("distinct?", 1, 2, 1) and not call("distinct?", V(1), L(1))
        assert same(call("dedupe", V(1, 1, 2, 1, 1.0, 1.0)), L(1, 2, 1, 1.0))
        assert same(call("dedupe", None), L())

    def test_interpose_and_split_at(self):
        assert same(call("interpose", ", ", V("a", "b", "c")), L("a", ", ", "b", ", ", "c"))
        assert same(call("interpose", 0, None), L())
        assert same(call("split-at", 2, V(1, 2, 3)), V(L(1, 2), L(3)))
        assert same(call("split-at", -1, "ab"), V(L(), L("a", "b")))
        with throws("type-error"):
            call("split-at", 1.5, V())


class TestSetFunctions:
    def test_union_keeps_first_seen_order_and_reads_nil_as_empty(self):
        assert same(call("set/union"), S())
        assert same(call("set/union", S(1, 2), None, S(2, 3, True)), S(1, 2, 3, True))

    def test_intersection_and_difference(self):
        assert same(call("set/intersection", S(1, 2, 3), S(3, 2, 4)), S(2, 3))
        assert same(call("set/intersection", S(1, 2), None), S())
        assert same(call("set/intersection", S(1, True), S(1.0, True)), S(True))
        assert same(call("set/difference", S(1, 2, 3), S(2), S(True, 3)), S(1))
        assert same(call("set/difference", None, S(1)), S())

    def test_set_functions_take_only_sets(self):
        for name in ("set/union", "set/intersection", "set/difference"):
            with throws("type-error", f"{name} expects sets, got vector"):
                call(name, S(), V(1))


def test_what_a_clojure_programmer_tries_first_works_as_in_clojure():
    """The audit of everyday Clojure habits: nil punning, str, get, conj, into, sort, range,
    subs. (These worked; this keeps them working.)"""
    from .flow_helpers import caught_type, show

    assert show("[(first nil) (rest nil) (seq nil) (count nil) (get nil :a) (next nil)]") == (
        "[nil () nil 0 nil nil]")
    assert show('[(str nil) (str :kw) (str nil :a "b" 1 [1 nil]) (str)]') == (
        '["" ":kw" ":ab1[1 nil]" ""]')
    assert show('[(get [10 20] 1) (get "abc" 1) (get [1] 5 :d) (get [1 2] 1.0)]') == (
        '[20 "b" :d nil]')
    assert show("[(conj {:a 1} [:b 2]) (conj {} '(:a 1)) (into {} [[:a 1]]) (into {} {:b 2})]"
                ) == "[{:a 1, :b 2} {:a 1} {:a 1} {:b 2}]"
    assert show("(sort [3 1.5 2 -1])") == "(-1 1.5 2 3)"
    assert show("[(range 10 0 -3) (range 0 -3 -1) (range -5) (range 0 1 0.25)]") == (
        "[(10 7 4 1) (0 -1 -2) () (0 0.25 0.5 0.75)]")
    assert caught_type('(subs "abc" 5)') == ":index-out-of-bounds"
    assert show('(try (subs "abc" 2 1) (catch e (ex-message e)))') == (
        '"subs: [2, 1) is out of bounds for a string of length 3"')
