"""The PostgreSQL backend: one store shared by workers on several machines.

Same tables, same contract as the SQLite backend (``docs/store.md``); what differs is how
concurrent writers are kept apart:

- **Gapless logs by row locks.** Every write that appends to a program's log first updates
  (or ``SELECT ... FOR NO KEY UPDATE``\\s) that program's row, and takes the next seq from it, in
  the same transaction. A second appender blocks on the row lock until the first commits,
  then reads the new ``last_seq`` (READ COMMITTED re-checks an updated row), so two writers
  never take one seq. ``commit`` is a compare-and-set: ``UPDATE programs ... WHERE last_seq =
  expected``; no row matched means someone else moved on, and nothing is written.
- **Claims with SKIP LOCKED.** ``claim_ready``, ``claim_tasks`` and ``fire_due_timers`` lock
  the rows they take with ``FOR UPDATE SKIP LOCKED``: concurrent workers take disjoint rows
  without waiting for each other, and a row another worker has just claimed and committed no
  longer matches (its lease is in the future, its timer is gone).
- **One lock order.** A transaction that touches a program's row and its tasks, timers or
  callbacks locks the program row first. ``fire_due_timers`` skips timers whose program row
  is locked (it is being committed; the timer fires at the next poll), so it never waits
  while holding a timer. Deadlocks that remain possible (two programs sending to each other
  at the same moment) are detected by PostgreSQL and the transaction is retried.
- **Wake-ups by LISTEN/NOTIFY.** Writes that make work (an input appended, a program ready,
  a task or timer added) ``pg_notify`` the store's channel with the program id, inside their
  transaction, so the notice goes out exactly when the change is visible.
  :meth:`PostgresStore.wait_for_change` listens on a second connection, opened lazily.

One connection per store object, autocommit off: every method is one transaction, committed
(or rolled back) before it returns, so no session sits idle inside a transaction. Public
methods take a lock, so a store may be shared between threads, one call at a time. A
connection found broken (the server restarted, an idle connection was cut) is replaced and
the transaction run again on the new one, since it stored nothing.
"""

from __future__ import annotations

import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.types.string import TextBinaryLoader, TextLoader
except ImportError as e:  # pragma: no cover - exercised only without psycopg installed
    from .contract import StoreError

    raise StoreError(
        "PostgreSQL stores need psycopg 3: pip install 'psycopg[binary]>=3.2'."
    ) from e

from ._common import (
    APPLICATION,
    CALLBACK_COLS,
    EVENT_COLS,
    FINISHED_SQL,
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

__all__ = ["PostgresStore", "MIGRATIONS", "notify_channel"]

# Connection.notifies(timeout=, stop_after=), which wait_for_change uses, came in 3.2.
if tuple(int(part) for part in psycopg.__version__.split(".")[:2]) < (3, 2):  # pragma: no cover
    raise StoreError(
        f"PostgreSQL stores need psycopg 3.2 or newer; this Python has {psycopg.__version__}:"
        " pip install 'psycopg[binary]>=3.2'."
    )

T = TypeVar("T")

# -- schema ---------------------------------------------------------------------------------
# MIGRATIONS[v] takes a schema from version v-1 to v; version 0 is an empty (or missing)
# schema. The tables and columns are those of the SQLite backend, with PostgreSQL types:
# REAL -> DOUBLE PRECISION (a Python float, exactly), INTEGER -> BIGINT, BLOB -> BYTEA.
#
# JSON columns are `json`, not `jsonb`: `json` keeps the text it is given, so the store
# returns exactly what the SQLite backend returns. `jsonb` would not: it reorders object keys
# (Flowmetal maps iterate in insertion order, and the runtime relies on it), turns 1e20 into
# the integer 100000000000000000000, and refuses the string "\u0000". `json` still checks
# that what outside writers store is JSON, and `->`, `->>` work on it (cast to jsonb to index).
#
# Key and text columns use the "C" collation: ORDER BY id then sorts by code point, as SQLite
# does, whatever the database's locale, and the btree indexes compare bytes (faster).
# Constraints are named, so a violation says which one (see _explain_program_refused).

_KINDS_SQL = "'program', 'repl', 'fork', 'child'"
_STATUSES_SQL = "'ready', 'waiting', 'done', 'failed', 'cancelled', 'aborted'"
_TASK_STATUSES_SQL = "'pending', 'claimed', 'done', 'failed', 'cancelled'"

_V1 = (
    """CREATE TABLE meta (
        key   TEXT COLLATE "C" PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    f"INSERT INTO meta (key, value) VALUES ('application', '{APPLICATION}')",
    """CREATE TABLE code (
        hash        TEXT COLLATE "C" PRIMARY KEY,
        source_name TEXT NOT NULL,
        source      TEXT NOT NULL,
        unit        BYTEA NOT NULL,
        created_at  DOUBLE PRECISION NOT NULL
    )""",
    f"""CREATE TABLE programs (
        id          TEXT COLLATE "C" CONSTRAINT programs_pkey PRIMARY KEY,
        name        TEXT NOT NULL,
        kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ({_KINDS_SQL})),
        code_hash   TEXT COLLATE "C" CONSTRAINT programs_code_hash_fkey REFERENCES code (hash),
        parent_id   TEXT COLLATE "C"
                    CONSTRAINT programs_parent_id_fkey REFERENCES programs (id),
        parent_step BIGINT,
        status      TEXT COLLATE "C" NOT NULL CHECK (status IN ({_STATUSES_SQL})),
        args        JSON NOT NULL,
        result      JSON,
        error       JSON,
        waiting     JSON,
        last_seq    BIGINT NOT NULL DEFAULT 0,
        created_at  DOUBLE PRECISION NOT NULL,
        updated_at  DOUBLE PRECISION NOT NULL,
        lease_owner TEXT COLLATE "C",
        lease_until DOUBLE PRECISION
    )""",
    "CREATE INDEX programs_status ON programs (status)",
    "CREATE INDEX programs_parent ON programs (parent_id)",
    "CREATE INDEX programs_created ON programs (created_at)",
    """CREATE TABLE events (
        program_id TEXT COLLATE "C" NOT NULL REFERENCES programs (id),
        seq        BIGINT NOT NULL CHECK (seq >= 1),
        type       TEXT COLLATE "C" NOT NULL,
        data       JSON NOT NULL,
        at         DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (program_id, seq)
    )""",
    # The log is append-only for every writer, not only for this code.
    """CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           RAISE EXCEPTION 'flowmetal events are append-only'
               USING ERRCODE = 'integrity_constraint_violation';
       END $$""",
    """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
       FOR EACH ROW EXECUTE FUNCTION events_append_only()""",
    """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
       FOR EACH ROW EXECUTE FUNCTION events_append_only()""",
    """CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
       FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()""",
    """CREATE TABLE snapshots (
        program_id TEXT COLLATE "C" NOT NULL REFERENCES programs (id),
        seq        BIGINT NOT NULL,
        step       BIGINT NOT NULL,
        state      BYTEA NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (program_id, seq)
    )""",
    """CREATE TABLE timers (
        program_id TEXT COLLATE "C" NOT NULL REFERENCES programs (id),
        key        TEXT COLLATE "C" NOT NULL,
        due_at     DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (program_id, key)
    )""",
    "CREATE INDEX timers_due ON timers (due_at)",
    f"""CREATE TABLE tasks (
        id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        program_id      TEXT COLLATE "C" NOT NULL REFERENCES programs (id),
        effect_key      TEXT COLLATE "C" NOT NULL,
        idempotency_key TEXT COLLATE "C" NOT NULL UNIQUE,
        kind            TEXT COLLATE "C" NOT NULL,
        request         JSON NOT NULL,
        status          TEXT COLLATE "C" NOT NULL CHECK (status IN ({_TASK_STATUSES_SQL})),
        claimed_by      TEXT COLLATE "C",
        lease_until     DOUBLE PRECISION,
        attempts        BIGINT NOT NULL DEFAULT 0,
        result          JSON,
        created_at      DOUBLE PRECISION NOT NULL,
        updated_at      DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX tasks_status_kind ON tasks (status, kind)",
    "CREATE INDEX tasks_program ON tasks (program_id)",
    """CREATE TABLE callbacks (
        token        TEXT COLLATE "C" PRIMARY KEY,
        program_id   TEXT COLLATE "C" NOT NULL REFERENCES programs (id),
        effect_key   TEXT COLLATE "C" NOT NULL,
        created_at   DOUBLE PRECISION NOT NULL,
        completed_at DOUBLE PRECISION,
        payload      JSON
    )""",
    "CREATE INDEX callbacks_program ON callbacks (program_id)",
)

# Version 2 moved SQLite's newest snapshot into the programs row, to spare each commit the
# write of a snapshots page. Here every snapshot stays in the snapshots table: the same
# contract, and nothing to migrate. Version 3 did the same with SQLite's timers (into the
# programs row, the timers table becoming a view); here they stay in their table.
MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1, 2: (), 3: ()}

