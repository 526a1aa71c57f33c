"""How errors reach a user: runtime errors with a Flowmetal stack trace of function names
and file:line:col, read errors with the offending line and a caret, and never a Python
traceback."""

from __future__ import annotations

import pytest

from flowmetal.lang import (
    CompileError,
    EvalError,
    FlowmetalError,
    ReadError,
    evaluate,
    pr_str,
)
from flowmetal.lang.data import kw
from flowmetal.lang.errors import ExInfo

from .flow_helpers import uncaught

NESTED = """(defn h [x]
  (/ x 0))
(defn g [x] (+ 1 (h x)))
(defn f [x] (* 2 (g x)))
(f 5)"""


def assert_no_python(text: str) -> None:
    assert "Traceback" not in text
    assert ".py" not in text
    assert "File \"" not in text


# -- runtime errors ----------------------------------------------------------------------


def test_runtime_error_names_file_line_col_kind_and_message():
    err = uncaught(NESTED, source="job.flow")
    first = str(err).splitlines()[0]
    assert first == "job.flow:2:3: runtime error (arithmetic-error): Divide by zero"


def test_runtime_error_carries_a_stack_trace_of_function_names_innermost_first():
    err = uncaught(NESTED, source="job.flow")
    assert str(err).splitlines()[1:] == [
        "  at h (job.flow:2:3)",
        "  at g (job.flow:3:13)",
        "  at f (job.flow:4:13)",
    ]
    assert [(e.name, e.span.line, e.span.col) for e in err.trace] == [
        ("h", 2, 3), ("g", 3, 13), ("f", 4, 13)]
    assert_no_python(str(err))


def test_a_thrown_ex_info_points_at_the_throw():
    src = '(defn check [n]\n  (when (neg? n)\n    (throw (ex-info "negative" {:type :bad}))))\n' \
          "(defn run [] [(check -1)])\n(run)"
    err = uncaught(src, source="job.flow")
    lines = str(err).splitlines()
    assert lines[0] == "job.flow:3:5: runtime error (bad): negative"
    assert lines[1:] == ["  at check (job.flow:3:5)", "  at run (job.flow:4:14)"]


def test_anonymous_functions_are_named_after_their_enclosing_function():
    err = uncaught("(defn g [xs] (mapv (fn [x] (/ 1 x)) xs))\n(g [1 0])", source="job.flow")
    assert err.trace[0].name == "g/fn"
    assert str(err.trace[0]) == "  at g/fn (job.flow:1:28)"


def test_error_at_top_level_is_attributed_to_toplevel():
    err = uncaught("(let [v []]\n  (nth v 3))", source="job.flow")
    assert str(err).startswith("job.flow:2:3: runtime error (index-out-of-bounds)")
    assert err.trace[0].name == "<toplevel>"


def test_errors_in_prelude_code_point_into_the_prelude():
    err = uncaught("(reduce + [1 :a])", source="job.flow")
    assert "prelude.flow:" in str(err) or "job.flow:1:1" in str(err)
    assert err.value.kind == "type-error"
    assert_no_python(str(err))


def test_error_raised_through_try_finally_keeps_its_trace_and_runs_no_python():
    src = """(defn f [x]
  (try (g x) (finally :cleanup)))
(defn g [x] (throw (ex-info "deep" {:type :deep})))
(f 1)"""
    err = uncaught(src, source="job.flow")
    assert str(err).splitlines() == [
        "job.flow:3:13: runtime error (deep): deep",
        "  at g (job.flow:3:13)",
        "  at f (job.flow:2:3)",
    ]


@pytest.mark.parametrize(
    "src",
    [
        '(+ 1 "a")',
        "(count 5)",
        "(inc)",
        "(nth [1] 9)",
        '(str/join 5 6)',
        "(json/parse \"{\")",
        "({:a 1})",
        "(sleep -1)",
        "(let [{:keys [a]} 5] a)",
        "((fn [a] a))",
        "(apply + 1)",
        "(ex-info 1 2)",
    ],
)
def test_errors_from_built_ins_are_eval_errors_with_a_position_never_python(src):
    err = uncaught(src, source="job.flow")
    assert isinstance(err, FlowmetalError)
    assert str(err).startswith("job.flow:1:")
    assert_no_python(str(err))


