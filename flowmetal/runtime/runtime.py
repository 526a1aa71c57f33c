"""The runtime's public face: start programs, drive them, talk to them, recover them.

Every CLI command is one method here (``flowmetal send`` is ``Runtime.send``...), and so are
the REPL's and the HTTP API's needs. Example::

    rt = Runtime(open_store("flow.db"))
    pid = rt.start_file("examples/approval.flow", {"amount": 120})
    rt.run(pid)                      # drives it until it ends or waits on the outside
    rt.send(pid, "approval", {"ok": True})
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..lang import load, snapshot
from ..lang.data import Map, kw
from ..lang.errors import FlowmetalError
from ..store.contract import (
    INPUT_EVENT_TYPES,
    Commit,
    EventRecord,
    NotFound,
    ProgramRecord,
    Store,
    StoreError,
)
from .clock import Clock, RealClock, VirtualClock
from .codec import error_from_json, from_json, from_plain, to_json
from .executor import Executor, new_program_id
from .replay import ReplayReport, replay

__all__ = ["Runtime", "RuntimeError_", "Waiting", "ReplResult", "describe_unawaited"]

RESTARTS = ("retry", "use-value", "abort")


def describe_unawaited(lost: dict[str, Any]) -> str:
    """One line about an async fiber that failed with nobody awaiting it (``{"fiber",
    "error"}`` as recorded), for ``show``, ``run`` and the REPL."""
    error = lost.get("error") or {}
    where = f" at {error['where']}" if error.get("where") else ""
    return (f"async fiber {lost.get('fiber')} failed and was never awaited: "
            f"{error.get('type')}: {error.get('message')}{where}")


class RuntimeError_(FlowmetalError):
    """A runtime request that can't be done: unknown program, bad restart, finished program."""

    kind = "error"


@dataclass
class ReplResult:
    """One REPL input's outcome: its value, the output it printed, or its error."""

    value: Any
    output: str
    error: Any
    input_seq: int
    pending: bool = False


@dataclass
class Waiting:
    """``run`` stopped because the program waits for the outside and ``until`` said stop."""

    program: ProgramRecord


