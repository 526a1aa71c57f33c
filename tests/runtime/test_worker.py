"""The worker (``flowmetal worker``): it drives what is ready, never a debugger fork, and
when idle it waits on the store's ``wait_for_change`` rather than sleeping, so work written
by another process starts at once. No test sleeps: they wait on events, with deadlines."""

from __future__ import annotations

import threading
from typing import Any

from flowmetal.runtime.clock import VirtualClock
from flowmetal.runtime.worker import DRIVEN_KINDS, Worker
from flowmetal.store import open_store

from .conftest import START, Harness

GREETER = """
  (defn main [_]
    (let [name (receive "name")]
      (println "hello" name)
      name))"""


class Watched:
    """A store that records each ``wait_for_change`` timeout and can stop the worker."""

    def __init__(self, store: Any, stop_after: int) -> None:
        self._store = store
        self.waits: list[float] = []
        self.stop_after = stop_after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def wait_for_change(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return False

    def stop(self) -> bool:
        return len(self.waits) > self.stop_after


def test_an_idle_worker_waits_on_the_store_not_on_a_sleep(h: Harness):
    pid = h.start("(defn main [_] (sleep 30) :woke)")
    h.drive(pid)  # waits on a timer due 30 s from now
    store = Watched(h.store, stop_after=2)
    worker = Worker(store, clock=VirtualClock(START), poll_interval=60.0)  # type: ignore[arg-type]
    worker.run(stop=store.stop)
    # It starts watching before its first look, then waits until the timer is due.
    assert store.waits[0] == 0
    assert store.waits[1:] == [30.0, 30.0]
    assert worker.stats.idle_loops == 2
    assert h.store.get_program(pid).status == "waiting"


def test_an_idle_worker_starts_on_input_from_another_process_at_once(h: Harness):
    pid = h.start(GREETER)
    assert h.drive(pid).status == "waiting"
    greeted = threading.Event()
    stopping = threading.Event()
    worker = Worker(open_store(h.path), poll_interval=60.0,
                    on_output=lambda _pid, text: greeted.set())
    thread = threading.Thread(target=worker.run, kwargs={"stop": stopping.is_set})
    thread.start()
    try:
        # Another process (here another connection) sends the input. Polling every 60 s,
        # the worker could only greet within the deadline by waking on the commit.
        with open_store(h.path) as sender:
            sender.append_input(pid, "message", {"name": "name", "payload": "Ada"})
        assert greeted.wait(10)
    finally:
        stopping.set()
        with open_store(h.path) as waker:  # any commit wakes it, to see it should stop
            waker.put_code("wake", "wake", "", b"")
        thread.join(10)
        worker.store.close()
    assert not thread.is_alive()
    assert h.store.get_program(pid).status == "done"
    assert h.output(pid) == ["hello Ada\n"]


def test_a_worker_never_drives_a_fork(h: Harness):
    program = h.start("(defn main [_] :ran)")
    fork = h.rt.start("(defn main [_] :ran)", "job.flow", kind="fork")  # ready, unleased
    worker = Worker(h.store, clock=VirtualClock(START))
    worker.run(until_idle=True)
    assert h.store.get_program(program).status == "done"
    rec = h.store.get_program(fork)
    assert (rec.status, rec.last_seq, rec.lease_owner) == ("ready", 1, None)
    assert "fork" not in DRIVEN_KINDS and worker.stats.drives == 1


def test_a_worker_stopped_mid_batch_hands_back_every_program_it_claimed(h: Harness):
    pids = [h.start("(defn main [_] :done)") for _ in range(3)]
    worker = Worker(open_store(h.path), clock=VirtualClock(START))
    drives: list[str] = []

    def interrupted(pid: str, **_kw: Any) -> None:
        drives.append(pid)
        raise KeyboardInterrupt  # Ctrl-C, or SIGTERM as `flowmetal worker` maps it

    worker.executor.drive = interrupted  # type: ignore[method-assign]
    try:
        worker.step()
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interrupt must reach the caller")
    assert len(drives) == 1
    for pid in pids:
        rec = h.store.get_program(pid)
        assert rec.lease_owner is None, pid
    # so another worker takes all three at once, without waiting out a lease
    assert Worker(open_store(h.path), clock=VirtualClock(START)).step() == 3
    assert all(h.store.get_program(pid).status == "done" for pid in pids)
