"""Messages that cross widgets and screens. Each is a small dataclass.

Widget-local messages live in their widget (``Timeline.StepSelected``); these are the ones
the debug screen's workers post back to the UI thread. ``can_replace`` lets Textual merge a
flood of them (scrubbing fast) into the latest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

__all__ = ["BuildProgress", "TimelineReady", "StepLoaded", "ScanFinished", "FrameSelected",
           "ForkCreated"]


@dataclass
class BuildProgress(Message):
    """The first replay of a run has reached ``steps``."""

    steps: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BuildProgress)


@dataclass
class TimelineReady(Message):
    """The run is indexed (or could not be: ``error``)."""

    error: str | None = None


@dataclass
class StepLoaded(Message):
    """The state at a step is rebuilt: ``view`` (a ``StepView``) and the watch values."""

    view: Any
    watches: list[tuple[str, str]] = field(default_factory=list)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StepLoaded)


@dataclass
class ScanFinished(Message):
    """A search through the run (step over, continue, watch...) ended at ``step``."""

    what: str
    step: int | None
    error: str | None = None


@dataclass
class FrameSelected(Message):
    """A frame of the continuation stack was chosen: its bindings and source are shown."""

    fiber: int
    frame: int


@dataclass
class ForkCreated(Message):
    """A what-if run was made and driven; ``stopped`` says how far it got."""

    program_id: str | None
    stopped: str
    error: str | None = None
