"""The prelude (macros and higher-order functions written in Flowmetal), truthiness,
callable data, and atoms."""

from __future__ import annotations

import pytest

from flowmetal.lang import base

from .flow_helpers import caught_type, compile_error, output, run, show, uncaught

# -- definitions -------------------------------------------------------------------------


def test_defn_defines_a_function_with_an_optional_doc_string():
    assert show('(defn f "Doubles." [x] (* x 2)) (f 4)') == "8"
    assert show("(defn f [x] (* x 2)) (f 4)") == "8"


def test_defn_with_several_arities():
    assert show("(defn g ([] 0) ([x] x) ([x & r] (count r))) [(g) (g 5) (g 1 2 3)]") == (
        "[0 5 2]")


def test_defn_doc_and_arglists_are_recorded():
    assert base().doc("map")[1].startswith("Apply f to each item")
    assert "[f coll]" in base().doc("map")[0]


def test_defn_private_is_an_ordinary_defn():
    assert show("(defn- p [] 1) (p)") == "1"


def test_declare_lets_code_refer_to_a_function_defined_later():
    assert show("(declare foo) (defn bar [] (foo)) (defn foo [] 3) (bar)") == "3"


def test_comment_ignores_its_body():
    assert run("(comment (println :never) 1 2)") == ("nil", "")


# -- conditionals ------------------------------------------------------------------------


def test_when_runs_its_body_only_for_a_truthy_test():
    assert run("(when true (println :a) 2)") == ("2", ":a\n")
    assert run("(when false (println :a) 2)") == ("nil", "")
    assert run("(when nil (println :a) 2)") == ("nil", "")


def test_when_not_runs_its_body_only_for_a_falsey_test():
    assert show("(when-not false 3)") == "3"
    assert show("(when-not 0 3)") == "nil"


def test_if_not_swaps_the_branches():
    assert show("[(if-not false 1 2) (if-not true 1 2) (if-not true 1)]") == "[1 2 nil]"


def test_cond_returns_the_first_truthy_clause_value():
    assert show("(cond false 1 nil 2 :else 3)") == "3"
    assert show("(cond (= 1 1) :first (= 2 2) :second)") == ":first"
    assert show("(cond false 1)") == "nil"
    assert show("(cond)") == "nil"


def test_cond_evaluates_tests_lazily():
    assert run("(cond (do (println :t1) false) 1 (do (println :t2) true) 2 "
               "(do (println :t3) true) 3)") == ("2", ":t1\n:t2\n")


def test_cond_with_an_odd_number_of_forms_is_a_compile_error():
    assert "cond needs an even number" in compile_error("(cond true)").message


def test_case_matches_literals_lists_of_literals_and_a_default():
    src = "(defn f [x] (case x 1 :one (2 3) :two-or-three \"s\" :string sym :symbol :other))"
    assert show(src + " (mapv f [1 2 3 \"s\" 'sym 99])") == (
        "[:one :two-or-three :two-or-three :string :symbol :other]")


def test_case_without_a_match_or_default_throws_no_matching_clause():
    assert caught_type("(case 9 1 :a)") == ":no-matching-clause"
    assert show("(try (case 9 1 :a) (catch e (ex-message e)))") == (
        '"No matching case clause: 9"')


def test_case_error_points_at_the_case_form():
    err = uncaught("(let [x 9]\n  (case x 1 :a))", source="job.flow")
    assert str(err).startswith("job.flow:2:3: runtime error (no-matching-clause)")


def test_and_returns_the_first_falsey_value_or_the_last():
    assert show("[(and) (and 1 2) (and 1 nil 2) (and false 2) (and 1 false)]") == (
        "[true 2 nil false false]")


def test_and_or_short_circuit():
    assert run("(and false (println :no))") == ("false", "")
    assert run("(or 1 (println :no))") == ("1", "")


def test_or_returns_the_first_truthy_value_or_the_last():
    assert show("[(or) (or nil 2) (or nil false) (or false nil) (or 0 1)]") == (
        "[nil 2 false nil 0]")


def test_and_or_evaluate_each_form_once():
    assert run("(or (do (println :x) 1) 2)") == ("1", ":x\n")
    assert run("(and (do (println :x) 1) 2)") == ("2", ":x\n")


def test_not_follows_clojure_truthiness():
    assert show('[(not nil) (not false) (not 0) (not "") (not []) (not ())]') == (
        "[true true false false false false]")


