"""The event store contract: what every backend (SQLite, PostgreSQL) promises.

The store knows nothing of the language. It keeps JSON-compatible Python data (``dict``,
``list``, ``str``, ``int``, ``float``, ``bool``, ``None``) as JSON text, and opaque ``bytes``
blobs (compiled code units, machine snapshots). The runtime talks to a store only through
the abstract :class:`Store` below; records come back as frozen dataclasses. The tables
behind it are a public interface, documented in ``docs/store.md``.

The exception tree, so callers catch at the level they mean::

    StoreError               anything the store reports; never a raw driver exception
    ├── NotFound             no program, code, task or callback with that id
    ├── ConflictError        your view is stale (``last_seq`` moved), or the id is taken
    ├── SchemaError          the file is not a Flowmetal store, or is newer than this Flowmetal
    ├── AlreadyCompleted     the task or callback was completed before (at most once)
    └── ProgramFinished      the program is done, cancelled or aborted: it takes no input

Example::

    with open_store("run.db") as store:
        store.put_code(h, "job.flow", text, unit)
        store.create_program("p1", name="job", kind="program", code_hash=h, args=[],
                             events=[("started", {"args": []})])
        seq = store.commit("p1", Commit(expected_seq=1, status="waiting",
                                        events=[("requested", {"key": "e2"})],
                                        new_tasks=[NewTask("e2", "http", {"url": u})]))
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    # errors
    "StoreError",
    "NotFound",
    "ConflictError",
    "SchemaError",
    "AlreadyCompleted",
    "ProgramFinished",
    # vocabularies
    "PROGRAM_KINDS",
    "PROGRAM_STATUSES",
    "FINISHED_STATUSES",
    "TASK_STATUSES",
    "INPUT_EVENT_TYPES",
    # records
    "CodeRecord",
    "ProgramRecord",
    "EventRecord",
    "SnapshotRecord",
    "SnapshotInfo",
    "TimerRecord",
    "FiredTimer",
    "TaskRecord",
    "CallbackRecord",
    # what callers write
    "NewTask",
    "NewProgram",
    "Commit",
    # the contract
    "Store",
    "Tracer",
]

JSON = Any
"""A JSON-compatible value: dict (str keys), list, str, int, float (finite), bool or None."""

Tracer = Callable[[str, Sequence[Any]], None]
"""Called with every SQL statement and its parameters, like sqlite-utils' ``tracer=``."""


# -- errors ------------------------------------------------------------------------------


class StoreError(Exception):
    """Something the store could not do; the message says what, and on which object."""


class NotFound(StoreError):
    """No program, code unit, task or callback with that id."""


class ConflictError(StoreError):
    """Your view is stale (another writer moved ``last_seq``), or the id is already taken."""


class SchemaError(StoreError):
    """The file is not a Flowmetal store, or was written by a newer Flowmetal."""


class AlreadyCompleted(StoreError):
    """The task or callback was completed before; completion happens at most once."""


class ProgramFinished(StoreError):
    """The program is done, cancelled or aborted, so it accepts no more input or commits."""


# -- vocabularies --------------------------------------------------------------------------

PROGRAM_KINDS = frozenset({"program", "repl", "fork", "child"})

PROGRAM_STATUSES = frozenset({"ready", "waiting", "done", "failed", "cancelled", "aborted"})
"""``ready``: runnable (new input, or never run); ``waiting``: suspended on effects;
``done``; ``failed``: stopped on an uncaught error, offering restarts (recoverable);
``cancelled``; ``aborted``."""

FINISHED_STATUSES = frozenset({"done", "cancelled", "aborted"})
"""Statuses a program never leaves. ``failed`` is not one of them: it can be restarted."""

TASK_STATUSES = frozenset({"pending", "claimed", "done", "failed", "cancelled"})
"""``cancelled``: its program finished before the task was completed."""

INPUT_EVENT_TYPES = frozenset(
    {
        "effect-completed",
        "effect-failed",
        "message",
        "timer-fired",
        "callback",
        "restart",
        "cancel-requested",
        "child-completed",
        "eval",
    }
)
"""Events that come from outside a program's own run and that the runtime applies when it
resumes. Appending one makes the program ``ready``."""


# -- records (what the store returns) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeRecord:
    """A compiled code unit, stored under its content hash."""

    hash: str
    source_name: str
    source: str
    unit: bytes
    created_at: float


