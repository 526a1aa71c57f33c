"""The machine: proper tail calls, deep recursion with a clean bound, numbered steps,
fuel, effects as plain-data requests, fibers, messages, timeouts and restarts."""

from __future__ import annotations

import json
import sys

import pytest

from flowmetal.lang import base, evaluate, pr_str
from flowmetal.lang.base import load, new_machine
from flowmetal.lang.data import Keyword, Map, kw
from flowmetal.lang.errors import ExInfo
from flowmetal.lang.machine import Done, Failed, Machine, OutOfFuel, Request, Suspended
from flowmetal.lang.snapshot import decode_value, encode_value

from .flow_helpers import show


def machine(src: str, source: str = "machine.flow", **kwargs) -> Machine:
    m = new_machine(load(src, source))
    for key, value in kwargs.items():
        setattr(m, key, value)
    return m


def finish(m: Machine, fuel: int = 10_000_000):
    outcome = m.run(fuel)
    assert not isinstance(outcome, OutOfFuel)
    return outcome


def max_stack_while_running(m: Machine, slice_fuel: int = 997):
    """Run in small slices, tracking the deepest continuation stack seen between them."""
    deepest = 0
    while True:
        outcome = m.run(slice_fuel)
        deepest = max(deepest, len(m.stack))
        if not isinstance(outcome, OutOfFuel):
            return outcome, deepest


def timeout_timer(requests: list[Request]) -> Request:
    return next(r for r in requests if r.data.get(kw("timeout")))


# -- tail calls and recursion ------------------------------------------------------------


def test_a_million_iterations_of_recur_in_a_fn_run_in_constant_space():
    m = machine("(defn count-down [n acc] (if (= n 0) acc (recur (dec n) (inc acc))))"
                "(count-down 1000000 0)")
    outcome, deepest = max_stack_while_running(m, 100_003)
    assert outcome == Done(1_000_000)
    assert deepest <= 2


def test_a_million_mutually_recursive_tail_calls_run_in_constant_space():
    src = """
    (defn ping [n] (if (= n 0) :ping (pong (dec n))))
    (defn pong [n] (if (= n 0) :pong (ping (dec n))))
    (ping 1000000)"""
    outcome, deepest = max_stack_while_running(machine(src), 100_003)
    assert outcome == Done(Keyword("ping"))
    assert deepest <= 2


def test_mutual_recursion_driven_by_a_loop_state_machine():
    src = """
    (defn step [state n] (case state :even [:odd (dec n)] :odd [:even (dec n)]))
    (loop [[state n] [:even 100000]] (if (= n 0) state (recur (step state n))))"""
    outcome, deepest = max_stack_while_running(machine(src), 50_000)
    assert outcome == Done(Keyword("even"))
    assert deepest <= 4


def test_tail_calls_through_if_let_do_and_cond_are_proper():
    src = """
    (defn walk [n]
      (let [m (dec n)]
        (do (cond (< m 0) :bottom
                  :else (if (odd? m) (walk m) (when true (walk m)))))))
    (walk 100000)"""
    outcome, deepest = max_stack_while_running(machine(src))
    assert outcome == Done(Keyword("bottom"))
    assert deepest <= 4


def test_non_tail_recursion_100000_deep_works_without_python_recursion():
    limit = sys.getrecursionlimit()
    m = machine("(defn depth [n] (if (= n 0) 0 (+ 1 (depth (dec n))))) (depth 100000)")
    outcome, deepest = max_stack_while_running(m, 50_000)
    assert outcome == Done(100_000)
    assert deepest >= 99_000
    assert sys.getrecursionlimit() == limit


def test_recursion_beyond_the_configured_bound_is_a_catchable_stack_overflow():
    src = """
    (defn depth [n] (if (= n 0) 0 (+ 1 (depth (dec n)))))
    (try (depth 5000) (catch :stack-overflow e [:caught (ex-message e)]))"""
    m = machine(src, max_depth=1000)
    assert pr_str(finish(m).value) == (
        '[:caught "Stack depth limit (1000 frames) exceeded in depth"]')


