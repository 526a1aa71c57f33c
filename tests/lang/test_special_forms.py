"""Every special form: quote if do def fn let loop recur defmacro quasiquote try catch
finally throw; fn arities; destructuring; catching errors; compile errors with positions."""

from __future__ import annotations

import pytest

from .flow_helpers import caught_type, compile_error, output, run, show, uncaught, where

# -- quote, if, do, def ------------------------------------------------------------------


def test_quote_returns_the_form_unevaluated():
    assert show("(quote (a b c))") == "(a b c)"
    assert show("'(+ 1 2)") == "(+ 1 2)"
    assert show("'x") == "x"
    assert show("'[a {b c}]") == "[a {b c}]"


def test_quoted_items_inside_collection_literals_are_values_not_quote_forms():
    assert show("['a 'b]") == "[a b]"
    assert show("{'a 1}") == "{a 1}"
    assert show("#{'a}") == "#{a}"
    assert show("[[1 2] {:k ['x]}]") == "[[1 2] {:k [x]}]"


def test_if_picks_a_branch_by_clojure_truthiness():
    assert show("(if true :then :else)") == ":then"
    assert show("(if nil :then :else)") == ":else"
    assert show("(if false :then :else)") == ":else"
    assert show("(if 0 :then :else)") == ":then"
    assert show("(if false :then)") == "nil"


def test_if_evaluates_only_the_chosen_branch():
    assert run("(if true (println :yes) (println :no))") == ("nil", ":yes\n")


def test_do_evaluates_in_order_and_returns_the_last_value():
    assert run("(do (println 1) (println 2) 3)") == ("3", "1\n2\n")
    assert show("(do)") == "nil"


def test_def_defines_a_global_and_returns_its_name():
    assert show("(def x 3)") == "x"
    assert show("(def x 3) (def y (* x 2)) [x y]") == "[3 6]"
    assert show('(def z "the doc" 7) z') == "7"
    assert show("(def w) w") == "nil"


def test_def_can_redefine_a_global():
    assert show("(def x 1) (def x (inc x)) x") == "2"


# -- fn ----------------------------------------------------------------------------------


def test_fn_closes_over_its_environment():
    assert show("(let [n 10 add (fn [x] (+ x n))] (add 5))") == "15"
    assert show("(defn adder [n] (fn [x] (+ x n))) ((adder 3) 4)") == "7"


def test_named_fn_can_call_itself():
    assert show("((fn fact [n] (if (< n 2) 1 (* n (fact (dec n))))) 10)") == "3628800"


def test_variadic_fn_collects_the_rest_as_a_list_or_nil():
    assert show("((fn [a & more] [a more]) 1 2 3)") == "[1 (2 3)]"
    assert show("((fn [a & more] [a more]) 1)") == "[1 nil]"
    assert show("((fn [& xs] xs))") == "nil"


def test_multi_arity_fn_dispatches_on_argument_count():
    src = "(def f (fn ([] :zero) ([a] [:one a]) ([a b] [:two a b]) ([a b & r] [:many r])))"
    assert show(src + " [(f) (f 1) (f 1 2) (f 1 2 3 4)]") == (
        "[:zero [:one 1] [:two 1 2] [:many (3 4)]]")


def test_fixed_arity_wins_over_variadic_for_its_count():
    assert show("[((fn ([a] :fixed) ([a & r] r)) 1) ((fn ([a] :fixed) ([a & r] r)) 1 2)]") == (
        "[:fixed (2)]")


def test_calling_fn_with_wrong_argument_count_is_a_catchable_arity_error():
    assert caught_type("((fn [a] a))") == ":arity-error"
    assert caught_type("((fn ([a] 1) ([a b] 2)) 1 2 3)") == ":arity-error"
    assert caught_type("((fn [a b & r] a) 1)") == ":arity-error"
    assert "Wrong number of arguments (0) passed to f" in show(
        "(defn f [a] a) (try (f) (catch e (ex-message e)))")


def test_fn_with_two_arities_of_the_same_size_is_a_compile_error():
    err = compile_error("(fn ([a] 1) ([b] 2))")
    assert "two arities of 1 parameters" in err.message


# -- let, loop, recur --------------------------------------------------------------------


def test_let_binds_in_order_and_later_bindings_see_earlier_ones():
    assert show("(let [a 1 b (+ a 1) a (* b 10)] [a b])") == "[20 2]"


def test_let_shadows_outer_names_only_inside_its_body():
    assert show("(def x :global) [(let [x :local] x) x]") == "[:local :global]"


def test_loop_and_recur_rebind_the_loop_names():
    assert show("(loop [i 0 acc []] (if (< i 4) (recur (inc i) (conj acc i)) acc))") == (
        "[0 1 2 3]")


