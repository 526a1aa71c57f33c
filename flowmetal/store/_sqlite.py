"""The SQLite backend: the embedded default, one file that several processes may share.

How it stays safe with several processes on one file (see ``docs/store.md``):

- WAL journal: readers never block the writer nor each other; one writer at a time.
- Every write is a short ``BEGIN IMMEDIATE`` transaction. A plain ``BEGIN`` (DEFERRED) starts
  as a reader and upgrades to a writer at its first write; if another connection has
  committed in between, SQLite cannot upgrade it and returns SQLITE_BUSY at once, without
  waiting (waiting could deadlock two upgraders). ``IMMEDIATE`` takes the write lock up
  front, so a second writer simply waits its turn under ``busy_timeout``.
- The next seq of a program's log is read and written inside that transaction, so two
  appenders can never both take the same seq: the log stays gapless.

One connection per store object, used by one thread at a time: public methods take a lock,
so a store may be shared between threads, but calls are serialized. For parallel work,
open one store per thread or process.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from ._common import (
    APPLICATION,
    CALLBACK_COLS,
    EVENT_COLS,
    PROGRAM_COLS,
    SCHEMA_VERSION,
    SNAPSHOT_COLS,
    TASK_COLS,
    callback_record,
    check_blob,
    check_input_type,
    check_kind,
    check_meta,
    check_status,
    checkpoint_block_start,
    dump_json,
    dump_json_or_null,
    event_record,
    load_json,
    program_record,
    snapshot_record,
    task_record,
)
from .contract import (
    FINISHED_STATUSES,
    AlreadyCompleted,
    CallbackRecord,
    CodeRecord,
    Commit,
    ConflictError,
    EventRecord,
    FiredTimer,
    NewProgram,
    NotFound,
    ProgramFinished,
    ProgramRecord,
    SchemaError,
    SnapshotInfo,
    SnapshotRecord,
    Store,
    StoreError,
    TaskRecord,
    TimerRecord,
    Tracer,
)

__all__ = ["SqliteStore", "SCHEMA_VERSION", "MIN_SQLITE_VERSION"]

MIN_SQLITE_VERSION = (3, 24, 0)
"""``INSERT ... ON CONFLICT`` (upsert) arrived in SQLite 3.24."""

@functools.cache
def _has_json_functions() -> bool:
    """Whether this SQLite has json_each, which the ``timers`` view (schema 3) is made of."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("SELECT key FROM json_each('{}')").fetchall()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


# -- schema ---------------------------------------------------------------------------------
# MIGRATIONS[v] takes a file from version v-1 to v. Version 0 is an empty file. Never edit a
# released migration: add the next one, and bump SCHEMA_VERSION. docs/store.md documents the
# result; tests/store/test_docs.py checks that every column is described there.
#
# One exception, physical and not logical: events, snapshots and timers are created WITHOUT
# ROWID (clustered on their primary key), so a commit writes one page of each instead of one
# of the table and one of its key's index; fewer pages make each commit's fsync and the WAL
# checkpoints cheaper. Files created before that have them as rowid tables: the same
# columns, keys and behaviour, so both are version 1 and nothing migrates them. (Version 3
# replaces the timers table by a view.)