@dataclass(frozen=True, slots=True)
class ProgramRecord:
    """One program: what it runs, where it stands, and who holds its lease."""

    id: str
    name: str
    kind: str
    code_hash: str | None
    parent_id: str | None
    parent_step: int | None
    status: str
    args: JSON
    result: JSON
    error: JSON
    waiting: JSON
    last_seq: int
    created_at: float
    updated_at: float
    lease_owner: str | None
    lease_until: float | None

    @property
    def finished(self) -> bool:
        """True once the program is done, cancelled or aborted."""
        return self.status in FINISHED_STATUSES


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One entry of a program's log; ``seq`` runs 1, 2, 3... with no gaps."""

    program_id: str
    seq: int
    type: str
    data: JSON
    at: float


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    """A machine state that has applied the events up to and including ``seq``."""

    program_id: str
    seq: int
    step: int
    state: bytes
    created_at: float


class SnapshotInfo(NamedTuple):
    """Where a snapshot sits, without its blob: the event ``seq`` and machine ``step``."""

    seq: int
    step: int


@dataclass(frozen=True, slots=True)
class TimerRecord:
    """A durable timer; when due, it becomes a ``timer-fired`` input event."""

    program_id: str
    key: str
    due_at: float


class FiredTimer(NamedTuple):
    """A timer that fired, and the ``seq`` of the ``timer-fired`` event it appended."""

    program_id: str
    key: str
    seq: int


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """An outbox entry: an effect for a connector or outside worker to perform."""

    id: int
    program_id: str
    effect_key: str
    idempotency_key: str
    kind: str
    request: JSON
    status: str
    claimed_by: str | None
    lease_until: float | None
    attempts: int
    result: JSON
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class CallbackRecord:
    """A one-shot callback token; completing it appends a ``callback`` input event."""

    token: str
    program_id: str
    effect_key: str
    created_at: float
    completed_at: float | None
    payload: JSON


# -- what callers write -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewTask:
    """A task to put in the outbox; its idempotency key is ``"{program_id}:{effect_key}"``."""

    effect_key: str
    kind: str
    request: JSON


@dataclass(frozen=True, slots=True, kw_only=True)
class NewProgram:
    """A program to create inside a :class:`Commit` (a spawned child), like ``create_program``."""

    id: str
    name: str
    kind: str
    code_hash: str | None
    args: JSON
    parent_id: str | None = None
    parent_step: int | None = None
    events: Sequence[tuple[str, JSON]] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    """Everything one durable step writes, applied in ONE transaction by :meth:`Store.commit`.

    ``expected_seq`` is the caller's view of the program's ``last_seq``: if the store has moved
    on (an input arrived, another worker committed), the commit raises :class:`ConflictError`
    and writes nothing. ``events`` are appended at ``expected_seq + 1, + 2, ...``. The
    ``snapshot`` is stored at the seq of the last appended event (``expected_seq`` if none).
    ``status``, ``result``, ``error`` and ``waiting`` replace the program's current values.
    ``send`` appends input events ``(program_id, type, data)`` to OTHER programs (a child
    telling its parent it finished); a target that has finished is skipped, an unknown one
    raises :class:`NotFound`. ``code_hash`` switches the program to other code (an upgrade).
    """

    expected_seq: int
    status: str
    events: Sequence[tuple[str, JSON]] = ()
    snapshot: bytes | None = None
    snapshot_step: int = 0
    result: JSON = None
    error: JSON = None
    waiting: JSON = None
    new_timers: Sequence[tuple[str, float]] = ()
    cancel_timers: Sequence[str] = ()
    new_tasks: Sequence[NewTask] = ()
    new_callbacks: Sequence[tuple[str, str]] = ()
    new_programs: Sequence[NewProgram] = ()
    send: Sequence[tuple[str, str, JSON]] = ()
    code_hash: str | None = None
    """When set, the program runs this code from now on (``flowmetal upgrade``)."""


# -- the contract ---------------------------------------------------------------------------


