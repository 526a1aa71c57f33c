"""Forks: what-if runs that branch off a recorded program, never touching it.

A fork is a NEW program in the same store (``kind="fork"``, ``parent_id`` and
``parent_step`` set) whose log is a copy of its parent's log up to a *wait point* (a moment
where the quiescent program took its next input, see ``timeline.WaitPoint``) followed by a
different input: a mock event injected there, or a recorded input with another payload
(a sleep's timer may carry a value for the sleep to return). Or the copy stops at the
answer to an internal effect (``now``, ``random``, ``uuid``), given another value. With
the log comes a snapshot of the machine at that point, so the ordinary executor resumes
the fork from there, and ``replay`` of the fork's whole log reproduces it like any run.

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
from ..store.contract import Commit, EventRecord, Store
from .clock import VirtualClock
from .codec import from_json, from_plain, to_json
from .executor import Executor, new_program_id
from .timeline import Timeline, WaitPoint, _Diverged, _Stop, _TimelineReplayer

__all__ = [
    "ForkError",
    "ForkResult",
    "Target",
    "fork_at",
    "replace_input",
    "drive_fork",
    "targets_of",
    "FORK_LEASE_OWNER",
    "FORK_LEASE_SECONDS",
    "REPLACEABLE_EFFECTS",
    "check_replacement",
]

FORK_LEASE_OWNER = "flowmetal-debugger"
FORK_LEASE_SECONDS = 10 * 365 * 86400.0  # a fork is driven only by the debugger
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
    timeout: bool = False

    def fill(self, value: Any) -> tuple[str, dict[str, Any]]:
        """The input event giving ``value`` to this target. A sleep's timer fires for
        ``null``; another value completes the sleep with it (``!fail`` fails it)."""
        data = dict(self.data)
        if self.type == "timer-fired" and (value is None or self.timeout):
            return self.type, data
        if self.type in ("effect-completed", "timer-fired") and isinstance(value, dict) \
                and set(value) == {"!fail"}:
            return "effect-failed", {"key": data["key"], "error": value["!fail"]}
        if self.type == "timer-fired":
            return "effect-completed", {"key": data["key"], "value": value}
        if self.type == "message":
            data["payload"] = value
        elif self.type == "restart":
            if isinstance(value, dict) and "use-value" in value:
                data = {"how": "use-value", "value": value["use-value"]}
            else:
                data = {"how": str(value or "retry")}
        elif self.type == "child-completed":
            data["value"] = to_json(from_json(value)) if value is not None else None
        else:
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
                                 {"key": str(key), "due_at": due}, ("sleep",), due,
                                 timeout=purpose == "timeout"))
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

    A ``timer-fired`` event with a ``value`` (or an ``error``) completes (fails) the sleep
    with it instead of just firing it.

    :param store: a WRITABLE connection to the same store (the timeline's may be
        read-only).
    :returns: the fork's program id. Nothing of the parent is written.
    """
    _check_forkable(tl)
    if not wait.prefix_ok:
        raise ForkError(f"step {wait.step} is not a clean wait point (events were handled "
                        "out of log order there); pick another")
    m = machine_at_wait(tl, wait)
    limit = wait.seq if wait.seq is not None else tl.events[-1].seq + 1
    events: list[tuple[str, Any]] = [(e.type, e.data) for e in tl.events if e.seq < limit]
    if event is not None:
        events.append(_sleep_answer(m, event))
    return _create_fork(tl, store, m, events, name=name, program_id=program_id)


def _check_forkable(tl: Timeline) -> None:
    if tl.rec.kind in ("child", "repl"):
        raise ForkError(f"can't fork a {tl.rec.kind} program: its replay needs its parent "
                        "session; fork the program that started it")