_V1 = (
    """CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    f"INSERT INTO meta (key, value) VALUES ('application', '{APPLICATION}')",
    """CREATE TABLE code (
        hash        TEXT PRIMARY KEY,
        source_name TEXT NOT NULL,
        source      TEXT NOT NULL,
        unit        BLOB NOT NULL,
        created_at  REAL NOT NULL
    )""",
    """CREATE TABLE programs (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('program', 'repl', 'fork', 'child')),
        code_hash   TEXT REFERENCES code (hash),
        parent_id   TEXT REFERENCES programs (id),
        parent_step INTEGER,
        status      TEXT NOT NULL CHECK (status IN
                        ('ready', 'waiting', 'done', 'failed', 'cancelled', 'aborted')),
        args        TEXT NOT NULL,
        result      TEXT,
        error       TEXT,
        waiting     TEXT,
        last_seq    INTEGER NOT NULL DEFAULT 0,
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL,
        lease_owner TEXT,
        lease_until REAL
    )""",
    "CREATE INDEX programs_status ON programs (status)",
    "CREATE INDEX programs_parent ON programs (parent_id)",
    "CREATE INDEX programs_created ON programs (created_at)",
    """CREATE TABLE events (
        program_id TEXT NOT NULL REFERENCES programs (id),
        seq        INTEGER NOT NULL CHECK (seq >= 1),
        type       TEXT NOT NULL,
        data       TEXT NOT NULL,
        at         REAL NOT NULL,
        PRIMARY KEY (program_id, seq)
    ) WITHOUT ROWID""",
    # The log is append-only for every writer, not only for this code.
    """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'flowmetal events are append-only'); END""",
    """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'flowmetal events are append-only'); END""",
    """CREATE TABLE snapshots (
        program_id TEXT NOT NULL REFERENCES programs (id),
        seq        INTEGER NOT NULL,
        step       INTEGER NOT NULL,
        state      BLOB NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (program_id, seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE timers (
        program_id TEXT NOT NULL REFERENCES programs (id),
        key        TEXT NOT NULL,
        due_at     REAL NOT NULL,
        PRIMARY KEY (program_id, key)
    ) WITHOUT ROWID""",
    "CREATE INDEX timers_due ON timers (due_at)",
    """CREATE TABLE tasks (
        id              INTEGER PRIMARY KEY,
        program_id      TEXT NOT NULL REFERENCES programs (id),
        effect_key      TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        kind            TEXT NOT NULL,
        request         TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN
                            ('pending', 'claimed', 'done', 'failed', 'cancelled')),
        claimed_by      TEXT,
        lease_until     REAL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        result          TEXT,
        created_at      REAL NOT NULL,
        updated_at      REAL NOT NULL
    )""",
    "CREATE INDEX tasks_status_kind ON tasks (status, kind)",
    "CREATE INDEX tasks_program ON tasks (program_id)",
    """CREATE TABLE callbacks (
        token        TEXT PRIMARY KEY,
        program_id   TEXT NOT NULL REFERENCES programs (id),
        effect_key   TEXT NOT NULL,
        created_at   REAL NOT NULL,
        completed_at REAL,
        payload      TEXT
    )""",
    "CREATE INDEX callbacks_program ON callbacks (program_id)",
)

# Version 2: the newest snapshot of a program lives in its programs row (the row is
# rewritten by every commit anyway), so a commit writes no snapshots page; the snapshots
# table keeps only the older, retained ones (checkpoints). Older files get the columns and
# their newest snapshot moved into them.
_V2 = (
    "ALTER TABLE programs ADD COLUMN snapshot_seq INTEGER",
    "ALTER TABLE programs ADD COLUMN snapshot_step INTEGER",
    "ALTER TABLE programs ADD COLUMN snapshot_state BLOB",
    "ALTER TABLE programs ADD COLUMN snapshot_at REAL",
    """UPDATE programs SET (snapshot_seq, snapshot_step, snapshot_state, snapshot_at) =
       (SELECT seq, step, state, created_at FROM snapshots s WHERE s.program_id = programs.id
         ORDER BY seq DESC LIMIT 1)""",
    """DELETE FROM snapshots WHERE (program_id, seq) IN
       (SELECT id, snapshot_seq FROM programs WHERE snapshot_seq IS NOT NULL)""",
)


def _move_timers_into_programs(store: SqliteStore) -> None:
    """Version 3's data move: each program's timers rows become its ``timers`` object.

    Done in Python, not with ``json_group_object``: SQLite writes a REAL into JSON with 15
    significant digits, which would move a due time by up to some microseconds.
    """
    timers: dict[str, dict[str, float]] = {}
    for program_id, key, due_at in store._x(
        "SELECT program_id, key, due_at FROM timers ORDER BY program_id, due_at, key"
    ):
        timers.setdefault(program_id, {})[key] = float(due_at)
    store._xm(
        "UPDATE programs SET timers = ?, next_timer_at = ? WHERE id = ?",
        [(_timers_json(t), min(t.values()), id) for id, t in timers.items()],
    )


# Version 3: a program's timers live in its programs row too (a JSON object key -> due, and
# the earliest due, indexed), so a commit that replaces a timer writes no timers page, and
# a page of the index only when the earliest due moves. The view keeps the old table's
# rows for readers. The index is partial: programs without timers (most) are not in it.
_V3: tuple[str | Callable[[SqliteStore], None], ...] = (
    "ALTER TABLE programs ADD COLUMN timers TEXT",
    "ALTER TABLE programs ADD COLUMN next_timer_at REAL",
    _move_timers_into_programs,
    "DROP INDEX timers_due",
    "DROP TABLE timers",
    "CREATE INDEX programs_next_timer ON programs (next_timer_at)"
    " WHERE next_timer_at IS NOT NULL",
    """CREATE VIEW timers (program_id, key, due_at) AS
       SELECT p.id, t.key, t.value FROM programs p, json_each(p.timers) t
        WHERE p.next_timer_at IS NOT NULL""",
)

MIGRATIONS: dict[int, tuple[str | Callable[[SqliteStore], None], ...]] = {
    1: _V1, 2: _V2, 3: _V3
}

# -- statements -----------------------------------------------------------------------------
# Constant SQL text: the sqlite3 module keeps a cache of prepared statements keyed by text,
# so each of these is compiled once per connection. Placeholders are qmark style.

_WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes a checkpointed WAL file is truncated back to
_SELECT_PROGRAM = f"SELECT {PROGRAM_COLS} FROM programs WHERE id = ?"
_SELECT_SEQ_STATUS = "SELECT last_seq, status FROM programs WHERE id = ?"
_INSERT_PROGRAM = (
    "INSERT INTO programs (id, name, kind, code_hash, parent_id, parent_step, status, args,"
    " last_seq, created_at, updated_at, lease_owner, lease_until)"
    " VALUES (?, ?, ?, ?, ?, ?, 'ready', ?, ?, ?, ?, ?, ?)"
)
_SELECT_ROW_STATE = (
    "SELECT last_seq, status, snapshot_seq, timers FROM programs WHERE id = ?"
)
_UPDATE_PROGRAM_READY = (
    "UPDATE programs SET last_seq = ?, status = 'ready', updated_at = ? WHERE id = ?"
)
_UPDATE_PROGRAM_STATUS = "UPDATE programs SET last_seq = ?, status = ?, updated_at = ? WHERE id = ?"
_INSERT_EVENT = f"INSERT INTO events ({EVENT_COLS}) VALUES (?, ?, ?, ?, ?)"
# Snapshot retention: the newest snapshot is the programs row's; before a commit replaces
# it, it is kept in the snapshots table if it is the last of an earlier block of events (a
# checkpoint), and the table's snapshots of the current block (outside writers' strays) go.
# Parameters: program id, where the new snapshot's block starts, exclusive (a multiple of
# SNAPSHOT_CHECKPOINT_EVERY: see checkpoint_block_start), the new seq.
_KEEP_CHECKPOINT = (
    f"INSERT OR REPLACE INTO snapshots ({SNAPSHOT_COLS})"
    " SELECT id, snapshot_seq, snapshot_step, snapshot_state, snapshot_at FROM programs"
    " WHERE id = ? AND snapshot_seq <= ? AND snapshot_seq < ?"
)
_DROP_BLOCK_SNAPSHOTS = "DELETE FROM snapshots WHERE program_id = ? AND seq > ? AND seq <= ?"
_SELECT_NEWEST_SNAPSHOT = (
    "SELECT id, snapshot_seq, snapshot_step, snapshot_state, snapshot_at FROM programs"
    " WHERE id = ? AND snapshot_seq <= ?"
)
_SELECT_CHECKPOINT = (
    f"SELECT {SNAPSHOT_COLS} FROM snapshots WHERE program_id = ? AND seq <= ?"
    " ORDER BY seq DESC LIMIT 1"
)
_SET_CODE_HASH = "UPDATE programs SET code_hash = ? WHERE id = ?"
_INSERT_TASK = (
    "INSERT INTO tasks (program_id, effect_key, idempotency_key, kind, request, status,"
    " attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
    " ON CONFLICT (idempotency_key) DO NOTHING"
)
_INSERT_CALLBACK = (
    "INSERT INTO callbacks (token, program_id, effect_key, created_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (token) DO NOTHING"
)
_CANCEL_OPEN_TASKS = (
    "UPDATE tasks SET status = 'cancelled', updated_at = ?"
    " WHERE program_id = ? AND status IN ('pending', 'claimed')"
)
# set_status to a finished status: its timers will never fire
_UPDATE_PROGRAM_FINISHED = (
    "UPDATE programs SET last_seq = ?, status = ?, updated_at = ?, timers = NULL,"
    " next_timer_at = NULL WHERE id = ?"
)
# Found through the partial index programs_next_timer: a program is due when its earliest
# timer is, and the earliest `limit` programs hold the earliest `limit` due timers.
_SELECT_DUE_PROGRAMS = (
    "SELECT id, last_seq, status, timers FROM programs WHERE next_timer_at <= ?"
    " ORDER BY next_timer_at, id LIMIT ?"
)
_UPDATE_FIRED = (
    "UPDATE programs SET last_seq = ?, status = 'ready', updated_at = ?, timers = ?,"
    " next_timer_at = ? WHERE id = ?"
)
_DROP_FINISHED_TIMERS = "UPDATE programs SET timers = NULL, next_timer_at = NULL WHERE id = ?"

_WAKE_POLL_SECONDS = 0.01
"""How often ``wait_for_change`` looks at the file's data version."""

_SELECT_ALL_TIMERS = "SELECT id, timers FROM programs WHERE next_timer_at IS NOT NULL"
_SELECT_PROGRAM_TIMERS = "SELECT id, timers FROM programs WHERE id = ?"

_COMMITTED_KEPT = 10_000
"""How many programs' row state a store remembers, to write only what a commit changes."""


class _Row(NamedTuple):
    """What a commit needs to know of a program's row: as this store last wrote it (a hint,
    checked by the commit's UPDATE), or as read inside the commit's transaction."""

    last_seq: int
    status: str
    snapshot_seq: int | None
    timers: dict[str, float]  # key -> due; empty when none
    timers_json: str | None  # the text of the timers column, exactly


def _timers_json(timers: dict[str, float]) -> str | None:
    return dump_json(timers, "timers") if timers else None


# The flags of _update_program_sql. Which columns are set to NULL written in the SQL text
# rather than bound: sqlite3 binds None (and bytes) through its adapter registry, a lookup
# that costs more than the bind itself; the timers column compared with IS NULL likewise.
_NO_RESULT, _NO_ERROR, _NO_WAITING, _HAD_NO_TIMERS = 1, 2, 4, 8
# Which of the columns that often keep their value the UPDATE sets (and the snapshot's).
_SNAPSHOT, _STATUS, _TIMERS, _NEXT_TIMER = 16, 32, 64, 128


@functools.cache
def _update_program_sql(flags: int) -> str:
    """The compare-and-set at the heart of commit: it matches only if the row is as the
    commit believes (nobody moved last_seq, status or timers). It sets only the columns
    that change: SQLite rewrites an index entry for every indexed column in the SET list,
    even to the value it had, so status and next_timer_at are left out when they stay.

    Parameters, in order: last_seq, result, error and waiting (those not NULL), updated_at,
    the snapshot's seq, step, state and time (with _SNAPSHOT), then status, timers
    and next_timer_at (with their flags); the row's id, last_seq, status and timers (not
    with _HAD_NO_TIMERS); with _SNAPSHOT, the id, the block's start and the new seq.
    """
    sets = ["last_seq = ?"]
    sets += [f"{column} = NULL" if flags & null else f"{column} = ?" for column, null in
             (("result", _NO_RESULT), ("error", _NO_ERROR), ("waiting", _NO_WAITING))]
    sets.append("updated_at = ?")
    if flags & _SNAPSHOT:
        sets += ["snapshot_seq = ?", "snapshot_step = ?", "snapshot_state = ?", "snapshot_at = ?"]
    sets += [f"{column} = ?" for column, flag in
             (("status", _STATUS), ("timers", _TIMERS), ("next_timer_at", _NEXT_TIMER))
             if flags & flag]
    timers = "timers IS NULL" if flags & _HAD_NO_TIMERS else "timers = ?"
    # With a snapshot: no snapshot of the new one's block is in the snapshots table (no
    # Flowmetal writer puts one there; an outside writer might). A seek within this
    # statement, rather than a DELETE of its own at every commit.
    strays = (" AND NOT EXISTS (SELECT 1 FROM snapshots WHERE program_id = ? AND seq > ?"
              " AND seq <= ?)") if flags & _SNAPSHOT else ""
    return (f"UPDATE programs SET {', '.join(sets)}"
            f" WHERE id = ? AND last_seq = ? AND status = ? AND {timers}" + strays)


# -- SQL helpers ----------------------------------------------------------------------------


def _filtered(select: str, order: str, **equals: Any) -> tuple[str, list[Any]]:
    """``select`` with a WHERE clause for each column given a value other than None, then
    ``order``; the SQL text for each set of columns is built once."""
    columns = tuple(column for column, value in equals.items() if value is not None)
    return _where(select, columns, order), [equals[column] for column in columns]


@functools.lru_cache(maxsize=64)
def _where(select: str, columns: tuple[str, ...], order: str) -> str:
    where = " WHERE " + " AND ".join(f"{c} = ?" for c in columns) if columns else ""
    return select + where + order


def _newest_first(row: Sequence[Any]) -> tuple[float, str]:
    """The sort key of ``ORDER BY created_at DESC, id DESC`` (with ``reverse=True``)."""
    return row[12], row[0]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class _Reading:
    """The context of one read: the store's lock held, sqlite3 errors translated.

    A class rather than a ``@contextmanager`` generator: every store call enters one, and
    this costs a fraction of a generator's set-up on the effect path. ``what`` (formatted
    with ``args``, ``%`` style) says what the call does; it is formatted only for an error.
    """

    __slots__ = ("store", "what", "args")

    def __init__(self, store: SqliteStore, what: str, args: tuple[Any, ...]) -> None:
        self.store, self.what, self.args = store, what, args

    def __enter__(self) -> None:
        self.store._lock.acquire()

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None,
                 tb: object) -> None:
        self.store._lock.release()
        if isinstance(e, sqlite3.Error):
            raise self.store._error(e, self.doing()) from e

    def doing(self) -> str:
        return self.what % self.args if self.args else self.what


