"""REPL sessions in the runtime (``Runtime.repl_*``): an error inside an input answers that
input and leaves the session usable, live, after a restart and on replay; children spawned
from a session run the session's own definitions; an input evaluated while an earlier one
waits is queued behind it instead of stealing its wait."""

from __future__ import annotations

from typing import Any

from flowmetal.lang import pr_str
from flowmetal.lang.errors import ExInfo
from flowmetal.runtime.runtime import ReplResult

from .conftest import Harness, check_log


def _eval(h: Harness, sid: str, text: str) -> ReplResult:
    """Evaluate ``text``; returns at once (pending) if it waits on the outside."""
    return h.rt.repl_eval(sid, text, until=lambda _rec: True)


def _wait(h: Harness, sid: str, seq: int) -> ReplResult:
    return h.rt.repl_wait(sid, seq, until=lambda _rec: True)


def _message(result: ReplResult) -> Any:
    assert isinstance(result.error, ExInfo), result
    return result.error.message


def _shown(result: ReplResult) -> str:
    assert result.error is None and not result.pending, result
    return pr_str(result.value)


def _usable(h: Harness, sid: str) -> None:
    """The session is not stopped: it answers new inputs, and its log replays."""
    assert h.store.get_program(sid).status != "failed"
    assert _eval(h, sid, "(inc 41)").value == 42
    report = h.rt.replay(sid)
    assert report.ok, report.divergence
    check_log(h.store, sid)


# -- errors in an input ---------------------------------------------------------------------


def test_a_failed_call_task_answers_the_input_and_the_session_goes_on(h: Harness):
    sid = h.rt.repl_open("t")
    assert _eval(h, sid, "(def x 1)").error is None
    pending = _eval(h, sid, "(call :charge 12)")
    assert pending.pending
    [task] = h.store.list_tasks(sid)
    h.store.complete_task(task.id, ok=False, value="gateway down")
    result = _wait(h, sid, pending.input_seq)
    assert not result.pending and _message(result) == "gateway down"
    assert h.store.get_program(sid).status == "waiting"
    [failed] = h.events(sid, "failed")
    assert failed.data["input"] == pending.input_seq and "restarts" not in failed.data
    _usable(h, sid)
    assert _shown(_eval(h, sid, "[x (ex-message *e)]")) == '[1 "gateway down"]'
    h.reopen()
    _usable(h, sid)
    assert _eval(h, sid, "(ex-message *e)").value == "gateway down"


def test_a_failed_http_request_answers_the_input(h: Harness):
    sid = h.rt.repl_open("t")
    pending = _eval(h, sid, '(get (http/get "https://example.test/x") "status")')
    [task] = h.store.list_tasks(sid)
    h.reopen().store.complete_task(task.id, ok=False, value="connection refused")
    assert _message(_wait(h, sid, pending.input_seq)) == "connection refused"
    _usable(h, sid)


def test_a_timeout_without_default_answers_the_input(h: Harness):
    sid = h.rt.repl_open("t")
    result = h.rt.repl_eval(sid, '(receive :never :timeout "1h")')  # virtual clock jumps
    assert "Timed out" in _message(result)
    _usable(h, sid)


def test_a_caught_task_failure_is_an_ordinary_value(h: Harness):
    sid = h.rt.repl_open("t")
    pending = _eval(h, sid, "(try (call :charge 1) (catch e [:caught (ex-message e)]))")
    [task] = h.store.list_tasks(sid)
    h.store.complete_task(task.id, ok=False, value="no")
    assert _shown(_wait(h, sid, pending.input_seq)) == '[:caught "no"]'
    _usable(h, sid)


def test_a_failing_child_answers_the_input_once_it_is_aborted(h: Harness):
    sid = h.rt.repl_open("t")
    _eval(h, sid, '(defn boom [x] (throw (ex-info (str "child broke on " x) {})))')
    pending = _eval(h, sid, "(await (spawn 'boom 7))")
    assert pending.pending
    [kid] = h.store.list_programs(parent_id=sid)
    assert kid.status == "failed"  # recoverable: the input waits for it
    h.rt.recover(kid.id, "abort")
    assert _message(_wait(h, sid, pending.input_seq)) == "child broke on 7"
    _usable(h, sid)


