"""What-if runs: forks copy a prefix of the log, take a different input, and never touch
the original record."""

from __future__ import annotations

import re

import pytest

from flowmetal.runtime.executor import Executor
from flowmetal.runtime.forks import (
    FORK_LEASE_OWNER,
    ForkError,
    check_replacement,
    drive_fork,
    fork_at,
    machine_at_wait,
    replace_input,
    targets_of,
)
from flowmetal.runtime.replay import replay
from flowmetal.runtime.timeline import Timeline
from flowmetal.store import open_store


@pytest.fixture
def approval(sample):
    path = sample("approval")
    ro, rw = open_store(path, read_only=True), open_store(path)
    tl = Timeline(ro, "p-approval")
    tl.build()
    yield tl, rw
    ro.close()
    rw.close()


def _snapshot(store, pid):
    rec = store.get_program(pid)
    return rec, store.events(pid), store.snapshots(pid)


def test_replacing_the_callback_forks_and_leaves_the_parent_alone(approval):
    tl, rw = approval
    before = _snapshot(rw, "p-approval")
    callback = next(e for e in tl.events if e.type == "callback")
    fid = replace_input(tl, rw, callback.seq, {**callback.data, "value": {"approved": False}},
                        program_id="p-what-if")
    result = drive_fork(rw, fid, {})
    assert result.status == "done"
    fork = rw.get_program(fid)
    assert (fork.kind, fork.parent_id, fork.parent_step) == ("fork", "p-approval", 53)
    assert fork.lease_owner == FORK_LEASE_OWNER  # no worker will ever pick it up
    assert fork.result == {":id": "exp-42", ":paid": None}
    assert _snapshot(rw, "p-approval") == before
    assert [e.data for e in rw.events(fid)[:7]] == [e.data for e in tl.events[:7]]
    assert replay(Executor(rw), fid).ok


def test_inject_a_failure_then_restart_from_a_mock(approval):
    tl, rw = approval
    wait = tl.waits[0]  # the webhook post is in flight
    targets = targets_of(machine_at_wait(tl, wait), tl.events)
    assert [t.type for t in targets] == ["effect-completed"]
    event = targets[0].fill({"!fail": {"message": "webhook down", "type": "http-error"}})
    assert event[0] == "effect-failed"
    fid = fork_at(tl, rw, wait, event, program_id="p-down")
    stopped = drive_fork(rw, fid, {})
    assert stopped.status == "failed" and "webhook down" in stopped.stopped
    # the same what-if, with mocks that carry it to the end
    fid2 = fork_at(tl, rw, wait, event, program_id="p-down-2")
    done = drive_fork(rw, fid2, {"restart": {"use-value": {"status": 200}},
                                 "callback": {"approved": True, "by": "mock"},
                                 "call:payout": {"receipt": "mock-1"}})
    assert done.status == "done", done
    assert rw.get_program(fid2).result == {":id": "exp-42", ":paid": "mock-1"}
    assert replay(Executor(rw), fid2).ok
    assert rw.list_tasks(fid2) == [] and rw.list_timers(fid2) == []


def test_timers_fire_in_virtual_time_unless_told_not_to(approval):
    tl, rw = approval
    wait = tl.waits[1]  # waiting for the callback, with a 3-day timeout
    fid = fork_at(tl, rw, wait, None, program_id="p-timeout")
    result = drive_fork(rw, fid, {})
    assert result.status == "done"  # the timeout fired: the default answer, refused
    assert any(e.type == "timer-fired" for e in rw.events(fid))
    fid2 = fork_at(tl, rw, wait, None, program_id="p-no-timers")
    result = drive_fork(rw, fid2, {"sleep": False})
    assert result.status == "waiting" and "callback" in result.stopped


def test_only_inputs_at_clean_wait_points_can_be_replaced(approval):
    tl, rw = approval
    with pytest.raises(ForkError):
        replace_input(tl, rw, 2, {}, program_id="p-x")  # an output, not an input


# -- internal effects: now, random, uuid, and a sleep's completion -----------------------------


@pytest.fixture
def dice_tl(dice):
    path, pid = dice
    ro, rw = open_store(path, read_only=True), open_store(path)
    tl = Timeline(ro, pid)
    tl.build()
    yield tl, rw
    ro.close()
    rw.close()


def _data(tl, seq):
    return dict(next(e for e in tl.events if e.seq == seq).data)


def _output(store, pid):
    return "".join(e.data["request"][":text"] for e in store.events(pid)
                   if e.type == "effect" and e.data["kind"] == "print")