class _Writing(_Reading):
    """The context of one write transaction (see :meth:`SqliteStore._writing`)."""

    __slots__ = ()

    def __enter__(self) -> None:
        store = self.store
        store._lock.acquire()
        try:
            store._begin_write()
        except BaseException as e:
            # A Ctrl-C may land just after SQLite began the transaction: never leave it
            # (and the file's write lock) open behind the caller's back.
            store._rollback()
            store._lock.release()
            if isinstance(e, sqlite3.Error):
                raise store._error(e, self.doing()) from e
            raise

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None,
                 tb: object) -> None:
        store = self.store
        try:
            if e is None:
                try:
                    store._w("COMMIT")
                except BaseException as failed:
                    e = failed
                else:
                    store._remember()
            if e is not None:
                store._rollback()
        finally:
            store._learned.clear()
            store._lock.release()
        if isinstance(e, sqlite3.Error):
            raise store._error(e, self.doing()) from e
        if e is not None and kind is None:
            raise e  # COMMIT itself failed with something other than an sqlite3 error


# -- the store ------------------------------------------------------------------------------


class SqliteStore(Store):
    """The event store in one SQLite file.

    Example::

        store = SqliteStore("run.db", synchronous="NORMAL", tracer=print)

    :param path: the file; created (with the schema) if missing. ``":memory:"`` works but
        is not durable and cannot be shared.
    :param synchronous: ``"FULL"`` (default): a commit survives power loss. ``"NORMAL"``: a
        commit survives a process crash, but the last ones may roll back on power loss.
    :param tracer: called as ``tracer(sql, params)`` before every statement.
    :param busy_timeout: seconds to wait for another process's write lock.
    :param read_only: open the file read-only (SQLite ``mode=ro``): every write raises
        :class:`StoreError`, nothing is created or migrated. The debugger opens the record
        it shows this way, so a what-if can never change it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        tracer: Tracer | None = None,
        busy_timeout: float = 30.0,
        read_only: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self.read_only = read_only
        self._tracer = tracer
        self._lock = threading.Lock()
        # program id -> its row as this store last wrote it: a hint that lets a commit write
        # only what changes, checked by the commit's UPDATE, never trusted (see commit)
        self._rows: dict[str, _Row] = {}
        # what the open write transaction wrote (None: forget it), kept once it commits
        self._learned: dict[str, _Row | None] = {}
        self._data_version: int | None = None  # as wait_for_change last saw it
        synchronous = synchronous.upper()
        if synchronous not in ("FULL", "NORMAL"):
            raise StoreError(f"synchronous must be 'FULL' or 'NORMAL', not {synchronous!r}.")
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            raise StoreError(
                f"Flowmetal needs SQLite {'.'.join(map(str, MIN_SQLITE_VERSION))} or newer;"
                f" this Python has {sqlite3.sqlite_version}."
            )
        if not _has_json_functions():
            raise StoreError(
                "Flowmetal needs SQLite's JSON functions (json_each, built in since SQLite"
                f" 3.38); this Python's SQLite {sqlite3.sqlite_version} was built without them."
            )
        if read_only:
            self._open_read_only(busy_timeout)
            return
        with self._translate(f"open {self.path}"):
            # isolation_level=None: no implicit transactions; we BEGIN and COMMIT ourselves.
            # check_same_thread=False: the lock above serializes use across threads.
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
            self._cursor = self._conn.cursor()  # for statements that return no rows: see _w
        try:
            with self._translate(f"open {self.path}"):
                self._set_busy_timeout(busy_timeout)
                version = self._schema_version()  # refuse foreign files before touching them
                self._set_pragmas(synchronous, busy_timeout)
                if version < SCHEMA_VERSION:
                    self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _open_read_only(self, busy_timeout: float) -> None:
        """Connect with ``mode=ro``: no file is created, no schema written or migrated."""
        if not os.path.exists(self.path):
            raise StoreError(f"can't open {self.path} read-only: no such file")
        uri = "file:" + urllib.parse.quote(os.path.abspath(self.path)) + "?mode=ro"
        with self._translate(f"open {self.path}"):
            self._conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False,
                timeout=busy_timeout
            )
            self._cursor = self._conn.cursor()
        try:
            with self._translate(f"open {self.path}"):
                self._set_busy_timeout(busy_timeout)
                version = self._schema_version()
                if version < SCHEMA_VERSION:
                    raise SchemaError(
                        f"{self.path} has schema version {version}; open it once read-write"
                        f" to migrate it to version {SCHEMA_VERSION}."
                    )
        except BaseException:
            self._conn.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    # -- plumbing: the SQLite-specific bits, each in one small method --------------------

    def _x(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run a statement on a cursor of its own, whose rows the caller reads."""
        if self._tracer is not None:
            self._tracer(sql, params)
        return self._conn.execute(sql, params)

    def _w(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement that returns no rows; how many rows it changed.

        On the store's one write cursor: ``Connection.execute`` makes (and registers) a new
        cursor per call, which costs about as much as running a short statement. A statement
        that returns no rows is done when it returns, so nothing is left open on the cursor.
        """
        if self._tracer is not None:
            self._tracer(sql, params)
        cursor = self._cursor
        cursor.execute(sql, params)
        return cursor.rowcount

    def _xm(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a statement that returns no rows once per row of parameters."""
        if self._tracer is not None:
            for params in rows:
                self._tracer(sql, params)
        self._cursor.executemany(sql, rows)

    def _set_busy_timeout(self, seconds: float) -> None:
        # How long a writer waits for another process's write lock before giving up.
        self._x(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def _set_pragmas(self, synchronous: str, busy_timeout: float) -> None:
        # WAL: readers and the one writer do not block each other, and a commit is one
        # append to the -wal file. It is a property of the file, kept across connections.
        mode = self._enable_wal(busy_timeout)
        if mode.lower() not in ("wal", "memory"):
            raise StoreError(
                f"Could not put {self.path} in WAL mode (SQLite chose {mode!r}); Flowmetal"
                " stores need a local filesystem that supports shared memory."
            )
        # FULL: fsync the WAL at every commit, so a committed step survives power loss.
        # NORMAL (opt-in): fsync only at checkpoints; still safe against process crashes.
        self._x(f"PRAGMA synchronous = {synchronous}")
        # After a burst (a reader holding the WAL open), truncate it back at the next
        # checkpoint instead of keeping its largest size for good.
        self._x(f"PRAGMA journal_size_limit = {_WAL_SIZE_LIMIT}")
        # The schema's REFERENCES clauses are only enforced with this on (per connection).
        self._x("PRAGMA foreign_keys = ON")

    def _enable_wal(self, busy_timeout: float) -> str:
        """Switch the file to WAL; returns the journal mode SQLite settled on.

        Switching a new file to WAL needs an exclusive lock, and SQLite fails at once with
        "database is locked" (without calling the busy handler) if another process holds
        any lock, as it does when several processes open a new file together. So we retry
        here, within the busy timeout. Once the file is in WAL mode this is a plain read.
        """
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                return self._x("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as e:
                if not self._is_busy(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _begin_write(self) -> None:
        # IMMEDIATE takes the write lock now rather than at the first write: see the module
        # docstring for the deadlock this avoids.
        self._w("BEGIN IMMEDIATE")

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                self._w("ROLLBACK")
            except sqlite3.Error:
                pass  # the original error is the one worth reporting

    @staticmethod
    def _is_busy(e: sqlite3.Error) -> bool:
        return getattr(e, "sqlite_errorname", "").startswith("SQLITE_BUSY") or (
            "database is locked" in str(e)
        )

    @staticmethod
    def _is_not_a_database(e: sqlite3.Error) -> bool:
        return getattr(e, "sqlite_errorname", "") == "SQLITE_NOTADB" or (
            "file is not a database" in str(e)
        )

    def _error(self, e: sqlite3.Error, what: str) -> StoreError:
        """The StoreError that says what we were doing when sqlite3 raised ``e``."""
        if self._is_not_a_database(e):
            return SchemaError(
                f"{self.path} is not a Flowmetal store: it is not an SQLite database."
            )
        return StoreError(f"Could not {what}: {e}")

    @contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        """Turn any sqlite3 exception into a StoreError that says what we were doing."""
        try:
            yield
        except sqlite3.Error as e:
            raise self._error(e, what) from e

    def _reading(self, what: str, *args: Any) -> _Reading:
        """``with self._reading(what):`` hold the lock; sqlite3 errors become StoreErrors
        that say ``what % args``."""
        return _Reading(self, what, args)

    def _any(self, sql: str, params: Sequence[Any], what: str) -> bool:
        """Whether a query finds a row, asked with a read: pollers (claim_tasks, claim_ready,
        fire_due_timers) run it first so an idle poll never takes the write lock."""
        with self._reading(what):
            return self._x(sql, params).fetchone() is not None

    def _writing(self, what: str, *args: Any) -> _Writing:
        """``with self._writing(what):`` one write transaction under the lock: BEGIN
        IMMEDIATE, then COMMIT, or ROLLBACK on any error; sqlite3 errors become StoreErrors
        that say ``what % args``."""
        return _Writing(self, what, args)

    # -- schema ---------------------------------------------------------------------------

    def _schema_version(self) -> int:
        """The file's schema version (0 if empty); SchemaError if it is not ours to open."""
        tables = {r[0] for r in self._x("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return 0
        if "meta" not in tables:
            shown = ", ".join(sorted(tables)[:5])
            raise SchemaError(
                f"{self.path} is an SQLite database but not a Flowmetal store: it has tables"
                f" ({shown}) and no Flowmetal 'meta' table."
            )
        try:
            meta = dict(self._x("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError as e:
            raise SchemaError(
                f"{self.path} is not a Flowmetal store: its 'meta' table is not ours ({e})."
            ) from e
        return check_meta(meta, self.path)

    def _migrate(self) -> None:
        # Read the version again under the write lock: another process may have just
        # created or migrated the file while we waited.
        self._begin_write()
        try:
            for version in range(self._schema_version() + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    if callable(statement):
                        statement(self)
                    else:
                        self._x(statement)
                self._x(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(version),),
                )
            self._x("COMMIT")
        except BaseException:
            self._rollback()
            raise

    # -- code -----------------------------------------------------------------------------

    def put_code(self, hash: str, source_name: str, source: str, unit: bytes) -> None:
        check_blob(unit, f"the unit of code {hash!r}")
        with self._writing("store code %r", hash):
            self._x(
                "INSERT INTO code (hash, source_name, source, unit, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING",
                (hash, source_name, source, unit, time.time()),
            )

    def get_code(self, hash: str) -> CodeRecord:
        with self._reading("read code %r", hash):
            r = self._x(
                "SELECT hash, source_name, source, unit, created_at FROM code WHERE hash = ?",
                (hash,),
            ).fetchone()
        if r is None:
            raise NotFound(f"No code with hash {hash!r}.")
        return CodeRecord(r[0], r[1], r[2], bytes(r[3]), r[4])

    # -- programs ---------------------------------------------------------------------------

    def create_program(
        self,
        id: str,
        *,
        name: str,
        kind: str,
        code_hash: str | None,
        args: Any,
        parent_id: str | None = None,
        parent_step: int | None = None,
        events: Sequence[tuple[str, Any]] = (),
        lease_owner: str | None = None,
        lease_seconds: float | None = None,
    ) -> ProgramRecord:
        if (lease_owner is None) != (lease_seconds is None):
            raise StoreError("Give both lease_owner and lease_seconds, or neither.")
        p = NewProgram(
            id=id, name=name, kind=kind, code_hash=code_hash, args=args,
            parent_id=parent_id, parent_step=parent_step, events=events,
        )  # fmt: skip
        now = time.time()
        lease_until = None if lease_seconds is None else now + lease_seconds
        with self._writing("create program %r", id):
            self._insert_program(p, now, lease_owner, lease_until)
            return program_record(self._x(_SELECT_PROGRAM, (id,)).fetchone())

    def _insert_program(
        self,
        p: NewProgram,
        now: float,
        lease_owner: str | None = None,
        lease_until: float | None = None,
    ) -> None:
        check_kind(p.kind)
        args = dump_json(p.args, f"args of program {p.id!r}")
        rows = [
            (p.id, seq, type, dump_json(data, f"event {seq} of program {p.id!r}"), now)
            for seq, (type, data) in enumerate(p.events, 1)
        ]
        try:
            self._x(
                _INSERT_PROGRAM,
                (p.id, p.name, p.kind, p.code_hash, p.parent_id, p.parent_step, args,
                 len(rows), now, now, lease_owner, lease_until),
            )  # fmt: skip
        except sqlite3.IntegrityError as e:
            self._explain_program_refused(p)
            raise StoreError(f"Could not create program {p.id!r}: {e}") from e
        if rows:
            self._xm(_INSERT_EVENT, rows)
        self._learned[p.id] = _Row(len(rows), "ready", None, {}, None)

    def _explain_program_refused(self, p: NewProgram) -> None:
        """Raise the error that says why inserting ``p`` broke a constraint, if we can tell."""
        if self._x("SELECT 1 FROM programs WHERE id = ?", (p.id,)).fetchone():
            raise ConflictError(f"A program with id {p.id!r} already exists.")
        if (
            p.code_hash is not None
            and not self._x("SELECT 1 FROM code WHERE hash = ?", (p.code_hash,)).fetchone()
        ):
            raise NotFound(
                f"Program {p.id!r} names code {p.code_hash!r}, which is not stored;"
                " store it with put_code first."
            )
        if (
            p.parent_id is not None
            and not self._x("SELECT 1 FROM programs WHERE id = ?", (p.parent_id,)).fetchone()
        ):
            raise NotFound(f"Program {p.id!r} names parent {p.parent_id!r}, which does not exist.")

    def get_program(self, id: str) -> ProgramRecord:
        with self._reading("read program %r", id):
            r = self._x(_SELECT_PROGRAM, (id,)).fetchone()
        if r is None:
            raise NotFound(f"No program with id {id!r}.")
        return program_record(r)

    def list_programs(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        parent_id: str | None = None,
        limit: int = 1000,
    ) -> list[ProgramRecord]:
        select = f"SELECT {PROGRAM_COLS} FROM programs"
        sql, params = _filtered(
            select, " ORDER BY created_at DESC, id DESC LIMIT ?",
            status=status, kind=kind, parent_id=parent_id,
        )  # fmt: skip
        with self._reading("list programs"):
            if parent_id is not None:
                # A program's children (which the runtime looks for at every wait) are few:
                # read them unordered and sort them here, sparing SQLite's sorter, which
                # costs more than the rows; with more than ``limit`` of them, SQLite sorts.
                unordered, _ = _filtered(
                    select, " LIMIT ?", status=status, kind=kind, parent_id=parent_id
                )
                rows = self._x(unordered, (*params, limit + 1)).fetchall()
                if len(rows) <= limit:
                    rows.sort(key=_newest_first, reverse=True)
                    return [program_record(r) for r in rows]
            return [program_record(r) for r in self._x(sql, (*params, limit))]

    def set_status(
        self, program_id: str, status: str, *, event: tuple[str, Any] | None = None
    ) -> int:
        check_status(status)
        data = None if event is None else dump_json(event[1], f"{event[0]} event data")
        now = time.time()
        with self._writing("set the status of program %r", program_id):
            seq = self._current_seq(program_id)
            if event is not None:
                seq += 1
                self._x(_INSERT_EVENT, (program_id, seq, event[0], data, now))
            if status in FINISHED_STATUSES:
                # Its open tasks are cancelled and its timers will never fire.
                self._x(_UPDATE_PROGRAM_FINISHED, (seq, status, now, program_id))
                self._x(_CANCEL_OPEN_TASKS, (now, program_id))
            else:
                self._x(_UPDATE_PROGRAM_STATUS, (seq, status, now, program_id))
            self._learned[program_id] = None
        return seq

    def _current_seq(self, program_id: str) -> int:
        """The program's last_seq; NotFound, or ProgramFinished if it takes no more input."""
        r = self._x(_SELECT_SEQ_STATUS, (program_id,)).fetchone()
        if r is None:
            raise NotFound(f"No program with id {program_id!r}.")
        if r[1] in FINISHED_STATUSES:
            raise ProgramFinished(f"Program {program_id!r} is {r[1]}; it takes no more input.")
        return r[0]

    # -- the log --------------------------------------------------------------------------

    def events(
        self,
        program_id: str,
        *,
        after: int = 0,
        until: int | None = None,
        types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[EventRecord]:
        if types is not None and not types:
            return []
        sql = f"SELECT {EVENT_COLS} FROM events WHERE program_id = ? AND seq > ?"
        params: list[Any] = [program_id, after]
        if until is not None:
            sql += " AND seq <= ?"
            params.append(until)
        if types is not None:
            sql += f" AND type IN ({_marks(len(types))})"
            params.extend(types)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._reading("read the events of program %r", program_id):
            return [event_record(r) for r in self._x(sql, params)]

    def commit(self, program_id: str, c: Commit) -> int:
        status, snapshot, events = c.status, c.snapshot, c.events
        check_status(status)
        now = time.time()
        last_seq = c.expected_seq + len(events)
        # Encode everything before taking the write lock, so the lock is held for SQL only:
        # the flags and values of the UPDATE that do not depend on the row (see
        # _update_program_sql), and the rows of the other tables.
        flags, values = 0, []
        if c.result is None:
            flags = _NO_RESULT
        else:
            values.append(dump_json(c.result, "result of program %r", program_id))
        if c.error is None:
            flags |= _NO_ERROR
        else:
            values.append(dump_json(c.error, "error of program %r", program_id))
        if c.waiting is None:
            flags |= _NO_WAITING
        else:
            values.append(dump_json(c.waiting, "waiting of program %r", program_id))
        values.append(now)
        if snapshot is not None:
            check_blob(snapshot, "the snapshot of program %r", program_id)
            flags |= _SNAPSHOT
            # A bytearray is bound as it is; bytes go through sqlite3's adapter lookup first.
            values += (last_seq, c.snapshot_step, bytearray(snapshot), now)
        # Each part only when the commit has some: a comprehension costs a call even empty.
        event_rows = [
            (program_id, seq, type, dump_json(data, "event %d of program %r", seq, program_id),
             now)
            for seq, (type, data) in enumerate(events, c.expected_seq + 1)
        ] if events else None
        task_rows = [
            (program_id, t.effect_key, f"{program_id}:{t.effect_key}", t.kind,
             dump_json(t.request, "request of task %r of program %r", t.effect_key,
                       program_id), now, now)
            for t in c.new_tasks
        ] if c.new_tasks else None  # fmt: skip
        sends = [
            (target, type, dump_json(data, "%s event sent to program %r", type, target))
            for target, type, data in c.send
        ] if c.send else ()
        for target, type, _ in sends:
            check_input_type(type)
            if target == program_id:
                raise StoreError(f"A commit to program {program_id!r} cannot send input to"
                                 " itself.")

        with self._writing("commit to program %r", program_id):
            row, hint = None, self._hint(program_id)
            if hint is not None and hint.last_seq == c.expected_seq:
                row = self._update_program(program_id, c, flags, values, hint, last_seq)
            if row is None:  # this store does not know the row as it is: read it
                row = self._update_program(
                    program_id, c, flags, values, self._row_state(program_id, c.expected_seq),
                    last_seq, drop_strays=True,
                )  # fmt: skip
                if row is None:
                    raise StoreError(f"Could not commit to program {program_id!r}: its row"
                                     " changed under the write lock.")
            if event_rows:
                self._xm(_INSERT_EVENT, event_rows)
            if task_rows:
                self._xm(_INSERT_TASK, task_rows)
            if c.new_callbacks:
                self._xm(
                    _INSERT_CALLBACK,
                    [(token, program_id, key, now) for token, key in c.new_callbacks],
                )
            for p in c.new_programs:
                self._insert_program(p, now)
            for target, type, data in sends:
                self._append(target, type, data, now, skip_finished=True)
            if c.code_hash is not None:
                self._w(_SET_CODE_HASH, (c.code_hash, program_id))
            if status in FINISHED_STATUSES:
                self._w(_CANCEL_OPEN_TASKS, (now, program_id))
                row = None
            self._learned[program_id] = row
        return last_seq

    def _hint(self, program_id: str) -> _Row | None:
        """The program's row as this store last wrote it, if it knows."""
        learned = self._learned
        return learned[program_id] if program_id in learned else self._rows.get(program_id)

    def _remember(self) -> None:
        """The transaction committed: keep what it wrote, as hints for the next commits."""
        rows = self._rows
        for program_id, row in self._learned.items():
            if row is None:
                rows.pop(program_id, None)
                continue
            if len(rows) >= _COMMITTED_KEPT and program_id not in rows:
                rows.clear()
            rows[program_id] = row

    def _row_state(self, program_id: str, expected_seq: int) -> _Row:
        """The program's row, read in the commit's transaction; the errors that refuse it."""
        r = self._x(_SELECT_ROW_STATE, (program_id,)).fetchone()
        if r is None:
            raise NotFound(f"No program with id {program_id!r}.")
        last_seq, status, snapshot_seq, timers = r
        if status in FINISHED_STATUSES:
            raise ProgramFinished(f"Program {program_id!r} is {status}; it takes no more input.")
        if last_seq != expected_seq:
            raise ConflictError(
                f"Commit to program {program_id!r} expected last_seq {expected_seq}, but the"
                f" store has {last_seq}: reload the program, apply the new events, and try"
                " again."
            )
        return _Row(last_seq, status, snapshot_seq, load_json(timers) or {}, timers)

    def _update_program(
        self,
        program_id: str,
        c: Commit,
        flags: int,
        values: list[Any],
        was: _Row,
        last_seq: int,
        *,
        drop_strays: bool = False,
    ) -> _Row | None:
        """Write the commit's changes to the program's row, which ``was`` describes; None if
        the row is not as ``was`` says (then nothing of it was written). ``flags`` and
        ``values`` are the UPDATE's that do not depend on the row (see commit).

        Snapshot retention: keep the newest snapshot and the last one of each block of
        SNAPSHOT_CHECKPOINT_EVERY events: resume needs only the newest, the debugger is
        faster with a few checkpoints, and the file stays small. The row's snapshot moves to
        the snapshots table when it is the last of an earlier block, and snapshots of the
        new one's block in that table (outside writers' strays: no Flowmetal writer puts
        them there) go. The UPDATE matches no row while there are such strays, so the
        commit then reads the row and deletes them (``drop_strays``).
        """
        params = [last_seq, *values]
        snapshot_seq, block_start = was.snapshot_seq, 0
        if flags & _SNAPSHOT:
            # The row's snapshot is at least as new as ``was`` says: past the block's start,
            # it is no checkpoint.
            block_start = checkpoint_block_start(last_seq)
            if snapshot_seq is None or snapshot_seq <= block_start:
                self._w(_KEEP_CHECKPOINT, (program_id, block_start, last_seq))
            if drop_strays:
                self._w(_DROP_BLOCK_SNAPSHOTS, (program_id, block_start, last_seq))
            snapshot_seq = last_seq
        status = c.status
        if status != was.status:
            flags |= _STATUS
            params.append(status)
        timers = was.timers
        if status in FINISHED_STATUSES:
            timers = {}
        elif c.cancel_timers or c.new_timers:
            # the order of a dict comprehension without the cancelled keys, then update()
            timers = timers.copy()
            for key in c.cancel_timers:
                timers.pop(key, None)
            for key, due in c.new_timers:
                timers[key] = float(due)
        timers_json = was.timers_json
        if timers is not was.timers:
            timers_json = _timers_json(timers)
            if timers_json != was.timers_json:
                flags |= _TIMERS
                params.append(timers_json)
            next_timer = min(timers.values()) if timers else None
            if next_timer != (min(was.timers.values()) if was.timers else None):
                flags |= _NEXT_TIMER
                params.append(next_timer)
        if was.timers_json is None:
            flags |= _HAD_NO_TIMERS
            params += (program_id, was.last_seq, was.status)
        else:
            params += (program_id, was.last_seq, was.status, was.timers_json)
        if flags & _SNAPSHOT:
            params += (program_id, block_start, last_seq)
        if self._w(_update_program_sql(flags), params) != 1:
            return None
        return _Row(last_seq, status, snapshot_seq, timers, timers_json)

    def append_input(self, program_id: str, type: str, data: Any) -> int:
        check_input_type(type)
        data_json = dump_json(data, f"{type} event data")
        with self._writing("append %s to program %r", type, program_id):
            return self._append(program_id, type, data_json, time.time())

    def _append(
        self, program_id: str, type: str, data: str, now: float, *, skip_finished: bool = False
    ) -> int | None:
        """Append one input event at last_seq + 1 and make the program ready.

        Must run inside a write transaction: that is what makes the seq ours alone.
        """
        try:
            seq = self._current_seq(program_id) + 1
        except ProgramFinished:
            if skip_finished:
                return None
            raise
        self._w(_INSERT_EVENT, (program_id, seq, type, data, now))
        self._w(_UPDATE_PROGRAM_READY, (seq, now, program_id))
        self._moved(program_id, seq - 1, seq)
        return seq

    def _moved(self, program_id: str, before: int, last_seq: int, **changes: Any) -> None:
        """Input appended after ``before`` made the program ready: keep its row's hint up to
        date (if this store knew the row before), so its next commit need not read it."""
        row = self._hint(program_id)
        if row is not None and row.last_seq == before:
            self._learned[program_id] = row._replace(last_seq=last_seq, status="ready",
                                                     **changes)

    # -- snapshots --------------------------------------------------------------------------

    def latest_snapshot(self, program_id: str) -> SnapshotRecord | None:
        return self._snapshot(program_id, None, "read the latest snapshot")

    def snapshot_at_or_before(self, program_id: str, seq: int) -> SnapshotRecord | None:
        return self._snapshot(program_id, seq, "read a snapshot")

    def _snapshot(self, program_id: str, seq: int | None, what: str) -> SnapshotRecord | None:
        """The newest snapshot at or before ``seq`` (any if None): the programs row's, else
        the newest checkpoint of the snapshots table."""
        bound = (1 << 62) if seq is None else seq
        with self._reading("%s of program %r", what, program_id):
            r = self._x(_SELECT_NEWEST_SNAPSHOT, (program_id, bound)).fetchone()
            if r is None:
                r = self._x(_SELECT_CHECKPOINT, (program_id, bound)).fetchone()
        return None if r is None else snapshot_record(r)

    def snapshots(self, program_id: str) -> list[SnapshotInfo]:
        with self._reading("list the snapshots of program %r", program_id):
            rows = self._x(
                "SELECT seq, step FROM snapshots WHERE program_id = ?"
                " UNION SELECT snapshot_seq, snapshot_step FROM programs"
                " WHERE id = ? AND snapshot_seq IS NOT NULL ORDER BY 1",
                (program_id, program_id),
            ).fetchall()
        return [SnapshotInfo(seq, step) for seq, step in rows]

    # -- timers -----------------------------------------------------------------------------

    def next_timer_due(self) -> float | None:
        with self._reading("find the next timer"):
            return self._x(
                "SELECT MIN(next_timer_at) FROM programs WHERE next_timer_at IS NOT NULL"
            ).fetchone()[0]

    def fire_due_timers(self, now: float | None = None, limit: int = 100) -> list[FiredTimer]:
        now = time.time() if now is None else now
        if not self._any(_SELECT_DUE_PROGRAMS, (now, 1), "look for due timers"):
            return []
        # One transaction for the batch: one fsync instead of one per timer. Under BEGIN
        # IMMEDIATE no other process can fire (delete) these timers between our SELECT and
        # our UPDATE, so each timer fires exactly once.
        with self._writing("fire due timers"):
            rows = self._x(_SELECT_DUE_PROGRAMS, (now, limit)).fetchall()
            timers = {id: load_json(text) or {} for id, _, _, text in rows}
            due = sorted((d, id, key) for id, t in timers.items() for key, d in t.items()
                         if d <= now)
            if limit >= 0:  # as SQL's LIMIT, a negative limit is none
                due = due[:limit]
            seqs: dict[tuple[str, str], int] = {}
            for id, last_seq, status, _ in rows:
                mine = [(key, d) for d, of, key in due if of == id]
                if mine:
                    self._fire(id, last_seq, status, timers[id], mine, now, seqs)
        return [FiredTimer(id, key, seqs[id, key]) for _, id, key in due if (id, key) in seqs]

    def _fire(
        self, program_id: str, last_seq: int, status: str, timers: dict[str, float],
        due: list[tuple[str, float]], now: float, seqs: dict[tuple[str, str], int],
    ) -> None:
        """Delete a program's ``due`` timers and append their ``timer-fired`` events (a
        finished program's timers are only deleted), recording their seqs in ``seqs``."""
        if status in FINISHED_STATUSES:
            self._x(_DROP_FINISHED_TIMERS, (program_id,))
            return
        rows, before = [], last_seq
        for key, due_at in due:
            last_seq += 1
            data = dump_json({"key": key, "due_at": due_at}, "timer-fired event data")
            rows.append((program_id, last_seq, "timer-fired", data, now))
            seqs[program_id, key] = last_seq
            del timers[key]
        self._xm(_INSERT_EVENT, rows)
        timers_json = _timers_json(timers)
        next_timer = min(timers.values()) if timers else None
        self._x(_UPDATE_FIRED, (last_seq, now, timers_json, next_timer, program_id))
        self._moved(program_id, before, last_seq, timers=timers, timers_json=timers_json)

    def list_timers(self, program_id: str | None = None) -> list[TimerRecord]:
        if program_id is None:
            sql, params = _SELECT_ALL_TIMERS, ()
        else:
            sql, params = _SELECT_PROGRAM_TIMERS, (program_id,)
        with self._reading("list timers"):
            rows = self._x(sql, params).fetchall()
        timers = [(due, id, key) for id, text in rows if text is not None
                  for key, due in load_json(text).items()]
        return [TimerRecord(id, key, due) for due, id, key in sorted(timers)]

    # -- tasks ------------------------------------------------------------------------------

    def claim_tasks(
        self,
        *,
        kinds: Sequence[str] | None,
        worker: str,
        lease_seconds: float,
        limit: int = 10,
        now: float | None = None,
    ) -> list[TaskRecord]:
        if kinds is not None and not kinds:
            return []
        now = time.time() if now is None else now
        sql = (
            "SELECT id FROM tasks WHERE (status = 'pending'"
            " OR (status = 'claimed' AND lease_until <= ?))"
        )
        params: list[Any] = [now]
        if kinds is not None:
            sql += f" AND kind IN ({_marks(len(kinds))})"
            params.extend(kinds)
        sql += " ORDER BY id LIMIT ?"
        if not self._any(sql, (*params, 1), "look for tasks"):
            return []
        params.append(limit)
        with self._writing("claim tasks for %r", worker):
            ids = [r[0] for r in self._x(sql, params)]
            if not ids:
                return []
            self._xm(
                "UPDATE tasks SET status = 'claimed', claimed_by = ?, lease_until = ?,"
                " attempts = attempts + 1, updated_at = ? WHERE id = ?",
                [(worker, now + lease_seconds, now, id) for id in ids],
            )
            rows = self._x(
                f"SELECT {TASK_COLS} FROM tasks WHERE id IN ({_marks(len(ids))}) ORDER BY id",
                ids,
            ).fetchall()
        return [task_record(r) for r in rows]

    def complete_task(
        self, task_id: int, *, ok: bool, value: Any, worker: str | None = None
    ) -> int:
        if ok:
            status, type, data = "done", "effect-completed", {"value": value}
        else:
            status, type, data = "failed", "effect-failed", {"error": value}
        result = dump_json_or_null(value, f"result of task {task_id}")
        now = time.time()
        with self._writing("complete task %s", task_id):
            r = self._x(
                "SELECT program_id, effect_key, status, claimed_by FROM tasks WHERE id = ?",
                (task_id,),
            ).fetchone()
            if r is None:
                raise NotFound(f"No task with id {task_id}.")
            program_id, effect_key, current, claimed_by = r
            if current not in ("pending", "claimed"):
                raise AlreadyCompleted(f"Task {task_id} ({effect_key!r}) is already {current}.")
            if worker is not None and current == "claimed" and claimed_by != worker:
                raise ConflictError(
                    f"Task {task_id} is claimed by {claimed_by!r}, not {worker!r}: your lease"
                    " expired and another worker took it."
                )
            self._x(
                "UPDATE tasks SET status = ?, result = ?, updated_at = ? WHERE id = ?",
                (status, result, now, task_id),
            )
            event = dump_json({"key": effect_key, **data}, f"{type} event data")
            return self._append(program_id, type, event, now)

    def get_task(self, task_id: int) -> TaskRecord:
        with self._reading("read task %s", task_id):
            r = self._x(f"SELECT {TASK_COLS} FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if r is None:
            raise NotFound(f"No task with id {task_id}.")
        return task_record(r)

    def list_tasks(
        self, program_id: str | None = None, status: str | None = None
    ) -> list[TaskRecord]:
        sql, params = _filtered(
            f"SELECT {TASK_COLS} FROM tasks", " ORDER BY id", program_id=program_id, status=status
        )
        with self._reading("list tasks"):
            return [task_record(r) for r in self._x(sql, params)]

    # -- callbacks ------------------------------------------------------------------------

    def complete_callback(self, token: str, payload: Any) -> int:
        stored = dump_json_or_null(payload, "callback payload")
        now = time.time()
        # Tokens are secrets: error messages name the callback's effect, never the token.
        with self._writing("complete a callback"):
            r = self._x(
                "SELECT program_id, effect_key, completed_at FROM callbacks WHERE token = ?",
                (token,),
            ).fetchone()
            if r is None:
                raise NotFound("No callback with that token.")
            program_id, effect_key, completed_at = r
            if completed_at is not None:
                raise AlreadyCompleted(
                    f"The callback {effect_key!r} of program {program_id!r} was already completed."
                )
            self._x(
                "UPDATE callbacks SET completed_at = ?, payload = ? WHERE token = ?",
                (now, stored, token),
            )
            event = dump_json(
                {"key": effect_key, "token": token, "value": payload}, "callback event data"
            )
            return self._append(program_id, "callback", event, now)

    def get_callback(self, token: str) -> CallbackRecord:
        with self._reading("read a callback"):
            r = self._x(
                f"SELECT {CALLBACK_COLS} FROM callbacks WHERE token = ?", (token,)
            ).fetchone()
        if r is None:
            raise NotFound("No callback with that token.")
        return callback_record(r)

    def list_callbacks(self, program_id: str) -> list[CallbackRecord]:
        with self._reading("list the callbacks of program %r", program_id):
            rows = self._x(
                f"SELECT {CALLBACK_COLS} FROM callbacks WHERE program_id = ?"
                " ORDER BY created_at, token",
                (program_id,),
            ).fetchall()
        return [callback_record(r) for r in rows]

    # -- leases ---------------------------------------------------------------------------

    def claim_ready(
        self,
        *,
        worker: str,
        lease_seconds: float,
        limit: int = 10,
        kinds: Sequence[str] | None = None,
        now: float | None = None,
    ) -> list[str]:
        if kinds is not None and not kinds:
            return []
        now = time.time() if now is None else now
        sql = (
            "SELECT id FROM programs WHERE status = 'ready'"
            " AND (lease_until IS NULL OR lease_until <= ?)"
        )
        params: list[Any] = [now]
        if kinds is not None:
            sql += f" AND kind IN ({_marks(len(kinds))})"
            params.extend(kinds)
        sql += " ORDER BY updated_at, id LIMIT ?"
        if not self._any(sql, (*params, 1), "look for ready programs"):
            return []
        params.append(limit)
        with self._writing("claim ready programs for %r", worker):
            ids = [r[0] for r in self._x(sql, params)]
            self._xm(
                "UPDATE programs SET lease_owner = ?, lease_until = ? WHERE id = ?",
                [(worker, now + lease_seconds, id) for id in ids],
            )
        return ids

    def acquire_lease(
        self, program_id: str, *, worker: str, lease_seconds: float, now: float | None = None
    ) -> bool:
        now = time.time() if now is None else now
        with self._writing("lease program %r", program_id):
            taken = self._x(
                "UPDATE programs SET lease_owner = ?, lease_until = ? WHERE id = ?"
                " AND (lease_owner IS NULL OR lease_owner = ? OR lease_until IS NULL"
                " OR lease_until <= ?)",
                (worker, now + lease_seconds, program_id, worker, now),
            ).rowcount
            if not taken and not self._x(_SELECT_SEQ_STATUS, (program_id,)).fetchone():
                raise NotFound(f"No program with id {program_id!r}.")
        return bool(taken)

    def release(self, program_id: str, worker: str) -> bool:
        with self._writing("release program %r", program_id):
            return (
                self._x(
                    "UPDATE programs SET lease_owner = NULL, lease_until = NULL"
                    " WHERE id = ? AND lease_owner = ?",
                    (program_id, worker),
                ).rowcount
                == 1
            )

    # -- waking up --------------------------------------------------------------------------

    def wait_for_change(self, timeout: float) -> bool:
        """Block until another connection commits to the file, or ``timeout`` seconds pass.

        SQLite has no notifications: this looks at ``PRAGMA data_version``, a counter that
        moves whenever another connection (of any process) commits, every few milliseconds,
        so an idle worker starts on new work almost at once rather than at its next poll. As
        on PostgreSQL, the first call starts watching, and a commit made while the caller
        was busy makes the next call return True at once. Any commit counts, not only those
        that make work: True is a hint. The store's lock is free while it sleeps.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            with self._reading("watch the store for changes"):
                version = self._x("PRAGMA data_version").fetchone()[0]
                seen, self._data_version = self._data_version, version
            if seen is not None and version != seen:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(_WAKE_POLL_SECONDS, left))

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()
