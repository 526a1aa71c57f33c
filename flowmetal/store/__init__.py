"""The event store: where every program's code, log, snapshots, timers and tasks live.

Open one with :func:`open_store` and talk to it through the :class:`Store` contract::

    from flowmetal.store import open_store, Commit

    with open_store("sqlite:///run.db") as store:
        print([p.id for p in store.list_programs(status="waiting")])

The tables are a public interface that other systems may read and append to: see
``docs/store.md``.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from ._sqlite import SqliteStore
from .contract import (
    FINISHED_STATUSES,
    INPUT_EVENT_TYPES,
    PROGRAM_KINDS,
    PROGRAM_STATUSES,
    TASK_STATUSES,
    AlreadyCompleted,
    CallbackRecord,
    CodeRecord,
    Commit,
    ConflictError,
    EventRecord,
    FiredTimer,
    NewProgram,
    NewTask,
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

__all__ = [
    "open_store",
    "Store",
    "SqliteStore",
    "PostgresStore",  # noqa: F822 (imported on first use, by __getattr__ below)
    "Commit",
    "NewTask",
    "NewProgram",
    "CodeRecord",
    "ProgramRecord",
    "EventRecord",
    "SnapshotRecord",
    "SnapshotInfo",
    "TimerRecord",
    "FiredTimer",
    "TaskRecord",
    "CallbackRecord",
    "StoreError",
    "NotFound",
    "ConflictError",
    "SchemaError",
    "AlreadyCompleted",
    "ProgramFinished",
    "PROGRAM_KINDS",
    "PROGRAM_STATUSES",
    "FINISHED_STATUSES",
    "TASK_STATUSES",
    "INPUT_EVENT_TYPES",
    "Tracer",
]

_SQLITE_PREFIX = "sqlite:///"


def __getattr__(name: str) -> Any:
    # PostgresStore is imported on first use: psycopg takes a tenth of a second to import,
    # and an SQLite user need not have it installed.
    if name == "PostgresStore":
        from ._postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(url_or_path: str | os.PathLike[str], **options: Any) -> Store:
    """Open (creating if needed) the store at a path or URL.

    Example::

        open_store("run.db")                                  # a file: SQLite
        open_store("sqlite:///run.db", synchronous="NORMAL")  # relative path
        open_store("sqlite:///run.db?synchronous=NORMAL")     # the same, as a URL
        open_store("sqlite:////var/lib/flowmetal/run.db")     # absolute path
        open_store("postgresql://db.internal/flowmetal")      # PostgreSQL, search_path schema
        open_store("postgres://db.internal/flowmetal?schema=prod", tracer=print)

    :param url_or_path: a file path, ``sqlite:///PATH``, or ``postgresql://...`` (also
        ``postgres://``) with libpq's URL options and Flowmetal's ``?schema=``.
    :param options: passed to the backend, e.g. ``synchronous=``, ``tracer=``, ``schema=``:
        see :class:`SqliteStore` and ``PostgresStore``.
    :raises SchemaError: the file or schema is not a Flowmetal store, or is newer than this
        Flowmetal.
    :raises StoreError: the URL names a backend that is not available, or the database
        cannot be reached.
    """
    target = os.fspath(url_or_path)
    if target.startswith(_SQLITE_PREFIX):
        path, _, query = target[len(_SQLITE_PREFIX) :].partition("?")
        for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            if key != "synchronous":
                raise StoreError(f"Unknown option {key!r} in store URL {target!r}; "
                                 "the SQLite backend takes ?synchronous=FULL|NORMAL.")
            options.setdefault("synchronous", value.upper())
        return SqliteStore(path or ":memory:", **options)
    if target.startswith(("postgresql://", "postgres://")):
        from ._postgres import PostgresStore  # psycopg is needed only for PostgreSQL

        return PostgresStore(target, **options)
    if target.startswith("sqlite:"):
        raise StoreError(f"SQLite store URLs look like sqlite:///PATH; got {target!r}.")
    if "://" in target:
        scheme = target.split(":", 1)[0]
        raise StoreError(
            f"Unknown store URL scheme {scheme!r} in {target!r}; expected a file path,"
            " sqlite:///PATH or postgresql://..."
        )
    return SqliteStore(target, **options)
