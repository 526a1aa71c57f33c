"""What-if runs: forks copy a prefix of the log, take a different input, and never touch
the original record."""

from __future__ import annotations

import pytest

from flowmetal.runtime.executor import Executor
from flowmetal.runtime.forks import (
    FORK_LEASE_OWNER,
    ForkError,
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