# -- statements -----------------------------------------------------------------------------
# Constant SQL text: psycopg prepares a statement on the server once it has run it a few
# times on a connection (prepare_threshold), keyed by its text. Placeholders are %(name)s.
# Lists travel as arrays (= ANY(...), unnest(...)) so the text stays constant however many
# items there are, and a batch of rows is one statement: one round trip.

_SELECT_PROGRAM = f"SELECT {PROGRAM_COLS} FROM programs WHERE id = %s"
_LOCK_PROGRAM = "SELECT last_seq, status FROM programs WHERE id = %s FOR NO KEY UPDATE"
_INSERT_PROGRAM = (
    "INSERT INTO programs (id, name, kind, code_hash, parent_id, parent_step, status, args,"
    " last_seq, created_at, updated_at, lease_owner, lease_until)"
    " VALUES (%(id)s, %(name)s, %(kind)s, %(code_hash)s, %(parent_id)s, %(parent_step)s,"
    " 'ready', %(args)s::json, %(last_seq)s, %(now)s, %(now)s, %(lease_owner)s,"
    " %(lease_until)s)"
    f" RETURNING {PROGRAM_COLS}, pg_notify(%(channel)s, id)"
)
# The compare-and-set at the heart of commit: it matches only if nobody moved last_seq. It
# also locks the row until COMMIT, so appenders queue behind it.
_UPDATE_PROGRAM_IF_CURRENT = (
    "UPDATE programs SET last_seq = %(last_seq)s, status = %(status)s,"
    " result = %(result)s::json, error = %(error)s::json, waiting = %(waiting)s::json,"
    " updated_at = %(now)s"
    " WHERE id = %(id)s AND last_seq = %(expected)s"
    f" AND status NOT IN ({FINISHED_SQL})"
    " RETURNING CASE WHEN %(notify)s THEN pg_notify(%(channel)s, id) END"
)
# Append one input event: take the next seq by incrementing last_seq (which row-locks the
# program until COMMIT), make the program ready, insert the event at that seq, and notify
# listeners when the transaction commits. No row back: no such program, or it has finished.
_APPEND = (
    "WITH p AS (UPDATE programs SET last_seq = last_seq + 1, status = 'ready',"
    " updated_at = %(now)s"
    f" WHERE id = %(id)s AND status NOT IN ({FINISHED_SQL}) RETURNING id, last_seq)"
    " INSERT INTO events (program_id, seq, type, data, at)"
    " SELECT id, last_seq, %(type)s, %(data)s::json, %(now)s FROM p"
    " RETURNING seq, pg_notify(%(channel)s, program_id)"
)
_INSERT_EVENTS = (
    "INSERT INTO events (program_id, seq, type, data, at)"
    " SELECT %(id)s, e.seq, e.type, e.data::json, %(now)s"
    " FROM unnest(%(seqs)s::bigint[], %(types)s::text[], %(datas)s::text[]) AS e(seq, type, data)"
)
_INSERT_EVENT = (
    "INSERT INTO events (program_id, seq, type, data, at)"
    " VALUES (%(id)s, %(seq)s, %(type)s, %(data)s::json, %(now)s)"
)
_UPDATE_PROGRAM_STATUS = (
    "UPDATE programs SET last_seq = %(seq)s, status = %(status)s, updated_at = %(now)s"
    " WHERE id = %(id)s"
    " RETURNING CASE WHEN status = 'ready' THEN pg_notify(%(channel)s, id) END"
)
# Store the snapshot and prune the ones that are neither the newest nor a checkpoint, in one
# statement: the DELETE touches seq < last_seq only, the upsert seq = last_seq.
_UPSERT_SNAPSHOT = (
    "WITH pruned AS (DELETE FROM snapshots WHERE program_id = %(id)s"
    " AND seq > %(block_start)s AND seq < %(seq)s)"
    f" INSERT INTO snapshots ({SNAPSHOT_COLS})"
    " VALUES (%(id)s, %(seq)s, %(step)s, %(state)s, %(now)s)"
    " ON CONFLICT (program_id, seq) DO UPDATE SET"
    " step = excluded.step, state = excluded.state, created_at = excluded.created_at"
)
_DELETE_TIMERS = "DELETE FROM timers WHERE program_id = %(id)s AND key = ANY(%(keys)s::text[])"
_UPSERT_TIMERS = (
    "INSERT INTO timers (program_id, key, due_at)"
    " SELECT %(id)s, t.key, t.due_at"
    " FROM unnest(%(keys)s::text[], %(dues)s::float8[]) AS t(key, due_at)"
    " ON CONFLICT (program_id, key) DO UPDATE SET due_at = excluded.due_at"
)
_INSERT_TASKS = (
    "INSERT INTO tasks (program_id, effect_key, idempotency_key, kind, request, status,"
    " attempts, created_at, updated_at)"
    " SELECT %(id)s, t.key, t.ikey, t.kind, t.request::json, 'pending', 0, %(now)s, %(now)s"
    " FROM unnest(%(keys)s::text[], %(ikeys)s::text[], %(kinds)s::text[],"
    " %(requests)s::text[]) WITH ORDINALITY AS t(key, ikey, kind, request, n)"
    " ORDER BY t.n"
    " ON CONFLICT (idempotency_key) DO NOTHING"
)
_INSERT_CALLBACKS = (
    "INSERT INTO callbacks (token, program_id, effect_key, created_at)"
    " SELECT c.token, %(id)s, c.key, %(now)s"
    " FROM unnest(%(tokens)s::text[], %(keys)s::text[]) AS c(token, key)"
    " ON CONFLICT (token) DO NOTHING"
)
_SET_CODE_HASH = "UPDATE programs SET code_hash = %(code_hash)s WHERE id = %(id)s"
# A finished program's open tasks are cancelled and its timers will never fire.
_FINISH = (
    "WITH cancelled AS (UPDATE tasks SET status = 'cancelled', updated_at = %(now)s"
    " WHERE program_id = %(id)s AND status IN ('pending', 'claimed'))"
    " DELETE FROM timers WHERE program_id = %(id)s"
)