def test_recur_in_a_fn_rebinds_its_parameters():
    assert show("((fn [n acc] (if (= n 0) acc (recur (dec n) (* acc n)))) 5 1)") == "120"


def test_recur_in_a_variadic_fn_passes_the_rest_as_one_value():
    assert show("((fn [n & acc] (if (= n 0) acc (recur (dec n) (cons n acc)))) 3)") == (
        "(1 2 3)")


def test_each_loop_iteration_has_its_own_bindings_for_closures():
    src = ("(loop [i 0 fs []] (if (< i 3) (recur (inc i) (conj fs (fn [] i))) "
           "(mapv (fn [f] (f)) fs)))")
    assert show(src) == "[0 1 2]"


def test_recur_from_inside_a_let_in_a_loop_or_a_named_fn():
    assert show("(loop [i 0] (let [j (inc i)] (if (< j 5) (recur j) j)))") == "5"
    assert show("((fn self [n] (if (> n 0) (recur (dec n)) [:done n])) 5)") == "[:done 0]"
    assert show("(defn f [[a & r] acc] (if a (recur r (+ acc a)) acc)) (f [1 2 3] 0)") == "6"


def test_recur_targets_the_innermost_loop():
    src = """
    (loop [i 0 out []]
      (if (< i 2)
        (recur (inc i) (conj out (loop [j 0 s 0] (if (< j 3) (recur (inc j) (+ s j)) s))))
        out))"""
    assert show(src) == "[3 3]"


# -- destructuring -----------------------------------------------------------------------


def test_vector_destructuring_with_rest_and_as():
    assert show("(let [[a b & r :as all] [1 2 3 4]] [a b r all])") == "[1 2 (3 4) [1 2 3 4]]"


def test_vector_destructuring_of_a_short_or_nil_value_binds_nil():
    assert show("(let [[a b c] [1 2]] [a b c])") == "[1 2 nil]"
    assert show("(let [[a b] nil] [a b])") == "[nil nil]"


def test_vector_destructuring_works_on_lists_strings_and_map_entries():
    assert show("(let [[a b] '(1 2)] [a b])") == "[1 2]"
    assert show('(let [[a b] "xy"] [a b])') == '["x" "y"]'
    assert show("(let [[[k v]] {:a 1}] [k v])") == "[:a 1]"


def test_map_destructuring_with_keys_or_and_as():
    assert show("(let [{:keys [a b] :or {b 9} :as m} {:a 1}] [a b m])") == "[1 9 {:a 1}]"


def test_map_destructuring_with_strs_and_syms():
    assert show('(let [{:strs [a b]} {"a" 1 "b" 2}] [a b])') == "[1 2]"
    assert show("(let [{:syms [a b]} {'a 1 'b 2}] [a b])") == "[1 2]"


def test_map_destructuring_with_explicit_keys():
    assert show('(let [{a :a b "b" :or {a 0}} {"b" 2}] [a b])') == "[0 2]"


def test_nested_destructuring_of_maps_in_vectors_and_vectors_in_maps():
    src = "(let [{{:keys [z]} :inner [p [q r]] :v} {:inner {:z 1} :v [7 [8 9]]}] [z p q r])"
    assert show(src) == "[1 7 8 9]"
    assert show("(let [[{:keys [a]} {:keys [b]}] [{:a 1} {:b 2}]] [a b])") == "[1 2]"


def test_fn_parameters_destructure():
    assert show("((fn [[a b] {:keys [c]}] [a b c]) [1 2] {:c 3})") == "[1 2 3]"
    assert show("(defn f [{:keys [x] :or {x 5}}] x) [(f {}) (f {:x 1})]") == "[5 1]"


def test_keyword_arguments_destructure_after_ampersand():
    src = "(defn f [x & {:keys [k j] :or {j 2}}] [x k j]) [(f 1 :k 3) (f 1) (f 1 :j 7 :k 0)]"
    assert show(src) == "[[1 3 2] [1 nil 2] [1 0 7]]"


def test_loop_bindings_destructure_on_every_iteration():
    src = "(loop [[a & r] [1 2 3] acc 0] (if a (recur r (+ acc a)) acc))"
    assert show(src) == "6"
    src = "(loop [{:keys [n]} {:n 3} out []] (if (pos? n) (recur {:n (dec n)} (conj out n)) out))"
    assert show(src) == "[3 2 1]"


def test_destructuring_a_number_as_a_map_is_a_catchable_type_error():
    assert caught_type("(let [{:keys [a]} 5] a)") == ":type-error"


def test_destructuring_a_keyword_target_is_a_compile_error():
    err = compile_error("(let [[a :as] [1]] a)")
    assert "can't bind to a keyword:" in err.message  # Flowmetal's type name


# -- defmacro and quasiquote -------------------------------------------------------------


