"""Every effect of DESIGN.md, run durably on a real SQLite file.

Each test drives a program until it waits on the outside world, throws the Runtime away
and opens a fresh one on the same file (``h.reopen()``), and only then answers the wait:
what the program continues with came from the file, not from memory.
"""

from __future__ import annotations

import re

import pytest

from flowmetal.runtime import RuntimeError_

from .conftest import START, Harness, check_log

DAY = 86_400


# -- sleep and sleep-until -----------------------------------------------------------------


def test_sleep_survives_a_restart_and_wakes_in_virtual_time(h: Harness):
    pid = h.start("""
      (defn main [_]
        (println "before")
        (sleep "3d")
        (println "after")
        (now))""")
    assert h.drive(pid).status == "waiting"
    [timer] = h.store.list_timers(pid)
    assert timer.due_at == START + 3 * DAY
    assert h.clock.now() == START  # only run moves the virtual clock

    rt = h.reopen()
    rec = rt.run(pid)
    assert rec.status == "done"
    assert h.result(pid) == int((START + 3 * DAY) * 1000)
    assert h.output(pid) == ["before\n", "after\n"]
    [req] = h.events(pid, "requested")
    assert req.data["kind"] == "sleep" and req.data["due"] == START + 3 * DAY
    [fired] = h.events(pid, "timer-fired")
    assert fired.data["key"] == req.data["key"]
    assert h.store.list_timers(pid) == []


@pytest.mark.parametrize("duration, seconds", [
    ('"90s"', 90), ('"5m"', 300), ('"2h"', 7200), ('"250ms"', 0.25), ("12", 12), ("1.5", 1.5)])
def test_sleep_takes_seconds_or_a_duration_string(h: Harness, duration, seconds):
    pid = h.start(f"(defn main [_] (sleep {duration}) (now))")
    h.rt.run(pid)
    assert h.result(pid) == int((START + seconds) * 1000)


def test_sleep_with_a_bad_duration_throws_a_catchable_type_error(h: Harness):
    pid = h.start("""
      (defn main [_]
        [(try (sleep "soon") (catch :type-error e :bad))
         (try (sleep -1) (catch :type-error e :negative))])""")
    h.rt.run(pid)
    assert h.shown(pid) == "[:bad :negative]"


def test_sleep_until_an_iso_time_or_epoch_millis(h: Harness):
    pid = h.start("""
      (defn main [_]
        (sleep-until "2027-02-01T00:00:00Z")
        (let [a (now)]
          (sleep-until 1900000000000)
          [a (now)]))""")
    assert h.drive(pid).status == "waiting"
    h.reopen()
    h.rt.run(pid)
    assert h.shown(pid) == "[1801440000000 1900000000000]"


def test_sleep_until_a_past_time_wakes_at_once(h: Harness):
    pid = h.start('(defn main [_] (sleep-until "2020-01-01T00:00:00Z") (now))')
    h.rt.run(pid)
    assert h.result(pid) == int(START * 1000)


def test_sleep_until_without_a_zone_is_refused(h: Harness):
    pid = h.start("""(defn main [_]
      (try (sleep-until "2027-02-01T00:00:00") (catch :type-error e (ex-message e))))""")
    h.rt.run(pid)
    assert "ISO-8601 time with a zone" in h.result(pid)


# -- callback and await ----------------------------------------------------------------------


CALLBACK = """
  (defn main [_]
    (let [cb (callback)]
      (println "post to" (:url cb))
      (let [answer (await cb :timeout "1d")]
        (println "got" answer)
        (get answer "approved"))))"""


