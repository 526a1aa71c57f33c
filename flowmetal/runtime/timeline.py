"""Time travel over a recorded program: the machine as it was at any step.

The debugger's engine. ``Timeline(store, program_id).build()`` replays the program once
from its start, exactly as ``replay`` does (it *is* replay's loop, ``_Replayer.advance``),
and on the way:

- keeps an in-memory **checkpoint** (an encoded snapshot plus the replay's cursors) every
  ``checkpoint_every`` steps, so rebuilding any step later costs one snapshot decode and at
  most ``checkpoint_every`` steps of re-execution;
- maps every **event** of the log to the step at which the replay produced or applied it
  (the timeline's markers);
- notes every **wait point**: a moment where the program, quiescent, took its next input
  from the log (or would, at the end). A fork can start there (see ``forks``).

Then ``machine_at(step)`` rebuilds a private machine (nobody else holds it: look, evaluate,
even mutate) and ``view(step)`` describes it for a front end: fibers, their frames with
function names and ``file:line``, the bindings of each frame by name, the value being
returned, the output so far. ``find_*`` methods scan the run for the next (or previous) step
where something holds: a deeper or shallower stack (step over/out), a source line, a
condition, a change of a watch expression. ``evaluate`` runs an expression in the
environment of any frame of any step, on a scratch copy, with effects refused.

"State at step N" means: N machine steps taken, and every event the runtime handled before
taking step N+1 handled (answers to internal effects, inputs applied). So an event marked at
step N is already reflected in the state shown at step N.

Example::

    tl = Timeline(open_store("run.db", read_only=True), "p-1a2b3c")
    tl.build()
    view = tl.view(12_345)
    print(view.fibers[0].frames[0].where, tl.output_until(12_345))
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..lang import nodes as N
from ..lang import snapshot
from ..lang.base import load, new_machine
from ..lang.core.registry import Builtin
from ..lang.data import Atom, Keyword, List, Map, Set, Span, Transient, Vector, kw
from ..lang.errors import ExInfo, FlowmetalError, fail
from ..lang.functions import Closure
from ..lang.machine import EVAL, RETURN, THROW, Done, Failed, Machine, OutOfFuel, Suspended
from ..lang.printer import pr_str
from ..store.contract import INPUT_EVENT_TYPES, EventRecord, Store
from .codec import from_json
from .executor import Executor
from .replay import Divergence, _Diverged, _Replayer, code_hash_of

__all__ = [
    "Timeline",
    "Mark",
    "WaitPoint",
    "StepView",
    "FiberView",
    "FrameView",
    "ScopeView",
    "EvalResult",
    "ScanCancelled",
    "DEFAULT_CHECKPOINT_EVERY",
    "event_category",
    "summarize_event",
]

DEFAULT_CHECKPOINT_EVERY = 5_000
"""Steps between in-memory checkpoints: the most re-execution showing any step costs.
At about a million steps a second, 5,000 steps take a few milliseconds; the snapshots of a
1,000,000-step run take a few megabytes (see ``benchmarks/debugger_bench.py``)."""

_MODE_NAMES = {EVAL: "eval", RETURN: "return", THROW: "throw"}
_EVAL_FUEL = 1_000_000
_COMPILE_LOCK = threading.Lock()
_MAX_SPACING = 200_000  # compiling resets the reader's gensym counter


class ScanCancelled(Exception):
    """A scan (``find_*``) was stopped by its ``should_stop`` callback."""


# -- what the timeline knows about each event --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mark:
    """One event of the log, placed on the timeline at ``step``.

    ``applied`` is False for an input the live run had not applied yet (it sits at the
    last step) and for events the replay never reached (after a divergence).
    """

    index: int
    seq: int
    type: str
    data: Any
    at: float
    step: int
    applied: bool
    category: str

    @property
    def kind(self) -> str | None:
        """The effect kind (``http``, ``sleep``, ``print``...) for effect events."""
        data = self.data
        return data.get("kind") if isinstance(data, dict) else None

    @property
    def is_effect(self) -> bool:
        return self.type in ("requested", "effect") and self.kind not in ("print", "log")

    def summary(self) -> str:
        return summarize_event(self.type, self.data)


@dataclass(frozen=True, slots=True)
class WaitPoint:
    """A moment where the quiescent program took its next input from the log.

    ``seq`` is that input's seq (``None`` at the end of the log: the program waits, failed
    or finished there). Events before ``seq`` had all been handled (``prefix_ok``) in the
    usual case, so a fork can copy them and give a different input instead.
    """

    step: int
    seq: int | None
    out_i: int
    in_i: int
    prefix_ok: bool


def event_category(type_: str, data: Any) -> str:
    """The marker class of an event: effect, output, message, timer, error, done, input."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if type_ in ("failed", "effect-failed", "aborted"):
        return "error"
    if type_ in ("completed", "cancelled", "evaluated"):
        return "done"
    if type_ == "effect" and kind in ("print", "log"):
        return "output"
    if type_ in ("timer-fired",) or (type_ == "requested" and kind == "sleep"):
        return "timer"
    if type_ in ("message", "callback", "child-completed", "eval"):
        return "message"
    if type_ in ("requested", "effect", "effect-completed"):
        return "effect"
    if type_ in ("restart", "cancel-requested", "upgraded"):
        return "control"
    return "other"


