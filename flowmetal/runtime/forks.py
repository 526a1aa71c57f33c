"""Forks: what-if runs that branch off a recorded program, never touching it.

A fork is a NEW program in the same store (``kind="fork"``, ``parent_id`` and
``parent_step`` set) whose log is a copy of its parent's log up to a *wait point* (a moment
where the quiescent program took its next input, see ``timeline.WaitPoint``) followed by a
different input: a mock event injected there, or a recorded input with another payload.
With the log comes a snapshot of the machine at that point, so the ordinary executor
resumes the fork from there and applies the new input, and ``replay`` of the fork's whole
log reproduces it like any run.

A fork must not reach the outside world. ``drive_fork`` drives it through a store wrapper
that drops what a commit would ask of the outside (outbox tasks, timers, callbacks, child
programs), and answers what the fork then waits for from ``mocks`` (a JSON map you edit),
or stops at the first wait no mock answers. Forks are created leased to
``flowmetal-debugger`` for years, so no ``flowmetal worker`` ever picks one up.

Mocks, by what the fork waits for (first match wins)::

    {"http": {"status": 200, "json": {"ok": true}},     every http effect
     "call:charge": {"id": "ch_1"}, "call": 42,          a foreign call (by name, or any)
     "message:approval": {"ok": true},                   a receive of that name
     "callback": {"paid": true}, "child": {...},         callbacks, spawned children
     "restart": "retry",                                 a failed program: retry|abort|
                                                         {"use-value": V}
     "sleep": true}                                      fire due timers (the default)

A value ``{"!fail": {"message": "boom"}}`` fails the effect instead.

Example::

    tl = Timeline(ro_store, pid); tl.build()
    wait = tl.waits[-1]                       # where the program waits now
    fid = fork_at(tl, rw_store, wait, ("message", {"name": "approval", "payload": {"ok": 1}}))
    print(drive_fork(rw_store, fid, {"http": {"status": 200}}).stopped)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..lang import snapshot
from ..lang.data import kw
from ..lang.machine import Machine
from ..store.contract import Commit, Store
from .clock import VirtualClock
from .codec import from_json, to_json
from .executor import Executor, new_program_id
from .timeline import Timeline, WaitPoint, _Diverged, _Stop

__all__ = [
    "ForkError",
    "ForkResult",
    "Target",
    "fork_at",
    "replace_input",
    "drive_fork",
    "targets_of",
    "FORK_LEASE_OWNER",
]

FORK_LEASE_OWNER = "flowmetal-debugger"
_FORK_LEASE_SECONDS = 10 * 365 * 86400.0  # a fork is driven only by the debugger
_NO_MOCK = object()


class ForkError(Exception):
    """A fork can't be made here (not a wait point, a child or REPL program...)."""


@dataclass(frozen=True)
class Target:
    """Something a waiting program can be given: the input event type and a template of
    its data, with ``value`` (or ``payload``) to fill in."""

    label: str
    type: str
    data: dict[str, Any]
    mock_keys: tuple[str, ...] = ()
    due: float | None = None

    def fill(self, value: Any) -> tuple[str, dict[str, Any]]:
        """The input event giving ``value`` to this target."""
        data = dict(self.data)
        if self.type in ("effect-completed",) and isinstance(value, dict) \
                and set(value) == {"!fail"}:
            return "effect-failed", {"key": data["key"], "error": value["!fail"]}
        if self.type == "message":
            data["payload"] = value
        elif self.type == "restart":
            if isinstance(value, dict) and "use-value" in value:
                data = {"how": "use-value", "value": value["use-value"]}
            else:
                data = {"how": str(value or "retry")}
        elif self.type == "child-completed":
            data["value"] = to_json(from_json(value)) if value is not None else None
        elif self.type != "timer-fired":
            data["value"] = value
        return self.type, data


@dataclass
class ForkResult:
    """How far ``drive_fork`` got: the fork's status and why it stopped."""

    program_id: str
    status: str
    stopped: str
    answered: list[str] = field(default_factory=list)


