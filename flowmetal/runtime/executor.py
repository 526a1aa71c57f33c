"""The executor: drives one program from its last durable state to its next one.

A drive loads the latest snapshot (or starts fresh from the code), runs the machine until
every fiber waits, and commits in ONE transaction the new events, the new snapshot, and
what the outside world must now do (timers, outbox tasks, callbacks, child programs).
Nothing is performed outside before it is committed; output is shown after the commit.

The rules that make a run replayable, followed identically by ``replay``:

1. Run until the machine is quiescent (every fiber waits).
2. Answer the *internal* effects it asked for (``now``, ``random``, ``uuid``, ``print``,
   ``log``, ``callback``, ``spawn``) at once, in request order, recording each as an
   event; if any was answered, go to 1.
3. Otherwise apply the next unapplied *input* event of the log (a completion, a message,
   a timer, a restart...), in log order, and go to 1. With none left, commit and stop.

Each effect's key is the ``seq`` of the event that recorded its request; outbox tasks carry
the idempotency key ``program:key``.
"""

from __future__ import annotations

import base64
import random
import secrets
import time
import uuid as _uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..lang import snapshot
from ..lang.base import base, new_machine
from ..lang.compiler import compile_expanded
from ..lang.data import Map, kw
from ..lang.machine import Done, Failed, Machine, OutOfFuel, Request, Suspended
from ..lang.nodes import CodeUnit
from ..store.contract import (
    FINISHED_STATUSES,
    INPUT_EVENT_TYPES,
    Commit,
    ConflictError,
    EventRecord,
    NewProgram,
    NewTask,
    ProgramFinished,
    ProgramRecord,
    Store,
)
from .clock import Clock, RealClock
from .codec import error_from_json, error_to_json, from_json, from_plain, to_json

__all__ = ["Executor", "INTERNAL_EFFECTS", "new_program_id", "DriveResult"]

INTERNAL_EFFECTS = frozenset({"now", "random", "uuid", "print", "log", "callback", "spawn"})
TASK_EFFECTS = frozenset({"http", "call"})
_CHECKPOINT_STEPS = 5_000_000
_BACKOFF = random.Random()  # jitter between conflicting commits; never part of a program
_pause = time.sleep
_CACHED_MACHINES = 1000  # machines kept in memory after their commit, the latest ones
_SECONDS, _UNTIL = kw("seconds"), kw("until")


def new_program_id() -> str:
    return "p-" + secrets.token_hex(6)


@dataclass
class DriveResult:
    """What one drive did: the program's record after it, and the output it committed.

    The record is the one the drive's commit wrote, made without reading it back: its
    ``updated_at`` is this process's clock at the commit, and its lease fields are as the
    executor last read them.
    """

    program: ProgramRecord
    output: list[str] = field(default_factory=list)
    events: int = 0
    timers: dict[str, float] | None = None
    """The program's timers after the drive (key -> due time), when the executor knows
    them without reading the store (its machine stayed in memory); None otherwise."""
    spawned: bool = False
    """Whether the drive's commits created child programs."""


class _Batch:
    """Events and side records gathered for the next commit, with seqs assigned in order."""

    def __init__(self, last_seq: int, known_timers: dict[str, float] | None = None) -> None:
        self.expected_seq = last_seq
        self.known_timers = known_timers  # the program's timers before it, if known
        self.spawned = False  # an earlier commit of the same drive created child programs
        self.events: list[tuple[str, Any]] = []
        self.timers: list[tuple[str, float]] = []
        self.cancel_timers: list[str] = []
        self.tasks: list[NewTask] = []
        self.callbacks: list[tuple[str, str]] = []
        self.programs: list[NewProgram] = []
        self.send: list[tuple[str, str, Any]] = []
        self.output: list[str] = []
        self.requests: dict[int, Any] = {}  # effect id -> its request as JSON, made once

    def cancel(self, key: str) -> None:
        """Drop a timer: never written if it was asked for in this same batch."""
        pending = [t for t in self.timers if t[0] != key]
        if len(pending) == len(self.timers):
            self.cancel_timers.append(key)
        self.timers = pending

    def add(self, type_: str, data: Any) -> int:
        self.events.append((type_, data))
        return self.expected_seq + len(self.events)