def test_if_let_binds_only_for_a_truthy_value():
    assert show("(if-let [x 0] [:yes x] :no)") == "[:yes 0]"
    assert show("(if-let [x nil] x :no)") == ":no"
    assert show("(if-let [x false] x)") == "nil"
    assert show("(if-let [[a b] [1 2]] (+ a b))") == "3"


def test_when_let_binds_and_runs_the_body_for_a_truthy_value():
    assert run("(when-let [x 5] (println x) x)") == ("5", "5\n")
    assert show("(when-let [x false] 1)") == "nil"
    assert show("(when-let [{:keys [a]} {:a 1}] a)") == "1"


def test_when_some_binds_false_but_not_nil():
    assert show("[(when-some [x false] [x]) (when-some [x nil] [x])]") == "[[false] nil]"


# -- threading ---------------------------------------------------------------------------


def test_thread_first():
    assert show("(-> 1 inc (* 10) (- 3))") == "17"
    assert show("(-> {:a {:b 2}} :a :b)") == "2"
    assert show("(-> 5)") == "5"


def test_thread_last():
    assert show("(->> [1 2 3] (map inc) (filter odd?))") == "(3)"
    assert show("(->> 10 (- 3))") == "-7"


def test_some_thread_stops_at_nil():
    assert show("(some-> {:a {:b 1}} :a :b inc)") == "2"
    assert show("(some-> {:a nil} :a :b inc)") == "nil"
    assert show("(some-> 1 (+ 2) (* 3))") == "9"
    assert show("(some-> nil inc)") == "nil"


def test_some_thread_evaluates_each_step_once():
    assert run("(some-> (do (println :x) 1) inc)") == ("2", ":x\n")


def test_as_thread_binds_a_name_through_each_form():
    assert show("(as-> 1 x (+ x 1) (* x 10) [x x])") == "[20 20]"


def test_cond_thread_applies_only_forms_whose_test_is_truthy():
    assert show("(cond-> 1 true inc false (* 100) true (* 10))") == "20"
    assert show("(let [admin? true] (cond-> {} admin? (assoc :role :admin)))") == (
        "{:role :admin}")


# -- loops -------------------------------------------------------------------------------


def test_doseq_runs_the_body_for_each_item_and_returns_nil():
    assert run("(doseq [x [1 2]] (println x))") == ("nil", "1\n2\n")
    assert output("(doseq [[k v] {:a 1 :b 2}] (println k v))") == ":a 1\n:b 2\n"


def test_doseq_with_several_bindings_nests():
    assert output("(doseq [x [1 2] y [:a :b]] (println x y))") == "1 :a\n1 :b\n2 :a\n2 :b\n"


def test_dotimes_counts_from_zero():
    assert run("(dotimes [i 3] (print i))") == ("nil", "012")
    assert output("(dotimes [i 0] (print i))") == ""


def test_while_repeats_while_the_test_is_truthy():
    assert show("(let [c (atom 0)] (while (< @c 3) (swap! c inc)) @c)") == "3"


def test_for_is_an_eager_comprehension_with_when_and_let():
    assert show("(for [x [1 2 3] :when (odd? x) :let [y (* x 10)]] y)") == "(10 30)"
    assert show("(for [x [1 2] y [3 4]] [x y])") == "([1 3] [1 4] [2 3] [2 4])"
    assert show("(for [x []] x)") == "()"


# -- higher-order functions --------------------------------------------------------------


def test_map_over_one_or_several_collections():
    assert show("(map inc [1 2])") == "(2 3)"
    assert show("(map + [1 2] [10 20 30])") == "(11 22)"
    assert show("(map + [1 2] [10 20] [100 200])") == "(111 222)"
    assert show("(map inc nil)") == "()"
    assert show("(map (fn [[k v]] [v k]) {:a 1})") == "([1 :a])"


def test_map_calls_its_function_in_order():
    assert output("(map println [1 2 3])") == "1\n2\n3\n"


def test_mapv_returns_a_vector():
    assert show("(mapv inc '(1 2))") == "[2 3]"
    assert show("(mapv + [1 2] [3 4])") == "[4 6]"


def test_map_indexed_passes_the_index():
    assert show("(map-indexed vector [:a :b])") == "([0 :a] [1 :b])"


def test_filter_remove_and_filterv():
    assert show("(filter odd? [1 2 3])") == "(1 3)"
    assert show("(filter odd? #{1 2 3})") == "(1 3)"
    assert show("(remove odd? [1 2 3])") == "(2)"
    assert show("(filterv odd? [1 2 3])") == "[1 3]"


def test_keep_drops_nil_results_but_keeps_false():
    assert show("(keep :a [{:a 1} {} {:a false}])") == "(1 false)"


