"""The worker: the interpreter daemon behind ``flowmetal worker``.

It loops: fire the timers that are due, lease the programs that are ready, drive each,
release it. Run as many workers as you like on one store: leases keep two from driving
the same program at once, and the executor's compare-and-set commit keeps them safe even
when a lease expires mid-drive. A worker killed with ``kill -9`` loses nothing: its leases
expire and another worker (or the same one restarted) takes the programs over.

With nothing to do, a worker waits on ``store.wait_for_change`` (PostgreSQL's
``LISTEN``/``NOTIFY``, SQLite's data version), so it starts on new work as soon as any
process writes it, not at its next poll. Debugger forks (kind ``fork``) are never driven by
a worker: only the debugger that made one drives it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from ..store.contract import PROGRAM_KINDS, Store
from .clock import Clock, RealClock
from .executor import Executor

__all__ = ["Worker", "WorkerStats", "DRIVEN_KINDS"]

DRIVEN_KINDS = tuple(sorted(PROGRAM_KINDS - {"fork"}))
"""The kinds of program a worker drives: all but debugger forks."""


@dataclass
class WorkerStats:
    drives: int = 0
    timers_fired: int = 0
    idle_loops: int = 0


class Worker:
    """Drives whatever is runnable in ``store``.

    :param lease_seconds: how long a program stays leased to this worker per drive.
    :param poll_interval: the longest wait for a change between looks at the store when idle
        (a timer falling due sooner shortens it).
    """

    def __init__(self, store: Store, *, worker_id: str | None = None, clock: Clock | None = None,
                 lease_seconds: float = 30.0, poll_interval: float = 0.2, batch: int = 20,
                 on_output: Callable[[str, str], None] | None = None) -> None:
        self.store = store
        self.clock = clock or RealClock()
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.executor = Executor(store, clock=self.clock, on_output=on_output)
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.batch = batch
        self.stats = WorkerStats()

    def step(self) -> int:
        """One round: fire due timers, drive the ready programs. Returns how much it did."""
        fired = self.store.fire_due_timers(now=self.clock.now())
        self.stats.timers_fired += len(fired)
        ids = self.store.claim_ready(worker=self.id, lease_seconds=self.lease_seconds,
                                     limit=self.batch, kinds=DRIVEN_KINDS, now=self.clock.now())
        claimed = list(ids)
        try:
            while claimed:
                try:
                    self.executor.drive(claimed[0])
                    self.stats.drives += 1
                finally:
                    self.store.release(claimed.pop(0), self.id)
        finally:
            # Stopped (Ctrl-C, SIGTERM) or failed mid-batch: hand back the programs this
            # round claimed but did not drive, so other workers need not wait out the lease.
            for pid in claimed:
                self.store.release(pid, self.id)
        return len(fired) + len(ids)

    def run(self, *, stop: Callable[[], bool] = lambda: False, until_idle: bool = False) -> None:
        """Work until ``stop()`` says so (or, with ``until_idle``, until nothing is left
        that can run without waiting for a timer or the outside world)."""
        if not until_idle:
            self.store.wait_for_change(0)  # start watching before the first look: miss nothing
        while not stop():
            if self.step():
                continue
            self.stats.idle_loops += 1
            if until_idle:
                return
            due = self.store.next_timer_due()
            wait = self.poll_interval
            if due is not None:
                wait = min(wait, max(0.0, due - self.clock.now()))
            self.store.wait_for_change(wait)