class Store(ABC):
    """The event store: code, programs, their logs and snapshots, timers, tasks, callbacks.

    One store object wraps one connection. Its methods may be called from any thread, one
    call at a time (calls are serialized by a lock); for parallel work open one store per
    thread or process. Every write is its own short transaction.
    """

    # code ----------------------------------------------------------------------------

    @abstractmethod
    def put_code(self, hash: str, source_name: str, source: str, unit: bytes) -> None:
        """Store a compiled code unit under its content hash; storing it again does nothing."""

    @abstractmethod
    def get_code(self, hash: str) -> CodeRecord:
        """The code unit with that hash, or :class:`NotFound`."""

    # programs --------------------------------------------------------------------------

    @abstractmethod
    def create_program(
        self,
        id: str,
        *,
        name: str,
        kind: str,
        code_hash: str | None,
        args: JSON,
        parent_id: str | None = None,
        parent_step: int | None = None,
        events: Sequence[tuple[str, JSON]] = (),
        lease_owner: str | None = None,
        lease_seconds: float | None = None,
    ) -> ProgramRecord:
        """Create a program in status ``ready``, with ``events`` appended from seq 1.

        ``code_hash`` must have been stored with :meth:`put_code` (:class:`NotFound`
        otherwise); an existing ``id`` raises :class:`ConflictError`. Pass ``lease_owner``
        and ``lease_seconds`` to create it already leased, so no worker picks it up before
        the creator drives it (``flowmetal run``).
        """

    @abstractmethod
    def get_program(self, id: str) -> ProgramRecord:
        """The program with that id, or :class:`NotFound`."""

    @abstractmethod
    def list_programs(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        parent_id: str | None = None,
        limit: int = 1000,
    ) -> list[ProgramRecord]:
        """Programs matching every filter given, newest first."""

    @abstractmethod
    def set_status(
        self, program_id: str, status: str, *, event: tuple[str, JSON] | None = None
    ) -> int:
        """Force a program's status (operator cancel/abort), appending ``event`` if given.

        Refused with :class:`ProgramFinished` if the program has already finished. Moving to
        a finished status cancels its open tasks and deletes its timers, as a commit does.
        Returns the program's ``last_seq``.
        """

    # the log -----------------------------------------------------------------------------

    @abstractmethod
    def events(
        self,
        program_id: str,
        *,
        after: int = 0,
        until: int | None = None,
        types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[EventRecord]:
        """Events with ``after < seq <= until``, of the given types, in seq order.

        An unknown program has no events: the result is ``[]``, not :class:`NotFound`.
        """

    @abstractmethod
    def commit(self, program_id: str, c: Commit) -> int:
        """Apply a :class:`Commit` atomically and return the new ``last_seq``.

        :class:`ConflictError` if ``c.expected_seq`` is not the stored ``last_seq`` (nothing
        is written: reload, apply the new events, and try again); :class:`ProgramFinished` if
        the program has finished. Tasks are inserted-or-ignored on their idempotency key, so
        committing the same effect twice never makes two tasks; callbacks likewise on their
        token, timers and snapshots are replaced. Moving to a finished status cancels the
        program's open tasks and deletes its timers.
        """

    @abstractmethod
    def append_input(self, program_id: str, type: str, data: JSON) -> int:
        """Append an input event (one of :data:`INPUT_EVENT_TYPES`); return its seq.

        The program becomes ``ready``. This is how outside systems and ``flowmetal send``
        talk to a program. :class:`ProgramFinished` if it has finished.
        """

    # snapshots -------------------------------------------------------------------------

    @abstractmethod
    def latest_snapshot(self, program_id: str) -> SnapshotRecord | None:
        """The snapshot with the highest seq, or None."""

    @abstractmethod
    def snapshot_at_or_before(self, program_id: str, seq: int) -> SnapshotRecord | None:
        """The latest snapshot covering no event after ``seq``, or None."""

    @abstractmethod
    def snapshots(self, program_id: str) -> list[SnapshotInfo]:
        """Every snapshot's ``(seq, step)``, in seq order, without the blobs."""

    # timers ------------------------------------------------------------------------------

    @abstractmethod
    def next_timer_due(self) -> float | None:
        """The earliest ``due_at`` over all programs, or None when no timer is set."""

    @abstractmethod
    def fire_due_timers(self, now: float | None = None, limit: int = 100) -> list[FiredTimer]:
        """Fire up to ``limit`` timers due at ``now``, earliest first.

        Each fired timer is deleted and becomes the input event
        ``("timer-fired", {"key": key, "due_at": due_at})``. Safe to call from several
        processes at once: each timer fires exactly once.
        """

    @abstractmethod
    def list_timers(self, program_id: str | None = None) -> list[TimerRecord]:
        """Timers still set (of one program, or all), earliest first."""

    # tasks (the outbox) ---------------------------------------------------------------

    @abstractmethod
    def claim_tasks(
        self,
        *,
        kinds: Sequence[str] | None,
        worker: str,
        lease_seconds: float,
        limit: int = 10,
        now: float | None = None,
    ) -> list[TaskRecord]:
        """Claim pending tasks (or claimed ones whose lease expired) of the given kinds.

        ``kinds=None`` means any kind. Each claimed task gets ``claimed_by=worker``, a lease
        until ``now + lease_seconds``, and one more attempt. Oldest tasks first.
        """

    @abstractmethod
    def complete_task(
        self, task_id: int, *, ok: bool, value: JSON, worker: str | None = None
    ) -> int:
        """Finish a task and tell its program; return the seq of the input event.

        Atomically marks the task ``done`` (or ``failed``) with ``value`` as its result and
        appends ``("effect-completed", {"key": k, "value": value})`` (or ``("effect-failed",
        {"key": k, "error": value})``). At most once: a task already finished raises
        :class:`AlreadyCompleted`. Given a ``worker``, a task now claimed by someone else
        (your lease expired and it was re-claimed) raises :class:`ConflictError`.
        """

    @abstractmethod
    def get_task(self, task_id: int) -> TaskRecord:
        """The task with that id, or :class:`NotFound`."""

    @abstractmethod
    def list_tasks(
        self, program_id: str | None = None, status: str | None = None
    ) -> list[TaskRecord]:
        """Tasks matching the filters given, oldest first."""

    # callbacks ----------------------------------------------------------------------------

    @abstractmethod
    def complete_callback(self, token: str, payload: JSON) -> int:
        """Deliver a callback's payload, at most once; return the seq of the input event.

        Appends ``("callback", {"key": effect_key, "token": token, "value": payload})``.
        :class:`NotFound` for an unknown token, :class:`AlreadyCompleted` for a used one.
        """

    @abstractmethod
    def get_callback(self, token: str) -> CallbackRecord:
        """The callback with that token, or :class:`NotFound`."""

    @abstractmethod
    def list_callbacks(self, program_id: str) -> list[CallbackRecord]:
        """A program's callbacks, oldest first."""

    # leases on runnable programs --------------------------------------------------------

    @abstractmethod
    def claim_ready(
        self,
        *,
        worker: str,
        lease_seconds: float,
        limit: int = 10,
        kinds: Sequence[str] | None = None,
        now: float | None = None,
    ) -> list[str]:
        """Lease up to ``limit`` ``ready`` programs whose lease is free or expired.

        Returns their ids, longest-waiting first. The worker drives each one, then calls
        :meth:`release`.
        """

    @abstractmethod
    def acquire_lease(
        self, program_id: str, *, worker: str, lease_seconds: float, now: float | None = None
    ) -> bool:
        """Take or extend one program's lease, whatever its status; False if someone else
        holds an unexpired lease. Use it to renew during a long run, or to drive one program
        in-process (the REPL, ``flowmetal run``)."""

    @abstractmethod
    def release(self, program_id: str, worker: str) -> bool:
        """Drop ``worker``'s lease on the program; False if it did not hold it."""

    # waking up ------------------------------------------------------------------------

    def wait_for_change(self, timeout: float) -> bool:
        """Block until a writer may have made work, or ``timeout`` seconds pass.

        A worker that found nothing to do calls this instead of sleeping: it returns True as
        soon as the store hears that an input was appended, a program became ready, or a
        task or timer was added (by any process, on any machine), and False when the
        timeout passed first. Either way the caller then polls (``fire_due_timers``,
        ``claim_ready``, ``claim_tasks``): True is a hint, never a promise of work, and a
        change may be announced more than once.

        This default cannot hear anything: it sleeps ``timeout`` and returns False, which
        is plain polling. The backends override it: PostgreSQL with ``LISTEN``/``NOTIFY``,
        SQLite by watching the file's data version (which moves when another connection
        commits). Both start watching at the first call and from then on remember changes
        made while the caller was busy, so call ``wait_for_change(0)`` once before the first
        poll to miss none.

        Example::

            while True:
                work = store.claim_ready(worker=me, lease_seconds=30)
                ...
                if not work:
                    store.wait_for_change(timeout=1.0)
        """
        if timeout > 0:
            time.sleep(timeout)
        return False

    # lifetime ---------------------------------------------------------------------------

    @abstractmethod
    def close(self) -> None:
        """Close the connection; closing twice is harmless."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
