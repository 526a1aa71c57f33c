"""What happens to the rest of a program when it ends: a cancelled (or aborted) parent
cancels its running children, recorded in their logs; an async fiber that failed with
nobody ever awaiting it is reported in the log, not silently dropped."""

from __future__ import annotations

from .conftest import Harness, check_log

FAMILY = """
  (defn grandchild [] (receive :never))
  (defn child [n]
    (let [g (spawn 'grandchild)]
      (println "child" n "waits")
      (await g)))
  (defn main [_]
    (let [kids (mapv #(spawn 'child %) [1 2])]
      (mapv await kids)))"""


def _family(h: Harness) -> tuple[str, list[str]]:
    pid = h.start(FAMILY)
    assert h.run(pid).status == "waiting"
    kids = [r.id for r in h.store.list_programs(kind="child")]
    assert len(kids) == 4 and all(h.store.get_program(k).status == "waiting" for k in kids)
    return pid, kids


def test_cancelling_a_parent_cancels_its_children_and_theirs(h: Harness):
    pid, kids = _family(h)
    rec, children = h.reopen().cancel_now(pid)
    assert rec.status == "cancelled"
    assert sorted(c.id for c in children) == sorted(kids)
    for kid in kids:
        assert h.store.get_program(kid).status == "cancelled"
        [asked] = h.events(kid, "cancel-requested")
        assert asked.data["reason"].startswith("parent program p-")
        assert [e.type for e in check_log(h.store, kid)][-2:] == ["cancel-requested",
                                                                  "cancelled"]
        assert h.store.list_timers(kid) == []
        assert h.rt.replay(kid).ok
    assert h.rt.replay(pid).ok


def test_a_cancel_sent_by_another_process_reaches_the_children_at_the_next_drive(h: Harness):
    pid, kids = _family(h)
    h.rt.cancel(pid)  # only records the request, as an outside system would
    assert h.store.get_program(kids[0]).status == "waiting"
    assert h.reopen().drive(pid).status == "cancelled"
    direct = [r.id for r in h.store.list_programs(parent_id=pid)]
    assert all(h.store.get_program(k).status == "ready" for k in direct)
    for kid in direct:
        assert h.rt.drive(kid).status == "cancelled"
    for kid in set(kids) - set(direct):  # the grandchildren, cancelled by their parents
        assert h.store.get_program(kid).status == "ready"
        assert h.rt.drive(kid).status == "cancelled"


def test_a_finished_child_is_left_alone(h: Harness):
    pid = h.start("""
      (defn quick [] :quick)
      (defn slow [] (receive :never))
      (defn main [_] (let [q (spawn 'quick) s (spawn 'slow)] [(await q) (await s)]))""")
    h.run(pid)
    quick, slow = sorted(h.store.list_programs(parent_id=pid),
                         key=lambda r: r.name.endswith("slow"))
    assert quick.status == "done"
    _, children = h.rt.cancel_now(pid)
    assert [c.id for c in children] == [slow.id]
    assert h.events(quick.id, "cancel-requested") == []
    assert h.store.get_program(slow.id).status == "cancelled"


def test_aborting_a_failed_parent_cancels_its_children(h: Harness):
    pid = h.start("""
      (defn slow [] (receive :never))
      (defn main [_] (spawn 'slow) (sleep 1) (/ 1 0))""")
    assert h.run(pid).status == "failed"
    [slow] = h.store.list_programs(parent_id=pid)
    assert h.store.get_program(slow.id).status == "waiting"  # it may still be awaited
    h.rt.recover(pid, "abort")
    assert h.rt.drive(pid).status == "aborted"
    assert h.rt.drive(slow.id).status == "cancelled"


def test_a_parent_awaiting_a_cancelled_child_gets_a_cancelled_error(h: Harness):
    pid = h.start("""
      (defn slow [] (receive :never))
      (defn main [_]
        (try (await (spawn 'slow)) (catch :cancelled e (ex-message e))))""")
    h.run(pid)
    [slow] = h.store.list_programs(parent_id=pid)
    h.rt.cancel_now(slow.id)
    assert h.run(pid).status == "done"
    assert h.result(pid) == f"child program {slow.id} was cancelled"


# -- async errors nobody awaits ---------------------------------------------------------------


def test_an_unawaited_failed_fiber_is_reported_when_the_program_ends(h: Harness):
    pid = h.start("""
      (defn main [_]
        (async (throw (ex-info "lost in a fiber" {:type :lost})))
        (sleep 1)
        :done)""")
    assert h.run(pid).status == "done"
    assert h.shown(pid) == ":done"  # the program's outcome is its own
    [lost] = h.events(pid, "unawaited-error")
    assert lost.data["error"]["message"] == "lost in a fiber"
    assert lost.data["error"]["type"] == "lost" and lost.data["fiber"] == 1
    assert [e.type for e in h.events(pid)][-2:] == ["unawaited-error", "completed"]
    assert h.rt.unawaited_errors(pid) == [lost.data]
    assert h.rt.replay(pid).ok


def test_awaited_failures_are_not_reported(h: Harness):
    pid = h.start("""
      (defn main [_]
        (let [a (async (throw (ex-info "a" {})))
              b (async (sleep 5) (throw (ex-info "b" {})))
              c (async (throw (ex-info "c" {})))]
          (sleep 1)
          [(try (await a) (catch e (ex-message e)))
           (try (await b) (catch e (ex-message e)))
           (try (await-any [c]) (catch e (ex-message e)))]))""")
    assert h.run(pid).status == "done"
    assert h.shown(pid) == '["a" "b" "c"]'
    assert h.events(pid, "unawaited-error") == []
    assert h.rt.replay(pid).ok


def test_a_cancelled_program_reports_its_unawaited_failures_too(h: Harness):
    pid = h.start("""
      (defn main [_]
        (async (throw (ex-info "before the cancel" {})))
        (receive :never))""")
    h.run(pid)
    rec, _ = h.rt.cancel_now(pid)
    assert rec.status == "cancelled"
    [lost] = h.events(pid, "unawaited-error")
    assert lost.data["error"]["message"] == "before the cancel"
    assert h.rt.replay(pid).ok
