"""What every backend shares: the schema version, JSON encoding, rows to records, checks.

The backends (``_sqlite.py``, ``_postgres.py``) keep the same tables and columns, so they
read rows in the same column order and turn them into the same records here. Each keeps its
own SQL (placeholders, upserts and locking differ) and its own migrations, but both move to a
new :data:`SCHEMA_VERSION` together: the version names the logical schema of
``docs/store.md``, not one backend's DDL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .contract import (
    FINISHED_STATUSES,
    INPUT_EVENT_TYPES,
    PROGRAM_KINDS,
    PROGRAM_STATUSES,
    CallbackRecord,
    EventRecord,
    ProgramRecord,
    SchemaError,
    SnapshotRecord,
    StoreError,
    TaskRecord,
)

__all__ = [
    "APPLICATION",
    "SCHEMA_VERSION",
    "SNAPSHOT_CHECKPOINT_EVERY",
    "checkpoint_block_start",
    "FINISHED_SQL",
    "PROGRAM_COLS",
    "EVENT_COLS",
    "SNAPSHOT_COLS",
    "TASK_COLS",
    "CALLBACK_COLS",
    "dump_json",
    "dump_json_or_null",
    "load_json",
    "program_record",
    "event_record",
    "snapshot_record",
    "task_record",
    "callback_record",
    "check_status",
    "check_kind",
    "check_input_type",
    "check_blob",
    "check_meta",
]

APPLICATION = "flowmetal"
"""``meta.application`` of every Flowmetal store: how a store is told from other data."""

SCHEMA_VERSION = 3
"""The newest schema this code knows; stores at an older version are migrated on open."""

SNAPSHOT_CHECKPOINT_EVERY = 1000
"""A commit keeps the newest snapshot and the last one of each block of this many events."""


def checkpoint_block_start(last_seq: int) -> int:
    """Where the block of ``last_seq`` starts, exclusive: blocks are ``(k*N, (k+1)*N]``, so
    a snapshot at a multiple of N is the last of its block, and a block keeps one."""
    return max(0, (last_seq - 1) - (last_seq - 1) % SNAPSHOT_CHECKPOINT_EVERY)

FINISHED_SQL = ", ".join(f"'{s}'" for s in sorted(FINISHED_STATUSES))
"""The finished statuses as an SQL list, for ``status NOT IN (...)``."""

# Column lists, in the order the record builders below expect.
PROGRAM_COLS = (
    "id, name, kind, code_hash, parent_id, parent_step, status, args, result, error, waiting,"
    " last_seq, created_at, updated_at, lease_owner, lease_until"
)
EVENT_COLS = "program_id, seq, type, data, at"
SNAPSHOT_COLS = "program_id, seq, step, state, created_at"
TASK_COLS = (
    "id, program_id, effect_key, idempotency_key, kind, request, status, claimed_by,"
    " lease_until, attempts, result, created_at, updated_at"
)
CALLBACK_COLS = "token, program_id, effect_key, created_at, completed_at, payload"


# -- JSON -----------------------------------------------------------------------------------


try:
    import orjson as _orjson

    # Values the standard library would not write as orjson does are refused, to go to it.
    _ORJSON_STRICT = (_orjson.OPT_PASSTHROUGH_SUBCLASS | _orjson.OPT_PASSTHROUGH_DATACLASS
                      | _orjson.OPT_PASSTHROUGH_DATETIME)
except ImportError:  # optional: the standard library writes the same text, slower
    _orjson = None  # type: ignore[assignment]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_ENCODE: Any = getattr(json.encoder, "c_make_encoder", None)
if _ENCODE is not None:
    # One C encoder for every call: JSONEncoder.encode builds a new one per call, which is
    # most of its cost on the small values commits encode (a few per commit). No markers
    # dict (none shared between threads): a circular value ends in RecursionError instead.
    _ENCODE = _ENCODE(None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",",
                      False, False, False)


def dump_json(value: Any, what: str, *args: Any) -> str:
    """JSON text for a value; NaN and infinities are refused so any JSON reader can load it.

    ``what`` names the value in the error, formatted with ``args`` (``%`` style) only if
    there is an error: commits encode every event, and most values encode fine.

    orjson (when installed) writes the text, at a fraction of the cost, when it can say
    the same as the standard library: not when it refuses the value (an integer beyond
    64 bits, a subclass, a non-string key), and not when its text has a ``null``, which
    may be a NaN or an infinity it wrote as null, so the standard library decides.
    """
    if _orjson is not None:
        try:
            text = _orjson.dumps(value, option=_ORJSON_STRICT)
        except TypeError:  # orjson.JSONEncodeError
            pass
        else:
            if b"null" not in text:
                return text.decode()
    try:
        if _ENCODE is None:
            return _ENCODER.encode(value)
        return "".join(_ENCODE(value, 0))
    except (TypeError, ValueError, RecursionError) as e:
        raise StoreError(f"{what % args if args else what} is not JSON-compatible: {e}") from None


def dump_json_or_null(value: Any, what: str, *args: Any) -> str | None:
    """Like :func:`dump_json`, but None is stored as SQL NULL (for the nullable JSON columns)."""
    return None if value is None else dump_json(value, what, *args)


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# -- rows to records ------------------------------------------------------------------------


def program_record(r: Sequence[Any]) -> ProgramRecord:
    return ProgramRecord(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], load_json(r[7]), load_json(r[8]),
        load_json(r[9]), load_json(r[10]), r[11], r[12], r[13], r[14], r[15],
    )  # fmt: skip


def event_record(r: Sequence[Any]) -> EventRecord:
    return EventRecord(r[0], r[1], r[2], load_json(r[3]), r[4])


def snapshot_record(r: Sequence[Any]) -> SnapshotRecord:
    return SnapshotRecord(r[0], r[1], r[2], bytes(r[3]), r[4])


def task_record(r: Sequence[Any]) -> TaskRecord:
    return TaskRecord(
        r[0], r[1], r[2], r[3], r[4], load_json(r[5]), r[6], r[7], r[8], r[9],
        load_json(r[10]), r[11], r[12],
    )  # fmt: skip


def callback_record(r: Sequence[Any]) -> CallbackRecord:
    return CallbackRecord(r[0], r[1], r[2], r[3], r[4], load_json(r[5]))


# -- validation -----------------------------------------------------------------------------


def check_status(status: str) -> None:
    if status not in PROGRAM_STATUSES:
        raise StoreError(f"Unknown program status {status!r}; expected one of "
                         f"{', '.join(sorted(PROGRAM_STATUSES))}.")  # fmt: skip


def check_kind(kind: str) -> None:
    if kind not in PROGRAM_KINDS:
        raise StoreError(f"Unknown program kind {kind!r}; expected one of "
                         f"{', '.join(sorted(PROGRAM_KINDS))}.")  # fmt: skip


def check_input_type(type: str) -> None:
    if type not in INPUT_EVENT_TYPES:
        raise StoreError(f"{type!r} is not an input event type; expected one of "
                         f"{', '.join(sorted(INPUT_EVENT_TYPES))}.")  # fmt: skip


def check_blob(value: Any, what: str, *args: Any) -> None:
    """StoreError unless ``value`` is bytes-like; ``what`` (formatted with ``args``, ``%``
    style, only for the error) names it."""
    # A tuple, not ``bytes | bytearray | memoryview``: isinstance is faster with one.
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise StoreError(f"{what % args if args else what} must be bytes, not"
                         f" {type(value).__name__}.")


def check_meta(meta: dict[str, str], where: str) -> int:
    """The schema version a ``meta`` table records; SchemaError if it is not ours to open.

    :param where: names the store in messages: a file path, or a database and schema.
    """
    if meta.get("application") != APPLICATION:
        raise SchemaError(
            f"{where} is not a Flowmetal store: its meta table names application"
            f" {meta.get('application')!r}, not {APPLICATION!r}."
        )
    try:
        version = int(meta["schema_version"])
    except (KeyError, ValueError):
        raise SchemaError(
            f"{where} is a damaged Flowmetal store: its meta table has schema_version"
            f" {meta.get('schema_version')!r}."
        ) from None
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"{where} has store schema version {version}, but this Flowmetal supports"
            f" versions up to {SCHEMA_VERSION}. Upgrade Flowmetal to open it."
        )
    return version
