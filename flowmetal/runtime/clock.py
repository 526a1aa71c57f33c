"""Clocks: where the runtime gets the time for ``now`` and timers.

``VirtualClock`` jumps straight to the next due timer when nothing else can happen, so a
program that sleeps three days finishes in milliseconds (tests, ``--virtual-time``).
"""

from __future__ import annotations

import time

__all__ = ["Clock", "RealClock", "VirtualClock"]


class Clock:
    virtual = False

    def now(self) -> float:
        raise NotImplementedError

    def advance_to(self, when: float) -> None:
        """Move virtual time forward; real clocks can't, and ignore it."""


class RealClock(Clock):
    def now(self) -> float:
        return time.time()


class VirtualClock(Clock):
    """Starts at ``start`` (default: the real time now) and moves only when told to."""

    virtual = True

    def __init__(self, start: float | None = None) -> None:
        self.t = time.time() if start is None else start

    def now(self) -> float:
        return self.t

    def advance_to(self, when: float) -> None:
        self.t = max(self.t, when)