def targets_of(m: Machine, events: list[Any] | None = None) -> list[Target]:
    """What a quiescent machine waits for, as injectable inputs (first the effects and
    messages, then timers; a failed program offers its restarts)."""
    out: list[Target] = []
    if m.status == "failed":
        out.append(Target("restart (retry | abort | use-value)", "restart", {"how": "retry"},
                          ("restart",)))
        return out
    dues: dict[str, float] = {}
    for e in events or ():
        if e.type == "requested" and isinstance(e.data, dict) and "due" in e.data:
            dues[str(e.data.get("key"))] = e.data["due"]
    timers: list[Target] = []
    for key, eid in sorted(m.extra.get("keys", {}).items(), key=lambda kv: int(kv[0])
                           if str(kv[0]).isdigit() else 0):
        entry = m.effects.get(eid)
        if entry is None:
            continue
        _fiber, purpose, kind, data = entry
        if kind == "sleep":
            due = dues.get(str(key))
            what = "timeout" if purpose == "timeout" else "sleep"
            timers.append(Target(f"timer {key} ({what})", "timer-fired",
                                 {"key": str(key), "due_at": due}, ("sleep",), due))
            continue
        name = data.get(kw("name")) if hasattr(data, "get") else None
        keys = tuple(k for k in (f"{kind}:{name}" if name else None, kind) if k)
        req = to_json(data)
        out.append(Target(f"effect {key}: {kind} {_brief(req)}", "effect-completed",
                          {"key": str(key)}, keys))
    for name in m.message_waiters:
        out.append(Target(f"message {name!r}", "message", {"name": name},
                          (f"message:{name}", "message")))
    for token in m.callback_waiters:
        if token.startswith("program:"):
            out.append(Target(f"child {token[8:]}", "child-completed",
                              {"program": token[8:], "ok": True}, ("child",)))
        else:
            out.append(Target(f"callback {token[:16]}", "callback", {"token": token},
                              ("callback",)))
    return out + sorted(timers, key=lambda t: (t.due is None, t.due or 0))


def _brief(value: Any, limit: int = 50) -> str:
    import json

    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def machine_at_wait(tl: Timeline, wait: WaitPoint) -> Machine:
    """The machine exactly at ``wait``: quiescent, before the input taken there."""
    with tl._lock:
        usable = [c for c in tl.checkpoints
                  if c.step <= wait.step and c.in_i <= wait.in_i and c.out_i <= wait.out_i]
        cp = usable[-1] if usable else tl.checkpoints[0]
        r = tl._replayer()
        r.m = snapshot.decode(cp.blob, tl.executor.base.glob, tl.executor.unit)
        r.out_i, r.in_i = cp.out_i, cp.in_i
        r.stop_before = wait.seq
        try:
            while r.advance():
                pass
        except (_Stop, _Diverged):
            pass
        return r.m


def fork_at(tl: Timeline, store: Store, wait: WaitPoint,
            event: tuple[str, dict[str, Any]] | None, *, name: str | None = None,
            program_id: str | None = None) -> str:
    """Create a fork of ``tl``'s program at ``wait`` whose next input is ``event``.

    :param store: a WRITABLE connection to the same store file (the timeline's may be
        read-only).
    :returns: the fork's program id. Nothing of the parent is written.
    """
    rec = tl.rec
    if rec.kind in ("child", "repl"):
        raise ForkError(f"can't fork a {rec.kind} program: its replay needs its parent "
                        "session; fork the program that started it")
    if not wait.prefix_ok:
        raise ForkError(f"step {wait.step} is not a clean wait point (events were handled "
                        "out of log order there); pick another")
    m = machine_at_wait(tl, wait)
    limit = wait.seq if wait.seq is not None else tl.events[-1].seq + 1
    events: list[tuple[str, Any]] = [(e.type, e.data) for e in tl.events if e.seq < limit]
    if event is not None:
        events.append(event)
    fid = program_id or new_program_id()
    try:
        store.get_code(tl.code_hash)
    except Exception:  # noqa: BLE001 - another store file: bring the code along
        code = tl.store.get_code(tl.code_hash)
        store.put_code(code.hash, code.source_name, code.source, code.unit)
    store.create_program(
        fid, name=name or f"{rec.name}@{wait.step}", kind="fork", code_hash=tl.code_hash,
        args=rec.args, parent_id=rec.id, parent_step=wait.step, events=events,
        lease_owner=FORK_LEASE_OWNER, lease_seconds=_FORK_LEASE_SECONDS)
    store.commit(fid, Commit(expected_seq=len(events), status="ready",
                             snapshot=snapshot.encode(m, tl.executor.base.glob),
                             snapshot_step=m.steps))
    return fid