def test_reduce_with_and_without_init():
    assert show("(reduce + [1 2 3])") == "6"
    assert show("(reduce + [])") == "0"
    assert show("(reduce + 10 [1 2 3])") == "16"
    assert show("(reduce conj [] '(1 2))") == "[1 2]"
    assert show("(reduce + [5])") == "5"


def test_reduce_kv_sees_keys_and_values():
    assert show("(reduce-kv (fn [a k v] (conj a [v k])) [] {:x 1 :y 2})") == "[[1 :x] [2 :y]]"


def test_mapcat_concatenates_the_results():
    assert show("(mapcat (fn [x] [x x]) [1 2])") == "(1 1 2 2)"


def test_some_returns_the_first_truthy_predicate_result():
    assert show("[(some even? [1 3 4]) (some even? [1 3]) (some #{3} [1 3])]") == "[true nil 3]"


def test_every_and_the_not_variants():
    assert show("[(every? pos? [1 2]) (every? pos? [1 -2]) (every? pos? [])]") == (
        "[true false true]")
    assert show("[(not-any? odd? [2 4]) (not-every? odd? [1 2])]") == "[true true]"


def test_take_while_and_drop_while():
    assert show("(take-while pos? [1 2 -1 3])") == "(1 2)"
    assert show("(drop-while pos? [1 -1 2])") == "(-1 2)"


def test_sort_natural_and_with_a_comparator():
    assert show("(sort [3 1 2])") == "(1 2 3)"
    assert show("(sort > [3 1 2])") == "(3 2 1)"
    assert show("(sort (fn [a b] (- b a)) [3 1 2])") == "(3 2 1)"
    assert show('(sort ["b" "a"])') == '("a" "b")'


def test_sort_by_is_stable_and_takes_an_optional_comparator():
    assert show("(sort-by :a [{:a 2 :i 0} {:a 1} {:a 2 :i 1}])") == (
        "({:a 1} {:a 2, :i 0} {:a 2, :i 1})")
    assert show('(sort-by count > ["a" "ccc" "bb"])') == '("ccc" "bb" "a")'


def test_group_by_keeps_first_seen_key_order():
    assert show("(group-by odd? [1 2 3])") == "{true [1 3], false [2]}"


def test_partition_and_partition_all():
    assert show("(partition 2 [1 2 3 4 5])") == "((1 2) (3 4))"
    assert show("(partition-all 2 [1 2 3])") == "((1 2) (3))"


def test_update_and_update_in():
    assert show("(update {:n 1} :n inc)") == "{:n 2}"
    assert show("(update {:n 1} :n + 10 100)") == "{:n 111}"
    assert show("(update-in {:a {:b 1}} [:a :b] inc)") == "{:a {:b 2}}"
    assert show("(update-in {} [:a :b] (fnil inc 0))") == "{:a {:b 1}}"
    assert show("(update-in {:a {:b 1}} [:a :b] + 5)") == "{:a {:b 6}}"


def test_partial_comp_complement_constantly():
    assert show("((partial + 10) 1 2)") == "13"
    assert show("[((comp inc inc) 1) ((comp str inc) 1) ((comp) 5) ((comp inc inc inc inc) 1)]"
                ) == '[3 "2" 5 5]'
    assert show("((complement odd?) 1)") == "false"
    assert show("((constantly 7) 1 2)") == "7"


def test_apply_spreads_its_last_argument():
    assert show("[(apply + 1 [2 3]) (apply + []) (apply max '(4 9 2)) (apply str nil)]") == (
        '[6 0 9 ""]')
    assert show("(apply (fn [& kvs] kvs) {:a 1})") == "([:a 1])"


def test_apply_spreads_any_seqable_as_clojure_does():
    assert show('(apply str "abc")') == '"abc"'
    assert show('(apply str "a" "bc")') == '"abc"'
    assert show("(apply + #{1 2})") == "3"
    assert show("(apply vector 0 nil)") == "[0]"
    assert show("(apply hash-map (list :a 1))") == "{:a 1}"


def test_apply_of_a_non_collection_is_a_type_error():
    assert caught_type("(apply + 1 2)") == ":type-error"
    assert show("(try (apply + 1 2) (catch e (ex-message e)))") == (
        '"apply expects a collection, got integer"')


def test_juxt_fnil_every_pred():
    assert show("((juxt inc dec :a) 1)") == "[2 0 nil]"
    assert show("[((fnil inc 0) nil) ((fnil inc 0) 5)]") == "[1 6]"
    assert show("[((every-pred odd? pos?) 3) ((every-pred odd? pos?) -3)]") == "[true false]"


