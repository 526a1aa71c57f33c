"""Durability: the executor, clocks, the JSON codec, replay, and the ``Runtime`` facade."""

from .clock import Clock, RealClock, VirtualClock
from .executor import Executor
from .runtime import Runtime, RuntimeError_, Waiting

__all__ = ["Runtime", "RuntimeError_", "Waiting", "Executor", "Clock", "RealClock",
           "VirtualClock"]