def replace_input(tl: Timeline, store: Store, seq: int, data: dict[str, Any], *,
                  name: str | None = None, program_id: str | None = None) -> str:
    """Fork at the recorded input ``seq``, giving ``data`` in its place."""
    event = next((e for e in tl.events if e.seq == seq), None)
    if event is None:
        raise ForkError(f"no event {seq}")
    wait = next((w for w in tl.waits if w.seq == seq), None)
    if wait is None:
        raise ForkError(f"event {seq} ({event.type}) is not an input the program took at a "
                        "wait point; only inputs can be replaced")
    return fork_at(tl, store, wait, (event.type, data), name=name, program_id=program_id)


class _Contained:
    """A store whose commits reach nothing outside the program: no tasks for connectors,
    no timers for workers, no callback URLs, no child programs, no messages to others."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def commit(self, program_id: str, c: Commit) -> int:
        return self._store.commit(program_id, dataclasses.replace(
            c, new_tasks=(), new_timers=(), new_callbacks=(), new_programs=(), send=()))


def _mock_for(mocks: dict[str, Any], target: Target) -> Any:
    for key in target.mock_keys:
        if key in mocks:
            return mocks[key]
    return _NO_MOCK


def _start_time(events: list[Any]) -> float:
    t = 0.0
    for e in events:
        data = e.data if isinstance(e.data, dict) else {}
        if e.type == "timer-fired" and isinstance(data.get("due_at"), (int, float)):
            t = max(t, float(data["due_at"]))
        if e.type == "effect" and data.get("kind") == "now" and isinstance(
                data.get("value"), (int, float)):
            t = max(t, data["value"] / 1000.0)
    return t or (events[-1].at if events else 0.0)


def drive_fork(store: Store, program_id: str, mocks: dict[str, Any] | None = None, *,
               max_rounds: int = 100) -> ForkResult:
    """Drive a fork, answering its waits from ``mocks``; stop at the first unanswered one.

    Due timers fire (in virtual time) unless ``mocks["sleep"]`` is false. The outcome
    says where it stopped: finished, failed with no ``restart`` mock, or waiting.
    """
    mocks = dict(mocks or {})
    contained = _Contained(store)
    events = store.events(program_id)
    clock = VirtualClock(start=_start_time(events))
    ex = Executor(contained, clock=clock)  # type: ignore[arg-type]
    answered: list[str] = []
    rec = store.get_program(program_id)
    for _ in range(max_rounds):
        rec = ex.drive(program_id).program
        if rec.finished:
            return ForkResult(program_id, rec.status, f"the fork {rec.status}", answered)
        m = ex.load(rec)
        targets = targets_of(m, store.events(program_id))
        chosen = None
        for t in targets:
            if t.type == "timer-fired":
                continue
            value = _mock_for(mocks, t)
            if value is not _NO_MOCK:
                chosen = t.fill(value)
                answered.append(t.label)
                break
        if chosen is None and mocks.get("sleep", True):
            timers = [t for t in targets if t.type == "timer-fired"]
            if timers:
                t = timers[0]
                if t.due is not None:
                    clock.advance_to(t.due)
                chosen = t.fill(None)
                answered.append(t.label)
        if chosen is None:
            waits = ", ".join(t.label for t in targets) or "nothing it can be given"
            if rec.status == "failed":
                err = (rec.error or {}).get("message", "an error")
                why = f"the fork failed ({err}); give it a restart mock to go on"
            else:
                why = f"the fork waits for {waits}"
            return ForkResult(program_id, rec.status, f"stopped: {why}", answered)
        store.append_input(program_id, chosen[0], chosen[1])
    return ForkResult(program_id, rec.status, f"stopped after {max_rounds} rounds", answered)
