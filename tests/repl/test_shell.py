"""The REPL's behaviour, without a terminal: results, errors, durability, effects,
interrupts, and the comma commands."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flowmetal.runtime import Runtime
from flowmetal.store import open_store

from .conftest import Captured


@contextmanager
def interrupt_after(seconds: float) -> Iterator[None]:
    """Deliver a Ctrl-C (KeyboardInterrupt) to this thread after ``seconds``."""

    def raise_interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, raise_interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- results -------------------------------------------------------------------------------


def test_each_form_prints_its_result_on_its_own_line(repl: Captured):
    assert repl.submit("(def a 1) (inc a)\n{:a [1 2]}") == 'a\n2\n{:a [1 2]}\n'


def test_program_output_comes_before_the_result(repl: Captured):
    assert repl.submit('(println "hello" 42)') == "hello 42\nnil\n"


def test_star_vars_hold_the_last_results_and_error(repl: Captured):
    repl.submit("1")
    repl.submit("2")
    repl.submit("3")
    assert repl.submit("[*1 *2 *3]") == "[3 2 1]\n"
    repl.submit("(/ 1 0)")
    assert repl.submit("(ex-message *e)") == '"Divide by zero"\n'


def test_big_results_are_capped(repl: Captured):
    text = repl.submit("(vec (range 1000))")
    assert text.rstrip().endswith("99 ...]")


# -- errors --------------------------------------------------------------------------------


def test_read_error_shows_kind_place_and_snippet(repl: Captured):
    repl.submit("(+ 1 2))")
    err = repl.errors()
    assert "<repl 1>:1:8: read error:" in err
    assert "  (+ 1 2))\n         ^" in err


def test_compile_error_shows_kind_and_place(repl: Captured):
    repl.submit("(let [a] a)")
    assert "compile error" in repl.errors() and "<repl 1>:1:" in repl.errors()


def test_runtime_error_shows_snippet_of_the_defining_input_and_the_stack(repl: Captured):
    repl.submit('(defn half [x]\n  (/ x "two"))')
    repl.submit("(half 4)")
    err = repl.errors()
    assert "<repl 1>:2:3: runtime error (type-error):" in err
    assert '    (/ x "two"))\n    ^' in err
    assert "  at half (<repl 1>:2:3)" in err
    assert "Traceback" not in err
    assert repl.shell.failures == 1


def test_an_error_does_not_lose_the_session(repl: Captured):
    repl.submit("(def kept 7)")
    repl.submit('(throw (ex-info "boom" {:type :custom :code 3}))')
    assert "runtime error (custom): boom" in repl.errors()
    assert "data: {:code 3}" in repl.errors()
    assert repl.submit("kept") == "7\n"


# -- durability ------------------------------------------------------------------------------


def test_reopening_the_session_restores_definitions_and_atoms(db: Path, repl: Captured):
    repl.submit("(defn add [a b] (+ a b))\n(def counter (atom 0))\n(swap! counter + 5)")
    repl.close()
    again = Captured(db)
    try:
        assert again.session.inputs == 3
        assert again.submit("(add @counter 1)") == "6\n"
    finally:
        again.close()


def test_sessions_are_separate_by_name(db: Path, repl: Captured):
    repl.submit("(def only-here 1)")
    other = Captured(db, name="other")
    try:
        other.submit("only-here")
        assert "Unable to resolve symbol: only-here" in other.errors()
    finally:
        other.close()


# -- effects ---------------------------------------------------------------------------------


def test_sleep_really_sleeps(repl: Captured):
    started = time.monotonic()
    assert repl.submit("(do (sleep 0.2) :awake)") == ":awake\n"
    assert time.monotonic() - started >= 0.2
    assert "waiting on sleep" in repl.errors()


def test_receive_is_answered_from_another_process(db: Path, repl: Captured):
    def send_when_waiting() -> None:
        other = Runtime(open_store(str(db)))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not other.get(repl.session.id).waiting:
            time.sleep(0.02)
        other.send(repl.session.id, "approval", {"ok": True})
        other.store.close()

    thread = threading.Thread(target=send_when_waiting)
    thread.start()
    out = repl.submit('(receive "approval" :timeout "1m")')
    thread.join()
    assert out == '{"ok" true}\n'
    assert 'waiting on message "approval": flowmetal send' in repl.errors()


def test_mock_mode_asks_for_results(repl: Captured):
    repl.submit(",mock on")
    repl.answers = [""]  # at a timer's prompt, Enter fires it now
    assert repl.submit('(do (sleep "1h") :slept)') == ":slept\n"
    repl.answers = ["41"]
    assert repl.submit('(inc (receive :n :timeout "1h"))') == "42\n"
    repl.answers = ['{"status": 200}']
    assert repl.submit('(get (http/get "https://example.com") "status")') == "200\n"
    assert "mock http {:url" in repl.errors()


def test_http_without_a_connector_is_hand_fed_and_a_failure_is_the_inputs_error(
        repl: Captured):
    repl.submit("(def kept 1)")
    repl.answers = ["!fail the service is down"]
    assert repl.submit('(http/get "https://example.com")') == ""
    assert "no connector performs http effects" in repl.errors()
    assert "runtime error (effect-failed): the service is down" in repl.errors()
    assert repl.shell.failures == 1
    assert repl.submit("[kept (ex-message *e)]") == '[1 "the service is down"]\n'
    assert "not evaluated" not in repl.errors()
    assert repl.session.record.status == "waiting"
    assert repl.session.rt.replay(repl.session.id).ok


def test_a_receive_timeout_is_the_inputs_error_and_the_session_goes_on(repl: Captured):
    repl.submit("(receive :never :timeout 0.05)")
    assert "runtime error (timeout)" in repl.errors()
    assert repl.submit("(+ 1 1)") == "2\n"


def test_a_spawned_child_runs_a_function_defined_in_the_session(repl: Captured):
    repl.submit("(defn shout [s] (println (str s \"!\")) (count s))")
    printed = repl.submit("(await (spawn 'shout \"hey\"))")
    [kid] = repl.session.store.list_programs(parent_id=repl.session.id)
    assert printed == f"[{kid.id}] hey!\n3\n"


def test_an_async_failure_nobody_awaits_is_reported_once(repl: Captured):
    assert repl.submit('(def f (async (throw (ex-info "lost" {}))))') == "f\n"
    repl.submit("(sleep 0.01)")  # the fiber ran (and failed) while this input slept
    assert repl.errors().count("async fiber 1 failed and was never awaited: error: lost") == 1
    repl.submit("1")
    assert repl.errors().count("never awaited") == 1
    assert repl.submit("(try (await f) (catch e (ex-message e)))") == '"lost"\n'


def test_reset_asks_the_sessions_children_to_cancel(repl: Captured):
    repl.submit("(defn wait-forever [] (receive :never))")
    repl.submit("(def kid (spawn 'wait-forever))")
    [kid] = repl.session.store.list_programs(parent_id=repl.session.id)
    old = repl.session.id
    repl.submit(",reset")
    [asked] = repl.session.store.events(kid.id, types=["cancel-requested"])
    assert asked.data == {"reason": f"its REPL session {old} was reset"}
    assert repl.session.rt.drive(kid.id).status == "cancelled"


# -- interrupts ------------------------------------------------------------------------------


def test_ctrl_c_interrupts_a_long_evaluation_and_keeps_the_session(repl: Captured):
    repl.submit("(def kept 1)")
    with interrupt_after(0.3):
        repl.submit("(loop [i 0] (recur (inc i)))")
    assert "interrupted: input 2 keeps its place in the log" in repl.errors()
    assert "goes on from its last checkpoint" in repl.errors()
    with interrupt_after(0.3):
        repl.submit("kept")
    assert "input 2 is still in flight; finishing it first" in repl.errors()
    assert "(your new input was not evaluated)" in repl.errors()
    repl.submit(",reset")
    assert "starts afresh" in repl.errors()
    assert repl.submit("(+ 1 2)") == "3\n"


def test_ctrl_c_stops_waiting_and_the_wait_finishes_before_the_next_input(repl: Captured):
    with interrupt_after(0.3):
        repl.submit("(receive :go)")
    assert "it still waits on message \"go\"" in repl.errors()
    Runtime(open_store(str(repl.db))).send(repl.session.id, "go", "went")
    assert repl.submit("(+ 1 2)") == '"went"\n3\n'
    assert "input 1 finished" in repl.errors()


# -- commands --------------------------------------------------------------------------------


def test_help_lists_every_command(repl: Captured):
    from flowmetal.repl.commands import COMMANDS

    text = repl.submit(",help")
    assert all(name in text for name in COMMANDS)
    assert "Ctrl-R" in text


def test_doc_and_apropos(repl: Captured):
    repl.submit('(defn area "The area of a circle." [r] (* 3.14 r r))')
    assert "area  [r]" in repl.submit(",doc area")
    assert "The area of a circle." in repl.submit(",doc area")
    assert "special form" in repl.submit(",doc let")
    assert "area" in repl.submit(",apropos circle")
    repl.submit(",doc no-such-thing")
    assert "no such name: no-such-thing" in repl.errors()


def test_source_of_session_prelude_and_builtin_definitions(repl: Captured):
    repl.submit("(def x 1) (defn twice [v]\n  (* 2 v))")
    assert repl.submit(",source twice") == "(defn twice [v]\n  (* 2 v))\n"
    assert "(defmacro when" in repl.submit(",source when")
    assert "built in" in repl.submit(",source +")


def test_load_evaluates_a_file_in_the_session(repl: Captured, tmp_path: Path):
    path = tmp_path / "lib.flow"
    path.write_text("(defn triple [x] (* 3 x))\n(def loaded :yes)\n", encoding="utf-8")
    assert repl.submit(f",load {path}") == "loaded\n"
    assert repl.submit("(triple 3)") == "9\n"
    repl.submit(f",load {tmp_path / 'missing.flow'}")
    assert "can't read" in repl.errors()


def test_time_reports_elapsed_time_and_steps(repl: Captured):
    assert repl.submit(",time (reduce + (range 100))") == "4950\n"
    assert ";; elapsed" in repl.errors() and "steps" in repl.errors()


def test_log_and_sessions(repl: Captured):
    repl.submit("(+ 40 2)")
    log = repl.submit(",log")
    assert "eval" in log and "(+ 40 2)" in log and "=> 42" in log
    sessions = repl.submit(",sessions")
    assert f"*{repl.session.id}" in sessions and "test" in sessions


def test_reset_starts_a_fresh_session_and_keeps_the_old_one(repl: Captured):
    repl.submit("(def gone 1)")
    old = repl.session.id
    repl.submit(",reset")
    assert repl.session.id != old
    repl.submit("gone")
    assert "Unable to resolve symbol: gone" in repl.errors()
    assert repl.session.store.get_program(old).status == "cancelled"


def test_debug_says_when_the_debugger_is_missing(repl: Captured, monkeypatch):
    import flowmetal.repl.commands as commands

    monkeypatch.setattr(commands, "_debugger_available", lambda: False)
    repl.submit(",debug")
    assert f"flowmetal debug {repl.db} {repl.session.id}" in repl.errors()


def test_unknown_and_abbreviated_commands(repl: Captured):
    repl.submit(",frobnicate")
    assert "unknown command ',frobnicate'" in repl.errors()
    assert "special form" in repl.submit(",do if")


def test_quit(repl: Captured):
    repl.submit(",quit")
    assert repl.shell.quit