def test_defmacro_receives_forms_unevaluated():
    src = "(defmacro unless [test & body] `(if ~test nil (do ~@body))) (unless false 1 2)"
    assert show(src) == "2"
    assert run("(defmacro twice [f] `(do ~f ~f)) (twice (println :hi))") == (
        "nil", ":hi\n:hi\n")


def test_macro_can_call_a_function_defined_above_it_at_compile_time():
    src = """
    (defn wrap [x] (list 'inc x))
    (defmacro inc-it [x] (wrap x))
    (inc-it 41)"""
    assert show(src) == "42"


def test_quasiquote_unquote_and_splicing_in_every_collection():
    assert show("`(1 ~(+ 1 1) ~@[3 4] 5)") == "(1 2 3 4 5)"
    assert show("`[a ~(+ 1 2)]") == "[a 3]"
    assert show("`[~@[1 2] 3]") == "[1 2 3]"
    assert show("`{:a ~(+ 1 1)}") == "{:a 2}"
    assert show("`#{~@[1 2]}") == "#{1 2}"


def test_auto_gensym_is_the_same_within_a_template_and_fresh_across_templates():
    assert show("`(a b# b#)") == "(a b__1__auto b__1__auto)"
    src = "(let [[x y] [`a# `a#]] (= x y))"
    assert show(src) == "false"


def test_auto_gensyms_keep_macros_hygienic():
    src = """
    (defmacro add-one [x] `(let [y# 1] (+ y# ~x)))
    (let [y 100] (add-one y))"""
    assert show(src) == "101"


def test_unquote_splicing_outside_a_collection_is_a_compile_error():
    err = compile_error("`~@[1]")
    assert "~@ can only be used inside" in err.message


def test_macro_that_throws_while_expanding_is_a_compile_error_at_its_use():
    err = compile_error('(defmacro bad [] (throw (ex-info "nope" {})))\n(bad)')
    assert "error expanding macro bad" in err.message and "nope" in err.message
    assert where(err) == (2, 1)


# -- try, catch, finally, throw ----------------------------------------------------------


def test_throw_and_catch_an_ex_info():
    src = '(try (throw (ex-info "boom" {:code 7})) (catch e [(ex-message e) (ex-data e)]))'
    assert show(src) == '["boom" {:code 7}]'


def test_any_value_can_be_thrown_and_caught():
    assert show("(try (throw 42) (catch e [:got e]))") == "[:got 42]"


def test_try_without_error_returns_the_body_value():
    assert show("(try 1 2 (catch e :caught))") == "2"


def test_catch_with_a_type_catches_only_errors_of_that_type():
    assert show("(try (/ 1 0) (catch :arithmetic-error e :arith))") == ":arith"
    src = """
    (try
      (try (throw (ex-info "in" {:type :a})) (catch :b e :wrong))
      (catch :a e :right))"""
    assert show(src) == ":right"


def test_catch_with_a_type_does_not_catch_a_thrown_non_error_value():
    assert show("(try (try (throw 5) (catch :x e :no)) (catch e [:outer e]))") == "[:outer 5]"


def test_uncaught_error_of_another_type_escapes_a_typed_catch():
    err = uncaught('(try (throw (ex-info "x" {:type :foo})) (catch :bar e 1))')
    assert err.value.kind == "foo"


def test_finally_runs_after_the_body_and_does_not_change_its_value():
    assert run("(try (println :body) :value (finally (println :finally) :ignored))") == (
        ":value", ":body\n:finally\n")


def test_finally_runs_after_the_catch_body():
    src = '(try (println :body) (throw (ex-info "x" {})) (catch e (println :catch) :c) ' \
          "(finally (println :finally)))"
    assert run(src) == (":c", ":body\n:catch\n:finally\n")


def test_finally_runs_when_the_catch_body_throws_and_the_outer_try_catches():
    src = """
    (try
      (try (throw (ex-info "a" {}))
        (catch e (println :catch) (throw (ex-info "b" {})))
        (finally (println :finally)))
      (catch e (println :outer (ex-message e))))"""
    assert output(src) == ":catch\n:finally\n:outer b\n"


def test_finally_blocks_run_innermost_first_while_unwinding():
    src = """
    (defn f [x]
      (try (if (> x 0) (f (dec x)) (throw (ex-info "bottom" {})))
        (finally (println :unwind x))))
    (try (f 2) (catch e (println :caught (ex-message e))))"""
    assert output(src) == ":unwind 0\n:unwind 1\n:unwind 2\n:caught bottom\n"


def test_finally_of_a_non_catching_try_runs_before_an_outer_catch():
    src = """
    (try
      (try (throw (ex-info "in" {:type :a})) (catch :b e :no) (finally (println :inner)))
      (catch :a e (println :outer) :ok))"""
    assert run(src) == (":ok", ":inner\n:outer\n")


