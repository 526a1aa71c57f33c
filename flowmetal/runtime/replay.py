"""Replay: run a program again from its start, feeding it its recorded results.

It follows the executor's rules exactly (see ``executor``): run to quiescence, answer
internal effects from the recorded ``effect`` events, otherwise apply the next recorded
input. Every request the replayed program makes is compared with the recorded one; the
first difference is a ``Divergence`` naming the expression (file:line:col) and both
values. That is ``flowmetal replay --verify``, and ``upgrade`` runs the same check with
new code before switching a program to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..lang.data import kw
from ..lang.machine import Done, Failed, Machine, OutOfFuel, Suspended
from ..lang.nodes import CodeUnit
from ..store.contract import INPUT_EVENT_TYPES, EventRecord, ProgramRecord
from .codec import error_to_json, from_json, to_json
from .executor import (
    INTERNAL_EFFECTS,
    Executor,
    apply_input,
    finish_repl_input,
    report_unawaited,
)

__all__ = ["replay", "Divergence", "ReplayReport", "code_hash_of"]


@dataclass
class Divergence:
    """Where a replay first differs from the record."""

    seq: int | None
    where: str | None
    recorded: Any
    replayed: Any
    message: str

    def __str__(self) -> str:
        at = f"{self.where}: " if self.where else ""
        seq = f" (event {self.seq})" if self.seq is not None else ""
        return (f"{at}{self.message}{seq}\n  recorded: {_show(self.recorded)}\n"
                f"  replayed: {_show(self.replayed)}")


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


@dataclass
class ReplayReport:
    """The outcome of a replay: ``ok`` when every recorded step was reproduced."""

    program_id: str
    steps: int
    events_checked: int
    output: list[str] = field(default_factory=list)
    divergence: Divergence | None = None
    machine: Machine | None = None

    @property
    def ok(self) -> bool:
        return self.divergence is None


def code_hash_of(rec: ProgramRecord, events: list[EventRecord]) -> str:
    """The code a program runs now: its start code, or the target of its last upgrade."""
    code = rec.code_hash
    for e in events:
        if e.type == "upgraded":
            code = e.data["to"]
    return code


class _Replayer:
    def __init__(self, ex: Executor, rec: ProgramRecord, events: list[EventRecord],
                 unit: CodeUnit, applied: int) -> None:
        self.ex = ex
        self.rec = rec
        self.outputs = [e for e in events if e.type not in INPUT_EVENT_TYPES
                        and e.type not in ("started", "upgraded")]
        # Inputs the live run has not applied yet are left for it: replay stops before them.
        self.inputs = [e for e in events if e.type in INPUT_EVENT_TYPES and e.seq <= applied]
        self.out_i = 0
        self.in_i = 0
        self.m = ex.fresh_machine(rec, unit)
        self.m.extra["keys"] = {}
        self.report = ReplayReport(rec.id, 0, 0)

    def expect(self, types: tuple[str, ...], replayed: Any, where: str | None) -> EventRecord:
        if self.out_i >= len(self.outputs):
            raise _Diverged(Divergence(None, where, "(nothing more)", replayed,
                                       "the replay did more than the recorded run"))
        e = self.outputs[self.out_i]
        if e.type not in types:
            raise _Diverged(Divergence(e.seq, where, {"type": e.type, **(e.data or {})},
                                       replayed, "the replay took a different path"))
        self.out_i += 1
        self.report.events_checked += 1
        return e

    def where(self, req_id: int) -> str | None:
        entry = self.m.effects.get(req_id)
        if entry is None:
            return None
        node = self.m.fibers[entry[0]].node
        return str(node.span) if node is not None and node.span is not None else None

    def run(self) -> ReplayReport:
        try:
            while self.advance():
                pass
            self.check_end()
        except _Diverged as d:
            self.report.divergence = d.divergence
        self.report.steps = self.m.steps
        self.report.machine = self.m
        return self.report

    def advance(self, fuel: int = 1_000_000) -> bool:
        """One turn of the executor's loop (rules 1-3), running at most ``fuel`` machine
        steps; False once the replay has reached its end. Raises ``_Diverged``.

        ``run`` calls it until it says False; the debugger's timeline calls it with small
        budgets to stop at any step (``fuel=0`` does the bookkeeping a step leaves behind
        without taking the next step).
        """
        m = self.m
        if self.rec.kind == "repl" and m.status == "failed":  # as the executor does
            finish_repl_input(m, self.recorded)
            return True
        if m.status in ("failed", "aborted"):
            if m.status == "failed" and not m.extra.get("failure_recorded"):
                e = self.expect(("failed",), {"type": "failed",
                                              "error": error_to_json(m.error)}, None)
                self.compare(e, e.data.get("error", {}).get("message"),
                             m.error.message if hasattr(m.error, "message") else None,
                             None, "the program failed differently")
                m.extra["failure_recorded"] = True
                return True
            if m.status == "aborted":
                return self.ended("aborted")
            if m.extra.get("cancel"):  # as the executor: a failed program can be cancelled
                return self.ended("cancelled")
            return self.next_input()
        outcome = m.run(fuel)
        if isinstance(outcome, OutOfFuel):
            return True
        if self.rec.kind == "repl" and isinstance(outcome, (Done, Failed)):
            finish_repl_input(m, self.recorded)
            return True
        if isinstance(outcome, Done):
            report_unawaited(m, self.recorded)
            e = self.expect(("completed",), {"type": "completed",
                                             "value": to_json(m.result)}, None)
            self.compare(e, e.data.get("value"), to_json(m.result), None,
                         "the program ended with a different value")
            return False
        if isinstance(outcome, Failed):
            return True
        assert isinstance(outcome, Suspended)
        for eid in outcome.cancelled:
            keys = m.extra["keys"]
            for k in [k for k, v in keys.items() if v == eid]:
                del keys[k]
        answered = False
        for req in outcome.requests:
            answered = self.request(req) or answered
        if answered:
            return True
        if m.extra.get("cancel"):
            return self.ended("cancelled")
        return self.next_input()

    def ended(self, status: str) -> bool:
        """The program ends ``aborted`` or ``cancelled``; False (no more turns)."""
        report_unawaited(self.m, self.recorded)
        self.expect((status,), {"type": status}, None)
        return False

    def check_end(self) -> None:
        """After the last turn: the record must not go further than the replay did."""
        if self.out_i < len(self.outputs):
            e = self.outputs[self.out_i]
            raise _Diverged(Divergence(e.seq, None, {"type": e.type, **(e.data or {})},
                                       "(the replay stopped here)",
                                       "the recorded run went further than the replay"))

    def request(self, req: Any) -> bool:
        where = self.where(req.id)
        replayed = {"kind": req.kind, "request": to_json(req.data)}
        internal = req.kind in INTERNAL_EFFECTS
        e = self.expect(("effect",) if internal else ("requested",), replayed, where)
        recorded = {"kind": e.data.get("kind"), "request": e.data.get("request")}
        self.compare(e, recorded, replayed, where, "the program asked for a different effect")
        if internal:
            if req.kind == "print":
                self.report.output.append(req.data[kw("text")])
            self.m.complete(req.id, from_json(e.data.get("value")))
            return True
        self.m.extra["keys"][e.data["key"]] = req.id
        return False

    def compare(self, e: EventRecord, recorded: Any, replayed: Any, where: str | None,
                message: str) -> None:
        if recorded != replayed:
            raise _Diverged(Divergence(e.seq, where, recorded, replayed, message))

    def next_input(self) -> bool:
        if self.in_i >= len(self.inputs):
            return False
        event = self.inputs[self.in_i]
        self.in_i += 1
        self.m.extra["cursor"] = event.seq
        apply_input(self.m, event, self.ex.unit)
        return True

    def recorded(self, type_: str, data: Any) -> None:
        """Check an event the shared REPL logic says was recorded."""
        e = self.expect((type_,), {"type": type_, **data}, None)
        if type_ == "evaluated":
            self.compare(e, e.data.get("value"), data.get("value"), None,
                         "a REPL input evaluated to a different value")


class _Diverged(Exception):
    def __init__(self, divergence: Divergence) -> None:
        self.divergence = divergence


def replay(ex: Executor, program_id: str, unit: CodeUnit | None = None) -> ReplayReport:
    """Replay a program's whole log (against ``unit`` if given, else its own code)."""
    rec = ex.store.get_program(program_id)
    events = ex.store.events(program_id)
    code = unit if unit is not None else ex.unit(code_hash_of(rec, events))
    snap = ex.store.latest_snapshot(program_id)
    applied = ex.load(rec).extra.get("cursor", 0) if snap is not None else 0
    return _Replayer(ex, rec, events, code, applied).run()