class Executor:
    """Drives programs stored in ``store``; one executor per process (or thread).

    :param clock: where ``now`` and timers get the time (``VirtualClock`` in tests and
        ``--virtual-time``).
    :param callback_url: the public base URL that callback URLs are made from.
    """

    def __init__(self, store: Store, *, clock: Clock | None = None,
                 callback_url: str = "http://127.0.0.1:8080",
                 on_output: Callable[[str, str], None] | None = None,
                 checkpoint_steps: int = _CHECKPOINT_STEPS) -> None:
        self.store = store
        self.clock = clock or RealClock()
        self.callback_url = callback_url.rstrip("/")
        self.on_output = on_output
        self.checkpoint_steps = checkpoint_steps
        self.base = base()
        self.units: dict[str, CodeUnit] = dict(self.base.units)
        # program id -> (record, machine, its timers) as this executor's last commit left them
        self._cache: dict[str, tuple[ProgramRecord, Machine, dict[str, float] | None]] = {}

    # -- code ------------------------------------------------------------------------

    def unit(self, code_hash: str) -> CodeUnit:
        """The compiled unit for ``code_hash``, rebuilt from the store on first use."""
        found = self.units.get(code_hash)
        if found is None:
            rec = self.store.get_code(code_hash)
            found = compile_expanded(rec.unit, rec.source_name)
            self.units[code_hash] = found
        return found

    def save_code(self, unit: CodeUnit, source: str) -> None:
        self.units[unit.hash] = unit
        self.store.put_code(unit.hash, unit.source_name, source, unit.blob)

    # -- loading ----------------------------------------------------------------------

    def load(self, rec: ProgramRecord) -> Machine:
        """The program's machine as of its latest snapshot, or fresh from its code."""
        snap = self.store.latest_snapshot(rec.id)
        if snap is not None:
            return snapshot.decode(snap.state, self.base.glob, self.unit)
        return self.fresh_machine(rec)

    def fresh_machine(self, rec: ProgramRecord, unit: CodeUnit | None = None) -> Machine:
        """The program's machine at its start (running ``unit``, by default its code)."""
        args = from_json(rec.args)
        unit = unit or self.unit(rec.code_hash)
        if rec.kind == "child":
            return _child_machine(new_machine(unit), unit, args, self.unit)
        m = new_machine(unit, args)
        if rec.kind == "repl":
            m.extra["repl"] = True
            for name in ("*1", "*2", "*3", "*e"):
                m.glob[name] = None
        return m

    # -- driving ----------------------------------------------------------------------

    def drive(self, program_id: str, *, fire: dict[str, float] | None = None,
              max_attempts: int = 20) -> DriveResult:
        """Run the program as far as it can go now and commit; retried on a conflict
        (an input arrived or another process committed while we ran).

        ``fire`` maps due timers of this program (key -> due time) to fire within this same
        commit, which saves a transaction per timer when one process drives its own programs.
        The commit's compare-and-set makes this safe against another process firing them.
        """
        for attempt in range(max_attempts):
            try:
                return self._drive_once(program_id, fire or {})
            except ConflictError:
                self._cache.pop(program_id, None)
                if attempt:  # a second loss in a row: step aside a random moment, so two
                    # processes driving one program take turns instead of colliding forever
                    _pause(_BACKOFF.uniform(0, min(0.05, 0.0005 * 2**attempt)))
                continue
            except ProgramFinished:  # another process finished it meanwhile: its commit stands
                self._cache.pop(program_id, None)
                return DriveResult(self.store.get_program(program_id))
        raise ConflictError(f"program {program_id}: gave up after {max_attempts} conflicts")

    def _resume(self, program_id: str, fire: dict[str, float]
                ) -> tuple[ProgramRecord, Machine | None, list[EventRecord],
                           dict[str, float] | None]:
        """The program's record, its machine as last committed (None once it finished), the
        input events that machine has not applied yet, and its timers if they are known.

        A machine this executor committed last is kept in memory. Then one read of the log
        after it is enough: if everything appended since is input (nobody else committed),
        the machine is current and those are the inputs to apply, with no need to read the
        program's row or to load and decode its snapshot. Given timers to ``fire``, the
        caller is driving the program in-process from one wait to the next, and not even
        that read is made when the machine has applied all it committed: should anything
        have been appended meanwhile, the commit's compare-and-set refuses the commit and
        the drive starts over, reading everything.
        """
        cached = self._cache.pop(program_id, None)
        if cached is not None:
            rec, m, timers = cached
            cursor = m.extra.get("cursor", 0)
            if fire and cursor == rec.last_seq:
                return rec, m, [], timers
            news = self.store.events(program_id, after=cursor)
            later = [e for e in news if e.seq > rec.last_seq]
            if all(e.type in INPUT_EVENT_TYPES for e in later):
                if later:
                    rec = replace(rec, last_seq=later[-1].seq, status="ready")
                return rec, m, [e for e in news if e.type in INPUT_EVENT_TYPES], timers
        rec = self.store.get_program(program_id)
        if rec.finished:
            return rec, None, [], None
        m = self.load(rec)
        news = self.store.events(program_id, after=m.extra.get("cursor", 0))
        # A program that never committed a machine has no timers yet.
        timers = {} if rec.last_seq <= 1 and "cursor" not in m.extra else None
        return rec, m, [e for e in news if e.type in INPUT_EVENT_TYPES], timers

    def _drive_once(self, program_id: str, fire: dict[str, float]) -> DriveResult:
        rec, m, inputs, timers = self._resume(program_id, fire)
        if m is None:
            return DriveResult(rec)
        extra = m.extra
        extra.setdefault("keys", {})
        batch = _Batch(rec.last_seq, timers)
        fired = ({str(e.data.get("key")) for e in inputs if e.type == "timer-fired"}
                 if inputs else ())
        for key, due in fire.items():
            # still wanted: not cancelled, and not fired meanwhile by another process
            if key in extra["keys"] and key not in fired:
                data = {"key": key, "due_at": due}
                seq = batch.add("timer-fired", data)
                inputs.append(EventRecord(program_id, seq, "timer-fired", data, self.clock.now()))
                batch.cancel_timers.append(key)
        steps_at_commit = m.steps
        while True:
            if rec.kind == "repl" and m.status == "failed":
                # An error thrown into a REPL input (a failed effect, a timeout, a failed
                # child) answers that input, as a thrown one does: the session goes on.
                finish_repl_input(m, batch.add)
                continue
            if m.status == "failed" or m.status == "aborted":
                if m.status == "failed" and not extra.get("failure_recorded"):
                    return self._finish(rec, m, batch, "failed")
                if m.status == "aborted":
                    return self._finish(rec, m, batch, "aborted")
                if extra.get("cancel"):  # a failed program can be cancelled too
                    return self._finish(rec, m, batch, "cancelled")
                if not self._apply_next(m, inputs, batch):
                    return self._commit(rec, m, batch, "failed")
                continue
            outcome = m.run(1_000_000)
            if isinstance(outcome, OutOfFuel):
                if m.steps - steps_at_commit >= self.checkpoint_steps:
                    done = self._commit(rec, m, batch, "ready")
                    rec = done.program
                    batch = _Batch(rec.last_seq, done.timers)
                    batch.spawned = done.spawned
                    steps_at_commit = m.steps
                continue
            if rec.kind == "repl" and isinstance(outcome, (Done, Failed)):
                finish_repl_input(m, batch.add)
                continue
            if isinstance(outcome, Done):
                return self._finish(rec, m, batch, "done")
            if isinstance(outcome, Failed):
                continue  # recorded at the top of the loop
            assert isinstance(outcome, Suspended)
            for eid in outcome.cancelled:
                key = _key_of(extra["keys"], eid)
                if key is not None:
                    del extra["keys"][key]
                    batch.cancel(key)
            answered = False
            for req in outcome.requests:
                answered = self._request(rec, m, req, batch) or answered
            if answered:
                continue
            if extra.get("cancel"):
                return self._finish(rec, m, batch, "cancelled")
            if not self._apply_next(m, inputs, batch):
                return self._commit(rec, m, batch, "waiting")

    def _request(self, rec: ProgramRecord, m: Machine, req: Request, batch: _Batch) -> bool:
        """Record one effect request; perform it now if it is internal. True if answered."""
        seq = batch.expected_seq + len(batch.events) + 1
        key = str(seq)
        kind = req.kind
        request = batch.requests[req.id] = to_json(req.data)
        if kind in INTERNAL_EFFECTS:
            value = self._perform(rec, m, req, key, batch)
            batch.add("effect", {"key": key, "kind": kind, "request": request,
                                 "value": to_json(value)})
            if kind == "print":
                batch.output.append(req.data[kw("text")])
            m.complete(req.id, value)
            return True
        m.extra["keys"][key] = req.id
        data: dict[str, Any] = {"key": key, "kind": kind, "request": request}
        if kind == "sleep":
            seconds = req.data.get(_SECONDS)
            due = (self.clock.now() + seconds if seconds is not None
                   else float(req.data[_UNTIL]))
            data["due"] = due
            batch.timers.append((key, due))
        elif kind in TASK_EFFECTS:
            batch.tasks.append(NewTask(key, kind, request))
        batch.add("requested", data)
        return False

    def _perform(self, rec: ProgramRecord, m: Machine, req: Request, key: str,
                 batch: _Batch) -> Any:
        kind, data = req.kind, req.data
        if kind == "now":
            return int(self.clock.now() * 1000)
        if kind == "random":
            n = data.get(kw("n"))
            return secrets.randbelow(n) if n is not None else secrets.randbits(53) / (1 << 53)
        if kind == "uuid":
            return str(_uuid.uuid4())
        if kind in ("print", "log"):
            return None
        if kind == "callback":
            token = secrets.token_urlsafe(18)
            batch.callbacks.append((token, key))
            return Map({kw("token"): token, kw("url"): f"{self.callback_url}/callbacks/{token}"})
        if kind == "spawn":
            child = new_program_id()
            fname = data[kw("function")]
            args = {kw("function"): fname, kw("args"): data[kw("args")]}
            if rec.kind == "repl" or m.extra.get("seeded"):
                # Its functions live in the session's globals, not in the code unit.
                args[kw("globals")] = seed_globals(m, self.base.glob)
            batch.programs.append(NewProgram(
                id=child, name=f"{rec.name}/{fname}", kind="child", code_hash=rec.code_hash,
                args=to_json(Map(args)),
                parent_id=rec.id, events=[("started", {"function": fname, "parent": rec.id})]))
            return Map({kw("program"): child})
        raise AssertionError(kind)

    def _apply_next(self, m: Machine, inputs: list[EventRecord], batch: _Batch) -> bool:
        """Apply the next input event to the machine; False when there is none."""
        if not inputs:
            return False
        event = inputs.pop(0)
        m.extra["cursor"] = event.seq
        apply_input(m, event, self.unit)
        return True

    # -- committing ---------------------------------------------------------------------

    def _finish(self, rec: ProgramRecord, m: Machine, batch: _Batch, status: str) -> DriveResult:
        result = error = None
        if status != "failed":
            report_unawaited(m, batch.add)
        if status == "done":
            result = to_json(m.result)
            batch.add("completed", {"value": result})
        elif status == "failed":
            m.extra["failure_recorded"] = True
            error = error_to_json(m.error)
            restarts = ["use-value", "abort"]
            if m.fibers[0].fault is not None:
                restarts.insert(0, "retry")
            batch.add("failed", {"error": error, "restarts": restarts})
        elif status == "aborted":
            error = error_to_json(m.error) if m.error is not None else None
            batch.add("aborted", {"error": error})
        else:
            batch.add("cancelled", {})
        if status in ("cancelled", "aborted"):  # its running children go with it
            reason = f"parent program {rec.id} was {status}"
            for child in self._running_children(rec, batch):
                batch.send.append((child, "cancel-requested", {"reason": reason}))
        if status != "failed":
            batch.cancel_timers.extend(m.extra.get("keys", {}))
            if rec.kind == "child" and rec.parent_id:
                ok = status == "done"
                # cancelled (or aborted with no error): the parent's await says which
                why = error or {"message": f"child program {rec.id} was {status}",
                                "type": status, "data": {}, "trace": []}
                batch.send.append((rec.parent_id, "child-completed",
                                   {"program": rec.id, "ok": ok,
                                    "value": result if ok else why}))
        return self._commit(rec, m, batch, status, result=result, error=error)

    def _running_children(self, rec: ProgramRecord, batch: _Batch) -> list[str]:
        """The program's unfinished children: in the store, and spawned in this batch."""
        kids = [c.id for c in self.store.list_programs(parent_id=rec.id, limit=1_000_000)
                if not c.finished]
        return kids + [p.id for p in batch.programs if p.id not in kids]

    def _commit(self, rec: ProgramRecord, m: Machine, batch: _Batch, status: str,
                result: Any = None, error: Any = None) -> DriveResult:
        if status == "failed" and error is None:
            error = error_to_json(m.error)
        if status == "waiting":
            # Every input up to this commit has been applied (and the compare-and-set
            # guarantees no other arrived meanwhile): the next drive reads only newer
            # events, so resuming does not re-read a long history of outputs.
            m.extra["cursor"] = batch.expected_seq + len(batch.events)
        state = snapshot.encode(m, self.base.glob)
        waiting = describe_waits(m, batch.requests) if status == "waiting" else None
        last_seq = self.store.commit(rec.id, Commit(
            expected_seq=batch.expected_seq, status=status, events=batch.events,
            snapshot=state, snapshot_step=m.steps, result=result, error=error,
            waiting=waiting, new_timers=batch.timers, cancel_timers=batch.cancel_timers,
            new_tasks=batch.tasks, new_callbacks=batch.callbacks, new_programs=batch.programs,
            send=batch.send))
        # The record as this commit left it, without reading it back.
        rec = ProgramRecord(rec.id, rec.name, rec.kind, rec.code_hash, rec.parent_id,
                            rec.parent_step, status, rec.args, result, error, waiting, last_seq,
                            rec.created_at, time.time(), rec.lease_owner, rec.lease_until)
        timers: dict[str, float] | None = None
        if status in FINISHED_STATUSES:
            timers = {}
        elif batch.known_timers is not None:
            keys = m.extra.get("keys", {})
            timers = {key: due for key, due in (*batch.known_timers.items(), *batch.timers)
                      if key in keys}
        if status in ("waiting", "failed", "ready"):
            self._cache[rec.id] = (rec, m, timers)
            if len(self._cache) > _CACHED_MACHINES:  # the one committed longest ago goes
                del self._cache[next(iter(self._cache))]
        if self.on_output is not None:
            for text in batch.output:
                self.on_output(rec.id, text)
        return DriveResult(rec, batch.output, len(batch.events), timers,
                           batch.spawned or bool(batch.programs))