def test_a_caught_error_is_a_value_with_its_trace():
    result = evaluate("(defn f [] (/ 1 0))\n(try (f) (catch e e))", source="job.flow")
    error = result.value
    assert isinstance(error, ExInfo)
    assert error.trace[0].name == "f"
    assert pr_str(error) == (
        '#error {:message "Divide by zero", :data {:type :arithmetic-error, :function "/"}}')


def test_uncaught_throw_of_a_plain_value_is_reported_with_the_value_and_its_place():
    err = uncaught("(defn f [] (throw {:code 7}))\n(f)", source="job.flow")
    assert str(err).startswith("job.flow:1:12: runtime error (uncaught-throw): "
                               "uncaught throw of {:code 7}")
    assert [entry.name for entry in err.trace] == ["f"]
    assert err.value.data[kw("value")] == evaluate("{:code 7}").value


def test_a_plain_value_thrown_and_caught_stays_itself():
    assert evaluate("(try (throw 42) (catch e (inc e)))").value == 43


def test_an_error_inside_a_sequence_loop_names_the_loop_in_the_trace():
    err = uncaught("(defn g [x] (/ 1 x))\n(mapv g [1 0])", source="job.flow")
    names = [entry.name for entry in err.trace]
    assert names[:2] == ["g", "mapv"]
    err = uncaught("(reduce (fn add [a x] (/ a x)) 1 [1 0])")
    assert [entry.name for entry in err.trace][:2] == ["add", "reduce"]


def test_error_hierarchy():
    assert issubclass(ReadError, FlowmetalError)
    assert issubclass(CompileError, FlowmetalError)
    assert issubclass(EvalError, FlowmetalError)


# -- read errors ---------------------------------------------------------------------------


def read_error(src: str) -> ReadError:
    with pytest.raises(ReadError) as info:
        evaluate(src, source="job.flow")
    return info.value


@pytest.mark.parametrize(
    "src, head, line, caret",
    [
        ("(+ 1 2))", "job.flow:1:8: read error: Unexpected ')'", "  (+ 1 2))", "         ^"),
        ("(let [x 1]\n  [x (+ 1 2]))", "job.flow:2:12: read error: Expected ')' to close the "
         "list opened at 2:6, found ']'", "    [x (+ 1 2]))", "             ^"),
        ('"a\\qb"', "job.flow:1:3: read error: Invalid escape '\\q'", '  "a\\qb"', "    ^"),
        ("{:a 1 :b}", "job.flow:1:1: read error: The map opened at 1:1 has an odd number",
         "  {:a 1 :b}", "  ^"),
        ("(do\n  [1 2 3", "job.flow:2:3: read error: Expected ']' to close the vector",
         "    [1 2 3", "    ^"),
        ('(let [x 1]\n  "abc)', "job.flow:2:3: read error: Expected '\"' to close the string",
         '    "abc)', "    ^"),
    ],
)
def test_read_errors_show_position_the_offending_line_and_a_caret(src, head, line, caret):
    err = read_error(src)
    text = str(err).splitlines()
    assert text[0].startswith(head)
    assert text[1:] == [line, caret]
    assert_no_python(str(err))


def test_incomplete_input_is_marked_incomplete_and_stray_closers_are_not():
    assert read_error("(+ 1").incomplete
    assert not read_error(")").incomplete


# -- compile errors ------------------------------------------------------------------------


def test_compile_error_names_file_line_col():
    with pytest.raises(CompileError) as info:
        evaluate("(defn f []\n  (undefined-fn 1))", source="job.flow")
    assert str(info.value) == "job.flow:2:4: compile error: Unable to resolve symbol: undefined-fn"


def test_calling_a_vector_wrongly_names_flowmetal_types_and_values():
    assert "passed to a vector" in str(uncaught("([1] 1 2)"))
    assert "Index :a out of bounds for vector of 1" in str(uncaught("([1] :a)"))