def test_the_bound_can_be_given_to_the_machine_constructor():
    unit = load("(defn depth [n] (if (= n 0) 0 (+ 1 (depth (dec n))))) (depth 500)", "d.flow")
    m = Machine(dict(base().glob), max_depth=100)
    m.start(unit)
    outcome = finish(m)
    assert isinstance(outcome, Failed)
    assert outcome.error.kind == "stack-overflow"
    assert m.status == "failed"


def test_the_bound_applies_through_new_machine_with_its_own_globals():
    unit = load("(defn depth [n] (if (= n 0) 0 (+ 1 (depth (dec n))))) (depth 300)", "d.flow")
    m = new_machine(unit, glob=dict(base().glob))
    m.max_depth = 200
    assert isinstance(finish(m), Failed)
    m = new_machine(unit, glob=dict(base().glob))
    assert finish(m) == Done(300)


def test_uncaught_stack_overflow_names_the_function_in_the_trace():
    m = machine("(defn depth [n] (if (= n 0) 0 (+ 1 (depth (dec n)))))\n(depth 5000)",
                source="deep.flow", max_depth=1000)
    error = finish(m).error
    assert error.kind == "stack-overflow"
    assert str(error.trace[0]) == "  at depth (deep.flow:1:36)"


# -- steps and fuel ----------------------------------------------------------------------


def test_every_step_has_a_number_and_fuel_counts_steps():
    m = machine("(defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2))))) (fib 10)")
    seen = []
    while isinstance(outcome := m.run(1), OutOfFuel):
        seen.append(m.steps)
    assert outcome == Done(55)
    assert seen == list(range(1, len(seen) + 1))
    assert m.steps >= len(seen)


def test_running_in_slices_gives_the_same_result_and_steps_as_one_run():
    src = "(defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2))))) (fib 15)"
    whole = machine(src)
    assert finish(whole) == Done(610)
    for fuel in (1, 7, 100, 1000):
        m = machine(src)
        outs = []
        while isinstance(outcome := m.run(fuel), OutOfFuel):
            outs.append(outcome)
        assert outcome == Done(610)
        assert m.steps == whole.steps
        assert len(outs) >= whole.steps // fuel - 1


def test_out_of_fuel_is_returned_when_the_budget_runs_out():
    m = machine("(loop [i 0] (if (< i 1000) (recur (inc i)) i))")
    assert m.run(10) == OutOfFuel()
    assert m.steps == 10
    assert finish(m) == Done(1000)


def test_evaluation_reports_how_many_steps_it_took():
    small = evaluate("(+ 1 2)").steps
    big = evaluate("(loop [i 0] (if (< i 100) (recur (inc i)) i))").steps
    assert 0 < small < big


# -- effects -----------------------------------------------------------------------------


def test_an_effect_suspends_with_a_plain_data_request_and_resumes_with_its_result():
    m = machine('(println "hi" 1) (def t (now)) (sleep "5m") (+ t 1)')
    outcome = m.run(1000)
    assert isinstance(outcome, Suspended)
    [req] = outcome.requests
    assert (req.kind, req.data) == ("print", Map({kw("text"): "hi 1\n"}))
    m.complete(req.id, None)
    [req] = m.run(1000).requests
    assert (req.kind, req.data) == ("now", Map())
    m.complete(req.id, 41)
    [req] = m.run(1000).requests
    assert (req.kind, req.data) == ("sleep", Map({kw("seconds"): 300.0}))
    m.complete(req.id, None)
    assert m.run(1000) == Done(42)


def test_effect_requests_are_plain_data_that_encode_without_code():
    m = machine('(http/post "https://example.test/hook" {:order 7} {:timeout "30s"})')
    [req] = m.run(1000).requests
    assert req.kind == "http"
    assert decode_value(encode_value(req.data)) == req.data
    assert req.data[kw("method")] == "POST"
    assert req.data[kw("timeout")] == 30.0
    assert req.data[kw("json")] == Map({kw("order"): 7})


@pytest.mark.parametrize(
    "src, kind, key, value",
    [
        ('(sleep "2h")', "sleep", "seconds", 7200.0),
        ("(sleep-until 5000)", "sleep", "until", 5.0),
        ('(log "charged" :amount 12)', "log", "message", "charged"),
        ("(call :resize 1 2)", "call", "args", [1, 2]),
        ("(random 6)", "random", "n", 6),
        ("(callback)", "callback", None, None),
        ("(uuid)", "uuid", None, None),
    ],
)
def test_each_effect_names_its_kind_and_data(src, kind, key, value):
    [req] = machine(src).run(1000).requests
    assert req.kind == kind
    if key is not None:
        assert list(req.data[kw(key)]) == value if isinstance(value, list) else (
            req.data[kw(key)] == value)