def _key_of(keys: dict[str, int], eid: int) -> str | None:
    for key, value in keys.items():
        if value == eid:
            return key
    return None


def report_unawaited(m: Machine, record: Callable[[str, Any], Any]) -> None:
    """The program ends: record each async fiber that failed with nobody ever awaiting it,
    so its error is not lost. Shared by the executor and replay."""
    for fid in m.extra.pop("unawaited", ()):
        record("unawaited-error", {"fiber": fid, "error": error_to_json(m.fibers[fid].val)})


def finish_repl_input(m: Machine, record: Callable[[str, Any], Any]) -> None:
    """A REPL input ended: record its value or error, shift ``*1 *2 *3`` (or set ``*e``),
    and wait for the next input. Shared by the executor and replay."""
    if m.status == "done":
        if m.extra.get("input") is not None:
            g = m.glob
            g["*3"], g["*2"], g["*1"] = g.get("*2"), g.get("*1"), m.result
            record("evaluated", {"input": m.extra["input"], "value": to_json(m.result)})
    else:
        m.glob["*e"] = m.error
        record("failed", {"input": m.extra.get("input"), "error": error_to_json(m.error)})
    m.extra["input"] = None
    m.go_idle()
    queued = m.extra.get("queued")
    if queued:  # an input that arrived while this one waited runs now
        m.extra["input"], unit = queued.pop(0)
        m.start_eval(unit)