def test_iterate_repeatedly_run():
    assert show("(iterate 3 inc 0)") == "(0 1 2)"
    assert show("(repeatedly 2 (fn [] 1))") == "(1 1)"
    assert run("(run! println [1 2])") == ("nil", "1\n2\n")


def test_max_key_and_min_key():
    assert show('[(max-key count "a" "abc" "ab") (min-key count "a" "abc" "ab")]') == (
        '["abc" "a"]')


def test_higher_order_functions_accept_built_ins_keywords_sets_and_maps():
    assert show("(map :a [{:a 1} {:a 2}])") == "(1 2)"
    assert show("(filter #{1 3} [1 2 3])") == "(1 3)"
    assert show("(map {:a 1 :b 2} [:b :a :c])") == "(2 1 nil)"
    assert show("(reduce max [3 9 2])") == "9"


def test_higher_order_function_may_wait_inside_its_function():
    assert run("(map (fn [x] (sleep 1) (println x) x) [1 2])") == ("(1 2)", "1\n2\n")


def test_errors_inside_higher_order_functions_name_the_prelude_function():
    err = uncaught("(defn f [x] (/ 1 x))\n(mapv f [1 0])", source="job.flow")
    text = str(err)
    assert "at f (job.flow:1:13)" in text


# -- truthiness and callable data --------------------------------------------------------


@pytest.mark.parametrize("value", ["0", '""', "[]", "{}", "#{}", "()", ":k", "'s", "0.0"])
def test_everything_but_nil_and_false_is_truthy(value):
    assert show(f"(if {value} :t :f)") == ":t"


def test_only_nil_and_false_are_falsey():
    assert show("[(if nil :t :f) (if false :t :f)]") == "[:f :f]"
    assert show('(filter identity [0 nil false "" []])') == '(0 "" [])'


def test_maps_are_callable_with_an_optional_default():
    assert show("[({:a 1} :a) ({:a 1} :b) ({:a 1} :b 2)]") == "[1 nil 2]"


def test_keywords_are_callable_on_maps_and_sets():
    assert show("[(:a {:a 1}) (:b {:a 1}) (:b {:a 1} 3) (:a #{:a}) (:a nil)]") == (
        "[1 nil 3 :a nil]")


def test_sets_are_callable_as_membership_tests():
    assert show("[(#{1 2} 2) (#{1 2} 3)]") == "[2 nil]"


def test_vectors_are_callable_with_an_index():
    assert show("([10 20] 1)") == "20"
    assert caught_type("([10 20] 5)") == ":index-out-of-bounds"


def test_calling_data_with_the_wrong_argument_count_is_an_arity_error():
    assert caught_type("(:a)") == ":arity-error"
    assert caught_type("({:a 1} :a 2 3)") == ":arity-error"


def test_calling_a_number_or_string_is_a_type_error():
    assert show('(try ("f" 1) (catch :type-error e (ex-message e)))') == (
        '"\\"f\\" (string) is not a function"')


# -- atoms -------------------------------------------------------------------------------


def test_atom_deref_reset_and_swap():
    src = "(let [a (atom 1)] [(deref a) @a (reset! a 5) @a (swap! a + 2) (swap! a inc) @a])"
    assert show(src) == "[1 1 5 5 7 8 8]"


def test_swap_passes_extra_arguments_and_returns_the_new_value():
    assert show("(let [a (atom {})] [(swap! a assoc :k 1) @a])") == "[{:k 1} {:k 1}]"


def test_swap_with_a_closure_that_performs_an_effect():
    assert run("(let [a (atom 0)] (swap! a (fn [x] (println :in x) (inc x))) @a)") == (
        "1", ":in 0\n")


def test_atom_is_shared_by_every_closure_that_holds_it():
    src = """
    (defn counter [] (let [a (atom 0)] {:inc (fn [] (swap! a inc)) :get (fn [] @a)}))
    (let [c (counter)] ((:inc c)) ((:inc c)) ((:get c)))"""
    assert show(src) == "2"


def test_deref_and_swap_of_a_non_atom_are_type_errors():
    assert caught_type("@5") == ":type-error"
    assert caught_type("(swap! {} inc)") == ":type-error"
    assert caught_type("(reset! [] 1)") == ":type-error"


# -- async -------------------------------------------------------------------------------


def test_async_and_await_all_return_results_in_order():
    assert show("(await-all [(async (sleep 2) 1) (async (sleep 1) 2)])") == "[1 2]"


# -- Clojure functions and macros a Clojure programmer reaches for -------------------------