def test_a_failed_effect_throws_into_the_program_where_it_can_be_caught():
    m = machine('(try (http/get "http://x.test/") (catch :http-error e [:caught (ex-message e)]))')
    [req] = m.run(1000).requests
    m.fail_effect(req.id, ExInfo("down", Map({kw("type"): kw("http-error")})))
    assert pr_str(finish(m).value) == '[:caught "down"]'


def test_bad_effect_arguments_are_catchable_errors_before_any_request():
    assert show('(try (sleep "soon") (catch :type-error e :bad))') == ":bad"
    assert show("(try (http/request {:url \"ftp://x\"}) (catch :type-error e :bad))") == ":bad"


def test_in_memory_evaluation_uses_a_virtual_clock():
    assert show('(let [t0 (now)] (sleep "90s") (- (now) t0))') == "90000"


# -- fibers ------------------------------------------------------------------------------


ASYNC_ORDER = """
(let [a (async (println :a1) (sleep 1) (println :a2) :A)
      b (async (println :b1) (println :b2) :B)]
  (println :main)
  [(await a) (await b)])"""


def test_async_fibers_run_after_the_current_one_waits_in_spawn_order():
    result = evaluate(ASYNC_ORDER)
    assert pr_str(result.value) == "[:A :B]"
    assert result.output == ":main\n:a1\n:b1\n:b2\n:a2\n"


def test_async_interleaving_is_the_same_on_every_run():
    first = evaluate(ASYNC_ORDER)
    for _ in range(3):
        again = evaluate(ASYNC_ORDER)
        assert (again.output, again.steps) == (first.output, first.steps)


def test_await_all_returns_values_in_the_order_of_the_futures():
    assert show("(await-all [(async (sleep 2) 1) (async (sleep 1) 2) (async 3)])") == "[1 2 3]"


def test_await_any_returns_the_first_future_to_finish():
    assert show('(await-any [(async (sleep "1h") :slow) (async :fast)])') == ":fast"


def test_await_of_an_already_finished_future_returns_at_once():
    assert show("(let [f (async 7)] (sleep 1) [(await f) (await f)])") == "[7 7]"


def test_an_error_in_a_fiber_is_thrown_by_await():
    src = '(try (await (async (throw (ex-info "inner" {:type :z})))) (catch :z e (ex-message e)))'
    assert show(src) == '"inner"'


def test_an_uncaught_error_from_an_awaited_fiber_fails_the_program():
    m = machine('(await (async (throw (ex-info "inner" {:type :z}))))')
    outcome = finish(m)
    assert isinstance(outcome, Failed)
    assert outcome.error.message == "inner"
    assert m.status == "failed"


def test_await_with_a_timeout_returns_the_default_when_the_timer_fires_first():
    m = machine("(let [f (async (sleep 10) :late)] (await f :timeout 1 :default :timed-out))")
    outcome = m.run(1000)
    m.complete(timeout_timer(outcome.requests).id, None)
    assert finish(m) == Done(Keyword("timed-out"))


def test_await_with_a_timeout_and_no_default_throws_a_timeout_error():
    m = machine("(let [f (async (sleep 10) :late)] "
                "(try (await f :timeout 1) (catch :timeout e (ex-message e))))")
    outcome = m.run(1000)
    m.complete(timeout_timer(outcome.requests).id, None)
    assert finish(m) == Done("Timed out waiting for future")


def test_await_within_its_timeout_cancels_the_timer():
    m = machine("(let [f (async (sleep 1) :on-time)] (await f :timeout 10 :default :late))")
    outcome = m.run(1000)
    timer = timeout_timer(outcome.requests)
    [sleep] = [r for r in outcome.requests if r is not timer]
    m.complete(sleep.id, None)
    outcome = finish(m)
    assert outcome == Done(Keyword("on-time"))
    assert not m.waiting_on(timer.id)