def apply_input(m: Machine, event: EventRecord,
                units: Callable[[str], CodeUnit] | None = None) -> None:
    """Feed one input event of the log to the machine (shared by executor and replay)."""
    data = event.data or {}
    keys = m.extra.setdefault("keys", {})
    t = event.type
    if t in ("effect-completed", "effect-failed", "timer-fired"):
        eid = keys.pop(str(data.get("key")), None)
        if eid is None:
            return  # a late answer to an effect that was cancelled or timed out
        if t == "effect-completed":
            m.complete(eid, from_plain(data.get("value")))
        elif t == "effect-failed":
            m.fail_effect(eid, error_from_json(data.get("error")))
        else:
            m.complete(eid, None)
    elif t == "message":
        m.deliver_message(str(data.get("name")), from_plain(data.get("payload")))
    elif t == "callback":
        m.deliver_callback(str(data.get("token")), from_plain(data.get("value")))
    elif t == "child-completed":
        value = data.get("value")
        if data.get("ok"):
            m.deliver_callback("program:" + str(data.get("program")), from_json(value))
        else:
            m.deliver_callback("program:" + str(data.get("program")),
                               error_from_json(value), error=True)
    elif t == "restart":
        if m.status == "failed":
            how = str(data.get("how"))
            value = from_json(data.get("value")) if "value" in data else None
            try:
                m.restart(how, value)
            except ValueError:
                pass  # "nothing to retry": the program stays failed and says so again
            m.extra["failure_recorded"] = False
    elif t == "cancel-requested":
        m.extra["cancel"] = True
    elif t == "eval" and units is not None:
        unit = units(str(data.get("code_hash")))
        if m.start_eval(unit):
            m.extra["input"] = event.seq
        else:  # an earlier input still waits: this one is evaluated after it
            m.extra.setdefault("queued", []).append([event.seq, unit])


