"""Every program in examples/ runs, in virtual time on a real SQLite file, and does what its
header comment says; events are fed from the test once the program waits for them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.conftest import START, Harness

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DAY = 86_400


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path / "examples.db")
    yield harness
    harness.close()


def start(h: Harness, name: str, args: dict | None = None) -> str:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    return h.rt.start(text, f"examples/{name}", args)


def pass_one_timer(h: Harness, pid: str) -> None:
    """Let the program's earliest timer fall due (virtual time) and fire it."""
    timer = h.store.list_timers(pid)[0]
    h.clock.advance_to(timer.due_at)
    h.rt.fire_timer(pid, timer.key)


def test_every_example_is_tested():
    tested = {"hello.flow", "approval.flow", "fanout.flow", "long_sleep.flow", "recover.flow"}
    assert {p.name for p in EXAMPLES.glob("*.flow")} == tested


def test_hello(h: Harness):
    pid = start(h, "hello.flow", {"name": "Ada"})
    assert h.rt.run(pid).status == "done"
    assert h.shown(pid) == '{:greeted "Ada"}'
    assert h.output(pid)[:2] == ["Hello, Ada!\n", "sleeping for 2 seconds, durably...\n"]
    assert h.output(pid)[2] == f"awake again at {int((START + 2) * 1000)}\n"


# -- approval.flow ---------------------------------------------------------------------------


def test_approval_passes_small_amounts_at_once(h: Harness):
    pid = start(h, "approval.flow", {"amount": 50})
    h.rt.run(pid)
    assert h.shown(pid) == '{:amount 50, :approved true, :by "auto"}'
    assert h.store.events(pid, types=["requested"]) == []


def test_approval_answered_after_two_reminders(h: Harness):
    pid = start(h, "approval.flow", {"amount": 120})
    rec = h.drive(pid)
    assert rec.status == "waiting"
    assert {"fiber": 0, "kind": "message", "name": "approval"} in rec.waiting
    pass_one_timer(h, pid)
    pass_one_timer(h, pid)
    assert h.output(pid)[1:] == ["reminder 1 of 3 - still waiting to approve 120\n",
                                 "reminder 2 of 3 - still waiting to approve 120\n"]
    rt = h.reopen()
    rt.send(pid, "approval", {"ok": True, "by": "ada"})
    assert rt.run(pid).status == "done"
    assert h.shown(pid) == '{:amount 120, :approved true, :by "ada"}'
    assert h.output(pid)[-1] == "approved by ada\n"
    assert h.clock.now() == START + 2 * DAY
    assert rt.replay(pid).ok


def test_approval_refused_by_the_manager(h: Harness):
    pid = start(h, "approval.flow", {"amount": 500})
    h.drive(pid)
    h.rt.send(pid, "approval", {"ok": False, "by": "bob"})
    h.rt.run(pid)
    assert h.shown(pid) == '{:amount 500, :approved false, :by "bob"}'
    assert not any("reminder" in line for line in h.output(pid))


def test_approval_as_the_readme_shows_it(h: Harness):
    pid = start(h, "approval.flow", {"amount": 120})
    h.drive(pid)
    h.reopen().send(pid, "approval", {"ok": True})
    h.rt.run(pid)
    assert h.shown(pid) == '{:amount 120, :approved true, :by "the manager"}'
    assert h.output(pid) == ["approval needed for 120 - send the 'approval' event\n",
                             "approved by the manager\n"]


def test_approval_unanswered_is_refused_after_three_reminders(h: Harness):
    pid = start(h, "approval.flow", {"amount": 120})
    h.rt.run(pid)  # virtual time: nobody answers, every day passes at once
    assert h.shown(pid) == '{:amount 120, :approved false, :by "timeout"}'
    assert [line for line in h.output(pid) if line.startswith("reminder")] == [
        f"reminder {n} of 3 - still waiting to approve 120\n" for n in (1, 2, 3)]
    assert h.output(pid)[-1] == "no answer after 3 reminders: refused\n"
    assert h.clock.now() == START + 4 * DAY
    assert len(h.store.events(pid, types=["timer-fired"])) == 4