def test_callback_is_delivered_once_after_a_restart(h: Harness):
    pid = h.start(CALLBACK)
    rec = h.drive(pid)
    assert rec.status == "waiting"
    [cb] = h.store.list_callbacks(pid)
    assert rec.waiting[0]["kind"] == "callback" and rec.waiting[0]["token"] == cb.token
    assert h.output(pid) == [f"post to http://127.0.0.1:8080/callbacks/{cb.token}\n"]

    rt = h.reopen()
    rt.complete_callback(cb.token, {"approved": True})
    with pytest.raises(RuntimeError_, match="already"):
        rt.complete_callback(cb.token, {"approved": False})
    assert rt.run(pid).status == "done"
    assert h.result(pid) is True
    assert h.output(pid)[-1] == "got {approved true}\n"
    assert len(h.events(pid, "callback")) == 1


def test_callback_with_an_unknown_token_is_an_error(h: Harness):
    with pytest.raises(RuntimeError_, match="no callback"):
        h.rt.complete_callback("nope", {})


def test_callback_delivered_before_the_await_is_kept(h: Harness):
    pid = h.start("""
      (defn main [_]
        (let [cb (callback)]
          (sleep "1h")
          (await cb)))""")
    h.drive(pid)
    [cb] = h.store.list_callbacks(pid)
    h.reopen().complete_callback(cb.token, 7)
    h.rt.run(pid)
    assert h.result(pid) == 7


def test_await_on_a_callback_times_out_with_a_catchable_error_or_a_default(h: Harness):
    pid = h.start("""
      (defn main [_]
        [(try (await (callback) :timeout "10m") (catch :timeout e (ex-message e)))
         (await (callback) :timeout "10m" :default :nobody-called)
         (now)])""")
    h.rt.run(pid)
    assert h.shown(pid) == ('["Timed out waiting for callback" :nobody-called '
                            f'{int((START + 1200) * 1000)}]')


def test_a_late_callback_after_a_timeout_is_ignored(h: Harness):
    pid = h.start("""
      (defn main [_]
        (let [cb (callback)
              r (await cb :timeout "1m" :default :late)]
          [r (receive :go)]))""")
    h.rt.run(pid, until=lambda rec: True)
    [cb] = h.store.list_callbacks(pid)
    rt = h.reopen()
    rt.complete_callback(cb.token, "too late")
    rt.send(pid, "go", 1)
    rt.run(pid)
    assert h.shown(pid) == "[:late 1]"


# -- receive -------------------------------------------------------------------------------


def test_receive_buffers_messages_sent_before_it_and_takes_each_once(h: Harness):
    pid = h.start("""
      (defn main [_]
        (sleep "1h")
        [(receive :x) (receive "x") (receive :y)
         (try (receive :x :timeout "5m") (catch :timeout e :no-third-x))
         (receive :x :timeout "5m" :default :default-x)])""")
    assert h.drive(pid).status == "waiting"  # asleep
    rt = h.reopen()
    rt.send(pid, "x", 1)
    rt.send(pid, "y", {"k": [1, 2]})
    rt.send(pid, "x", 2)
    h.reopen()
    h.run(pid)
    assert h.shown(pid) == '[1 2 {"k" [1 2]} :no-third-x :default-x]'
    assert len(h.events(pid, "message")) == 3


def test_receive_waits_for_a_message_sent_later(h: Harness):
    pid = h.start('(defn main [_] (println "asking") (receive :approval :timeout "1d"))')
    rec = h.drive(pid)  # run would jump the virtual clock to the timeout
    assert rec.status == "waiting"
    assert {"fiber": 0, "kind": "message", "name": "approval"} in rec.waiting
    assert len(h.store.list_timers(pid)) == 1  # the timeout
    rt = h.reopen()
    rt.send(pid, "approval", {"ok": True})
    assert rt.run(pid).status == "done"
    assert h.shown(pid) == '{"ok" true}'
    assert h.store.list_timers(pid) == []  # the timeout timer went with it


def test_receive_timeout_uncaught_fails_the_program_with_restarts(h: Harness):
    pid = h.start('(defn main [_] (receive :approval :timeout "1d"))')
    rec = h.rt.run(pid)
    assert rec.status == "failed"
    assert rec.error["type"] == "timeout"
    assert rec.error["message"] == "Timed out waiting for message :approval"
    [failed] = h.events(pid, "failed")
    assert "use-value" in failed.data["restarts"] and "abort" in failed.data["restarts"]