def describe_waits(m: Machine, requests: dict[int, Any] | None = None) -> list[dict[str, Any]]:
    """What the program waits for, for ``flowmetal show`` and the API. ``requests`` has
    the JSON of requests made since the last commit, by effect id: not made twice."""
    out = []
    for fid, kind, key in m.waits():
        item: dict[str, Any] = {"fiber": fid, "kind": kind}
        if kind == "effect":
            entry = m.effects.get(key)
            if entry is not None:
                item["effect"] = entry[2]
                known = requests.get(key) if requests else None
                item["request"] = to_json(entry[3]) if known is None else known
        elif kind in ("message", "callback"):
            item["name" if kind == "message" else "token"] = key
        out.append(item)
    return out


def seed_globals(m: Machine, base_glob: dict[str, Any]) -> str:
    """The program's own globals (and their docs), encoded for a child spawned from a REPL
    session: its functions exist only there. A copy, so atoms are the child's own."""
    seed = Machine(m.glob)
    seed.docs = m.docs
    return base64.b64encode(snapshot.encode(seed, base_glob)).decode("ascii")


def _child_machine(m: Machine, unit: CodeUnit, args: Any,
                   units: Callable[[str], CodeUnit] | None = None) -> Machine:
    """A child program: run the unit's definitions, then call the spawned function (with
    the globals of the session that spawned it, if it was seeded by ``seed_globals``)."""
    from ..lang.machine import CallGlobalK, TopK

    seed = args.get(kw("globals"))
    if seed is not None and units is not None:
        seeded = snapshot.decode(base64.b64decode(seed), m.glob, units)
        m.glob, m.docs = seeded.glob, seeded.docs
        m.extra["seeded"] = True

    fiber = m.fibers[0]
    fiber.stack = [CallGlobalK(args[kw("function")], list(args[kw("args")])),
                   TopK(unit, 0, None)]
    return m