def summarize_event(type_: str, data: Any) -> str:
    """One line describing an event, for lists."""
    if not isinstance(data, dict):
        return type_
    kind = data.get("kind")
    if type_ in ("effect", "requested"):
        req = data.get("request")
        if kind == "print" and isinstance(req, dict):
            text = str(req.get(":text", "")).rstrip("\n")
            return f"print {text[:60]!r}"
        if kind == "log" and isinstance(req, dict):
            return f"log {str(req.get(':message', ''))[:60]!r}"
        detail = _short_json(req)
        if type_ == "effect":
            return f"{kind} {detail} => {_short_json(data.get('value'))}"
        return f"{kind} {detail}"
    if type_ == "message":
        return f"message {data.get('name')!r} {_short_json(data.get('payload'))}"
    if type_ in ("effect-completed", "callback"):
        return f"key {data.get('key')} => {_short_json(data.get('value'))}"
    if type_ == "effect-failed":
        err = data.get("error")
        msg = err.get("message") if isinstance(err, dict) else err
        return f"key {data.get('key')} failed: {msg}"
    if type_ == "timer-fired":
        return f"key {data.get('key')}"
    if type_ == "failed":
        err = data.get("error") or {}
        return f"{err.get('type', 'error')}: {err.get('message', '')}"
    if type_ == "completed":
        return f"=> {_short_json(data.get('value'))}"
    if type_ == "restart":
        return f"{data.get('how')} {_short_json(data.get('value')) if 'value' in data else ''}"
    return _short_json(data)