# Claims: lock what is free, skip what another worker has locked, update, return.
_CLAIM_READY = (
    "WITH ready AS (SELECT id, updated_at FROM programs WHERE status = 'ready'"
    " AND (lease_until IS NULL OR lease_until <= %(now)s){kinds}"
    " ORDER BY updated_at, id LIMIT %(limit)s FOR NO KEY UPDATE SKIP LOCKED)"
    " UPDATE programs p SET lease_owner = %(worker)s, lease_until = %(until)s"
    " FROM ready WHERE p.id = ready.id"
    " RETURNING p.id, ready.updated_at"
)
_CLAIM_READY_ANY = _CLAIM_READY.format(kinds="")
_CLAIM_READY_KINDS = _CLAIM_READY.format(kinds=" AND kind = ANY(%(kinds)s::text[])")
_CLAIM_TASKS = (
    "WITH due AS (SELECT id FROM tasks WHERE (status = 'pending'"
    " OR (status = 'claimed' AND lease_until <= %(now)s)){kinds}"
    " ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
    " UPDATE tasks t SET status = 'claimed', claimed_by = %(worker)s,"
    " lease_until = %(until)s, attempts = t.attempts + 1, updated_at = %(now)s"
    " FROM due WHERE t.id = due.id"
    " RETURNING " + ", ".join(f"t.{c}" for c in TASK_COLS.split(", "))
)
_CLAIM_TASKS_ANY = _CLAIM_TASKS.format(kinds="")
_CLAIM_TASKS_KINDS = _CLAIM_TASKS.format(kinds=" AND kind = ANY(%(kinds)s::text[])")
# Due timers, each with its program row locked; a timer whose program (or itself) another
# transaction holds is skipped, so the firer never waits while holding a lock.
_LOCK_DUE_TIMERS = (
    "SELECT t.program_id, t.key, t.due_at FROM timers t JOIN programs p ON p.id = t.program_id"
    " WHERE t.due_at <= %(now)s ORDER BY t.due_at, t.program_id, t.key LIMIT %(limit)s"
    " FOR UPDATE OF t SKIP LOCKED FOR NO KEY UPDATE OF p SKIP LOCKED"
)
_DELETE_FIRED_TIMERS = (
    "DELETE FROM timers t USING unnest(%(ids)s::text[], %(keys)s::text[]) AS f(id, key)"
    " WHERE t.program_id = f.id AND t.key = f.key"
)

_RETRIES = 5
"""Attempts at a transaction that PostgreSQL aborted to break a deadlock."""

_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)

_CHANNEL_PREFIX = "flowmetal."
_MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1: longer channel names are refused


def notify_channel(schema: str) -> str:
    """The ``LISTEN``/``NOTIFY`` channel of the store in ``schema``: ``flowmetal.<schema>``.

    One channel per store, so workers of one store are not woken by another's changes. Cut
    to PostgreSQL's 63-byte limit for names.
    """
    name = (_CHANNEL_PREFIX + schema).encode()[:_MAX_IDENTIFIER_BYTES]
    return name.decode(errors="ignore")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _redact(url: str) -> str:
    """The URL without its password (in the authority or as ``?password=``), for messages."""
    if "://" not in url:  # a "host=... password=..." connection string
        return re.sub(r"password\s*=\s*('(\\.|[^'])*'|\S+)\s*", "", url).strip()
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{hostport}"
    query = urllib.parse.urlencode(
        [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
         if k != "password"],
        quote_via=urllib.parse.quote,
    )  # fmt: skip
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _split_schema(url: str) -> tuple[str, str | None]:
    """Take Flowmetal's own ``?schema=`` out of a URL; the rest of the query is libpq's."""
    parts = urllib.parse.urlsplit(url)
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    schemas = [v for k, v in pairs if k == "schema"]
    if not schemas:
        return url, None
    # quote (%20), not quote_plus (+): libpq does not read + as a space.
    rest = urllib.parse.urlencode(
        [(k, v) for k, v in pairs if k != "schema"], quote_via=urllib.parse.quote
    )
    return urllib.parse.urlunsplit(parts._replace(query=rest)), schemas[-1]


