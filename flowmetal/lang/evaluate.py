"""Evaluate code in memory, answering effects on the spot: for ``flowmetal eval``, tests
and macros' callers. Nothing here is durable; the runtime's executor is the durable path.

``evaluate(text)`` runs the text's top-level forms and returns the last value and the
output. Effects go to a ``handler(request) -> value``; the default one keeps a virtual
clock (``sleep`` returns at once and moves ``now`` forward), collects output, and refuses
effects that need the outside world.
"""

from __future__ import annotations

import random as _random
import time
import uuid as _uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .base import base, load, new_machine
from .data import Map, kw
from .errors import EvalError, ExInfo, FlowmetalError
from .machine import Done, Failed, Machine, OutOfFuel, Request, Suspended

__all__ = ["evaluate", "Evaluation", "LocalEffects", "EffectRefused", "drive"]


class EffectRefused(FlowmetalError):
    """An effect this in-memory evaluation can't perform (it needs the durable runtime)."""

    kind = "effect error"


@dataclass
class Evaluation:
    value: Any
    output: str
    steps: int
    machine: Machine = field(repr=False)


class LocalEffects:
    """Answers effects in memory. ``clock`` is virtual: it starts at the real time and
    ``drive`` moves it forward to each timer as it fires."""

    def __init__(self, echo: Callable[[str], None] | None = None, seed: int | None = None):
        self.clock = time.time()
        self.output: list[str] = []
        self.echo = echo
        self.rng = _random.Random(seed)

    def __call__(self, req: Request) -> Any:
        data = req.data
        if req.kind == "print":
            text = data[kw("text")]
            self.output.append(text)
            if self.echo:
                self.echo(text)
            return None
        if req.kind == "log":
            return None
        if req.kind == "now":
            return int(self.clock * 1000)
        if req.kind == "random":
            n = data.get(kw("n"))
            return self.rng.random() if n is None else self.rng.randrange(n)
        if req.kind == "uuid":
            return str(_uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if req.kind == "sleep":  # drive() orders timers itself; this serves direct callers
            until = data.get(kw("until"))
            self.clock = max(self.clock, until if until is not None else (
                self.clock + data[kw("seconds")]))
            return None
        raise EffectRefused(f"the {req.kind} effect needs the durable runtime: "
                            "use `flowmetal run FILE`")


def drive(m: Machine, handler: Callable[[Request], Any], fuel: int | None = None) -> Any:
    """Run ``m`` to the end, answering its effects with ``handler``.

    Effects other than timers are answered first, in request order. Timers (sleeps and
    timeouts) fire in the order they fall due on the handler's clock (``handler.clock``,
    when it has one), as they would in real time.
    """
    pending: list[Request] = []
    due: dict[int, float] = {}
    while True:
        outcome = m.run(fuel if fuel is not None else 10_000_000)
        if isinstance(outcome, Done):
            return outcome.value
        if isinstance(outcome, Failed):
            raise EvalError(outcome.error)
        if isinstance(outcome, OutOfFuel):
            if fuel is not None:
                raise EffectRefused(f"evaluation ran for more than {fuel} steps")
            continue
        assert isinstance(outcome, Suspended)
        now = getattr(handler, "clock", 0.0)
        for r in outcome.requests:
            if r.kind == "sleep":
                until = r.data.get(kw("until"))
                due[r.id] = until if until is not None else now + r.data[kw("seconds")]
        cancelled = set(outcome.cancelled)
        pending = [r for r in pending + outcome.requests if r.id not in cancelled]
        if not pending:
            waits = ", ".join(f"{kind} {key}" for _, kind, key in m.waits())
            raise EffectRefused(f"the program waits forever ({waits}): nothing in an "
                                "in-memory evaluation can answer it")
        others = [r for r in pending if r.kind != "sleep"]
        req = others[0] if others else min(pending, key=lambda r: (due[r.id], r.id))
        pending.remove(req)
        if req.kind == "sleep":
            if hasattr(handler, "clock"):
                handler.clock = max(handler.clock, due.pop(req.id))
            m.complete(req.id, None)
            continue
        try:
            result = handler(req)
        except EffectRefused as err:
            m.fail_effect(req.id, ExInfo(err.message, Map({kw("type"): kw("effect-refused")})))
            continue
        m.complete(req.id, result)


def evaluate(text: str, source: str = "<eval>", handler: Callable[[Request], Any] | None = None,
             main_args: Any = None, fuel: int | None = None) -> Evaluation:
    """Evaluate ``text`` in a fresh copy of the base environment.

    Example::

        >>> evaluate("(+ 1 2)").value
        3
    """
    b = base()
    unit = load(text, source)
    m = new_machine(unit, main_args)
    effects = handler or LocalEffects()
    value = drive(m, effects, fuel)
    output = "".join(effects.output) if isinstance(effects, LocalEffects) else ""
    del b
    return Evaluation(value, output, m.steps, m)
