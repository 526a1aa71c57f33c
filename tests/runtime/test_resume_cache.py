"""The executor keeps the machine it last committed in memory, and resumes it without
reading the program's row or loading its snapshot when nothing but input was appended since;
a commit by anyone else makes it reload. Either way the log and the result are the same as
after a restart."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from flowmetal.runtime import Runtime, executor
from flowmetal.store import open_store

from .conftest import Harness, check_log

ADDER = """
  (defn main [_]
    (loop [total 0 i 0]
      (if (< i 3)
        (let [n (receive "n")]
          (println "got" n)
          (recur (+ total n) (inc i)))
        total)))"""


def counting(store: Any) -> Counter:
    """Wrap the store's reads that a resume may make, to count them."""
    calls: Counter = Counter()
    for name in ("get_program", "latest_snapshot", "events"):
        inner = getattr(store, name)

        def wrapper(*args: Any, _name: str = name, _inner: Any = inner, **kwargs: Any) -> Any:
            calls[_name] += 1
            return _inner(*args, **kwargs)

        setattr(store, name, wrapper)
    return calls


def send(h: Harness, pid: str, payload: Any) -> None:
    """An input from another process."""
    with open_store(h.path) as other:
        other.append_input(pid, "message", {"name": "n", "payload": payload})


def test_input_resumes_the_machine_in_memory_with_one_read_of_the_log(h: Harness):
    pid = h.start(ADDER)
    assert h.drive(pid).status == "waiting"
    calls = counting(h.store)
    for n in (1, 2, 3):
        send(h, pid, n)
        rec = h.rt.executor.drive(pid).program
    assert calls == {"events": 3}  # no program row, no snapshot: the machine was in memory
    assert (rec.status, h.result(pid)) == ("done", 6)
    # the record it returns is the one it committed, but for the exact time of the commit
    assert rec == replace(h.store.get_program(pid), updated_at=rec.updated_at)
    check_log(h.store, pid)
    assert h.rt.replay(pid).ok


def test_a_commit_by_another_executor_makes_the_machine_in_memory_stale(h: Harness):
    pid = h.start(ADDER)
    h.drive(pid)  # this executor keeps the machine
    other = Runtime(open_store(h.path), clock=h.clock)
    try:
        send(h, pid, 10)
        assert other.drive(pid).status == "waiting"  # moves the program on, elsewhere
        send(h, pid, 20)
        calls = counting(h.store)
        assert h.drive(pid).status == "waiting"
        assert calls["latest_snapshot"] == 1  # it saw the other commit, and reloaded
        send(h, pid, 30)
        assert h.drive(pid).status == "done"
    finally:
        other.store.close()
    assert h.result(pid) == 60
    check_log(h.store, pid)
    assert h.rt.replay(pid).ok


def test_an_input_that_arrives_while_timers_fire_in_process_is_not_lost(h: Harness):
    """Firing its own due timers, the executor does not read the log first; what arrived
    meanwhile makes its commit conflict, and the drive starts over with it."""
    pid = h.start("""
      (defn main [_]
        (let [n (async (receive "n"))]
          (sleep 10)
          (+ 1 (await n))))""")
    assert h.drive(pid).status == "waiting"
    [timer] = h.store.list_timers(pid)
    send(h, pid, 41)
    calls = counting(h.store)
    rec = h.rt.executor.drive(pid, fire={timer.key: timer.due_at}).program
    assert (rec.status, h.result(pid)) == ("done", 42)
    assert calls["latest_snapshot"] == 1  # the refused commit made it reload
    assert [e.data["key"] for e in h.events(pid, "timer-fired")] == [timer.key]
    check_log(h.store, pid)
    assert h.rt.replay(pid).ok


def test_the_machines_kept_in_memory_are_the_latest_few(h: Harness, monkeypatch):
    monkeypatch.setattr(executor, "_CACHED_MACHINES", 2)
    pids = [h.start(ADDER) for _ in range(3)]
    for pid in pids:
        h.drive(pid)
    calls = counting(h.store)
    for pid in reversed(pids):  # the first one was let go: it alone loads its snapshot
        send(h, pid, 5)
        h.drive(pid)
    assert calls["latest_snapshot"] == 1
    assert len(h.rt.executor._cache) == 2


def test_a_drive_that_keeps_losing_races_steps_aside_then_commits(h: Harness, monkeypatch):
    from flowmetal.store import ConflictError

    pid = h.start(ADDER)
    ex = executor.Executor(h.store)
    real_commit = h.store.commit
    lost = {"n": 0}

    def commit(program_id: str, c: Any) -> Any:
        if lost["n"] < 5:  # another process committed first, five times running
            lost["n"] += 1
            raise ConflictError("someone else committed")
        return real_commit(program_id, c)

    pauses: list[float] = []
    monkeypatch.setattr(h.store, "commit", commit)
    monkeypatch.setattr(executor, "_pause", pauses.append)
    assert ex.drive(pid).program.status == "waiting"
    # no pause after the first loss; then random pauses under a growing, bounded ceiling
    assert len(pauses) == 4
    assert all(0 <= p <= min(0.05, 0.0005 * 2**k) for k, p in zip(range(1, 5), pauses))
    check_log(h.store, pid)