class PostgresStore(Store):
    """The event store in one PostgreSQL schema, shared by any number of workers.

    Example::

        store = PostgresStore("postgresql://flowmetal@db.internal/flowmetal", schema="prod")
        store = open_store("postgresql://flowmetal@db.internal/flowmetal?schema=prod")

    :param url: a libpq URL, ``postgresql://`` or ``postgres://``; its query may carry libpq
        options (``sslmode=require``, ``options=-csearch_path%3Dx`` ...) and ``schema=``.
    :param schema: the PostgreSQL schema that holds the store's tables; created (with the
        tables) if missing. Without it, the connection's ``search_path`` decides (usually
        ``public``). Several stores can live in one database, one per schema.
    :param tracer: called as ``tracer(sql, params)`` before every statement, and with
        ``"BEGIN"``/``"COMMIT"``/``"ROLLBACK"`` at transaction boundaries.
    :param lock_timeout: seconds a statement waits for a row lock another session holds
        before failing with :class:`StoreError` (the analogue of SQLite's busy timeout).
    :param connect_timeout: seconds to wait for the server when connecting.
    :param read_only: every transaction is ``READ ONLY``: writes raise :class:`StoreError`;
        nothing is created or migrated (the debugger opens what it shows this way).
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        tracer: Tracer | None = None,
        lock_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        read_only: bool = False,
    ) -> None:
        conninfo, url_schema = _split_schema(url)
        if schema is not None and url_schema is not None and schema != url_schema:
            raise StoreError(
                f"Two schemas given for one store: {url_schema!r} in the URL and {schema!r}"
                " as an option; give one."
            )
        self.url = _redact(conninfo)
        self.read_only = read_only
        self._schema_option = schema if schema is not None else url_schema
        if self._schema_option == "":
            raise StoreError("schema= must name a schema; leave it out to use the search_path.")
        self._conninfo = conninfo
        self._tracer = tracer
        self._lock_timeout_ms = int(lock_timeout * 1000)
        self._connect_timeout = max(1, round(connect_timeout))
        self._lock = threading.Lock()
        self._listen_lock = threading.Lock()
        self._listen_conn: psycopg.Connection | None = None
        self._closed = False
        self.schema = self._schema_option or "?"
        self._conn = self._connect()
        try:
            with self._translate("open the store"):
                self._open_schema()
        except BaseException:
            self._conn.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r}, schema={self.schema!r})"

    @property
    def where(self) -> str:
        """The store, for messages: its URL (without password) and schema."""
        return f"{self.url} (schema {self.schema!r})"

    # -- plumbing: connections, statements, transactions ---------------------------------

    def _open_connection(self, *, autocommit: bool) -> psycopg.Connection:
        params = psycopg.conninfo.conninfo_to_dict(self._conninfo)
        params.setdefault("application_name", "flowmetal")
        params.setdefault("connect_timeout", str(self._connect_timeout))
        try:
            conn = psycopg.connect(**params, autocommit=autocommit)
        except psycopg.Error as e:
            raise StoreError(f"Could not connect to {self.url}: {e}") from e
        # JSON columns come back as their text; _common turns text into values, for both
        # backends alike (psycopg would otherwise parse them itself).
        conn.adapters.register_loader("json", TextLoader)
        conn.adapters.register_loader("json", TextBinaryLoader)
        return conn

    def _connect(self) -> psycopg.Connection:
        """The store's connection, with its session settings; autocommit off."""
        conn = self._open_connection(autocommit=False)
        try:
            with self._translate(f"set up the connection to {self.url}"):
                settings = []
                if self._schema_option is not None:
                    settings.append(f"SET search_path TO {_quote_ident(self._schema_option)}")
                # Wait this long for a row lock held by another session, then fail.
                settings.append(f"SET lock_timeout = {self._lock_timeout_ms}")
                for sql in settings:
                    self._trace(sql, ())
                    conn.execute(sql)
                conn.commit()
                # The locking in this module relies on READ COMMITTED (a statement that
                # waited for a row lock re-reads the row); pin it, whatever the server's
                # default_transaction_isolation says.
                conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
                # BEGIN ... READ ONLY for every transaction: the server refuses any write.
                conn.read_only = self.read_only
        except BaseException:
            conn.close()
            raise
        return conn

    def _connection(self) -> psycopg.Connection:
        """The live connection; a broken one (server restart, network) is replaced."""
        if self._closed:
            raise StoreError(f"The store {self.where} is closed.")
        if self._conn.broken or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def _trace(self, sql: str, params: Any = ()) -> None:
        if self._tracer is not None:
            self._tracer(sql, params)

    def _x(self, sql: str, params: Any = None, *, binary: bool = False) -> psycopg.Cursor:
        # No params (None) means psycopg leaves the text alone: no %-placeholder parsing.
        self._trace(sql, () if params is None else params)
        return self._conn.execute(sql, params, binary=binary)

    def _rollback(self) -> None:
        if self._conn.closed or self._conn.broken:
            return
        if self._conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self._trace("ROLLBACK")
            try:
                self._conn.rollback()
            except psycopg.Error:
                pass  # the original error is the one worth reporting

    @contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        """Turn any psycopg exception into a StoreError that says what we were doing."""
        try:
            yield
        except pg_errors.LockNotAvailable as e:
            raise StoreError(
                f"Could not {what} in {self.where}: another session held a lock for longer"
                f" than lock_timeout ({self._lock_timeout_ms / 1000:g}s): {e}"
            ) from e
        except pg_errors.ReadOnlySqlTransaction as e:
            raise StoreError(f"Could not {what}: the store was opened read-only.") from e
        except psycopg.Error as e:
            raise StoreError(f"Could not {what} in {self.where}: {e}") from e

    def _one(self, what: str, sql: str, params: Any, *, binary: bool = False) -> Any:
        """The first row of a query (or None), read in a transaction of its own."""
        return self._transact(what, lambda: self._x(sql, params, binary=binary).fetchone())

    def _all(self, what: str, sql: str, params: Any = None) -> list[Any]:
        """Every row of a query, read in a transaction of its own."""
        return self._transact(what, lambda: self._x(sql, params).fetchall())

    def _write(self, what: str, body: Callable[[], T]) -> T:
        """Run ``body`` in one transaction and commit it; roll back on any error."""
        return self._transact(what, body)

    def _transact(self, what: str, body: Callable[[], T]) -> T:
        """Run ``body`` in one transaction, then COMMIT; ROLLBACK on any error.

        Two failures are retried from the start, since the transaction stored nothing and
        ``body`` only talks to the database: PostgreSQL aborted it to break a deadlock (or
        on a serialization failure); or the connection was found broken (the server
        restarted, a firewall cut an idle connection), once, on a new connection. A failure
        during COMMIT itself is not retried: the change may have been stored.
        """
        with self._lock, self._translate(what):
            reconnected = False
            for attempt in range(1, _RETRIES + 1):
                conn = self._connection()
                self._trace("BEGIN")  # psycopg sends it before the first statement
                try:
                    result = body()
                except _RETRYABLE:
                    self._rollback()
                    if attempt == _RETRIES:
                        raise
                    time.sleep(random.uniform(0.0, 0.02 * attempt))
                    continue
                except psycopg.OperationalError:
                    if conn.broken and not reconnected:
                        reconnected = True  # _connection() replaces it
                        continue
                    self._rollback()
                    raise
                except BaseException:
                    self._rollback()
                    raise
                self._trace("COMMIT")
                try:
                    conn.commit()
                except psycopg.OperationalError as e:
                    if not conn.broken:
                        raise
                    raise StoreError(
                        f"Could not {what} in {self.where}: the connection failed during"
                        f" COMMIT, so the change may or may not have been stored: {e}"
                    ) from e
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    # -- schema ---------------------------------------------------------------------------

    def _open_schema(self) -> None:
        try:
            version = self._schema_version()  # refuse foreign schemas before touching them
            self._rollback()
            if version < SCHEMA_VERSION:
                if self.read_only:
                    raise SchemaError(
                        f"{self.where} has store schema version {version}; open it once"
                        f" read-write to create or migrate it to version {SCHEMA_VERSION}."
                    )
                self._migrate()
        finally:
            self._rollback()

    def _schema_version(self) -> int:
        """The schema's version (0 if empty or missing); SchemaError if it is not ours."""
        current = self._x("SELECT current_schema()").fetchone()[0]
        if current is None:
            if self._schema_option is None:
                raise StoreError(
                    f"{self.url} has no schema in its search_path to keep a store in;"
                    " pass schema=NAME (it is created if missing)."
                )
            return 0
        self.schema = current
        tables = sorted(
            r[0] for r in self._x("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                                  (current,))
        )  # fmt: skip
        if not tables:
            return 0
        if "meta" not in tables:
            raise SchemaError(
                f"{self.where} is not a Flowmetal store: the schema has tables"
                f" ({', '.join(tables[:5])}) and no Flowmetal 'meta' table. Give the store a"
                " schema of its own with schema=NAME."
            )
        try:
            meta = dict(self._x("SELECT key, value FROM meta").fetchall())
        except psycopg.Error as e:
            raise SchemaError(
                f"{self.where} is not a Flowmetal store: its 'meta' table is not ours ({e})."
            ) from e
        return check_meta(meta, self.where)

    def _migrate(self) -> None:
        # One opener at a time creates or migrates a schema: the others wait on this lock,
        # then read the version again and find the work done.
        key = f"flowmetal migrate {self._schema_option or self.schema}"
        self._trace("BEGIN")
        self._x("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
        # Only when missing: CREATE SCHEMA needs a privilege on the database that a user
        # given an existing schema (the least-privilege setup) may not have, IF NOT EXISTS
        # or not.
        if self._schema_option is not None and not self._x(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self._schema_option,)
        ).fetchone():
            self._x(f"CREATE SCHEMA {_quote_ident(self._schema_option)}")
        for version in range(self._schema_version() + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                self._x(statement)
            self._x(
                "INSERT INTO meta (key, value) VALUES ('schema_version', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(version),),
            )
        self._trace("COMMIT")
        self._conn.commit()

    @property
    def channel(self) -> str:
        """The ``NOTIFY`` channel of this store: see :func:`notify_channel`."""
        return notify_channel(self.schema)

    # -- code -----------------------------------------------------------------------------

    def put_code(self, hash: str, source_name: str, source: str, unit: bytes) -> None:
        check_blob(unit, f"the unit of code {hash!r}")
        self._write(
            f"store code {hash!r}",
            lambda: self._x(
                "INSERT INTO code (hash, source_name, source, unit, created_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (hash) DO NOTHING",
                (hash, source_name, source, bytes(unit), time.time()),
            ),
        )

    def get_code(self, hash: str) -> CodeRecord:
        r = self._one(
            f"read code {hash!r}",
            "SELECT hash, source_name, source, unit, created_at FROM code WHERE hash = %s",
            (hash,),
            binary=True,
        )
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
        row = self._encode_program(p)
        return self._write(
            f"create program {id!r}",
            lambda: self._insert_program(p, row, now, lease_owner, lease_until),
        )

    def _encode_program(self, p: NewProgram) -> tuple[str, list[str], list[str]]:
        check_kind(p.kind)
        args = dump_json(p.args, f"args of program {p.id!r}")
        types = [type for type, _ in p.events]
        datas = [
            dump_json(data, f"event {seq} of program {p.id!r}")
            for seq, (_, data) in enumerate(p.events, 1)
        ]
        return args, types, datas

    def _insert_program(
        self,
        p: NewProgram,
        encoded: tuple[str, list[str], list[str]],
        now: float,
        lease_owner: str | None = None,
        lease_until: float | None = None,
    ) -> ProgramRecord:
        args, types, datas = encoded
        try:
            r = self._x(
                _INSERT_PROGRAM,
                {"id": p.id, "name": p.name, "kind": p.kind, "code_hash": p.code_hash,
                 "parent_id": p.parent_id, "parent_step": p.parent_step, "args": args,
                 "last_seq": len(types), "now": now, "lease_owner": lease_owner,
                 "lease_until": lease_until, "channel": self.channel},
            ).fetchone()  # fmt: skip
        except psycopg.IntegrityError as e:
            self._explain_program_refused(p, e)
            raise
        if types:
            self._insert_events(p.id, 0, types, datas, now)
        return program_record(r)

    @staticmethod
    def _explain_program_refused(p: NewProgram, e: psycopg.IntegrityError) -> None:
        """Raise the error that says why inserting ``p`` broke a constraint, if we can tell.

        PostgreSQL names the constraint, so no query is needed (the transaction is aborted
        anyway, and could not run one).
        """
        constraint = e.diag.constraint_name
        if constraint == "programs_pkey":
            raise ConflictError(f"A program with id {p.id!r} already exists.") from e
        if constraint == "programs_code_hash_fkey":
            raise NotFound(
                f"Program {p.id!r} names code {p.code_hash!r}, which is not stored;"
                " store it with put_code first."
            ) from e
        if constraint == "programs_parent_id_fkey":
            raise NotFound(
                f"Program {p.id!r} names parent {p.parent_id!r}, which does not exist."
            ) from e

    def _insert_events(
        self, program_id: str, after: int, types: list[str], datas: list[str], now: float
    ) -> None:
        if len(types) == 1:
            self._x(
                _INSERT_EVENT,
                {"id": program_id, "seq": after + 1, "type": types[0], "data": datas[0],
                 "now": now},
            )  # fmt: skip
            return
        self._x(
            _INSERT_EVENTS,
            {"id": program_id, "seqs": list(range(after + 1, after + 1 + len(types))),
             "types": types, "datas": datas, "now": now},
        )  # fmt: skip

    def get_program(self, id: str) -> ProgramRecord:
        r = self._one(f"read program {id!r}", _SELECT_PROGRAM, (id,))
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
        sql, params = _filtered(
            f"SELECT {PROGRAM_COLS} FROM programs", status=status, kind=kind, parent_id=parent_id
        )
        sql += " ORDER BY created_at DESC, id DESC LIMIT %s"
        return [program_record(r) for r in self._all("list programs", sql, (*params, limit))]

    def set_status(
        self, program_id: str, status: str, *, event: tuple[str, Any] | None = None
    ) -> int:
        check_status(status)
        data = None if event is None else dump_json(event[1], f"{event[0]} event data")
        now = time.time()

        def body() -> int:
            seq = self._lock_program(program_id)
            if event is not None:
                seq += 1
                self._insert_events(program_id, seq - 1, [event[0]], [data], now)
            self._x(
                _UPDATE_PROGRAM_STATUS,
                {"seq": seq, "status": status, "now": now, "id": program_id,
                 "channel": self.channel},
            )  # fmt: skip
            if status in FINISHED_STATUSES:
                self._finish(program_id, now)
            return seq

        return self._write(f"set the status of program {program_id!r}", body)

    def _lock_program(self, program_id: str) -> int:
        """Lock the program's row; its last_seq, or NotFound / ProgramFinished."""
        r = self._x(_LOCK_PROGRAM, (program_id,)).fetchone()
        return self._seq_of(program_id, r)

    @staticmethod
    def _seq_of(program_id: str, r: Sequence[Any] | None) -> int:
        if r is None:
            raise NotFound(f"No program with id {program_id!r}.")
        if r[1] in FINISHED_STATUSES:
            raise ProgramFinished(f"Program {program_id!r} is {r[1]}; it takes no more input.")
        return r[0]

    def _finish(self, program_id: str, now: float) -> None:
        self._x(_FINISH, {"id": program_id, "now": now})

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
        sql = f"SELECT {EVENT_COLS} FROM events WHERE program_id = %s AND seq > %s"
        params: list[Any] = [program_id, after]
        if until is not None:
            sql += " AND seq <= %s"
            params.append(until)
        if types is not None:
            sql += " AND type = ANY(%s::text[])"
            params.append(list(types))
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        rows = self._all(f"read the events of program {program_id!r}", sql, params)
        return [event_record(r) for r in rows]

    def commit(self, program_id: str, c: Commit) -> int:
        check_status(c.status)
        if c.snapshot is not None:
            check_blob(c.snapshot, f"the snapshot of program {program_id!r}")
        now = time.time()
        last_seq = c.expected_seq + len(c.events)
        # Encode everything before the transaction, so it is held for SQL only.
        where = f"program {program_id!r}"
        program_row = {
            "last_seq": last_seq, "status": c.status,
            "result": dump_json_or_null(c.result, f"result of {where}"),
            "error": dump_json_or_null(c.error, f"error of {where}"),
            "waiting": dump_json_or_null(c.waiting, f"waiting of {where}"),
            "now": now, "id": program_id, "expected": c.expected_seq,
            # Wake workers when there is something for them: the program is ready, or it
            # made a task (for a connector) or a timer (the next one may now be sooner).
            "notify": c.status == "ready" or bool(c.new_tasks) or bool(c.new_timers),
            "channel": self.channel,
        }  # fmt: skip
        types = [type for type, _ in c.events]
        datas = [
            dump_json(data, f"event {seq} of {where}")
            for seq, (_, data) in enumerate(c.events, c.expected_seq + 1)
        ]
        tasks = {
            "id": program_id, "now": now,
            "keys": [t.effect_key for t in c.new_tasks],
            "ikeys": [f"{program_id}:{t.effect_key}" for t in c.new_tasks],
            "kinds": [t.kind for t in c.new_tasks],
            "requests": [
                dump_json(t.request, f"request of task {t.effect_key!r} of {where}")
                for t in c.new_tasks
            ],
        }  # fmt: skip
        # Setting one key twice in a commit moves it twice: the last due time wins.
        timers = dict(c.new_timers)
        children = [(p, self._encode_program(p)) for p in c.new_programs]
        sends = [
            (target, type, dump_json(data, f"{type} event sent to program {target!r}"))
            for target, type, data in c.send
        ]
        for target, type, _ in sends:
            check_input_type(type)
            if target == program_id:
                raise StoreError(f"A commit to {where} cannot send input to itself.")
        snapshot = None
        if c.snapshot is not None:
            snapshot = {
                "id": program_id, "seq": last_seq, "step": c.snapshot_step,
                "state": bytes(c.snapshot), "now": now,
                # Keep the newest snapshot and the last one of each block of
                # SNAPSHOT_CHECKPOINT_EVERY events: resume needs only the newest, the
                # debugger is faster with a few checkpoints, and the table stays small.
                "block_start": checkpoint_block_start(last_seq),
            }  # fmt: skip

        def body() -> int:
            if self._x(_UPDATE_PROGRAM_IF_CURRENT, program_row).rowcount != 1:
                self._refuse_commit(program_id, c.expected_seq)
            if types:
                self._insert_events(program_id, c.expected_seq, types, datas, now)
            if snapshot is not None:
                self._x(_UPSERT_SNAPSHOT, snapshot)
            if c.cancel_timers:
                self._x(_DELETE_TIMERS, {"id": program_id, "keys": list(c.cancel_timers)})
            if timers:
                self._x(
                    _UPSERT_TIMERS,
                    {"id": program_id, "keys": list(timers), "dues": list(timers.values())},
                )
            if c.new_tasks:
                self._x(_INSERT_TASKS, tasks)
            if c.new_callbacks:
                self._x(
                    _INSERT_CALLBACKS,
                    {"id": program_id, "now": now,
                     "tokens": [token for token, _ in c.new_callbacks],
                     "keys": [key for _, key in c.new_callbacks]},
                )  # fmt: skip
            for p, encoded in children:
                self._insert_program(p, encoded, now)
            for target, type, data in sends:
                self._append(target, type, data, now, skip_finished=True)
            if c.code_hash is not None:
                self._x(_SET_CODE_HASH, {"code_hash": c.code_hash, "id": program_id})
            if c.status in FINISHED_STATUSES:
                self._finish(program_id, now)
            return last_seq

        return self._write(f"commit to {where}", body)

    def _refuse_commit(self, program_id: str, expected_seq: int) -> None:
        """The compare-and-set matched no row: raise the error that says why."""
        r = self._x("SELECT last_seq, status FROM programs WHERE id = %s", (program_id,))
        last_seq = self._seq_of(program_id, r.fetchone())
        raise ConflictError(
            f"Commit to program {program_id!r} expected last_seq {expected_seq}, but the store"
            f" has {last_seq}: reload the program, apply the new events, and try again."
        )

    def append_input(self, program_id: str, type: str, data: Any) -> int:
        check_input_type(type)
        data_json = dump_json(data, f"{type} event data")
        now = time.time()
        return self._write(
            f"append {type} to program {program_id!r}",
            lambda: self._append(program_id, type, data_json, now),
        )

    def _append(
        self, program_id: str, type: str, data: str, now: float, *, skip_finished: bool = False
    ) -> int | None:
        """Append one input event at last_seq + 1, make the program ready, notify.

        Must run inside a write transaction: the row lock it takes is what makes the seq
        ours alone until COMMIT.
        """
        r = self._x(
            _APPEND,
            {"id": program_id, "type": type, "data": data, "now": now, "channel": self.channel},
        ).fetchone()
        if r is not None:
            return r[0]
        try:
            self._refuse_append(program_id)
        except ProgramFinished:
            if skip_finished:
                return None
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _refuse_append(self, program_id: str) -> None:
        r = self._x("SELECT last_seq, status FROM programs WHERE id = %s", (program_id,))
        self._seq_of(program_id, r.fetchone())
        # The program exists and takes input, yet the append matched nothing: it cannot
        # happen under READ COMMITTED, so say so rather than guess.
        raise StoreError(f"Could not append to program {program_id!r}; please report this.")

    # -- snapshots --------------------------------------------------------------------------

    def latest_snapshot(self, program_id: str) -> SnapshotRecord | None:
        r = self._one(
            f"read the latest snapshot of program {program_id!r}",
            f"SELECT {SNAPSHOT_COLS} FROM snapshots WHERE program_id = %s"
            " ORDER BY seq DESC LIMIT 1",
            (program_id,),
            binary=True,
        )
        return None if r is None else snapshot_record(r)

    def snapshot_at_or_before(self, program_id: str, seq: int) -> SnapshotRecord | None:
        r = self._one(
            f"read a snapshot of program {program_id!r}",
            f"SELECT {SNAPSHOT_COLS} FROM snapshots WHERE program_id = %s AND seq <= %s"
            " ORDER BY seq DESC LIMIT 1",
            (program_id, seq),
            binary=True,
        )
        return None if r is None else snapshot_record(r)

    def snapshots(self, program_id: str) -> list[SnapshotInfo]:
        rows = self._all(
            f"list the snapshots of program {program_id!r}",
            "SELECT seq, step FROM snapshots WHERE program_id = %s ORDER BY seq",
            (program_id,),
        )
        return [SnapshotInfo(seq, step) for seq, step in rows]

    # -- timers -----------------------------------------------------------------------------

    def next_timer_due(self) -> float | None:
        return self._one("find the next timer", "SELECT MIN(due_at) FROM timers", None)[0]

    def fire_due_timers(self, now: float | None = None, limit: int = 100) -> list[FiredTimer]:
        now = time.time() if now is None else now

        def body() -> list[FiredTimer]:
            due = self._x(_LOCK_DUE_TIMERS, {"now": now, "limit": limit}).fetchall()
            if not due:
                return []
            self._x(
                _DELETE_FIRED_TIMERS,
                {"ids": [pid for pid, _, _ in due], "keys": [key for _, key, _ in due]},
            )
            fired = []
            for program_id, key, due_at in due:
                data = dump_json({"key": key, "due_at": due_at}, "timer-fired event data")
                seq = self._append(program_id, "timer-fired", data, now, skip_finished=True)
                if seq is not None:
                    fired.append(FiredTimer(program_id, key, seq))
            return fired

        # One transaction for the batch. The timer rows are locked (SKIP LOCKED) before
        # they are deleted, so two workers never fire one timer.
        return self._write("fire due timers", body)

    def list_timers(self, program_id: str | None = None) -> list[TimerRecord]:
        sql, params = _filtered(
            "SELECT program_id, key, due_at FROM timers", program_id=program_id
        )
        rows = self._all("list timers", sql + " ORDER BY due_at, program_id, key", params)
        return [TimerRecord(*r) for r in rows]

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
        rows = self._claim(f"claim tasks for {worker!r}", _CLAIM_TASKS_ANY, _CLAIM_TASKS_KINDS,
                           kinds, worker, lease_seconds, limit, now)
        return sorted((task_record(r) for r in rows), key=lambda t: t.id)

    def complete_task(
        self, task_id: int, *, ok: bool, value: Any, worker: str | None = None
    ) -> int:
        if ok:
            status, type, data = "done", "effect-completed", {"value": value}
        else:
            status, type, data = "failed", "effect-failed", {"error": value}
        result = dump_json_or_null(value, f"result of task {task_id}")
        now = time.time()

        def body() -> int:
            # Lock the program row before the task row: the order every writer keeps.
            locked = self._x(
                "SELECT id FROM programs WHERE id = (SELECT program_id FROM tasks WHERE id = %s)"
                " FOR NO KEY UPDATE",
                (task_id,),
            ).fetchone()
            if locked is None:
                raise NotFound(f"No task with id {task_id}.")
            r = self._x(
                "SELECT program_id, effect_key, status, claimed_by FROM tasks WHERE id = %s"
                " FOR UPDATE",
                (task_id,),
            ).fetchone()
            program_id, effect_key, current, claimed_by = r
            if current not in ("pending", "claimed"):
                raise AlreadyCompleted(f"Task {task_id} ({effect_key!r}) is already {current}.")
            if worker is not None and current == "claimed" and claimed_by != worker:
                raise ConflictError(
                    f"Task {task_id} is claimed by {claimed_by!r}, not {worker!r}: your lease"
                    " expired and another worker took it."
                )
            self._x(
                "UPDATE tasks SET status = %s, result = %s::json, updated_at = %s WHERE id = %s",
                (status, result, now, task_id),
            )
            event = dump_json({"key": effect_key, **data}, f"{type} event data")
            return self._append(program_id, type, event, now)

        return self._write(f"complete task {task_id}", body)

    def get_task(self, task_id: int) -> TaskRecord:
        r = self._one(f"read task {task_id}", f"SELECT {TASK_COLS} FROM tasks WHERE id = %s",
                      (task_id,))  # fmt: skip
        if r is None:
            raise NotFound(f"No task with id {task_id}.")
        return task_record(r)

    def list_tasks(
        self, program_id: str | None = None, status: str | None = None
    ) -> list[TaskRecord]:
        sql, params = _filtered(
            f"SELECT {TASK_COLS} FROM tasks", program_id=program_id, status=status
        )
        return [task_record(r) for r in self._all("list tasks", sql + " ORDER BY id", params)]

    # -- callbacks ------------------------------------------------------------------------

    def complete_callback(self, token: str, payload: Any) -> int:
        stored = dump_json_or_null(payload, "callback payload")
        now = time.time()

        def body() -> int:
            # Program row first, then the callback's: the order every writer keeps.
            locked = self._x(
                "SELECT id FROM programs WHERE id ="
                " (SELECT program_id FROM callbacks WHERE token = %s) FOR NO KEY UPDATE",
                (token,),
            ).fetchone()
            if locked is None:
                raise NotFound("No callback with that token.")
            program_id, effect_key, completed_at = self._x(
                "SELECT program_id, effect_key, completed_at FROM callbacks WHERE token = %s"
                " FOR UPDATE",
                (token,),
            ).fetchone()
            # Tokens are secrets: error messages name the callback's effect, never the token.
            if completed_at is not None:
                raise AlreadyCompleted(
                    f"The callback {effect_key!r} of program {program_id!r} was already completed."
                )
            self._x(
                "UPDATE callbacks SET completed_at = %s, payload = %s::json WHERE token = %s",
                (now, stored, token),
            )
            event = dump_json(
                {"key": effect_key, "token": token, "value": payload}, "callback event data"
            )
            return self._append(program_id, "callback", event, now)

        return self._write("complete a callback", body)

    def get_callback(self, token: str) -> CallbackRecord:
        r = self._one(
            "read a callback", f"SELECT {CALLBACK_COLS} FROM callbacks WHERE token = %s", (token,)
        )
        if r is None:
            raise NotFound("No callback with that token.")
        return callback_record(r)

    def list_callbacks(self, program_id: str) -> list[CallbackRecord]:
        rows = self._all(
            f"list the callbacks of program {program_id!r}",
            f"SELECT {CALLBACK_COLS} FROM callbacks WHERE program_id = %s"
            " ORDER BY created_at, token",
            (program_id,),
        )
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
        rows = self._claim(f"claim ready programs for {worker!r}", _CLAIM_READY_ANY,
                           _CLAIM_READY_KINDS, kinds, worker, lease_seconds, limit, now)
        return [id for id, _ in sorted(rows, key=lambda r: (r[1], r[0]))]

    def _claim(self, what: str, any_sql: str, kinds_sql: str, kinds: Sequence[str] | None,
               worker: str, lease_seconds: float, limit: int, now: float | None) -> list:
        """Lease up to ``limit`` rows of the given kinds (any when None) to ``worker``."""
        if kinds is not None and not kinds:
            return []
        now = time.time() if now is None else now
        params = {"now": now, "until": now + lease_seconds, "worker": worker, "limit": limit}
        sql = any_sql
        if kinds is not None:
            sql, params["kinds"] = kinds_sql, list(kinds)
        return self._write(what, lambda: self._x(sql, params).fetchall())

    def acquire_lease(
        self, program_id: str, *, worker: str, lease_seconds: float, now: float | None = None
    ) -> bool:
        now = time.time() if now is None else now

        def body() -> bool:
            taken = self._x(
                "UPDATE programs SET lease_owner = %(worker)s, lease_until = %(until)s"
                " WHERE id = %(id)s AND (lease_owner IS NULL OR lease_owner = %(worker)s"
                " OR lease_until IS NULL OR lease_until <= %(now)s)",
                {"worker": worker, "until": now + lease_seconds, "id": program_id, "now": now},
            ).rowcount
            if not taken and not self._x(
                "SELECT 1 FROM programs WHERE id = %s", (program_id,)
            ).fetchone():
                raise NotFound(f"No program with id {program_id!r}.")
            return bool(taken)

        return self._write(f"lease program {program_id!r}", body)

    def release(self, program_id: str, worker: str) -> bool:
        # A program released while ready (input arrived while its worker held it) is work
        # for someone: notify, so a waiting worker claims it now rather than at its next poll.
        return self._write(
            f"release program {program_id!r}",
            lambda: self._x(
                "UPDATE programs SET lease_owner = NULL, lease_until = NULL"
                " WHERE id = %s AND lease_owner = %s"
                " RETURNING CASE WHEN status = 'ready' THEN pg_notify(%s, id) END",
                (program_id, worker, self.channel),
            ).rowcount
            == 1,
        )

    # -- waking up --------------------------------------------------------------------------

    def wait_for_change(self, timeout: float) -> bool:
        """Block until this store's channel is notified, or ``timeout`` seconds pass.

        The first call opens a second connection that ``LISTEN``\\s on :attr:`channel`;
        from then on, notices that arrive while the caller is busy are kept, and the next
        call returns True at once. Several notices are answered by one True. If the LISTEN
        connection drops, the answer is True (notices may have been missed) and the next
        call opens a new one. Waiting holds no lock of the store's: other threads may use
        it meanwhile.
        """
        with self._listen_lock:
            if self._closed:
                raise StoreError(f"The store {self.where} is closed.")
            conn = self._listener()
            heard = False
            try:
                for _ in conn.notifies(timeout=max(0.0, timeout), stop_after=1):
                    heard = True
                if heard:
                    for _ in conn.notifies(timeout=0):
                        pass  # drain the rest of a burst: one wake-up is enough
            except psycopg.Error:
                # The LISTEN connection dropped, so notices may have been missed: answer
                # "something may have changed". The caller polls (and hears of an outage
                # there); the next call listens again on a new connection.
                self._close_listener()
                return True
            return heard

    def _listener(self) -> psycopg.Connection:
        """The LISTEN connection, opened on first use; StoreError if that fails."""
        conn = self._listen_conn
        if conn is None or conn.closed or conn.broken:
            # Notifications are delivered only between transactions: autocommit.
            conn = self._open_connection(autocommit=True)
            sql = f"LISTEN {_quote_ident(self.channel)}"
            self._trace(sql)
            try:
                with self._translate(f"listen on channel {self.channel!r}"):
                    conn.execute(sql)
            except BaseException:
                conn.close()
                raise
            self._listen_conn = conn
        return conn

    def _close_listener(self) -> None:
        if self._listen_conn is not None:
            self._listen_conn.close()
            self._listen_conn = None

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._conn.close()
        with self._listen_lock:
            self._close_listener()


def _filtered(select: str, **equals: Any) -> tuple[str, list[Any]]:
    """``select`` with a WHERE clause for each column given a value other than None."""
    given = {column: value for column, value in equals.items() if value is not None}
    if not given:
        return select, []
    return select + " WHERE " + " AND ".join(f"{c} = %s" for c in given), list(given.values())