def test_throw_inside_a_function_unwinds_to_the_callers_catch():
    src = """
    (defn check [n] (if (neg? n) (throw (ex-info "negative" {:type :bad-input :n n})) n))
    (try (mapv check [1 2 -3 4]) (catch :bad-input e (:n (ex-data e))))"""
    assert show(src) == "-3"


@pytest.mark.parametrize(
    "expr, kind",
    [
        ('(+ 1 "a")', ":type-error"),
        ("(count 5)", ":type-error"),
        ("(inc)", ":arity-error"),
        ("(get)", ":arity-error"),
        ("(/ 1 0)", ":arithmetic-error"),
        ("(mod 5 0)", ":arithmetic-error"),
        ("(nth [1 2] 5)", ":index-out-of-bounds"),
        ("([10 20] 5)", ":index-out-of-bounds"),
        ("(1 2)", ":type-error"),
        ('(ex-info "no data")', ":arity-error"),
        ("(swap! 1 inc)", ":type-error"),
        ("(throw (ex-info \"mine\" {:type :custom}))", ":custom"),
    ],
)
def test_errors_from_built_ins_are_caught_by_catch(expr, kind):
    assert caught_type(expr) == kind


def test_errors_from_built_ins_deep_in_prelude_code_are_caught():
    assert caught_type("(map (fn [x] (/ 10 x)) [1 0])") == ":arithmetic-error"
    assert caught_type("(reduce + [1 :a])") == ":type-error"


def test_built_in_error_caught_by_its_type_keyword():
    assert show("(try (/ 1 0) (catch :arithmetic-error e (ex-message e)))") == (
        '"Divide by zero"')
    assert show("(try (nth [] 0) (catch :index-out-of-bounds e :oob))") == ":oob"


# -- compile errors ----------------------------------------------------------------------


def test_let_with_an_odd_binding_vector_is_a_compile_error_with_span():
    err = compile_error("(do\n  (let [x] x))")
    assert "even number of forms" in err.message
    assert where(err) == (2, 8)
    assert str(err).startswith("job.flow:2:8: compile error:")


def test_let_without_a_binding_vector_is_a_compile_error():
    err = compile_error("(let x 1)")
    assert "let needs a binding vector" in err.message and where(err) == (1, 1)


def test_recur_outside_tail_position_is_a_compile_error_with_span():
    err = compile_error("(defn f [x]\n  (+ 1 (recur x)))")
    assert "tail position" in err.message
    assert where(err) == (2, 8)
    err = compile_error("(loop [i 0] (inc (recur i)))")
    assert where(err) == (1, 18)


def test_recur_inside_try_is_not_in_tail_position():
    err = compile_error("(loop [i 0] (try (recur (inc i)) (catch e 0)))")
    assert "tail position" in err.message


def test_recur_with_the_wrong_number_of_values_is_a_compile_error():
    err = compile_error("(loop [a 1] (recur 1 2))")
    assert "recur expects 1 arguments, got 2" in err.message


def test_unknown_symbol_is_a_compile_error_at_the_symbol():
    err = compile_error("(let [x 1]\n  (frobnicate x))")
    assert err.message == "Unable to resolve symbol: frobnicate"
    assert str(err).startswith("job.flow:2:4: compile error:")


def test_def_without_a_name_is_a_compile_error():
    for src in ("(def)", '(def "x" 1)', "(def 5 1)"):
        err = compile_error(src)
        assert "def takes a symbol name" in err.message and where(err) == (1, 1)


@pytest.mark.parametrize(
    "src, message",
    [
        ("(if)", "if takes a test"),
        ("(if 1 2 3 4)", "if takes a test"),
        ("(quote)", "quote takes exactly one form"),
        ("(throw)", "throw takes exactly one value"),
        ("(fn)", "fn needs a parameter vector"),
        ("(fn [a & b c] 1)", "& in fn parameters must be followed by exactly one name"),
        ("(catch e 1)", "catch can only be used inside try"),
        ("(finally 1)", "finally can only be used inside try"),
        ("(try 1 (finally 2) (catch e 3))", "only one catch, before finally"),
        ("(try 1 (catch e 2) 3)", "catch and finally must come last"),
        ("(defmacro)", "defmacro takes a name"),
        ("(def x 1 2)", "def takes a name, an optional doc string and one value"),
    ],
)
def test_misused_special_forms_are_compile_errors_naming_the_file(src, message):
    err = compile_error(src)
    assert message in err.message
    assert str(err).startswith("job.flow:1:")


def test_special_form_used_as_a_value_is_a_compile_error():
    err = compile_error("(map if [1])")
    assert "if is a special form" in err.message