def test_send_to_an_unknown_or_finished_program_is_an_error(h: Harness):
    with pytest.raises(RuntimeError_, match="no program"):
        h.rt.send("p-nope", "x", 1)
    pid = h.start("(defn main [_] 1)")
    h.rt.run(pid)
    with pytest.raises(RuntimeError_, match="already done"):
        h.rt.send(pid, "x", 1)


# -- now, random, uuid -------------------------------------------------------------------------


def test_now_random_and_uuid_are_recorded_and_replayed_identically(h: Harness):
    pid = h.start("""
      (defn main [_]
        (let [t (now) r (random) n (random 100) d (rand-int 6) u (uuid)]
          (sleep "1m")
          [t r n d u (now)]))""")
    h.drive(pid)
    rt = h.reopen()
    rt.run(pid)
    t, r, n, d, u, t2 = h.result(pid)
    assert t == int(START * 1000) and t2 == t + 60_000
    assert 0 <= r < 1 and 0 <= n < 100 and 0 <= d < 6
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", u)
    recorded = [(e.data["kind"], e.data["value"]) for e in h.events(pid, "effect")]
    assert recorded == [("now", t), ("random", r), ("random", n), ("random", d),
                        ("uuid", u), ("now", t2)]
    report = rt.replay(pid)
    assert report.ok, report.divergence
    assert report.machine.result == h.result(pid)


def test_random_with_a_bad_bound_is_a_catchable_error(h: Harness):
    pid = h.start("(defn main [_] (try (random 0) (catch :type-error e :bad)))")
    h.rt.run(pid)
    assert h.shown(pid) == ":bad"


# -- print and log ---------------------------------------------------------------------------


def test_print_and_log_are_recorded_as_events_and_shown_after_commit(h: Harness):
    pid = h.start("""
      (defn main [_]
        (print "a" 1)
        (println "b" :c)
        (prn "quoted" [1 2])
        (log "charged card" :amount 12 :currency "EUR")
        :ok)""")
    h.rt.run(pid)
    assert h.output(pid) == ["a 1", "b :c\n", '"quoted" [1 2]\n']
    assert [t for _, t in h.printed] == h.output(pid)
    [log] = [e for e in h.events(pid, "effect") if e.data["kind"] == "log"]
    assert log.data["request"] == {":message": "charged card",
                                   ":data": {":amount": 12, ":currency": "EUR"}}


def test_log_needs_key_value_pairs(h: Harness):
    pid = h.start('(defn main [_] (try (log "m" :k) (catch :arity-error e :pairs)))')
    h.rt.run(pid)
    assert h.shown(pid) == ":pairs"


# -- async, await, await-all, await-any -----------------------------------------------------


def test_async_fibers_sleep_concurrently_and_await_all_keeps_order(h: Harness):
    pid = h.start("""
      (defn job [n secs] (sleep secs) (println "done" n) n)
      (defn main [_]
        (let [fs [(async (job 1 30)) (async (job 2 10)) (async (job 3 20))]]
          [(await-all fs) (now)]))""")
    assert h.drive(pid).status == "waiting"
    assert len(h.store.list_timers(pid)) == 3
    h.reopen().run(pid)
    assert h.shown(pid) == f"[[1 2 3] {int((START + 30) * 1000)}]"  # 30s, not 60s
    assert h.output(pid) == ["done 2\n", "done 3\n", "done 1\n"]


def test_await_any_returns_the_first_and_await_gets_the_rest(h: Harness):
    pid = h.start("""
      (defn main [_]
        (let [slow (async (sleep "1h") :slow)
              fast (async (sleep "1m") :fast)]
          [(await-any [slow fast]) (await slow) (await fast)]))""")
    h.rt.run(pid)
    assert h.shown(pid) == "[:fast :slow :fast]"


