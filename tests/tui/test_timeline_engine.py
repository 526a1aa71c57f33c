"""The time-travel engine (flowmetal.runtime.timeline): any step, rebuilt exactly."""

from __future__ import annotations

import pytest

from flowmetal.lang.data import kw
from flowmetal.runtime.executor import Executor
from flowmetal.runtime.replay import replay
from flowmetal.runtime.timeline import Timeline, bound_names
from flowmetal.store import open_store


@pytest.fixture
def approval(sample):
    store = open_store(sample("approval"), read_only=True)
    tl = Timeline(store, "p-approval", checkpoint_every=10)
    tl.build()
    return tl


def test_build_places_every_event_on_a_step_in_log_order(approval):
    steps = [mk.step for mk in approval.marks]
    assert steps == sorted(steps)
    assert approval.marks[0].type == "started" and approval.marks[0].step == 0
    assert approval.marks[-1].type == "completed"
    assert approval.marks[-1].step == approval.total_steps == 76
    assert all(mk.applied for mk in approval.marks)
    assert approval.divergence is None


def test_state_at_a_step_is_the_same_from_any_checkpoint(sample):
    store = open_store(sample("long_loop"), read_only=True)
    coarse = Timeline(store, "p-long_loop", checkpoint_every=50_000)
    fine = Timeline(store, "p-long_loop", checkpoint_every=997)
    coarse.build()
    fine.build()
    assert coarse.total_steps == fine.total_steps == 468_675
    for step in (0, 1, 4_321, 123_457, 209_302, 300_001, 468_675):
        a, b = coarse.machine_at(step), fine.machine_at(step)
        assert a.steps == b.steps == step
        assert _where(a.node) == _where(b.node) and a.mode == b.mode
        assert (a.env or [])[1:] == (b.env or [])[1:]
        assert a.val == b.val and len(a.stack) == len(b.stack)


def _where(node):
    return None if node is None else (node.unit.hash, node.id)


def test_machine_at_gives_a_private_copy(approval):
    a = approval.machine_at(40)
    a.glob["main"] = None
    assert approval.machine_at(40).glob["main"] is not None


def test_wait_points_are_where_inputs_were_taken(approval):
    assert [(w.step, w.seq) for w in approval.waits] == [(51, 6), (53, 8), (66, 11),
                                                         (76, None)]
    assert all(w.prefix_ok for w in approval.waits)


def test_view_names_the_bindings_of_each_frame(approval):
    view = approval.view(40)
    fiber = view.fiber()
    assert fiber.frames[0].fn_name == "notify-manager"
    assert fiber.frames[0].span.line == 7
    scope = view.scopes(fiber.id, 0)[0]
    names = [n for n, _ in scope.items]
    assert names == ["request", "cb"]
    assert scope.items[0][1][kw("id")] == "exp-42"
    assert [f.fn_name for f in fiber.frames[1:]] == ["decide", "main"]


def test_output_until_a_step(approval):
    assert approval.output_until(19) == []
    assert approval.output_until(20) == ["expense exp-42 for 350\n"]
    assert len(approval.output_until(approval.total_steps)) == 3


def test_evaluate_in_a_past_frame_with_effects_refused(approval):
    ok = approval.evaluate(40, "(str (:id request) \"/\" (:amount request))")
    assert ok.ok and ok.value == "exp-42/350"
    effect = approval.evaluate(40, "(sleep 5)")
    assert not effect.ok and "effects are disabled" in effect.text
    mutate = approval.evaluate(40, "(let [a (atom 1)] (reset! a 2))")
    assert not mutate.ok and "disabled in the debugger" in mutate.text
    wrong = approval.evaluate(40, "(undefined-thing)")
    assert not wrong.ok and "undefined-thing" in wrong.text


def test_step_over_and_out(approval):
    start = 40  # inside notify-manager, called from decide
    depth = len(approval.machine_at(start).stack)
    over = approval.find_depth(start, out=False)
    assert over is not None and over > start
    assert len(approval.machine_at(over).stack) <= depth
    out = approval.find_depth(start, out=True)
    assert out is not None and len(approval.machine_at(out).stack) < depth
    back = approval.find_depth(start, out=True, backward=True)
    assert back is not None and back < start


def test_find_line_forward_and_backward(approval):
    source = approval.unit.source_name
    hit = approval.find_line(0, {(source, 20)})
    assert hit is not None
    assert approval.machine_at(hit).node.span.line == 20
    assert approval.find_line(approval.total_steps, {(source, 20)}, backward=True) == hit


def test_find_condition_and_watch_change(approval):
    hit = approval.find_condition(0, "(= (:id request) \"exp-42\")")
    assert hit is not None and hit > 0
    assert approval.find_watch_change(0, "(+ 1 2)") is None  # a constant never changes
    # request is bound only inside the program's functions: the watch changes on entry
    change = approval.find_watch_change(0, "request")
    assert change is not None
    assert approval.evaluate(change, "request").ok


def test_search_events(approval):
    assert [mk.seq for mk in approval.search("callback")] == [3, 4, 5, 8]
    assert [mk.seq for mk in approval.search("effect-completed")] == [6, 11]
    assert [mk.seq for mk in approval.search("RCPT-0042")] == [11, 12, 13]
    assert approval.search("  ") == []


def test_replay_still_verifies_every_sample(sample):
    for name in ("approval", "http_retries", "fanout", "recovery", "long_loop"):
        store = open_store(sample(name), read_only=True)
        for rec in store.list_programs():
            report = replay(Executor(store), rec.id)
            assert report.ok, (name, rec.id, report.divergence)


def test_bound_names_innermost_wins():
    from flowmetal.runtime.timeline import _Scope

    outer = _Scope("let", ("x", "y"), None)
    inner = _Scope("let", ("x",), outer)
    env = [[[None], 1, 2], 10]
    assert bound_names(inner, env) == [("x", 10), ("y", 2)]


def test_checkpoints_space_out_when_the_state_is_big(tmp_path):
    from flowmetal.lang.data import Map
    from flowmetal.runtime.clock import VirtualClock
    from flowmetal.runtime.runtime import Runtime

    source = """(defn main [_]
      (let [big (vec (range 50000))]
        (loop [i 0 acc 0]
          (if (< i 5000) (recur (inc i) (+ acc (nth big i))) acc))))"""
    store = open_store(tmp_path / "big.db")
    rt = Runtime(store, clock=VirtualClock(start=0))
    pid = rt.start(source, "big.flow", Map())
    assert rt.run(pid).status == "done"
    tl = Timeline(store, pid, checkpoint_every=50)
    tl.build()
    gaps = [b.step - a.step for a, b in zip(tl.checkpoints, tl.checkpoints[1:])]
    assert gaps[-1] > gaps[0]  # encoding 50,000 items costs more than 50 steps
    for step in (0, 77, 4_000, tl.total_steps):
        assert tl.machine_at(step).steps == step


def test_read_only_store_refuses_writes_and_creates_nothing(tmp_path, sample):
    from flowmetal.store import StoreError

    with pytest.raises(StoreError):
        open_store(tmp_path / "missing.db", read_only=True)
    assert not (tmp_path / "missing.db").exists()
    store = open_store(sample("recovery"), read_only=True)
    with pytest.raises(StoreError):
        store.put_code("h", "x.flow", "", b"")
    assert store.get_program("p-recovery").status == "done"