def _sleep_answer(m: Machine, event: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """A ``timer-fired`` carrying ``value`` or ``error``: the sleep's completion or failure
    (a timeout can only fire: what it guards gets its default or an error)."""
    type_, data = event
    if type_ != "timer-fired" or not ("value" in data or "error" in data):
        return event
    eid = m.extra.get("keys", {}).get(str(data.get("key")))
    entry = m.effects.get(eid) if eid is not None else None
    if entry is None:
        raise ForkError(f"timer {data.get('key')} is not pending here")
    if entry[1] == "timeout":
        raise ForkError(f"timer {data.get('key')} is a timeout: it can only fire (drop "
                        "\"value\" and \"error\")")
    if "error" in data:
        return "effect-failed", {"key": str(data["key"]), "error": data["error"]}
    return "effect-completed", {"key": str(data["key"]), "value": data["value"]}


def _create_fork(tl: Timeline, store: Store, m: Machine, events: list[tuple[str, Any]], *,
                 name: str | None, program_id: str | None) -> str:
    """Write the fork: ``events`` as its log and ``m`` as its first snapshot."""
    rec = tl.rec
    fid = program_id or new_program_id()
    try:
        store.get_code(tl.code_hash)
    except Exception:  # noqa: BLE001 - another store: bring the code along
        code = tl.store.get_code(tl.code_hash)
        store.put_code(code.hash, code.source_name, code.source, code.unit)
    store.create_program(
        fid, name=name or f"{rec.name}@{m.steps}", kind="fork", code_hash=tl.code_hash,
        args=rec.args, parent_id=rec.id, parent_step=m.steps, events=events,
        lease_owner=FORK_LEASE_OWNER, lease_seconds=FORK_LEASE_SECONDS)
    store.commit(fid, Commit(expected_seq=len(events), status="ready",
                             snapshot=snapshot.encode(m, tl.executor.base.glob),
                             snapshot_step=m.steps))
    return fid


REPLACEABLE_EFFECTS = frozenset({"now", "random", "uuid"})
"""Internal effects whose recorded value a fork can replace. ``print`` and ``log`` answer
nil; a ``callback``'s token and a ``spawn``'s child id name things outside the fork."""

_KEYED_INPUTS = ("effect-completed", "effect-failed", "timer-fired")


def check_replacement(type_: str, recorded: Any, data: Any) -> str | None:
    """Why ``data`` can't replace a recorded event of ``type_`` with data ``recorded``
    (None if it can): checked as the user types in the debugger."""
    if not isinstance(data, dict):
        return "the event's data must be a JSON object"
    recorded = recorded if isinstance(recorded, dict) else {}
    if type_ == "effect":
        kind = recorded.get("kind")
        if kind not in REPLACEABLE_EFFECTS:
            return (f"a {kind} effect can't be replaced; only the value of "
                    f"{', '.join(sorted(REPLACEABLE_EFFECTS))}")
        for k in ("key", "kind", "request"):
            if data.get(k) != recorded.get(k):
                return f"only the value can change, not {k!r}"
        if "value" not in data:
            return "give the effect a \"value\""
        return _value_error(kind, recorded.get("request"), data["value"])
    if type_ in _KEYED_INPUTS and str(data.get("key")) != str(recorded.get("key")):
        return "the key says which effect this answers: keep it"
    return None


def _value_error(kind: str, request: Any, value: Any) -> str | None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "now" and not (number and float(value).is_integer()):
        return "now is an integer: milliseconds since 1970"
    if kind == "random" and isinstance(request, dict) and request.get(":n") is not None:
        if not (number and float(value).is_integer()):
            return f"(random {request[':n']}) is an integer"
    elif kind == "random" and not number:
        return "random is a number"
    if kind == "uuid" and not isinstance(value, str):
        return "uuid is a string"
    return None


def replace_input(tl: Timeline, store: Store, seq: int, data: dict[str, Any], *,
                  name: str | None = None, program_id: str | None = None) -> str:
    """Fork at the recorded event ``seq``, giving ``data`` in its place.

    ``seq`` is an input the program took at a wait point (a completion, a message, a
    callback, a timer, a restart), or the answer to an internal effect (``now``,
    ``random``, ``uuid``): the fork's log is the parent's up to there, then ``data``.
    """
    event = next((e for e in tl.events if e.seq == seq), None)
    if event is None:
        raise ForkError(f"no event {seq}")
    problem = check_replacement(event.type, event.data, data)
    if problem is not None:
        raise ForkError(f"event {seq} ({event.type}): {problem}")
    if event.type == "effect":
        return _fork_at_effect(tl, store, event, data["value"], name=name,
                               program_id=program_id)
    wait = next((w for w in tl.waits if w.seq == seq), None)
    if wait is None:
        raise ForkError(f"event {seq} ({event.type}) is not an input the program took at a "
                        "wait point, nor a now, random or uuid answer; it can't be replaced")
    return fork_at(tl, store, wait, (event.type, data), name=name, program_id=program_id)


def _fork_at_effect(tl: Timeline, store: Store, event: EventRecord, value: Any, *,
                    name: str | None, program_id: str | None) -> str:
    """A fork whose log answers the internal effect ``event`` with ``value`` (plain JSON)."""
    _check_forkable(tl)
    data = {**event.data, "value": to_json(from_plain(value))}
    m, last = machine_after_effect(tl, event.seq, data)
    events = [(e.type, data if e.seq == event.seq else e.data)
              for e in tl.events if e.seq <= last]
    return _create_fork(tl, store, m, events, name=name, program_id=program_id)


def machine_after_effect(tl: Timeline, seq: int, data: dict[str, Any]) -> tuple[Machine, int]:
    """The machine just after the internal effect recorded at ``seq`` was answered as in
    ``data`` (and the other requests of its turn were handled), and the last seq of the
    log that state has consumed."""
    with tl._lock:
        events = [dataclasses.replace(e, data=data) if e.seq == seq else e
                  for e in tl.events]
        r = _TimelineReplayer(tl.executor, tl.rec, events, tl.unit, tl._applied)
        index = next((i for i, e in enumerate(r.outputs) if e.seq == seq), None)
        if index is None:
            raise ForkError(f"event {seq} is not an effect of this run")
        usable = [c for c in tl.checkpoints if c.out_i <= index]
        cp = usable[-1] if usable else tl.checkpoints[0]
        r.m = snapshot.decode(cp.blob, tl.executor.base.glob, tl.executor.unit)
        r.out_i, r.in_i = cp.out_i, cp.in_i
        try:
            while r.out_i <= index and r.advance():
                pass
        except _Diverged as d:
            raise ForkError(f"the run does not replay up to event {seq}: "
                            f"{d.divergence.message}") from None
        if r.out_i <= index:
            raise ForkError(f"the replay never reached event {seq}")
        last = r.outputs[r.out_i - 1].seq
        if r.in_i:
            last = max(last, r.inputs[r.in_i - 1].seq)
        return r.m, last


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