def test_await_a_future_with_a_timeout(h: Harness):
    pid = h.start("""
      (defn main [_]
        (let [f (async (sleep "2h") :finally)]
          [(try (await f :timeout "1h") (catch :timeout e :not-yet))
           (await f :timeout "1m" :default :still-not)
           (await f)]))""")
    h.rt.run(pid)
    assert h.shown(pid) == "[:not-yet :still-not :finally]"


def test_an_error_in_a_future_is_thrown_by_await(h: Harness):
    pid = h.start("""
      (defn main [_]
        (let [f (async (sleep 5) (throw (ex-info "broken" {:type :oops})))]
          (try (await f) (catch :oops e (ex-message e)))))""")
    h.rt.run(pid)
    assert h.shown(pid) == '"broken"'


# -- spawn --------------------------------------------------------------------------------------


def test_spawned_child_runs_as_its_own_program_and_is_awaited(h: Harness):
    pid = h.start("""
      (defn child [x] (println "child got" x) (sleep "1h") (* x 2))
      (defn main [_]
        (let [c (spawn 'child 21)]
          (println "spawned")
          (+ 1 (await c :timeout "1d"))))""")
    assert h.rt.run(pid).status == "done"
    assert h.result(pid) == 43
    [kid] = h.store.list_programs(parent_id=pid)
    assert kid.kind == "child" and kid.status == "done" and kid.result == 42
    assert h.output(kid.id) == ["child got 21\n"]
    assert h.output(pid) == ["spawned\n"]
    [spawned] = [e for e in h.events(pid, "effect") if e.data["kind"] == "spawn"]
    assert spawned.data["value"] == {":program": kid.id}
    assert h.events(pid, "child-completed")[0].data["program"] == kid.id


def test_spawned_child_survives_a_restart_of_its_parent(h: Harness):
    pid = h.start("""
      (defn child [] (receive :go))
      (defn main [_] (await (spawn 'child)))""")
    assert h.run(pid).status == "waiting"
    [kid] = h.store.list_programs(parent_id=pid)
    rt = h.reopen()
    rt.send(kid.id, "go", "went")
    assert rt.run(pid).status == "done"
    assert h.result(pid) == "went"


def test_run_notices_input_sent_to_a_child_while_it_waits(h: Harness):
    """``run`` of the parent keeps watching its children: a message sent to a child from
    outside (another process, here the ``until`` hook) wakes the family at once."""
    import threading

    pid = h.start("""
      (defn child [] (str "child got " (receive :go)))
      (defn main [_] (await (spawn 'child)))""")
    h.rt.poll_interval = 0.01
    sent = []

    def send_to_child(rec):
        if not sent:
            [kid] = h.store.list_programs(parent_id=pid)
            h.rt.send(kid.id, "go", "it")
            sent.append(kid.id)
        return False  # keep waiting, as `flowmetal run` does

    runner = threading.Thread(target=h.rt.run, args=(pid,), kwargs={"until": send_to_child},
                              daemon=True)
    runner.start()
    runner.join(timeout=20)
    assert not runner.is_alive(), "run did not notice the child's message"
    assert h.result(pid) == "child got it"


def test_a_failed_child_waits_for_a_restart_and_an_abort_reaches_the_parent(h: Harness):
    pid = h.start("""
      (defn child [x] (/ x 0))
      (defn main [_]
        (try (await (spawn 'child 1))
          (catch :arithmetic-error e [:child-failed (ex-message e)])))""")
    h.run(pid)
    [kid] = h.store.list_programs(parent_id=pid)
    assert kid.status == "failed"  # recoverable, so the parent still waits
    assert h.store.get_program(pid).status == "waiting"
    rt = h.reopen()
    rt.recover(kid.id, "abort")
    assert rt.run(pid).status == "done"
    assert h.store.get_program(kid.id).status == "aborted"
    assert h.shown(pid) == '[:child-failed "Divide by zero"]'


