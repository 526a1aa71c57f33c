"""Durability: the log is the truth, snapshots are caches.

A run resumed from its snapshot by fresh objects ends exactly as an uninterrupted one; a
replay of any kind of run reproduces it; an upgrade switches code only when the log
replays on it; and resuming does not re-run the history.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flowmetal.lang import ReadError
from flowmetal.runtime import Executor, Runtime, RuntimeError_
from flowmetal.runtime.clock import VirtualClock
from flowmetal.store import open_store

from .conftest import START, Harness, check_log

# -- scenarios: every kind of run, each fed its inputs at its waits ---------------------------
#
# ``pause(h)`` is called at every point where a real deployment could stop: with restarts on,
# it throws the Runtime away and opens a fresh one on the same file.


def _pure(h: Harness, pause: Callable[[], None]) -> str:
    pid = h.start("""
      (defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))
      (defn main [{:keys [n]}]
        (doseq [i (range n)] (println i (fib i)))
        (reduce + (map fib (range n))))""", {"n": 12})
    h.run(pid)
    return pid


def _sleeps(h: Harness, pause: Callable[[], None]) -> str:
    pid = h.start("""
      (defn main [_]
        (dotimes [i 3] (println "tick" i) (sleep (* 60 (inc i))))
        (sleep-until "2027-06-01T00:00:00Z")
        (now))""")
    for _ in range(4):
        h.drive(pid)
        pause()
        [timer] = h.store.list_timers(pid)
        h.clock.advance_to(timer.due_at)
        h.rt.fire_timer(pid, timer.key)
    return pid


def _callback(h: Harness, pause: Callable[[], None]) -> str:
    pid = h.start("""
      (defn main [_]
        (let [cb (callback)]
          (println "waiting for" (count (:token cb)) "chars of token")
          (await cb :timeout "1d")))""")
    h.drive(pid)
    pause()
    [cb] = h.store.list_callbacks(pid)
    h.rt.complete_callback(cb.token, {"ok": 1})
    h.run(pid)
    return pid


def _receive(h: Harness, pause: Callable[[], None]) -> str:
    pid = h.start("""
      (defn main [_]
        (let [a (receive :a)
              b (receive :b :timeout "1h" :default :no-b)
              c (try (receive :c :timeout "1h") (catch :timeout e :no-c))]
          (println a b c)
          [a b c]))""")
    h.drive(pid)
    pause()
    h.rt.send(pid, "a", [1, 2])
    h.run(pid)
    return pid


def _random(h: Harness, pause: Callable[[], None]) -> str:
    pid = h.start("""
      (defn main [_]
        (let [r [(now) (random) (random 10) (uuid)]]
          (sleep 5)
          (conj r (now))))""")
    h.drive(pid)
    pause()
    h.run(pid)
    return pid


def _fanout(h: Harness, pause: Callable[[], None]) -> str:
    pid = h.start("""
      (defn job [n] (sleep (* 10 n)) (println "job" n) (* n n))
      (defn main [_]
        (let [fs (mapv (fn [n] (async (job n))) [3 1 2])
              first-done (await-any fs)]
          [first-done (await-all fs)]))""")
    h.drive(pid)
    pause()
    h.run(pid)
    return pid


def _task_ok(h: Harness, pause: Callable[[], None]) -> str:
    pid = h.start("""
      (defn main [_]
        (let [r (call :add 1 2)
              page (http/get "https://example.test/")]
          (println "sum" r)
          [r page]))""")
    for value in (3, {"status": 200}):
        h.drive(pid)
        pause()
        task = h.store.list_tasks(pid, status="pending")[0]
        h.store.complete_task(task.id, ok=True, value=value)
    h.run(pid)
    return pid


def _task_failed_caught(h: Harness, pause: Callable[[], None]) -> str:
    pid = h.start("""
      (defn main [_]
        (try (call :charge 1) (catch :effect-failed e (println "declined") :declined)))""")
    h.drive(pid)
    pause()
    [task] = h.store.list_tasks(pid)
    h.store.complete_task(task.id, ok=False, value={"message": "no"})
    h.run(pid)
    return pid


def _failed_then(how: str, value: object = None):
    def scenario(h: Harness, pause: Callable[[], None]) -> str:
        pid = h.start("""
          (defn main [_]
            (println "start")
            (let [r (call :charge 1)] (println "got" r) r))""")
        h.drive(pid)
        pause()
        [task] = h.store.list_tasks(pid)
        h.store.complete_task(task.id, ok=False, value="down")
        h.run(pid)
        pause()
        if how is not None:
            h.rt.recover(pid, how, value)
            h.run(pid)
            pause()
            if how == "retry":
                task = h.store.list_tasks(pid, status="pending")[0]
                h.store.complete_task(task.id, ok=True, value="second time")
                h.run(pid)
        return pid
    return scenario


def _cancelled(h: Harness, pause: Callable[[], None]) -> str:
    pid = h.start('(defn main [_] (println "hi") (receive :never))')
    h.drive(pid)
    pause()
    h.rt.cancel(pid)
    h.rt.drive(pid)
    return pid


def _failed_then_cancelled(h: Harness, pause: Callable[[], None]) -> str:
    pid = h.start('(defn main [_] (println "dividing") (/ 1 0))')
    h.run(pid)
    pause()
    h.rt.cancel(pid)
    h.rt.drive(pid)
    return pid


def _spawn(h: Harness, pause: Callable[[], None]) -> str:
    pid = h.start("""
      (defn child [n] (sleep n) (println "child" n) (* 2 n))
      (defn main [_]
        (let [kids (mapv (fn [n] (spawn 'child n)) [2 1])]
          (println "spawned")
          (mapv await kids)))""")
    h.drive(pid)
    pause()
    h.run(pid)
    return pid


def _still_waiting(h: Harness, pause: Callable[[], None]) -> str:
    pid = h.start('(defn main [_] (println "one") (sleep 1) (println "two") (receive :x))')
    h.rt.run(pid, until=lambda rec: True)
    pause()
    return pid


SCENARIOS = {
    "pure": _pure,
    "sleeps": _sleeps,
    "callback": _callback,
    "receive": _receive,
    "random": _random,
    "fanout": _fanout,
    "task-ok": _task_ok,
    "task-failed-caught": _task_failed_caught,
    "failed": _failed_then(None),
    "retry": _failed_then("retry"),
    "use-value": _failed_then("use-value", {"by": "hand"}),
    "abort": _failed_then("abort"),
    "cancelled": _cancelled,
    "failed-then-cancelled": _failed_then_cancelled,
    "spawn": _spawn,
    "still-waiting": _still_waiting,
}
DETERMINISTIC = [name for name in SCENARIOS if name not in ("random", "callback")]
STATUS = {"failed": "failed", "abort": "aborted", "cancelled": "cancelled",
          "failed-then-cancelled": "cancelled",
          "still-waiting": "waiting"}


def _summary(h: Harness, pid: str) -> tuple:
    rec = h.store.get_program(pid)
    return (rec.status, rec.result, h.output(pid), [e.type for e in check_log(h.store, pid)])


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_a_run_resumed_by_fresh_objects_at_every_wait_ends_as_an_uninterrupted_one(
        tmp_path: Path, name: str):
    straight = Harness(tmp_path / "straight.db")
    restarted = Harness(tmp_path / "restarted.db")
    try:
        a = SCENARIOS[name](straight, lambda: None)
        b = SCENARIOS[name](restarted, restarted.reopen)
        assert _summary(restarted, b) == _summary(straight, a)
        assert straight.store.get_program(a).status == STATUS.get(name, "done")
    finally:
        straight.close()
        restarted.close()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_replay_of_every_kind_of_run_reproduces_it(h: Harness, name: str):
    pid = SCENARIOS[name](h, h.reopen)
    h.reopen()
    programs = [pid] + [c.id for c in h.store.list_programs(parent_id=pid)]
    for p in programs:
        report = h.rt.replay(p)
        assert report.ok, report.divergence
        assert report.output == h.output(p)
        assert report.events_checked > 0
        if h.store.get_program(p).status == "done":
            assert report.machine.result == h.result(p)


def test_the_snapshot_is_what_a_fresh_executor_resumes_from(h: Harness):
    pid = h.start("""
      (defn main [_]
        (let [x (reduce + (range 1000))]
          (println "x" x)
          (+ x (receive :more))))""")
    h.drive(pid)
    rt = h.reopen()
    loaded = rt.executor.load(h.store.get_program(pid))
    assert loaded.steps == h.store.snapshots(pid)[-1].step > 0
    assert [w[1:] for w in loaded.waits()] == [("message", "more")]
    rt.send(pid, "more", 1)
    rt.run(pid)
    assert h.result(pid) == 499501


def test_a_new_executor_in_the_same_process_continues_a_waiting_program(tmp_path: Path):
    path = str(tmp_path / "flow.db")
    clock = VirtualClock(START)
    first = Runtime(open_store(path), clock=clock)
    pid = first.start('(defn main [_] (sleep "1h") (println "woke") (receive :go))', "job.flow")
    first.drive(pid)
    # nothing is shared with the first runtime but the file and the time
    store = open_store(path)
    ex = Executor(store, clock=clock)
    assert store.fire_due_timers(now=START + 3599) == []
    [fired] = store.fire_due_timers(now=START + 3600)
    assert fired.program_id == pid
    assert ex.drive(pid).output == ["woke\n"]
    store.append_input(pid, "message", {"name": "go", "payload": "now"})
    assert ex.drive(pid).program.status == "done"
    assert first.result(pid) == "now"  # the first runtime sees it through the file
    assert Runtime(open_store(path)).replay(pid).ok


def test_a_timer_fired_by_another_process_is_not_fired_again(h: Harness):
    """``run`` fires due timers inside its own drive's commit; when another process (a
    worker) fired the same timer first, the drive must not record it a second time."""
    pid = h.start('(defn main [_] (sleep 10) (println "woke") (sleep 10) :done)')
    h.drive(pid)
    [timer] = h.store.list_timers(pid)
    h.clock.advance_to(timer.due_at)
    other = open_store(str(h.path))  # the other process
    assert len(other.fire_due_timers(now=h.clock.now())) == 1
    other.close()
    h.rt.executor.drive(pid, fire={timer.key: timer.due_at})  # it saw the timer due too
    fired = [e.data["key"] for e in h.events(pid, "timer-fired")]
    assert fired == [timer.key]
    check_log(h.store, pid)
    h.rt.run(pid)
    assert h.store.get_program(pid).status == "done" and h.output(pid) == ["woke\n"]
    assert h.rt.replay(pid).ok


# -- versions and upgrades -------------------------------------------------------------------

V1 = """(defn main [_]
  (println "one")
  (let [m (receive :go)]
    (println "v1 got" m)
    [:v1 m]))
"""

V2_COMPATIBLE = """;; v2: same up to the receive, different after it
(defn main [_]
  (println "one")
  (let [m (receive :go)]
    (println "v2 got" m)
    [:v2 m]))
"""

V3_DIVERGENT = """(defn main [_]
  (println (str "o" "n" "e" "!"))
  (let [m (receive :go)]
    [:v3 m]))
"""


def _waiting_v1(h: Harness, tmp_path: Path) -> str:
    pid = h.rt.start(V1, str(tmp_path / "v1.flow"))
    assert h.drive(pid).status == "waiting"
    return pid


def test_upgrade_with_compatible_code_switches_the_program(h: Harness, tmp_path: Path):
    pid = _waiting_v1(h, tmp_path)
    old = h.store.get_program(pid).code_hash
    v2 = tmp_path / "v2.flow"
    v2.write_text(V2_COMPATIBLE)
    rt = h.reopen()
    report = rt.upgrade(pid, v2)
    assert report.ok, report.divergence
    rec = h.store.get_program(pid)
    assert rec.code_hash != old and rec.status == "waiting"
    [up] = h.events(pid, "upgraded")
    assert up.data == {"from": old, "to": rec.code_hash}
    rt = h.reopen()
    rt.send(pid, "go", 7)
    rt.run(pid)
    assert h.shown(pid) == "[:v2 7]"
    assert h.output(pid) == ["one\n", "v2 got 7\n"]
    assert rt.replay(pid).ok


def test_upgrade_with_divergent_code_reports_where_and_does_not_switch(h: Harness,
                                                                      tmp_path: Path):
    pid = _waiting_v1(h, tmp_path)
    old = h.store.get_program(pid).code_hash
    v3 = tmp_path / "v3.flow"
    v3.write_text(V3_DIVERGENT)
    report = h.reopen().upgrade(pid, v3)
    assert not report.ok
    d = report.divergence
    assert d.where == f"{v3}:2:3"
    assert d.seq == 2
    assert d.recorded == {"kind": "print", "request": {":text": "one\n"}}
    assert d.replayed == {"kind": "print", "request": {":text": "one!\n"}}
    assert f"{v3}:2:3" in str(d) and "one!" in str(d)
    assert h.store.get_program(pid).code_hash == old
    assert h.events(pid, "upgraded") == []
    h.rt.send(pid, "go", 1)
    h.run(pid)
    assert h.shown(pid) == "[:v1 1]"


def test_upgrade_refuses_a_finished_program_and_reports_bad_files(h: Harness, tmp_path: Path):
    pid = _waiting_v1(h, tmp_path)
    bad = tmp_path / "bad.flow"
    bad.write_text("(defn main [_]\n  [1 2")
    with pytest.raises(ReadError) as info:
        h.rt.upgrade(pid, bad)
    assert f"{bad}:2:3" in str(info.value)
    with pytest.raises(RuntimeError_, match="can't read"):
        h.rt.upgrade(pid, tmp_path / "missing.flow")
    h.rt.send(pid, "go", 1)
    h.run(pid)
    v2 = tmp_path / "v2.flow"
    v2.write_text(V2_COMPATIBLE)
    with pytest.raises(RuntimeError_, match="already done"):
        h.rt.upgrade(pid, v2)


# -- resume cost -------------------------------------------------------------------------------

LONG = """
  (defn main [{:keys [n]}]
    (loop [i 0] (when (< i n) (println "line" i) (recur (inc i))))
    (let [m (receive :go)]
      (println "got" m)
      m))"""


def _resume_cost(tmp_path: Path, n: int) -> tuple[int, int, int]:
    """Machine steps and events read by a fresh runtime resuming after ``n`` outputs,
    and the steps a full replay takes."""
    h = Harness(tmp_path / f"long-{n}.db")
    try:
        pid = h.start(LONG, {"n": n})
        h.drive(pid)
        assert len(h.store.events(pid)) == n + 1
        rt = h.reopen()
        read: list[int] = []
        events = h.store.events

        def counting_events(*args, **kwargs):
            found = events(*args, **kwargs)
            read.append(len(found))
            return found

        h.store.events = counting_events
        before = h.store.snapshots(pid)[-1].step
        rt.send(pid, "go", "yes")
        assert rt.run(pid).status == "done"
        after = h.store.snapshots(pid)[-1].step
        h.store.events = events
        return after - before, sum(read), rt.replay(pid).steps
    finally:
        h.close()


def test_resume_does_not_rerun_the_history(tmp_path: Path):
    short_steps, short_read, short_replay = _resume_cost(tmp_path, 10)
    long_steps, long_read, long_replay = _resume_cost(tmp_path, 400)
    assert long_steps == short_steps < 50
    assert long_read == short_read <= 3
    assert long_replay > 20 * long_steps and long_replay > 10 * short_replay
