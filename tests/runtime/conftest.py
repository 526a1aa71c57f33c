"""Fixtures for the runtime tests: programs run on a real SQLite file in a temporary folder,
and a ``Harness`` that can throw its ``Runtime`` away and open a fresh one on the same file
(as a restarted process would), so every test can prove its effect is durable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowmetal.lang import pr_str
from flowmetal.lang.data import kw
from flowmetal.runtime import Runtime
from flowmetal.runtime.clock import VirtualClock
from flowmetal.runtime.codec import from_json
from flowmetal.runtime.runtime import Waiting
from flowmetal.store import EventRecord, ProgramRecord, Store, open_store

START = 1_800_000_000.0
"""The virtual clock's start (2027-01-15T08:00:00Z), so times in results are predictable."""


class Harness:
    """A Runtime over one SQLite file, with a virtual clock that outlives the Runtime.

    ``reopen()`` closes the store and builds a new store, executor and runtime on the same
    file: nothing but the file carries over, exactly as after a process restart.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = VirtualClock(START)
        self.printed: list[tuple[str, str]] = []
        self.store: Store = open_store(str(path))
        self.rt = self._runtime()

    def _runtime(self) -> Runtime:
        return Runtime(self.store, clock=self.clock,
                       on_output=lambda pid, text: self.printed.append((pid, text)))

    def reopen(self) -> Runtime:
        self.store.close()
        self.store = open_store(str(self.path))
        self.rt = self._runtime()
        return self.rt

    def close(self) -> None:
        self.store.close()

    # -- shorthands --------------------------------------------------------------------

    def start(self, source: str, args: Any = None, name: str = "job.flow") -> str:
        return self.rt.start(source, name, args)

    def drive(self, pid: str) -> ProgramRecord:
        """Run as far as the program goes without any wait ending (no timer fires)."""
        return self.rt.drive(pid)

    def run(self, pid: str) -> ProgramRecord:
        """Drive until the program ends, fails, or waits on the outside world (timers fire,
        the virtual clock jumping to them)."""
        outcome = self.rt.run(pid, until=lambda rec: True)
        return outcome.program if isinstance(outcome, Waiting) else outcome

    def result(self, pid: str) -> Any:
        return from_json(self.store.get_program(pid).result)

    def shown(self, pid: str) -> str:
        """The program's result, printed as Flowmetal data (so ``[1 2]`` is not ``(1 2)``)."""
        return pr_str(self.result(pid))

    def events(self, pid: str, *types: str) -> list[EventRecord]:
        return self.store.events(pid, types=list(types) or None)

    def output(self, pid: str) -> list[str]:
        return outputs(self.store, pid)


def outputs(store: Store, pid: str) -> list[str]:
    """What the program printed, in order, read from its log (``effect`` events of kind print)."""
    return [from_json(e.data["request"])[kw("text")]
            for e in store.events(pid, types=["effect"]) if e.data["kind"] == "print"]


def check_log(store: Store, pid: str) -> list[EventRecord]:
    """The program's log after checking it is gapless and applies no step twice."""
    events = store.events(pid)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert store.get_program(pid).last_seq == len(events)
    own = [e.data["key"] for e in events if e.type in ("effect", "requested")]
    assert len(own) == len(set(own)), "an effect was recorded twice"
    for e in events:
        if e.type in ("effect", "requested"):
            assert e.data["key"] == str(e.seq)
    answered = [e.data["key"] for e in events
                if e.type in ("effect-completed", "effect-failed", "timer-fired")]
    assert len(answered) == len(set(answered)), "an effect was answered twice"
    return events


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path / "flow.db")
    yield harness
    harness.close()