def _short_json(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- what a front end shows for one step ---------------------------------------------------------


@dataclass(slots=True)
class ScopeView:
    """One level of a frame's environment: a ``let``, a function's parameters, a catch."""

    label: str
    items: list[tuple[str, Any]]


@dataclass(slots=True)
class FrameView:
    """One frame of a fiber's continuation, innermost first; frame 0 is the registers.

    ``kind`` is the frame's kind (``call``, ``let``, ``if``...) or, for the registers,
    what the fiber does now (``eval``, ``return``, ``throw``, ``wait``).
    """

    kind: str
    fn_name: str | None
    span: Span | None
    node: Any
    env: list | None
    scope: _Scope | None

    @property
    def where(self) -> str:
        if self.span is None:
            return ""
        return f"{self.span.source}:{self.span.line}"


@dataclass(slots=True)
class FiberView:
    id: int
    status: str
    wait: str | None
    current: bool
    frames: list[FrameView]
    value: Any = None
    mode: str = ""


@dataclass(slots=True)
class StepView:
    """Everything shown at one step. It holds a private machine: reading it is safe."""

    step: int
    total: int
    status: str
    fibers: list[FiberView]
    machine: Machine
    event_index: int | None
    output: list[str] = field(default_factory=list)
    globals: list[tuple[str, Any]] = field(default_factory=list)

    def fiber(self, fid: int | None = None) -> FiberView | None:
        if not self.fibers:
            return None
        if fid is None:
            return next((f for f in self.fibers if f.current), self.fibers[0])
        return next((f for f in self.fibers if f.id == fid), None)

    def scopes(self, fid: int | None, frame: int) -> list[ScopeView]:
        """The bindings visible in frame ``frame`` of fiber ``fid``, innermost first."""
        fv = self.fiber(fid)
        if fv is None or not 0 <= frame < len(fv.frames):
            return []
        f = fv.frames[frame]
        return scopes_of(f.scope, f.env)


@dataclass(slots=True)
class EvalResult:
    """What ``evaluate`` gave: a value (and its printed form) or an error message."""

    ok: bool
    value: Any
    text: str


# -- lexical scopes, recovered from the compiled code ------------------------------------------


class _Scope:
    """The names of one environment frame, and the enclosing scope."""

    __slots__ = ("label", "names", "parent")

    def __init__(self, label: str, names: tuple[str, ...], parent: _Scope | None) -> None:
        self.label, self.names, self.parent = label, names, parent


class _UnitScopes:
    """For each node of a unit: the scope it is evaluated in (and, for ``let``/``loop``,
    the scope of its own frame, which is the env its ``LetK`` frames hold)."""

    def __init__(self, unit: N.CodeUnit) -> None:
        self.at: dict[int, _Scope | None] = {}
        self.inside: dict[int, _Scope] = {}
        todo: list[tuple[Any, _Scope | None]] = [(n, None) for n in unit.toplevel]
        while todo:
            node, scope = todo.pop()
            if node is None:
                continue
            self.at[node.id] = scope
            t = type(node)
            if t is N.If:
                todo += [(node.test, scope), (node.then, scope), (node.else_, scope)]
            elif t is N.Do:
                todo += [(x, scope) for x in node.body]
            elif t is N.Def:
                todo.append((node.init, scope))
            elif t is N.Fn:
                outer = scope
                if node.self_slot:
                    outer = _Scope(f"fn {node.name}", (node.name or "fn",), scope)
                arities = list(node.fixed.values())
                if node.variadic is not None:
                    arities.append(node.variadic)
                for arity in arities:
                    label = f"{node.name or 'fn'} {arity.params_text}"
                    todo.append((arity.body, _Scope(label, tuple(arity.names), outer)))
            elif isinstance(node, N.Let):
                label = "loop" if t is N.Loop else "let"
                inner = _Scope(label, tuple(getattr(node, "names", ()) or ()), scope)
                self.inside[node.id] = inner
                todo += [(x, inner) for x in node.inits]
                todo.append((node.body, inner))
            elif t is N.Recur:
                todo += [(x, scope) for x in node.args]
            elif t is N.Call:
                todo += [(x, scope) for x in node.parts]
            elif t is N.Try:
                todo.append((node.body, scope))
                if node.catch_body is not None:
                    name = getattr(node, "catch_name", None) or "e"
                    todo.append((node.catch_body, _Scope("catch", (name,), scope)))
                todo.append((node.finally_body, scope))
            elif t is N.Throw:
                todo.append((node.expr, scope))


def scopes_of(scope: _Scope | None, env: list | None) -> list[ScopeView]:
    """Walk an environment chain alongside its scopes; innermost first.

    Slots a scope does not name (or a chain that does not match, which would be a bug)
    show as ``slot1``, ``slot2``... rather than failing.
    """
    out: list[ScopeView] = []
    guard = 0
    while env is not None and guard < 10_000:
        guard += 1
        values = env[1:] if type(env) is list else []
        if scope is not None and len(scope.names) == len(values):
            names = list(scope.names)
            label = scope.label
        else:
            if not values:
                break
            names = [f"slot{i + 1}" for i in range(len(values))]
            label = scope.label + " (?)" if scope is not None else "frame"
        if values:
            out.append(ScopeView(label, list(zip(names, values))))
        env = env[0] if type(env) is list and env else None
        scope = scope.parent if scope is not None else None
    return out


def bound_names(scope: _Scope | None, env: list | None) -> list[tuple[str, Any]]:
    """The local names visible at a point, innermost binding of each name only."""
    seen: dict[str, Any] = {}
    for level in scopes_of(scope, env):
        for name, value in reversed(level.items):
            if name not in seen and not name.startswith("slot"):
                seen[name] = value
    return list(seen.items())


# -- the replay loop, with marks and stops -------------------------------------------------------


class _Stop(Exception):
    """Raised inside the replay to stop just before an input is applied."""


class _TimelineReplayer(_Replayer):
    """Replay's own loop, noting the step of every event (while building) and able to stop
    just before a given input is applied (to take a fork's snapshot)."""

    recording: dict[int, int] | None = None
    waits: list[WaitPoint] | None = None
    stop_before: int | None = None
    tl: Timeline | None = None

    def expect(self, types: tuple[str, ...], replayed: Any, where: str | None) -> EventRecord:
        e = super().expect(types, replayed, where)
        if self.recording is not None:
            self.recording[e.seq] = self.m.steps
        return e

    def next_input(self) -> bool:
        nxt = self.inputs[self.in_i] if self.in_i < len(self.inputs) else None
        if self.stop_before is not None and nxt is not None and nxt.seq == self.stop_before:
            raise _Stop
        if self.waits is not None and self.tl is not None:
            self.waits.append(self.tl._wait_point(self, nxt.seq if nxt else None))
        ok = super().next_input()
        if ok and self.recording is not None:
            self.recording[nxt.seq] = self.m.steps
        return ok


def _ready(m: Machine) -> bool:
    """Would ``run`` take a step now (rather than report done, failed or suspended)?"""
    if m.status not in ("run", "idle"):
        return False
    if m.fiber is not None:
        return True
    fibers = m.fibers
    return any(fibers.get(fid) is not None and fibers[fid].status == "run" for fid in m.runq)


@dataclass(slots=True)
class _Checkpoint:
    step: int
    blob: bytes
    out_i: int
    in_i: int
    checked: int


# -- the timeline --------------------------------------------------------------------------------


class Timeline:
    """Every step of one recorded program, rebuilt on demand.

    :param store: the store holding the program (read-only is enough).
    :param checkpoint_every: steps between in-memory checkpoints.
    :param executor: where compiled code comes from (one is made if not given).

    Thread-safe: the methods that replay take a lock, so a front end can call them from
    worker threads.
    """

    def __init__(self, store: Store, program_id: str, *, checkpoint_every: int =
                 DEFAULT_CHECKPOINT_EVERY, executor: Executor | None = None) -> None:
        self.store = store
        self.program_id = program_id
        self.checkpoint_every = max(1, checkpoint_every)
        self.executor = executor or Executor(store)
        self.rec = store.get_program(program_id)
        self.events: list[EventRecord] = store.events(program_id)
        self.code_hash = code_hash_of(self.rec, self.events)
        self.unit = self.executor.unit(self.code_hash)
        self.marks: list[Mark] = []
        self.waits: list[WaitPoint] = []
        self.checkpoints: list[_Checkpoint] = []
        self.total_steps = 0
        self.final_status = self.rec.status
        self.divergence: Divergence | None = None
        self.built = False
        self._lock = threading.RLock()
        self._scopes: dict[str, _UnitScopes] = {}
        self._mark_steps: list[int] = []
        self._applied = self._applied_cursor()
        self._compiled: dict[tuple[str, tuple[str, ...]], Any] = {}

    # -- sources ---------------------------------------------------------------------------

    def sources(self) -> dict[str, str]:
        """Source name -> text, for every unit the program ran (and the prelude)."""
        out: dict[str, str] = {}
        hashes = [self.rec.code_hash] + [e.data.get("to") for e in self.events
                                         if e.type == "upgraded"]
        hashes += [e.data.get("code_hash") for e in self.events if e.type == "eval"]
        for h in hashes:
            if not h:
                continue
            try:
                code = self.store.get_code(h)
            except Exception:  # noqa: BLE001 - a missing unit only hides its source
                continue
            out[code.source_name] = code.source
        try:
            from importlib import resources

            out["prelude.flow"] = (resources.files("flowmetal.lang")
                                   .joinpath("prelude.flow").read_text("utf-8"))
        except OSError:
            pass
        return out

    # -- building --------------------------------------------------------------------------

    def _applied_cursor(self) -> int:
        """As ``replay``: inputs after the latest snapshot's cursor are not applied yet."""
        snap = self.store.latest_snapshot(self.program_id)
        if snap is None:
            return 0
        m = snapshot.decode(snap.state, self.executor.base.glob, self.executor.unit)
        return int(m.extra.get("cursor", 0))

    def _replayer(self) -> _TimelineReplayer:
        return _TimelineReplayer(self.executor, self.rec, self.events, self.unit, self._applied)

    def _checkpoint(self, r: _TimelineReplayer) -> None:
        self.checkpoints.append(_Checkpoint(
            r.m.steps, snapshot.encode(r.m, self.executor.base.glob), r.out_i, r.in_i,
            r.report.events_checked))

    def build(self, progress: Callable[[int], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> None:
        """Replay the whole run once: checkpoints, event steps, wait points.

        ``progress(steps_so_far)`` is called now and then; ``should_stop()`` returning True
        abandons the build with ``ScanCancelled``.
        """
        with self._lock:
            r = self._replayer()
            r.recording = {}
            r.waits = self.waits = []
            r.tl = self
            self.checkpoints = []
            self._checkpoint(r)
            k = self.checkpoint_every
            next_cp = k
            started = time.perf_counter()
            try:
                while True:
                    fuel = next_cp - r.m.steps
                    if not r.advance(fuel):
                        break
                    if r.m.steps >= next_cp:
                        before = time.perf_counter()
                        self._checkpoint(r)
                        started, ran, took = (time.perf_counter(), before - started,
                                              time.perf_counter() - before)
                        # A big state is slow to encode: space checkpoints out so encoding
                        # stays a small part of indexing (showing a step then re-runs more).
                        if took > ran / 4 and k < _MAX_SPACING:
                            k = min(_MAX_SPACING, k * 2)
                        next_cp = r.m.steps + k
                        if progress is not None and len(self.checkpoints) % 20 == 0:
                            progress(r.m.steps)
                        if should_stop is not None and should_stop():
                            raise ScanCancelled("build cancelled")
                r.check_end()
            except _Diverged as d:
                self.divergence = d.divergence
            m = r.m
            self.total_steps = m.steps
            if not self.waits or self.waits[-1].seq is not None:
                self.waits.append(self._wait_point(r, None))
            recorded = r.recording
            self.marks = []
            for i, e in enumerate(self.events):
                step = recorded.get(e.seq)
                applied = step is not None or e.type in ("started", "upgraded")
                if step is None:
                    step = 0 if e.type == "started" else self.total_steps
                if e.type == "upgraded":
                    step = self.marks[-1].step if self.marks else 0
                self.marks.append(Mark(i, e.seq, e.type, e.data, e.at, step, applied,
                                       event_category(e.type, e.data)))
            # Steps must not go backwards along the log (inputs not applied sit at the end).
            self._mark_steps = [mk.step for mk in self.marks]
            self._mark_order = sorted(range(len(self.marks)),
                                      key=lambda i: (self.marks[i].step, self.marks[i].seq))
            self._sorted_steps = [self.marks[i].step for i in self._mark_order]
            self.final_status = m.status
            self.built = True

    def _wait_point(self, r: _TimelineReplayer, seq: int | None) -> WaitPoint:
        ok = True
        if seq is not None:
            counts = self._prefix_counts()
            outs, ins = counts[seq - 1] if 0 < seq <= len(counts) else (-1, -1)
            ok = outs == r.out_i and ins == r.in_i
        return WaitPoint(r.m.steps, seq, r.out_i, r.in_i, ok)

    def _prefix_counts(self) -> list[tuple[int, int]]:
        """``[i]``: how many output and input events come before the event at index i."""
        found = getattr(self, "_counts", None)
        if found is None:
            found, outs, ins = [], 0, 0
            for e in self.events:
                found.append((outs, ins))
                if e.type in ("started", "upgraded"):
                    continue
                if e.type in INPUT_EVENT_TYPES:
                    ins += 1
                else:
                    outs += 1
            self._counts = found
        return found

    # -- rebuilding a step -----------------------------------------------------------------

    def _restore(self, step: int) -> _TimelineReplayer:
        i = bisect.bisect_right([c.step for c in self.checkpoints], step) - 1
        cp = self.checkpoints[max(i, 0)]
        r = self._replayer()
        r.m = snapshot.decode(cp.blob, self.executor.base.glob, self.executor.unit)
        r.out_i, r.in_i = cp.out_i, cp.in_i
        r.report.events_checked = cp.checked
        return r

    def _run_to(self, r: _TimelineReplayer, step: int) -> bool:
        """Advance ``r`` to ``step`` and settle there; False if the run ended first."""
        try:
            while r.m.steps < step:
                if not r.advance(min(step - r.m.steps, 1_000_000)):
                    return False
            while not _ready(r.m):
                if not r.advance(0):
                    return False
        except _Diverged:
            return False
        return True

    def machine_at(self, step: int) -> Machine:
        """A private machine as it was at ``step`` (clamped to the run)."""
        self._require_built()
        step = max(0, min(step, self.total_steps))
        with self._lock:
            r = self._restore(step)
            self._run_to(r, step)
            return r.m

    def _require_built(self) -> None:
        if not self.built:
            raise RuntimeError("Timeline.build() has not run")

    # -- events ----------------------------------------------------------------------------

    def event_index_at(self, step: int) -> int | None:
        """The index of the last event handled at or before ``step`` (None before any)."""
        i = bisect.bisect_right(self._sorted_steps, step) - 1
        return self._mark_order[i] if i >= 0 else None

    def ordered_marks(self) -> list[int]:
        """Indexes of the events in timeline order (by step, then seq)."""
        return self._mark_order

    def events_at(self, step: int) -> list[Mark]:
        lo = bisect.bisect_left(self._sorted_steps, step)
        hi = bisect.bisect_right(self._sorted_steps, step)
        return [self.marks[self._mark_order[i]] for i in range(lo, hi)]

    def next_mark(self, step: int, pred: Callable[[Mark], bool] | None = None,
                  backward: bool = False) -> Mark | None:
        """The first event strictly after (or before) ``step`` that satisfies ``pred``."""
        order = self._mark_order
        if backward:
            i = bisect.bisect_left(self._sorted_steps, step) - 1
            while i >= 0:
                mk = self.marks[order[i]]
                if pred is None or pred(mk):
                    return mk
                i -= 1
            return None
        i = bisect.bisect_right(self._sorted_steps, step)
        while i < len(order):
            mk = self.marks[order[i]]
            if pred is None or pred(mk):
                return mk
            i += 1
        return None

    def output_until(self, step: int) -> list[str]:
        """The text the program printed up to and including ``step``."""
        prints = self._prints()
        return [text for _s, text in prints[:bisect.bisect_right(prints, (step, "\uffff"))]]

    def _prints(self) -> list[tuple[int, str]]:
        found = getattr(self, "_print_list", None)
        if found is None:
            found = []
            for mk in self.marks:
                if mk.type == "effect" and mk.kind == "print" and mk.applied:
                    req = from_json(mk.data.get("request"))
                    found.append((mk.step, str(req.get(kw("text"), ""))
                                  if isinstance(req, Map) else ""))
            found.sort(key=lambda p: p[0])
            self._print_list = found
        return found

    def waits_at(self, step: int) -> list[WaitPoint]:
        """The wait points at ``step`` (several inputs can be taken at one step)."""
        steps = [w.step for w in self.waits]
        lo, hi = bisect.bisect_left(steps, step), bisect.bisect_right(steps, step)
        return self.waits[lo:hi]

    def search(self, query: str) -> list[Mark]:
        """Events whose type, effect kind, name or JSON text contains ``query``."""
        q = query.lower().strip()
        if not q:
            return []
        out = []
        for mk in self.marks:
            hay = f"{mk.type} {mk.kind or ''} {json.dumps(mk.data, ensure_ascii=False)}"
            if q in hay.lower():
                out.append(mk)
        return out

    # -- views -----------------------------------------------------------------------------

    def scopes_for(self, unit: N.CodeUnit) -> _UnitScopes:
        found = self._scopes.get(unit.hash)
        if found is None:
            found = self._scopes[unit.hash] = _UnitScopes(unit)
        return found

    def _scope(self, node: Any, inside: bool) -> _Scope | None:
        if not isinstance(node, N.Node):
            return None
        scopes = self.scopes_for(node.unit)
        if inside and node.id in scopes.inside:
            return scopes.inside[node.id]
        return scopes.at.get(node.id)

    def view(self, step: int) -> StepView:
        """What to show at ``step``: see the module docstring."""
        m = self.machine_at(step)
        step = max(0, min(step, self.total_steps))
        fibers = [self._fiber_view(m, f) for f in m.fibers.values()]
        fibers.sort(key=lambda fv: (not fv.current, fv.id))
        base = self.executor.base.glob
        globs = [(k, v) for k, v in m.glob.items() if base.get(k, _UNSET) is not v
                 and not k.startswith("*")]
        return StepView(step, self.total_steps, m.status, fibers, m,
                        self.event_index_at(step), self.output_until(step), globs)

    def _fiber_view(self, m: Machine, fiber: Any) -> FiberView:
        current = m.fiber is fiber
        if current:
            stack, mode, node, env, val = m.stack, m.mode, m.node, m.env, m.val
        else:
            stack, mode, node, env, val = (fiber.stack, fiber.mode, fiber.node, fiber.env,
                                           fiber.val)
        status = fiber.status
        wait = None
        if status == "wait" and fiber.wait is not None:
            wait = _describe_wait(m, fiber.wait)
        frames: list[FrameView] = []
        if status in ("run", "wait", "failed-paused") or stack:
            kind = ("wait" if status == "wait" else _MODE_NAMES.get(mode, "eval"))
            frames.append(FrameView(kind, getattr(node, "fn_name", None),
                                    getattr(node, "span", None), node, env,
                                    self._scope(node, False)))
            for frame in reversed(stack):
                fnode = getattr(frame, "node", None)
                fenv = getattr(frame, "env", None)
                inside = type(frame).__name__ == "LetK"
                kind = getattr(frame, "KIND", type(frame).__name__)
                if fnode is None and kind == "top":
                    fnode = None
                frames.append(FrameView(kind, getattr(fnode, "fn_name", None),
                                        getattr(fnode, "span", None), fnode, fenv,
                                        self._scope(fnode, inside)))
        return FiberView(fiber.id, status, wait, current, frames, val,
                         _MODE_NAMES.get(mode, "parked"))

    # -- evaluating at a past point --------------------------------------------------------

    def evaluate(self, step: int, text: str, *, fiber: int | None = None, frame: int = 0,
                 machine: Machine | None = None) -> EvalResult:
        """Evaluate ``text`` in the environment of a frame at ``step``, effects refused.

        It runs on a scratch machine decoded for the purpose (or ``machine``, which must
        be private to the caller), with the frame's locals bound by name and the globals of
        that moment; functions that mutate (``swap!``, ``reset!``...) are refused too, so
        nothing the debugger shows can change.
        """
        m = machine if machine is not None else self.machine_at(step)
        node, env = _frame_at(m, fiber, frame)
        inside = frame > 0 and _frame_kind(m, fiber, frame) == "let"
        scope = self._scope(node, inside)
        return self._evaluate_in(m, scope, env, text)

    def _evaluate_in(self, m: Machine, scope: _Scope | None, env: list | None,
                     text: str) -> EvalResult:
        names = bound_names(scope, env)
        glob = guarded_globals(m.glob)
        try:
            f = self._compile(text, tuple(n for n, _ in names), glob)
        except FlowmetalError as exc:
            return EvalResult(False, None, f"{type(exc).__name__}: {exc}")
        return run_isolated(glob, f, [v for _, v in names])

    def _compile(self, text: str, names: tuple[str, ...], glob: dict[str, Any]) -> Any:
        key = (text, names)
        f = self._compiled.get(key)
        if f is None:
            src = f"(fn [{' '.join(names)}]\n(do {text}\n))"
            with _COMPILE_LOCK:
                unit = load(src, "<debugger>", glob)
            mm = new_machine(unit, None, glob=dict(glob))
            outcome = mm.run(_EVAL_FUEL)
            if not isinstance(outcome, Done):
                raise FlowmetalError("could not compile the expression")
            f = outcome.value
            if len(self._compiled) > 256:
                self._compiled.clear()
            self._compiled[key] = f
        return f

    # -- scanning --------------------------------------------------------------------------

    def find(self, start: int, hit: Callable[[Machine, int], bool], *, backward: bool = False,
             should_stop: Callable[[], bool] | None = None) -> int | None:
        """The first step after ``start`` (or the last before it) where ``hit(m, step)`` is
        true, checking after every machine step. ``hit`` may keep state between calls
        (it sees steps in increasing order within one stretch; ``hit(None, -1)`` announces a
        new stretch when scanning backward)."""
        self._require_built()
        with self._lock:
            if not backward:
                return self._scan(start, self.total_steps, hit, should_stop, first=True)
            cps = [c.step for c in self.checkpoints]
            i = bisect.bisect_left(cps, start) - 1
            end = start
            while i >= 0:
                hit(None, -1)  # type: ignore[arg-type]
                found = self._scan(cps[i], end, hit, should_stop, first=False,
                                   include_start=True)
                if found is not None:
                    return found
                end = cps[i]
                i -= 1
            return None

    def _scan(self, start: int, end: int, hit: Callable[[Machine, int], bool],
              should_stop: Callable[[], bool] | None, *, first: bool,
              include_start: bool = False) -> int | None:
        """Step from ``start`` to ``end``; the first hit (``first``) or the last one before
        ``end``."""
        r = self._restore(start)
        if not self._run_to(r, start):
            return None
        m = r.m
        last = None
        if include_start and start < end and hit(m, start):
            last = start
        count = 0
        try:
            while m.steps < end:
                before = m.steps
                if not r.advance(1):
                    break
                m = r.m
                if m.steps == before:
                    continue
                count += 1
                if should_stop is not None and count % 4096 == 0 and should_stop():
                    raise ScanCancelled("scan cancelled")
                if m.steps < end or first:
                    if hit(m, m.steps):
                        if first:
                            return m.steps
                        if m.steps < end:
                            last = m.steps
        except _Diverged:
            pass
        return last

    def find_depth(self, start: int, *, out: bool, backward: bool = False,
                   should_stop: Callable[[], bool] | None = None) -> int | None:
        """Step over (``out=False``: the next step of this fiber at the same or a shallower
        stack depth) or step out (``out=True``: a shallower one), either direction."""
        m0 = self.machine_at(start)
        fid = m0.fiber.id if m0.fiber is not None else 0
        depth = len(m0.stack) if m0.fiber is not None else len(m0.fibers[fid].stack) \
            if fid in m0.fibers else 0

        def hit(m: Machine, step: int) -> bool:
            if m is None or m.fiber is None or m.fiber.id != fid:
                return False
            d = len(m.stack)
            return d < depth if out else d <= depth

        return self.find(start, hit, backward=backward, should_stop=should_stop)

    def find_line(self, start: int, lines: set[tuple[str, int]], *, backward: bool = False,
                  condition: str | None = None,
                  should_stop: Callable[[], bool] | None = None) -> int | None:
        """The next (previous) step where execution arrives at one of ``lines``
        (``(source, line)``), and ``condition`` (an expression) is truthy there if given."""
        state: dict[str, Any] = {"prev": None}

        def hit(m: Machine, step: int) -> bool:
            if m is None:
                state["prev"] = None
                return False
            key, prev = _arrival(m, state)
            if key is None or key == prev or key not in lines:
                return False
            if condition is None:
                return True
            return self._truthy_at(m, condition)

        return self.find(start, hit, backward=backward, should_stop=should_stop)

    def find_condition(self, start: int, condition: str, *, backward: bool = False,
                       should_stop: Callable[[], bool] | None = None) -> int | None:
        """The next (previous) step, among those where execution arrives at a new line of
        the program's own source, where ``condition`` is truthy."""
        source = self.unit.source_name
        state: dict[str, Any] = {"prev": None}

        def hit(m: Machine, step: int) -> bool:
            if m is None:
                state["prev"] = None
                return False
            key, prev = _arrival(m, state)
            if key is None or key == prev or key[0] != source:
                return False
            return self._truthy_at(m, condition)

        return self.find(start, hit, backward=backward, should_stop=should_stop)

    def find_watch_change(self, start: int, expr: str, *, backward: bool = False,
                          should_stop: Callable[[], bool] | None = None) -> int | None:
        """The next (previous) step where the printed value of ``expr`` differs from its
        value at ``start``, checked where execution arrives at a new line of the program's
        own source and at every event."""
        base = self.evaluate(start, expr).text
        source = self.unit.source_name
        event_steps = set(self._mark_steps)
        state: dict[str, Any] = {"prev": None, "last": base}

        def hit(m: Machine, step: int) -> bool:
            if m is None:
                state["prev"] = None
                return False
            key, prev = _arrival(m, state)
            candidate = step in event_steps or (key is not None and key != prev
                                                 and key[0] == source)
            if not candidate:
                return False
            text = self._eval_live(m, expr).text
            return text != base

        if not backward:
            return self.find(start, hit, should_stop=should_stop)
        return self.find(start, hit, backward=True, should_stop=should_stop)

    def _eval_live(self, m: Machine, text: str) -> EvalResult:
        """Evaluate against a machine in the middle of a replay, without changing it."""
        fiber = m.fiber
        node, env = (m.node, m.env) if fiber is not None else (None, None)
        return self._evaluate_in(m, self._scope(node, False), env, text)

    def _truthy_at(self, m: Machine, condition: str) -> bool:
        res = self._eval_live(m, condition)
        return res.ok and res.value is not None and res.value is not False


_UNSET = object()


def _arrival(m: Machine, state: dict[str, Any]) -> tuple[tuple[str, int] | None, Any]:
    """``(line key, previous key)`` when the current fiber is about to evaluate a form
    (``(None, ...)`` otherwise). Forms without a position keep the previous line, so a
    line is "arrived at" once however its sub-forms interleave with unplaced ones."""
    prev = state["prev"]
    node = m.node if m.fiber is not None else None
    span = getattr(node, "span", None)
    if span is None:
        return None, prev
    key = (span.source, span.line)
    state["prev"] = key
    if m.mode != EVAL:
        return None, prev
    return key, prev


def _describe_wait(m: Machine, wait: tuple) -> str:
    kind, key = wait[0], wait[1]
    if kind == "effect":
        entry = m.effects.get(key)
        if entry is not None:
            return f"effect {entry[2]} {pr_str(entry[3], max_depth=3, max_length=6)}"
        return "effect"
    if kind == "message":
        return f"message {key!r}"
    if kind == "callback":
        return f"callback {str(key)[:24]}"
    if kind == "future":
        return f"future of fiber {key}"
    if kind == "any":
        return f"any of fibers {', '.join(map(str, key))}"
    return str(kind)


def _frame_at(m: Machine, fid: int | None, index: int) -> tuple[Any, list | None]:
    fiber = m.fiber if fid is None else m.fibers.get(fid)
    if fiber is None:
        fiber = m.fibers.get(0)
    if fiber is None:
        return None, None
    if m.fiber is fiber:
        stack, node, env = m.stack, m.node, m.env
    else:
        stack, node, env = fiber.stack, fiber.node, fiber.env
    if index <= 0:
        return node, env
    frames = list(reversed(stack))
    if index - 1 >= len(frames):
        return None, None
    frame = frames[index - 1]
    return getattr(frame, "node", None), getattr(frame, "env", None)


def _frame_kind(m: Machine, fid: int | None, index: int) -> str | None:
    fiber = m.fiber if fid is None else m.fibers.get(fid)
    if fiber is None or index <= 0:
        return None
    stack = m.stack if m.fiber is fiber else fiber.stack
    frames = list(reversed(stack))
    return getattr(frames[index - 1], "KIND", None) if index - 1 < len(frames) else None


# -- isolated evaluation ----------------------------------------------------------------------


def _refuse(name: str) -> Builtin:
    def refused(*_args: Any) -> Any:
        raise fail("effect-refused", f"{name} is disabled in the debugger: evaluating here "
                   "must not change anything")

    return Builtin(name, refused, "disabled in the debugger", "[& args]", 0, None, False)


def guarded_globals(glob: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``glob`` in which the functions that mutate (``swap!``, ``reset!``, the
    transient ``conj!``...) refuse to run."""
    out = dict(glob)
    for name in glob:
        if name.endswith("!") and name != "persistent!":
            out[name] = _refuse(name)
    return out


def run_isolated(glob: dict[str, Any], f: Any, args: list[Any],
                 fuel: int = _EVAL_FUEL) -> EvalResult:
    """Call ``f`` with ``args`` on a new machine over ``glob``; effects are refused."""
    m = Machine(glob)
    try:
        m.start_call(f, args)
    except Exception as exc:  # noqa: BLE001 - an arity error raised while starting
        value = getattr(exc, "value", None)
        msg = value.message if isinstance(value, ExInfo) else str(exc)
        return EvalResult(False, None, msg)
    outcome = m.run(fuel)
    if isinstance(outcome, Done):
        return EvalResult(True, outcome.value, pr_str(outcome.value, max_depth=6,
                                                      max_length=50))
    if isinstance(outcome, Failed):
        err = outcome.error
        if isinstance(err, ExInfo):
            return EvalResult(False, err, f"{err.kind}: {err.message}")
        return EvalResult(False, err, f"thrown: {pr_str(err)}")
    if isinstance(outcome, Suspended):
        kinds = ", ".join(sorted({r.kind for r in outcome.requests})) or "a wait"
        return EvalResult(False, None, f"effects are disabled in the debugger: the expression "
                          f"asked for {kinds}")
    assert isinstance(outcome, OutOfFuel)
    return EvalResult(False, None, f"gave up after {fuel:,} steps")


# -- values as trees (for the bindings pane) ----------------------------------------------------


def value_children(value: Any, limit: int = 200) -> list[tuple[str, Any]]:
    """The parts of a value a tree view can expand: ``(label, value)`` pairs."""
    t = type(value)
    if isinstance(value, Map):
        return [(pr_str(k, max_depth=2, max_length=5), v)
                for k, v in list(value.items())[:limit]]
    if t in (Vector, List) or isinstance(value, (Vector, List)):
        return [(str(i), v) for i, v in enumerate(list(value)[:limit])]
    if isinstance(value, Set):
        return [("∈", v) for v in list(value)[:limit]]
    if isinstance(value, Atom):
        return [("@", value.value)]
    if isinstance(value, ExInfo):
        return [(":message", value.message), (":data", value.data)]
    if isinstance(value, Closure):
        return [(f"{name}", v) for name, v in bound_names(None, value.env)[:limit]]
    if isinstance(value, Transient):
        return []
    return []


def expandable(value: Any) -> bool:
    if isinstance(value, (Map, Vector, List, Set)):
        return len(value) > 0
    return isinstance(value, (Atom, ExInfo))


def show(value: Any, width: int = 80) -> str:
    """A one-line printed value, cut to about ``width`` characters."""
    if isinstance(value, Keyword):
        return ":" + value.full
    text = pr_str(value, max_depth=4, max_length=20)
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"