def test_a_failed_child_recovered_with_a_value_gives_it_to_the_parent(h: Harness):
    pid = h.start("""
      (defn ratio [a b] (/ a b))
      (defn child [x] (inc (ratio x 0)))
      (defn main [_] (await (spawn 'child 1)))""")
    h.run(pid)
    [kid] = h.store.list_programs(parent_id=pid)
    h.rt.recover(kid.id, "use-value", 99)
    h.rt.run(pid)
    assert h.result(pid) == 100


def test_an_uncaught_child_failure_fails_the_parent(h: Harness):
    pid = h.start("""
      (defn child [] (throw (ex-info "child broke" {:type :broke})))
      (defn main [_] (await (spawn 'child)))""")
    h.run(pid)
    [kid] = h.store.list_programs(parent_id=pid)
    h.rt.recover(kid.id, "abort")
    rec = h.rt.run(pid)
    assert rec.status == "failed"
    assert rec.error["message"] == "child broke" and rec.error["type"] == "broke"


# -- outbox tasks: http/request and call ---------------------------------------------------------


def test_call_is_an_outbox_task_with_an_idempotency_key_and_its_result_continues(h: Harness):
    pid = h.start("""
      (defn main [_]
        (let [r (call :resize "img.png" 200)]
          (println "resized:" r)
          r))""")
    assert h.run(pid).status == "waiting"
    [task] = h.store.list_tasks(pid)
    [req] = h.events(pid, "requested")
    assert task.kind == "call" and task.status == "pending"
    assert task.effect_key == req.data["key"] == str(req.seq)
    assert task.idempotency_key == f"{pid}:{req.seq}"
    assert task.request == {":name": "resize", ":args": ["img.png", 200]}

    store = h.reopen().store
    store.complete_task(task.id, ok=True, value={"url": "small.png", "size": [200, 100]})
    assert h.rt.run(pid).status == "done"
    assert h.shown(pid) == '{"url" "small.png", "size" [200 100]}'
    assert store.get_task(task.id).status == "done"
    check_log(store, pid)


def test_http_request_is_an_outbox_task(h: Harness):
    pid = h.start("""
      (defn main [_]
        [(http/request {:method :post :url "https://example.test/a" :json {:n 1}
                        :timeout "10s"})
         (http/get "https://example.test/b")
         (http/post "https://example.test/c" {:m 2})])""")
    bodies = []
    for _ in range(3):
        assert h.run(pid).status == "waiting"
        task = h.store.list_tasks(pid, status="pending")[0]
        assert task.kind == "http"
        assert task.idempotency_key == f"{pid}:{task.effect_key}"
        bodies.append(task.request)
        h.reopen().store.complete_task(task.id, ok=True, value={"status": 200})
    h.rt.run(pid)
    assert bodies[0] == {":method": "POST", ":url": "https://example.test/a",
                         ":json": {":n": 1}, ":timeout": 10.0}
    assert bodies[1] == {":url": "https://example.test/b", ":method": "GET"}
    assert bodies[2] == {":url": "https://example.test/c", ":method": "POST",
                         ":json": {":m": 2}}
    assert h.shown(pid) == '[{"status" 200} {"status" 200} {"status" 200}]'
    assert len(h.store.list_tasks(pid)) == 3


def test_http_request_with_a_bad_url_is_a_catchable_type_error(h: Harness):
    pid = h.start("""(defn main [_]
      (try (http/get "ftp://x") (catch :type-error e :bad-url)))""")
    h.rt.run(pid)
    assert h.shown(pid) == ":bad-url"
    assert h.store.list_tasks(pid) == []


