"""A REPL session: the front end's one door to the runtime and the store.

A session is a durable program of kind ``repl`` (see ``Runtime.repl_open``): each input is
an ``eval`` event, each answer an ``evaluated`` or ``failed`` event, and the machine's
globals (definitions, atoms, ``*1 *2 *3 *e``) live in its snapshots. So reopening a
session by name restores everything, and ``flowmetal debug`` opens it like any run.

Nothing here prints or prompts; ``Shell`` and the terminal app do that. Example::

    with Session.open("flow.db", "scratch") as s:
        out = s.evaluate("(+ 1 2)")          # Outcome(value=3, ...)
        out = s.evaluate('(receive "go")')   # Outcome(pending=True, ...)
        out = s.wait(out.seq, on_waiting=print)   # until `flowmetal send ID go 1`
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..cli import redact_url
from ..lang.base import base
from ..lang.data import Map, kw
from ..runtime.codec import error_to_json
from ..runtime.runtime import ReplResult, Runtime, RuntimeError_, describe_unawaited
from ..store import FINISHED_STATUSES, EventRecord, NotFound, ProgramRecord, StoreError, open_store
from .waits import Wait, answer, describe

__all__ = ["Session", "Outcome"]

_POLL = 0.05  # seconds between looks at the store while an input waits on the outside


@dataclass
class Outcome:
    """What became of one input: a value, an error (as stored), or still pending."""

    seq: int
    value: Any = None
    error: dict | None = None
    pending: bool = False
    elapsed: float = 0.0
    steps: int | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class _Sources:
    """Source names of inputs (``<repl 3>``, a loaded file) -> their text, for snippets."""

    texts: dict[str, str] = field(default_factory=dict)
    scanned: int = 0


class Session:
    """One named REPL session in one store, driven in this process.

    ``on_output`` (settable at any time) is called with ``(program_id, text)`` for each
    ``print`` as it is committed: the session's own, or a spawned child's.
    """

    def __init__(self, runtime: Runtime, session_id: str, db_path: str) -> None:
        self.rt = runtime
        self.on_output: Callable[[str, str], None] | None = None
        runtime.executor.on_output = self._emit
        self.store = runtime.store
        self.id = session_id
        self.db_path = db_path
        self.lock = threading.RLock()  # one user of the runtime at a time
        self._sources = _Sources()
        self._inputs = len(self.store.events(session_id, types=["eval"]))
        self._machine_cache: tuple[int, Any] | None = None
        # async fibers whose unawaited failure was shown (those of earlier runs, were then)
        self._lost_shown: set[int] = set(self.machine().extra.get("unawaited", ()))

    @classmethod
    def open(cls, db_path: str, name: str = "default") -> Session:
        """Open (or create) the session called ``name`` in the store at ``db_path``."""
        rt = Runtime(open_store(db_path))
        return cls(rt, rt.repl_open(name), db_path)

    def _emit(self, program_id: str, text: str) -> None:
        if self.on_output is not None:
            self.on_output(program_id, text)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what it is -------------------------------------------------------------------

    @property
    def record(self) -> ProgramRecord:
        return self.rt.get(self.id)

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def db_shown(self) -> str:
        """The store's path or URL as it may be printed: without its password."""
        return redact_url(self.db_path)

    @property
    def inputs(self) -> int:
        """How many inputs the session has recorded (restored ones included)."""
        return self._inputs

    def pending_input(self) -> int | None:
        """The seq of an input still in flight (waiting, or interrupted), or None."""
        with self.lock:
            return self.rt.repl_pending(self.id)

    def input_number(self, seq: int) -> int:
        """Which input (1, 2, 3...) the eval event at ``seq`` is."""
        return len(self.store.events(self.id, until=seq, types=["eval"]))

    # -- evaluating -------------------------------------------------------------------

    def next_source_name(self) -> str:
        """The name the next input's spans will carry: ``<repl N>`` for the Nth input."""
        return f"<repl {self._inputs + 1}>"

    def evaluate(self, text: str, source: str | None = None) -> Outcome:
        """Evaluate ``text`` durably; returns at once if it waits on the outside (pending).

        Read and compile errors raise (``ReadError``, ``CompileError``) and record nothing.
        ``KeyboardInterrupt`` leaves the input in the log, pending.
        """
        source = source or self.next_source_name()
        started = time.perf_counter()
        with self.lock:
            steps_before = self._steps()
            seq = self.rt.repl_submit(self.id, text, source=source)
            self._inputs += 1
            self._sources.texts[source] = text
            result = self.rt.repl_wait(self.id, seq, until=lambda _rec: True)
            return self._outcome(result, started, steps_before)

    def wait(self, seq: int, *, on_waiting: Callable[[list[Wait]], None] | None = None,
             stop: Callable[[list[Wait]], bool] | None = None) -> Outcome:
        """Drive a pending input until it is answered: fire its timers when due, run the
        children it spawned, and poll the store for what other processes send it.

        Each time the input settles into waiting with nothing to do, ``stop(waits)`` may
        end the wait early (a pending outcome is returned), else ``on_waiting(waits)`` is
        called. Ctrl-C (``KeyboardInterrupt``) also ends the wait; the input stays pending
        in the log.
        """
        started = time.perf_counter()
        while True:
            with self.lock:
                result = self.rt.repl_wait(self.id, seq, until=lambda _rec: True)
                if not result.pending or self.record.status in FINISHED_STATUSES:
                    return self._outcome(result, started, None)
                if self._drive_children():
                    continue
                waits = self.waits()
            if stop is not None and stop(waits):
                return Outcome(seq, pending=True, elapsed=time.perf_counter() - started)
            if on_waiting is not None:
                on_waiting(waits)
            self._sleep_until_change(waits)

    def _outcome(self, result: ReplResult, started: float, steps_before: int | None
                 ) -> Outcome:
        elapsed = time.perf_counter() - started
        steps = None
        if steps_before is not None:
            steps = max(0, self._steps() - steps_before)
        if result.pending:
            return Outcome(result.input_seq, pending=True, elapsed=elapsed, steps=steps)
        if result.error is not None:
            return Outcome(result.input_seq, error=self._stored_error(result.input_seq),
                           elapsed=elapsed, steps=steps)
        return Outcome(result.input_seq, value=result.value, elapsed=elapsed, steps=steps)

    def _stored_error(self, seq: int) -> dict:
        """The error exactly as recorded (with its positions), not as a rebuilt value."""
        for e in self.store.events(self.id, after=seq, types=["failed"]):
            if e.data.get("input") == seq:
                return e.data.get("error") or {}
        return {"message": "the input failed", "type": "error"}

    def _steps(self) -> int:
        snaps = self.store.snapshots(self.id)
        return snaps[-1].step if snaps else 0

    def _sleep_until_change(self, waits: list[Wait]) -> None:
        """Sleep until the log of the session (or a child) grows or a timer falls due."""
        due = [w.due for w in waits if w.due is not None]
        deadline = time.monotonic() + 1.0  # wake up at least once a second
        if due:
            deadline = min(deadline, time.monotonic() + max(0.0, min(due) - time.time()))
        before = self._signature()
        while time.monotonic() < deadline:
            time.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))
            if self._signature() != before:
                return

    def _signature(self) -> tuple:
        with self.lock:
            return tuple((p.id, p.last_seq) for p in [self.record, *self._children()])

    def background_step(self) -> list[tuple[str, str]]:
        """Between inputs: let background fibers and children move on (fire their due
        timers, take messages sent meanwhile); returns what they printed.

        Does nothing while another thread uses the session, and leaves alone an input
        still in flight (the foreground finishes it before the next input).
        """
        if not self.lock.acquire(blocking=False):
            return []
        printed: list[tuple[str, str]] = []
        saved = self.on_output
        try:
            rec = self.record
            now = time.time()
            due = {t.key: t.due_at for t in self.store.list_timers(self.id) if t.due_at <= now}
            children = self._children()
            if rec.status not in ("ready", "waiting") or not (
                    rec.status == "ready" or due or children):
                return []
            if self.rt.repl_pending(self.id) is not None:
                return []
            self.on_output = lambda pid, text: printed.append((pid, text))
            if rec.status == "ready" or due:
                self.rt.executor.drive(self.id, fire=due)
            self._drive_children()
            printed += [(self.id, f"warning: {line}\n") for line in self.lost_errors()]
            return printed
        finally:
            self.on_output = saved
            self.lock.release()

    # -- spawned children -----------------------------------------------------------------

    def _children(self) -> list[ProgramRecord]:
        """The live programs this session spawned, and theirs, recursively."""
        found: list[ProgramRecord] = []
        parents = [self.id]
        while parents:
            parent = parents.pop()
            for rec in self.store.list_programs(parent_id=parent):
                if not rec.finished:
                    found.append(rec)
                    parents.append(rec.id)
        return found

    def _drive_children(self) -> bool:
        """Drive spawned children that can move (ready, or a timer due); True if any did."""
        moved = False
        now = time.time()
        for child in self._children():
            due = {t.key: t.due_at for t in self.store.list_timers(child.id) if t.due_at <= now}
            if child.status == "ready" or due:
                self.rt.executor.drive(child.id, fire=due)
                moved = True
        return moved

    # -- what a pending input waits on ------------------------------------------------------

    def lost_errors(self) -> list[str]:
        """A line for each async fiber that failed with nothing awaiting it, each once
        (it may still be awaited later: its error stays in its future)."""
        m = self.machine()
        lines = []
        for fid in m.extra.get("unawaited", ()):
            if fid not in self._lost_shown:
                self._lost_shown.add(fid)
                lines.append(describe_unawaited(
                    {"fiber": fid, "error": error_to_json(m.fibers[fid].val)}))
        return lines

    def waits(self) -> list[Wait]:
        """What the session waits on now (see ``waits.describe``)."""
        with self.lock:
            return describe(self)

    def answer(self, wait: Wait, text: str) -> str:
        """Answer ``wait`` by hand (mock mode); see ``waits.answer``."""
        with self.lock:
            return answer(self, wait, text)

    # -- the session's state ---------------------------------------------------------------

    def machine(self) -> Any:
        """The session's machine as last committed (cached until the log moves)."""
        with self.lock:
            rec = self.record
            if self._machine_cache is None or self._machine_cache[0] != rec.last_seq:
                self._machine_cache = (rec.last_seq, self.rt.executor.load(rec))
            return self._machine_cache[1]

    def definitions(self) -> dict[str, Any]:
        """Names the session defined itself (not the base environment), with values."""
        glob = self.machine().glob
        base_glob = base().glob
        return {k: v for k, v in glob.items() if k not in base_glob or base_glob[k] is not v}

    def doc(self, name: str) -> tuple[str, str] | None:
        """``(arglists, doc)`` for a session definition or a built-in; None if unknown."""
        info = self.machine().docs.get(name)
        if info is not None and name in self.definitions():
            return (str(info.get(kw("arglists")) or ""), str(info.get(kw("doc")) or ""))
        return base().doc(name)

    def definition_site(self, name: str) -> tuple[str, int] | None:
        """``(source name, line)`` where ``name`` was defined, if known."""
        info = self.machine().docs.get(name) or base().docs.get(name)
        if not isinstance(info, Map) or info.get(kw("file")) is None:
            return None
        return str(info[kw("file")]), int(info.get(kw("line")) or 1)

    def source_text(self, source_name: str) -> str | None:
        """The text a span's source name points at: an input, a loaded file, the prelude."""
        if source_name == "prelude.flow":
            return resources.files("flowmetal.lang").joinpath("prelude.flow").read_text("utf-8")
        texts = self._sources.texts
        if source_name not in texts:
            with self.lock:
                evals = self.store.events(self.id, types=["eval"])
                for e in evals[self._sources.scanned:]:
                    try:
                        code = self.store.get_code(str(e.data.get("code_hash")))
                    except NotFound:
                        continue
                    texts.setdefault(code.source_name, code.source)
                self._sources.scanned = len(evals)
        if source_name in texts:
            return texts[source_name]
        try:
            return Path(source_name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def input_sources(self) -> Iterator[str]:
        """The text of every input of the session, oldest first."""
        for e in self.store.events(self.id, types=["eval"]):
            yield str(e.data.get("source") or "")

    def events(self, last: int | None = None) -> list[EventRecord]:
        """The session's events (the last ``last`` of them, if given)."""
        rec = self.record
        after = max(0, rec.last_seq - last) if last else 0
        return self.store.events(self.id, after=after)

    def sessions(self) -> list[ProgramRecord]:
        """Every REPL session in the store, newest first."""
        return self.store.list_programs(kind="repl")

    def reset(self) -> str:
        """Close this session for good (kept in the store) and start a fresh one with the
        same name; returns the old id.

        The old session is cancelled by forcing its status, not by driving it: an input
        still running in it (an interrupted endless loop) would never let a drive finish.
        Its running children are asked to cancel (recorded in their logs); they end at
        their next drive (this REPL's, a worker's, or ``flowmetal cancel``).
        """
        with self.lock:
            old = self.id
            name = self.name
            for child in self._children():
                try:
                    self.rt.cancel(child.id, f"its REPL session {old} was reset")
                except RuntimeError_:
                    pass  # it finished meanwhile
            try:
                self.store.set_status(old, "cancelled",
                                      event=("cancelled", {"reason": "reset in the REPL"}))
            except StoreError:
                pass  # already finished (another process reset it)
            self.id = self.rt.repl_open(name)
            self._inputs = 0
            self._sources = _Sources()
            self._machine_cache = None
            self._lost_shown = set()
            return old