# -- spawning from a session ------------------------------------------------------------------


def test_a_spawned_child_calls_functions_defined_in_the_session(h: Harness):
    sid = h.rt.repl_open("t")
    _eval(h, sid, "(defn twice [x] (* 2 x))")
    _eval(h, sid, "(def offset 100)")
    _eval(h, sid, '(defn work [x] (println "working on" x) (+ offset (twice x)))')
    assert _eval(h, sid, "(await (spawn 'work 21))").value == 142
    [kid] = h.store.list_programs(parent_id=sid)
    assert kid.status == "done" and h.output(kid.id) == ["working on 21\n"]
    assert h.rt.replay(kid.id).ok
    _usable(h, sid)


def test_a_session_child_is_durable_and_sees_definitions_as_of_its_spawn(h: Harness):
    sid = h.rt.repl_open("t")
    _eval(h, sid, "(def greeting \"hello\")")
    _eval(h, sid, "(def counter (atom 0))")
    _eval(h, sid, "(defn waiter [] (swap! counter inc) "
                  "[greeting @counter (receive :go)])")
    _eval(h, sid, "(def kid (spawn 'waiter))")
    _eval(h, sid, '(def greeting "changed later")')
    [kid] = h.store.list_programs(parent_id=sid)
    rt = h.reopen()
    rt.run(kid.id, until=lambda _rec: True)
    assert h.store.get_program(kid.id).status == "waiting"
    rt.send(kid.id, "go", "it")
    h.reopen()
    # the child took a copy of the session's globals: its atom is its own
    assert _shown(_eval(h, sid, "[(await kid) @counter]")) == '[["hello" 1 "it"] 0]'
    assert h.rt.replay(kid.id).ok
    _usable(h, sid)


def test_a_grandchild_of_a_session_also_has_its_definitions(h: Harness):
    sid = h.rt.repl_open("t")
    _eval(h, sid, "(defn leaf [x] (* x x))")
    _eval(h, sid, "(defn branch [x] (await (spawn 'leaf x)))")
    assert _eval(h, sid, "(await (spawn 'branch 9))").value == 81
    for rec in h.store.list_programs(kind="child"):
        assert rec.status == "done" and h.rt.replay(rec.id).ok


# -- inputs while an earlier one waits ------------------------------------------------------


def test_an_input_evaluated_while_an_earlier_one_waits_is_queued_behind_it(h: Harness):
    sid = h.rt.repl_open("t")
    first = _eval(h, sid, "(receive :a)")
    assert first.pending
    second = _eval(h, sid, '(do (println "second runs") (+ 1 2))')
    assert second.pending  # it waits for the first, whose wait it must not take over
    assert h.rt.repl_pending(sid) == first.input_seq
    assert [w["kind"] for w in h.store.get_program(sid).waiting] == ["message"]
    h.reopen().send(sid, "a", "payload")
    assert _wait(h, sid, second.input_seq).value == 3
    assert _wait(h, sid, first.input_seq).value == "payload"
    [first_answer, second_answer] = h.events(sid, "evaluated")
    assert first_answer.data["input"] == first.input_seq
    assert second_answer.data["input"] == second.input_seq
    assert h.rt.repl_pending(sid) is None
    _usable(h, sid)


def test_a_queued_input_runs_even_when_the_earlier_one_fails(h: Harness):
    sid = h.rt.repl_open("t")
    first = _eval(h, sid, "(call :slow)")
    second = _eval(h, sid, "(str \"after \" (ex-message *e))")
    [task] = h.store.list_tasks(sid)
    h.store.complete_task(task.id, ok=False, value="slow failed")
    assert _wait(h, sid, second.input_seq).value == "after slow failed"
    assert _message(_wait(h, sid, first.input_seq)) == "slow failed"
    _usable(h, sid)


def test_a_session_that_read_star_vars_before_any_result_replays(h: Harness):
    sid = h.rt.repl_open("t")
    assert _shown(_eval(h, sid, "[*1 *e]")) == "[nil nil]"
    _usable(h, sid)