# -- fanout.flow -------------------------------------------------------------------------------


def test_fanout_runs_the_jobs_concurrently(h: Harness):
    pid = start(h, "fanout.flow")
    rec = h.drive(pid)
    assert len(h.store.list_timers(pid)) == 3  # all three sleep at once
    assert rec.status == "waiting"
    rt = h.reopen()
    rt.run(pid)
    assert h.output(pid) == [
        "start small\n", "start medium\n", "start large\n",
        "done small after 1 s\n", "done medium after 2 s\n", "done large after 3 s\n",
        "first done: small\n", "all 3 done in 3 s, working for 6 s\n"]
    assert h.result(pid)[_kw("elapsed")] == 3
    assert rt.replay(pid).ok


def test_fanout_with_jobs_given_as_an_argument(h: Harness):
    pid = start(h, "fanout.flow", {"jobs": {"hour": 3600, "minute": 60, "day": DAY}})
    h.rt.run(pid)
    result = h.result(pid)
    assert result[_kw("first")] == "minute"
    assert result[_kw("elapsed")] == DAY
    assert h.clock.now() == START + DAY


def _kw(name: str):
    from flowmetal.lang.data import kw

    return kw(name)


# -- long_sleep.flow -----------------------------------------------------------------------------


def test_long_sleep_sleeps_three_days_across_a_restart(h: Harness):
    pid = start(h, "long_sleep.flow")
    assert h.drive(pid).status == "waiting"
    [timer] = h.store.list_timers(pid)
    assert timer.due_at == START + 3 * DAY
    rt = h.reopen()
    assert rt.run(pid).status == "done"
    assert h.shown(pid) == "{:slept-ms 259200000}"
    assert h.output(pid) == ["going to sleep for 3 days\n", "woke up after 72 hours\n"]
    assert rt.replay(pid).ok


# -- recover.flow --------------------------------------------------------------------------------


def test_recover_fails_on_no_values_and_is_recovered_with_use_value(h: Harness):
    pid = start(h, "recover.flow")
    rec = h.rt.run(pid)
    assert rec.status == "failed"
    assert rec.error["where"] == "examples/recover.flow:9:5"
    assert rec.error["type"] == "arithmetic-error"
    rt = h.reopen()
    rt.recover(pid, "use-value", 0)
    assert rt.run(pid).status == "done"
    assert h.shown(pid) == "{:count 0, :average 0}"
    assert h.output(pid) == ["averaging 0 values\n", "average: 0\n"]
    assert [e.data for e in h.store.events(pid, types=["restart"])] == [
        {"how": "use-value", "value": 0}]
    assert rt.replay(pid).ok


def test_recover_retry_of_a_pure_error_fails_the_same_way(h: Harness):
    pid = start(h, "recover.flow")
    h.rt.run(pid)
    h.rt.recover(pid, "retry")
    rec = h.rt.run(pid)
    assert rec.status == "failed" and rec.error["where"] == "examples/recover.flow:9:5"
    assert len(h.store.events(pid, types=["failed"])) == 2
    h.rt.recover(pid, "abort")
    assert h.rt.run(pid).status == "aborted"


def test_recover_with_good_values_just_runs(h: Harness):
    pid = start(h, "recover.flow", {"values": [1, 2, 3, 6]})
    h.rt.run(pid)
    assert h.shown(pid) == "{:count 4, :average 3}"


def test_recover_as_the_readme_shows_it(tmp_path: Path):
    db = str(tmp_path / "readme.db")
    cmd = [sys.executable, "-m", "flowmetal"]
    run = subprocess.run([*cmd, "run", "examples/recover.flow", "--db", db], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "error: examples/recover.flow:9:5: arithmetic-error: Divide by zero" in run.stderr
    pid = run.stderr.split("flowmetal recover ")[1].split()[0]
    fixed = subprocess.run([*cmd, "recover", pid, "--use-value", "0", "--db", db], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout == "average: 0\n{:count 0, :average 0}\n"