def test_a_failed_task_raises_a_catchable_error(h: Harness):
    pid = h.start("""
      (defn main [_]
        (try (call :charge 12)
          (catch :effect-failed e [:declined (ex-message e)])))""")
    h.run(pid)
    [task] = h.store.list_tasks(pid)
    h.reopen().store.complete_task(task.id, ok=False, value={"message": "card declined"})
    h.rt.run(pid)
    assert h.shown(pid) == '[:declined "card declined"]'
    assert h.store.get_task(task.id).status == "failed"


def test_a_task_is_completed_at_most_once(h: Harness):
    from flowmetal.store import AlreadyCompleted

    pid = h.start("(defn main [_] (call :once))")
    h.run(pid)
    [task] = h.store.list_tasks(pid)
    h.store.complete_task(task.id, ok=True, value=1)
    with pytest.raises(AlreadyCompleted):
        h.store.complete_task(task.id, ok=True, value=2)
    h.rt.run(pid)
    assert h.result(pid) == 1


def test_call_with_a_timeout_gives_up_and_ignores_the_late_result(h: Harness):
    pid = h.start("""
      (defn main [_]
        [(try (call {:name :slow :timeout "5m"} 1) (catch :timeout e :gave-up))
         (receive :next)])""")
    h.run(pid)
    [task] = h.store.list_tasks(pid)
    store = h.reopen().store
    store.complete_task(task.id, ok=True, value="late")
    h.rt.send(pid, "next", "n")
    h.rt.run(pid)
    assert h.shown(pid) == '[:gave-up "n"]'
    check_log(store, pid)


# -- failures and restarts ------------------------------------------------------------------------


FLAKY = """
  (defn main [_]
    (println "charging")
    (let [r (call :charge 12)]
      (println "charged" r)
      {:receipt r}))"""


def _failed_charge(h: Harness) -> tuple[str, int]:
    pid = h.start(FLAKY)
    h.run(pid)
    [task] = h.store.list_tasks(pid)
    h.store.complete_task(task.id, ok=False, value="gateway down")
    rec = h.rt.run(pid)
    assert rec.status == "failed"
    return pid, task.id


def test_an_uncaught_task_failure_stops_the_program_with_restarts(h: Harness):
    pid, _ = _failed_charge(h)
    rec = h.reopen().get(pid)
    assert rec.status == "failed" and not rec.finished
    assert rec.error["message"] == "gateway down"
    assert rec.error["where"] == "job.flow:4:13"
    [failed] = h.events(pid, "failed")
    assert failed.data["restarts"] == ["retry", "use-value", "abort"]


def test_recover_retry_asks_for_the_effect_again_as_a_new_task(h: Harness):
    pid, first = _failed_charge(h)
    rt = h.reopen()
    rt.recover(pid, "retry")
    assert h.run(pid).status == "waiting"
    tasks = h.store.list_tasks(pid)
    assert [t.status for t in tasks] == ["failed", "pending"]
    retry = tasks[1]
    assert retry.idempotency_key == f"{pid}:{retry.effect_key}" != tasks[0].idempotency_key
    assert retry.request == tasks[0].request
    h.store.complete_task(retry.id, ok=True, value="r-1")
    assert h.rt.run(pid).status == "done"
    assert h.shown(pid) == '{:receipt "r-1"}'
    assert h.output(pid) == ["charging\n", "charged r-1\n"]
    [restart] = h.events(pid, "restart")
    assert restart.data == {"how": "retry"}
    assert h.rt.replay(pid).ok


def test_recover_use_value_makes_the_failed_effect_return_it(h: Harness):
    pid, _ = _failed_charge(h)
    rt = h.reopen()
    rt.recover(pid, "use-value", {"manual": True})
    assert rt.run(pid).status == "done"
    assert h.shown(pid) == '{:receipt {"manual" true}}'
    assert h.events(pid, "restart")[0].data == {"how": "use-value", "value": {"manual": True}}
    assert rt.replay(pid).ok