class Runtime:
    """Programs in one store, driven in this process.

    :param virtual_time: use a virtual clock that jumps to the next timer.
    :param on_output: called with ``(program_id, text)`` for each output, after it is stored.
    """

    def __init__(self, store: Store, *, clock: Clock | None = None, virtual_time: bool = False,
                 on_output: Callable[[str, str], None] | None = None,
                 callback_url: str = "http://127.0.0.1:8080", poll_interval: float = 0.05):
        self.store = store
        self.clock = clock or (VirtualClock() if virtual_time else RealClock())
        self.executor = Executor(store, clock=self.clock, on_output=on_output,
                                 callback_url=callback_url)
        self.poll_interval = poll_interval

    # -- starting ----------------------------------------------------------------------

    def start(self, source: str, source_name: str, args: Any = None, *, name: str | None = None,
              kind: str = "program") -> str:
        """Compile ``source`` and create a program for it (not yet run); returns its id.

        ``args`` (a Flowmetal map, or a dict made into one with keyword keys) is what
        ``main`` receives.
        """
        unit = load(source, source_name)
        self.executor.save_code(unit, source)
        if isinstance(args, dict) and not isinstance(args, Map):
            # values are plain JSON (``--arg k=[1,2]``): arrays become vectors, objects maps
            args = Map((kw(k), from_plain(v) if type(v) in (list, dict) else v)
                       for k, v in args.items())
        pid = new_program_id()
        stored_args = to_json(args if args is not None else Map())
        self.store.create_program(
            pid, name=name or Path(source_name).stem, kind=kind, code_hash=unit.hash,
            args=stored_args, events=[("started", {"code_hash": unit.hash,
                                                   "source": source_name, "args": stored_args})])
        return pid

    def start_file(self, path: str | Path, args: Any = None, *, name: str | None = None) -> str:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RuntimeError_(f"no such file: {p}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RuntimeError_(f"can't read {p}: {exc}") from None
        return self.start(text, str(p), args, name=name)

    # -- driving -----------------------------------------------------------------------

    def drive(self, program_id: str) -> ProgramRecord:
        """Run the program as far as it can go without waiting; returns its record."""
        self.get(program_id)
        return self.executor.drive(program_id).program

    def run(self, program_id: str, *, until: Callable[[ProgramRecord], bool] | None = None
            ) -> ProgramRecord | Waiting:
        """Drive the program until it ends or fails, firing its timers as they fall due
        and waiting for outside input (sent from another process) in between.

        ``until(record)`` is asked each time the program waits with nothing due; when it
        says True, ``run`` returns ``Waiting``. With a virtual clock, timers fire at once.
        """
        self.get(program_id)
        fire: dict[str, float] = {}
        children: list[ProgramRecord] | None = None  # None: look them up in the store
        while True:
            result = self.executor.drive(program_id, fire=fire)
            rec = result.program
            fire = {}
            if rec.finished or rec.status == "failed":
                return rec
            if rec.status == "ready":
                continue
            if children is None or children or result.spawned:
                # Children come only from this program's drives: once none is left, the
                # store is asked again only after a drive that spawned, or a wait.
                children = self._children(program_id)
                if self._drive_children(children):
                    continue  # a child moved: it may have ended and told this program
            # The executor knows the timers of a machine it kept; else ask the store.
            timers = (result.timers.items() if result.timers is not None else
                      [(t.key, t.due_at) for t in self.store.list_timers(program_id)])
            now = self.clock.now()
            fire = {key: due for key, due in timers if due <= now}
            if fire:
                continue  # fired inside the next drive's commit
            due = [due for _, due in timers]
            due += [t.due_at for c in children for t in self.store.list_timers(c.id)]
            if self.clock.virtual and due:
                self.clock.advance_to(min(due))
                fire = {key: due for key, due in timers if due <= self.clock.now()}
                continue
            if until is not None and until(rec):
                return Waiting(rec)
            self._wait_for_change([rec, *children], min(due) if due else None)
            children = None

    def _children(self, program_id: str) -> list[ProgramRecord]:
        """The program's unfinished spawned children, and theirs (``run`` drives them too)."""
        found: list[ProgramRecord] = []
        parents = [program_id]
        while parents:
            kids = [c for c in self.store.list_programs(parent_id=parents.pop(), kind="child")
                    if not c.finished]
            found += kids
            parents += [c.id for c in kids]
        return found

    def _drive_children(self, children: list[ProgramRecord]) -> bool:
        """Drive the children that are ready or have a timer due; True if any was driven."""
        moved = False
        now = self.clock.now()
        for child in children:
            fire = {t.key: t.due_at for t in self.store.list_timers(child.id)
                    if t.due_at <= now}
            if child.status == "ready" or fire:
                self.executor.drive(child.id, fire=fire)
                moved = True
        return moved

    def _wait_for_change(self, watched: list[ProgramRecord], due: float | None) -> None:
        """Sleep until the next timer is due or the log of the program (or of one of its
        children) grows, polling the store."""
        deadline = time.monotonic() + (max(0.0, due - self.clock.now()) if due else 3600)
        while time.monotonic() < deadline:
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
            if any(self.store.get_program(r.id).last_seq != r.last_seq for r in watched):
                return

    # -- talking to programs -----------------------------------------------------------

    def get(self, program_id: str) -> ProgramRecord:
        try:
            return self.store.get_program(program_id)
        except NotFound:
            raise RuntimeError_(f"no program with id {program_id!r}") from None

    def send(self, program_id: str, name: str, payload: Any) -> int:
        """Send the named event (JSON payload) to a program's inbox; ``receive`` takes it."""
        return self._input(program_id, "message", {"name": name, "payload": payload})

    def complete_callback(self, token: str, payload: Any) -> int:
        """Deliver a callback's result, at most once."""
        try:
            return self.store.complete_callback(token, payload)
        except NotFound:
            raise RuntimeError_(f"no callback with token {token!r}") from None
        except StoreError as exc:
            raise RuntimeError_(str(exc)) from None

    def cancel(self, program_id: str, reason: str | None = None) -> int:
        """Ask the program to end as ``cancelled``; returns the request's seq. When it ends
        (at its next drive), its unfinished children get a ``cancel-requested`` too."""
        return self._input(program_id, "cancel-requested",
                           {"reason": reason} if reason else {})

    def cancel_now(self, program_id: str) -> tuple[ProgramRecord, list[ProgramRecord]]:
        """Cancel the program and drive it and its descendants here, so that all of them
        record their cancellation now rather than when a worker next looks.

        Returns the program's record and those of the descendants that were running.
        """
        running = self._children(program_id)
        self.cancel(program_id)
        rec = self.executor.drive(program_id).program
        while True:  # each cancelled child cancels its own children when driven
            ready = [c for c in self._descendants(program_id) if c.status == "ready"]
            if not ready:
                break
            for child in ready:
                self.executor.drive(child.id)
        return rec, [self.store.get_program(c.id) for c in running]

    def _descendants(self, program_id: str) -> list[ProgramRecord]:
        """Every child program of the program, finished or not, and theirs."""
        found: list[ProgramRecord] = []
        parents = [program_id]
        while parents:
            kids = self.store.list_programs(parent_id=parents.pop(), kind="child")
            found += kids
            parents += [c.id for c in kids]
        return found

    def recover(self, program_id: str, how: str, value: Any = None) -> int:
        """Choose a restart for a failed program: ``retry``, ``use-value`` (JSON), ``abort``."""
        rec = self.get(program_id)
        if rec.status != "failed":
            raise RuntimeError_(f"program {program_id} is {rec.status}, not failed: "
                                "there is nothing to recover")
        if how not in RESTARTS:
            raise RuntimeError_(f"unknown restart {how!r}; choose one of {', '.join(RESTARTS)}")
        data: dict[str, Any] = {"how": how}
        if how == "use-value":
            data["value"] = value
        return self._input(program_id, "restart", data)

    def _input(self, program_id: str, type_: str, data: Any) -> int:
        assert type_ in INPUT_EVENT_TYPES
        rec = self.get(program_id)
        if rec.finished:
            raise RuntimeError_(f"program {program_id} has already {rec.status}")
        try:
            return self.store.append_input(program_id, type_, data)
        except StoreError as exc:
            raise RuntimeError_(str(exc)) from None

    # -- REPL sessions -------------------------------------------------------------------

    def repl_open(self, name: str = "default") -> str:
        """The id of the REPL session called ``name``, created on first use."""
        for rec in self.store.list_programs(kind="repl"):
            if rec.name == name and not rec.finished:
                return rec.id
        return self.start("", f"<repl:{name}>", name=name, kind="repl")

    def repl_globals(self, session_id: str) -> dict[str, Any]:
        """The session's current globals (for compiling its next input, and completion)."""
        return self.executor.load(self.get(session_id)).glob

    def repl_eval(self, session_id: str, text: str, *, source: str = "<repl>",
                  until: Callable[[ProgramRecord], bool] | None = None) -> ReplResult:
        """Evaluate ``text`` in the session, durably, and drive it until it is answered.

        Read and compile errors raise (nothing is recorded); a runtime error, thrown by the
        input or into it (a failed effect, a timeout, a failed child), comes back in
        ``ReplResult.error`` and the session carries on. ``until`` is as for ``run``: it
        lets a front end stop waiting (the input then finishes later).
        """
        seq = self.repl_submit(session_id, text, source=source)
        return self.repl_wait(session_id, seq, until=until)

    def _answered(self, session_id: str, seq: int) -> EventRecord | None:
        for e in self.store.events(session_id, after=seq, types=["evaluated", "failed"]):
            if e.data.get("input") == seq:
                return e
        return None

    def _repl_result(self, session_id: str, seq: int, answer: EventRecord | None) -> ReplResult:
        output = [from_json(e.data["request"])[kw("text")]
                  for e in self.store.events(session_id, after=seq, types=["effect"])
                  if e.data.get("kind") == "print"]
        if answer is None:
            return ReplResult(None, "".join(output), None, seq, pending=True)
        if answer.type == "failed":
            return ReplResult(None, "".join(output), error_from_json(answer.data["error"]), seq)
        return ReplResult(from_json(answer.data["value"]), "".join(output), None, seq)

    # -- REPL front-end helpers (used by flowmetal/repl) ---------------------------------

    def repl_pending(self, session_id: str) -> int | None:
        """The seq of the session's oldest input with no answer yet (it waits on the
        outside, or its evaluation was interrupted; later inputs queue behind it), else
        None."""
        evals = self.store.events(session_id, types=["eval"])
        if not evals or self._answered(session_id, evals[-1].seq) is not None:
            return None  # inputs are answered in order: the last answered means all were
        answered = {e.data.get("input") for e in self.store.events(
            session_id, after=evals[0].seq, types=["evaluated", "failed"])}
        return next(e.seq for e in evals if e.seq not in answered)

    def repl_submit(self, session_id: str, text: str, *, source: str = "<repl>") -> int:
        """Compile ``text`` and record it as the session's next input, without driving;
        returns the input's seq (then ``repl_wait`` for its answer). Read and compile
        errors raise, and nothing is recorded."""
        unit = load(text, source, self.repl_globals(session_id))
        self.executor.save_code(unit, text)
        return self._input(session_id, "eval", {"code_hash": unit.hash, "source": text})

    def repl_wait(self, session_id: str, input_seq: int, *,
                  until: Callable[[ProgramRecord], bool] | None = None) -> ReplResult:
        """Drive the session until input ``input_seq`` is answered, or until ``until``
        says stop (as for ``repl_eval``): the result is then still ``pending``. Inputs are
        answered in order, so an earlier one still waiting is answered first."""
        while True:
            outcome = self.run(session_id, until=lambda rec: self._answered(
                session_id, input_seq) is not None or (until is not None and until(rec)))
            answer = self._answered(session_id, input_seq)
            if (answer is not None or isinstance(outcome, Waiting) or outcome.finished
                    or outcome.status == "failed"):  # (a session never stays failed now)
                return self._repl_result(session_id, input_seq, answer)

    def fire_timer(self, program_id: str, key: str) -> ProgramRecord:
        """Fire one of the program's timers now, ahead of its time (the REPL's hand-fed
        mode); recorded as an ordinary ``timer-fired`` event, in the drive's commit."""
        for timer in self.store.list_timers(program_id):
            if timer.key == key:
                return self.executor.drive(program_id, fire={key: timer.due_at}).program
        raise RuntimeError_(f"program {program_id} has no timer {key!r}")

    # -- versions ----------------------------------------------------------------------

    def replay(self, program_id: str) -> ReplayReport:
        """Replay the program's log against its pinned code; ``report.ok`` if identical."""
        self.get(program_id)
        return replay(self.executor, program_id)

    def upgrade(self, program_id: str, path: str | Path) -> ReplayReport:
        """Switch a program to new code, if replaying its log against it diverges nowhere."""
        rec = self.get(program_id)
        if rec.finished:
            raise RuntimeError_(f"program {program_id} has already {rec.status}")
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise RuntimeError_(f"can't read {p}: {exc.strerror or exc}") from None
        unit = load(text, str(p))
        report = replay(self.executor, program_id, unit)
        if not report.ok or report.machine is None:
            return report
        self.executor.save_code(unit, text)
        m = report.machine
        self.store.commit(program_id, Commit(
            expected_seq=rec.last_seq, status=rec.status, result=rec.result, error=rec.error,
            waiting=rec.waiting, events=[("upgraded", {"from": rec.code_hash, "to": unit.hash})],
            snapshot=snapshot.encode(m, self.executor.base.glob), snapshot_step=m.steps,
            code_hash=unit.hash))
        return report

    # -- reading -----------------------------------------------------------------------

    def unawaited_errors(self, program_id: str) -> list[dict[str, Any]]:
        """The errors of async fibers that failed with nobody awaiting them, reported when
        the program ended (``{"fiber": id, "error": error as JSON}`` each)."""
        self.get(program_id)
        return [e.data for e in self.store.events(program_id, types=["unawaited-error"])]

    def result(self, program_id: str) -> Any:
        """The program's result as a Flowmetal value (``nil`` until it is done)."""
        return from_json(self.get(program_id).result)