# -- messages ----------------------------------------------------------------------------


def test_receive_waits_for_a_message_and_returns_its_payload():
    m = machine("(receive :approval)")
    assert m.run(1000) == Suspended([])
    assert m.waits() == [(0, "message", "approval")]
    m.deliver_message("approval", Map({kw("ok"): True}))
    assert finish(m) == Done(Map({kw("ok"): True}))


def test_messages_that_arrive_early_are_buffered_in_order_and_consumed_once():
    m = machine("[(receive :x) (receive :x) (receive \"y\")]")
    for name, payload in [("x", 1), ("x", 2), ("y", 3)]:
        m.deliver_message(name, payload)
    assert pr_str(finish(m).value) == "[1 2 3]"
    assert m.inbox == {}


def test_receive_with_timeout_and_default_returns_the_default_in_memory():
    assert show('(receive :x :timeout "5s" :default :none)') == ":none"


def test_receive_with_timeout_and_no_default_throws_a_catchable_timeout():
    assert show('(try (receive :x :timeout "5s") (catch :timeout e (ex-message e)))') == (
        "\"Timed out waiting for message :x\"")


def test_receive_timeout_timer_is_cancelled_when_the_message_comes_first():
    m = machine("(receive :x :timeout 60 :default :none)")
    timer = timeout_timer(m.run(1000).requests)
    m.deliver_message("x", "payload")
    outcome = m.run(1000)
    assert outcome == Done("payload")
    assert not m.waiting_on(timer.id)


# -- restarts ----------------------------------------------------------------------------


def test_failed_program_pauses_at_the_throw_and_can_be_aborted():
    m = machine("[(/ 1 0) :after]")
    outcome = finish(m)
    assert isinstance(outcome, Failed) and outcome.error.kind == "arithmetic-error"
    assert m.status == "failed"
    m.restart("abort")
    assert m.status == "aborted"
    assert isinstance(m.run(10), Failed)


def test_retry_after_a_failed_effect_asks_for_the_effect_again():
    m = machine('[(http/get "http://x.test/") :after]')
    [req] = m.run(1000).requests
    m.fail_effect(req.id, ExInfo("down", Map({kw("type"): kw("http-error")})))
    assert isinstance(finish(m), Failed)
    m.restart("retry")
    [again] = m.run(1000).requests
    assert again.id != req.id and (again.kind, again.data) == (req.kind, req.data)
    m.complete(again.id, Map({kw("status"): 200}))
    assert pr_str(finish(m).value) == "[{:status 200} :after]"


def test_retry_re_evaluates_the_failed_expression_after_the_world_changed():
    m = machine("(def limit 0) (defn f [] (/ 10 limit)) [(f) :after]")
    assert isinstance(finish(m), Failed)
    m.glob["limit"] = 2
    m.restart("retry")
    assert pr_str(finish(m).value) == "[5 :after]"


def test_use_value_makes_the_failed_expression_return_the_value():
    m = machine("(defn f [x] (let [y (/ 10 x)] [y :after])) (f 0)")
    assert isinstance(finish(m), Failed)
    m.restart("use-value", 7)
    assert pr_str(finish(m).value) == "[7 :after]"


def test_use_value_after_a_failed_effect_returns_it_from_the_effect():
    m = machine('(let [r (http/get "http://x.test/")] [:got r])')
    [req] = m.run(1000).requests
    m.fail_effect(req.id, ExInfo("down", Map({kw("type"): kw("http-error")})))
    assert isinstance(finish(m), Failed)
    m.restart("use-value", "cached")
    assert pr_str(finish(m).value) == '[:got "cached"]'


def test_restart_of_a_running_program_is_refused():
    m = machine("(sleep 1)")
    m.run(100)
    with pytest.raises(ValueError):
        m.restart("retry")


def test_the_failed_error_is_json_free_data_with_a_trace():
    m = machine("(defn f [] (throw (ex-info \"no\" {:type :x :n 1})))\n(f)", source="t.flow")
    error = finish(m).error
    assert error.data == Map({kw("type"): kw("x"), kw("n"): 1})
    assert [str(t) for t in error.trace] == ["  at f (t.flow:1:12)"]
    json.dumps([e.name for e in error.trace])