def test_recover_abort_ends_the_program(h: Harness):
    pid, _ = _failed_charge(h)
    rt = h.reopen()
    rt.recover(pid, "abort")
    rec = rt.run(pid)
    assert rec.status == "aborted" and rec.finished
    assert h.events(pid, "restart")[0].data == {"how": "abort"}
    assert h.events(pid)[-1].type == "aborted"
    with pytest.raises(RuntimeError_):
        rt.recover(pid, "retry")


def test_recover_refuses_a_program_that_has_not_failed_or_an_unknown_restart(h: Harness):
    pid = h.start("(defn main [_] (receive :x))")
    h.run(pid)
    with pytest.raises(RuntimeError_, match="not failed"):
        h.rt.recover(pid, "retry")
    pid2, _ = _failed_charge(h)
    with pytest.raises(RuntimeError_, match="unknown restart"):
        h.rt.recover(pid2, "ignore")


def test_a_failure_can_be_recovered_twice(h: Harness):
    pid, _ = _failed_charge(h)
    h.rt.recover(pid, "retry")
    h.run(pid)
    task = h.store.list_tasks(pid, status="pending")[0]
    h.store.complete_task(task.id, ok=False, value="still down")
    assert h.rt.run(pid).status == "failed"
    h.reopen().recover(pid, "use-value", "by hand")
    assert h.rt.run(pid).status == "done"
    assert h.shown(pid) == '{:receipt "by hand"}'
    assert [e.data["how"] for e in h.events(pid, "restart")] == ["retry", "use-value"]
    assert h.rt.replay(pid).ok


def test_a_pure_error_is_recovered_with_use_value(h: Harness):
    pid = h.start("""
      (defn ratio [a b] (/ a b))
      (defn main [{:keys [a b]}] (println "ratio") (+ 1 (ratio a b)))""", {"a": 1, "b": 0})
    rec = h.rt.run(pid)
    assert rec.status == "failed" and rec.error["type"] == "arithmetic-error"
    h.reopen().recover(pid, "use-value", 41)
    h.rt.run(pid)
    assert h.result(pid) == 42
    assert h.output(pid) == ["ratio\n"]


# -- cancel ----------------------------------------------------------------------------------------


def test_cancel_ends_a_waiting_program_and_drops_its_timers_and_tasks(h: Harness):
    pid = h.start("""
      (defn main [_]
        (async (sleep "1d"))
        (call :forever))""")
    h.drive(pid)
    assert h.store.list_timers(pid) and h.store.list_tasks(pid, status="pending")
    rt = h.reopen()
    rt.cancel(pid)
    rec = rt.drive(pid)
    assert rec.status == "cancelled" and rec.finished
    assert h.store.list_timers(pid) == []
    assert [t.status for t in h.store.list_tasks(pid)] == ["cancelled"]
    assert rt.replay(pid).ok


# -- starting --------------------------------------------------------------------------------------


def test_args_given_as_plain_json_become_flowmetal_data(h: Harness):
    """``--arg xs=[1,2]`` and ``Runtime.start(src, name, {"xs": [1, 2]})``: arrays arrive as
    vectors and objects as maps (with string keys), never as opaque text."""
    pid = h.start("""
      (defn main [{:keys [xs opts name]}]
        [(reduce + xs) (get opts "depth") (vector? xs) (map? opts) name])""",
                  {"xs": [1, 2, 3], "opts": {"depth": 2}, "name": "ada"})
    h.rt.run(pid)
    assert h.shown(pid) == '[6 2 true true "ada"]'


def test_cancel_ends_a_failed_program_too(h: Harness):
    pid, _ = _failed_charge(h)
    rt = h.reopen()
    rt.cancel(pid)
    assert rt.drive(pid).status == "cancelled"
    assert [e.type for e in h.events(pid)][-3:] == ["failed", "cancel-requested", "cancelled"]
    with pytest.raises(RuntimeError_, match="is cancelled, not failed"):
        rt.recover(pid, "retry")
    assert rt.replay(pid).ok