def test_reduce_kv_over_a_vector_passes_the_index():
    assert show("(reduce-kv (fn [a k v] (conj a [k v])) [] [:x :y])") == "[[0 :x] [1 :y]]"
    assert show("(reduce-kv (fn [a k v] (conj a k)) [] nil)") == "[]"
    assert caught_type('(reduce-kv + 0 "ab")') == ":type-error"


def test_mapcat_over_several_collections():
    assert show("(mapcat vector [1 2] [3 4])") == "(1 3 2 4)"


def test_group_by_takes_linear_time_on_large_groups():
    """It used to conj onto a vector held in the map, copying each group per item."""
    assert show("(count (get (group-by even? (range 200000)) true))") == "100000"
    assert show("(group-by identity nil)") == "{}"


def test_max_key_and_min_key_prefer_the_last_on_a_tie_as_clojure_does():
    assert show('(max-key count "ab" "cd" "e")') == '"cd"'
    assert show('(min-key count "ab" "e" "f")') == '"f"'
    assert show("(max-key :n {:n 1})") == "{:n 1}"


def test_partition_with_a_step_and_a_pad():
    assert show("(partition 2 1 [1 2 3])") == "((1 2) (2 3))"
    assert show("(partition 3 3 [:a :b] [1 2 3 4])") == "((1 2 3) (4 :a :b))"
    assert show("(partition 3 3 nil [1 2 3 4])") == "((1 2 3) (4))"
    assert show("(partition-all 2 1 [1 2 3])") == "((1 2) (2 3) (3))"


def test_partition_by_a_size_or_step_below_one_is_an_error_not_an_endless_loop():
    for expr in ("(partition 0 [1])", "(partition-all 0 [1])", "(partition 2 0 [1 2 3])",
                 "(partition-all 2 -1 [1])"):
        assert caught_type(expr) == ":argument-error", expr


def test_partition_by_split_with_keep_indexed_reductions():
    assert show("(partition-by odd? [1 3 2 5 7])") == "((1 3) (2) (5 7))"
    assert show("(partition-by identity nil)") == "()"
    assert show("(split-with pos? [1 2 -1 3])") == "[(1 2) (-1 3)]"
    assert show("(keep-indexed (fn [i x] (when (odd? i) x)) [:a :b :c :d])") == "(:b :d)"
    assert show("[(reductions + [1 2 3]) (reductions + []) (reductions + 10 [1 2])]") == (
        "[(1 3 6) (0) (10 11 13)]")


def test_merge_with_update_vals_update_keys():
    assert show("(merge-with + {:a 1} {:a 2 :b 3} nil {:a 10})") == "{:a 13, :b 3}"
    assert show("[(merge-with +) (merge-with + nil nil) (merge-with + nil {:a 1})]") == (
        "[nil nil {:a 1}]")
    assert show("(update-vals {:a 1 :b 2} inc)") == "{:a 2, :b 3}"
    assert show("(update-vals nil inc)") == "{}"
    assert show("(update-keys {:a 1 :b 2} name)") == '{"a" 1, "b" 2}'


def test_some_fn_and_rand_nth():
    assert show("[((some-fn even? neg?) 3) ((some-fn even? neg?) 3 -1)]") == "[nil true]"
    assert show("(rand-nth [:only])") == ":only"
    assert caught_type("(rand-nth [])") == ":argument-error"


def test_if_some_some_thread_last_and_cond_thread_last():
    assert show("(if-some [x false] [:set x] :unset)") == "[:set false]"
    assert show("(if-some [x nil] 1 2)") == "2"
    assert show("[(some->> 5 (- 10) inc) (some->> nil inc) (some->> {:a nil} :a (conj [1]))]"
                ) == "[6 nil nil]"
    assert show("(cond->> [1 2] true (map inc) false (map dec))") == "(2 3)"


def test_condp():
    assert show("(condp = 2 1 :a 2 :b :c)") == ":b"
    assert show("(condp = 5 1 :a :default)") == ":default"
    assert show("(condp some [1 2] #{0} :zero #{2} :two)") == ":two"
    assert caught_type("(condp = 5 1 :a)") == ":no-matching-clause"


def test_assert_throws_an_assertion_error_naming_the_form():
    assert show("(assert (= 1 1))") == "nil"
    assert show("(try (assert (= 1 2) \"must be one\") (catch e (ex-message e)))") == (
        '"Assert failed: must be one: (= 1 2)"')
    assert show("(try (let [n -1] (assert (pos? n))) (catch :assertion-error e (ex-data e)))"
                ) == "{:type :assertion-error, :form (pos? n)}"