@pytest.mark.parametrize("value, result", [(99, ":high"), (7, ":low")])
def test_replacing_a_random_answer_continues_the_run_on_a_fork(dice_tl, value, result):
    tl, rw = dice_tl
    before = _snapshot(rw, tl.program_id)
    fid = replace_input(tl, rw, 3, {**_data(tl, 3), "value": value}, program_id="p-dice")
    fork = rw.get_program(fid)
    mark = next(mk for mk in tl.marks if mk.seq == 3)
    assert (fork.kind, fork.parent_id, fork.parent_step) == ("fork", tl.program_id, mark.step)
    # the log: the parent's up to the answer, then the new answer
    assert [(e.type, e.data) for e in rw.events(fid)] == \
        [(e.type, e.data) for e in tl.events[:2]] + [("effect", {**_data(tl, 3), "value": value})]
    result_ = drive_fork(rw, fid, {})
    assert result_.status == "done" and rw.get_program(fid).result == result
    assert f"rolled {value}\n" in _output(rw, fid)
    assert replay(Executor(rw), fid).ok
    assert _snapshot(rw, tl.program_id) == before  # the parent is untouched
    fork_tl = Timeline(rw, fid)
    fork_tl.build()
    assert fork_tl.divergence is None


def test_replacing_now_and_uuid(dice_tl):
    tl, rw = dice_tl
    fid = replace_input(tl, rw, 2, {**_data(tl, 2), "value": 1_000}, program_id="p-now")
    drive_fork(rw, fid, {})
    assert "at 1000\n" in _output(rw, fid)
    fid = replace_input(tl, rw, 4, {**_data(tl, 4), "value": "not-so-unique"},
                        program_id="p-uuid")
    assert drive_fork(rw, fid, {}).status == "done"
    assert "id not-so-unique at" in _output(rw, fid)
    assert replay(Executor(rw), fid).ok


def test_a_sleep_completes_with_a_value_or_fails(dice_tl):
    tl, rw = dice_tl
    fired = _data(tl, 7)
    assert next(e for e in tl.events if e.seq == 7).type == "timer-fired"
    fid = replace_input(tl, rw, 7, {**fired, "value": "woken early"}, program_id="p-early")
    assert rw.events(fid)[-1].type == "effect-completed"
    assert drive_fork(rw, fid, {}).status == "done"
    assert 'slept woken early\n' in _output(rw, fid)
    assert replay(Executor(rw), fid).ok
    fid = replace_input(tl, rw, 7, {**fired, "error": {"message": "alarm broke"}},
                        program_id="p-broke")
    stopped = drive_fork(rw, fid, {})
    assert stopped.status == "failed" and "alarm broke" in stopped.stopped
    # injecting at the wait does the same through a Target
    wait = next(w for w in tl.waits if w.seq == 7)
    [timer] = targets_of(machine_at_wait(tl, wait), tl.events)
    assert timer.fill(None)[0] == "timer-fired"
    assert timer.fill(5) == ("effect-completed", {"key": fired["key"], "value": 5})
    assert timer.fill({"!fail": {"message": "x"}})[0] == "effect-failed"


def test_a_timeout_can_only_fire(approval):
    tl, rw = approval
    wait = tl.waits[1]  # the callback's 3-day timeout is pending here
    timeout = next(t for t in targets_of(machine_at_wait(tl, wait), tl.events)
                   if t.type == "timer-fired")
    assert timeout.timeout and timeout.fill(42) == ("timer-fired", timeout.data)
    with pytest.raises(ForkError, match="timeout: it can only fire"):
        fork_at(tl, rw, wait, ("timer-fired", {**timeout.data, "value": 1}))


@pytest.mark.parametrize("seq, change, problem", [
    (3, {"value": "high"}, "(random 100) is an integer"),
    (2, {"value": 1.5}, "now is an integer"),
    (4, {"value": 4}, "uuid is a string"),
    (3, {"request": {":n": 6}}, "only the value can change, not 'request'"),
    (5, {"value": "x"}, "a print effect can't be replaced"),
    (7, {"key": "99"}, "the key says which effect this answers"),
])
def test_replacements_are_checked(dice_tl, seq, change, problem):
    tl, rw = dice_tl
    event = next(e for e in tl.events if e.seq == seq)
    assert problem in check_replacement(event.type, event.data, {**event.data, **change})
    with pytest.raises(ForkError, match=re.escape(problem)):
        replace_input(tl, rw, seq, {**event.data, **change})
    assert rw.list_programs(kind="fork") == []
