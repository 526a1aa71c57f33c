"""Export one run (its code, log and snapshots, optionally its forks) to a JSON file, and
import it elsewhere.

The file is plain JSON, so it can be attached to a bug report and read by eye::

    {"format": "flowmetal-run", "version": 1,
     "program": {"id": ..., "name": ..., "kind": ..., "status": ..., "args": ..., ...},
     "code": [{"hash": ..., "source_name": ..., "source": ..., "unit": BASE64}],
     "events": [{"seq": 1, "type": "started", "data": {...}, "at": 1767225600.0}, ...],
     "snapshots": [{"seq": 12, "step": 4711, "state": BASE64}],
     "forks": [{"program": {...}, "events": [...], "snapshots": [...]}, ...]}

``forks`` is optional (``export_run(..., forks=True)``): every fork made of the run, and
forks of those, parents first; their code is in the top-level ``code``.

Importing recreates the programs with the same logs and snapshots, so ``replay``
reproduces them there step for step. Timers, outbox tasks and callbacks are not carried:
an imported program is for looking at and replaying. An unfinished one is held (leased to
``flowmetal-import``) so that no worker of the new store drives it and repeats effects the
original may still be performing; ``flowmetal resume`` drives it on purpose. The events'
``at`` times are those of the import (the store stamps them); the original times stay in
the file. Imported forks are leased to the debugger, as the
debugger's own forks are, so no worker drives them.

Example::

    doc = export_run(open_store("prod.db", read_only=True), "p-1a2b3c", forks=True)
    write_export(doc, "run.json")
    ids = import_runs(open_store("mine.db"), read_export("run.json"), if_taken="error")
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any, Literal

from ..store.contract import FINISHED_STATUSES, Commit, ConflictError, NotFound, Store
from .executor import new_program_id
from .forks import FORK_LEASE_OWNER, FORK_LEASE_SECONDS

IMPORT_LEASE_OWNER = "flowmetal-import"
"""Who holds an imported unfinished run: nobody's worker, so none drives it by itself."""

__all__ = ["export_run", "import_run", "import_runs", "write_export", "read_export",
           "ExportError", "FORMAT", "VERSION"]

FORMAT = "flowmetal-run"
VERSION = 1


class ExportError(Exception):
    """The file is not a Flowmetal run export this version can read, or can't be
    imported here (an id is taken); the message says which."""


def _code_hashes(program: Any, events: list[Any]) -> list[str]:
    hashes = [program.code_hash] if program.code_hash else []
    for e in events:
        data = e.data if isinstance(e.data, dict) else {}
        if e.type == "upgraded" and data.get("to"):
            hashes.append(data["to"])
        if e.type == "eval" and data.get("code_hash"):
            hashes.append(data["code_hash"])
    return hashes


def _run_doc(store: Store, program_id: str) -> tuple[dict[str, Any], list[str]]:
    """One program's part of an export, and the code hashes it needs."""
    p = store.get_program(program_id)
    events = store.events(program_id)
    snaps = []
    for info in store.snapshots(program_id):
        rec = store.snapshot_at_or_before(program_id, info.seq)
        if rec is not None and rec.seq == info.seq:
            snaps.append({"seq": rec.seq, "step": rec.step,
                          "state": base64.b64encode(rec.state).decode("ascii")})
    doc = {
        "program": {"id": p.id, "name": p.name, "kind": p.kind, "status": p.status,
                    "code_hash": p.code_hash, "parent_id": p.parent_id,
                    "parent_step": p.parent_step, "args": p.args, "result": p.result,
                    "error": p.error, "waiting": p.waiting, "created_at": p.created_at},
        "events": [{"seq": e.seq, "type": e.type, "data": e.data, "at": e.at}
                   for e in events],
        "snapshots": snaps,
    }
    return doc, _code_hashes(p, events)


def fork_ids(store: Store, program_id: str) -> list[str]:
    """Every fork of ``program_id`` and of its forks, parents before their forks."""
    out: list[str] = []
    todo = [program_id]
    while todo:
        parent = todo.pop(0)
        kids = store.list_programs(kind="fork", parent_id=parent, limit=1_000_000)
        for rec in sorted(kids, key=lambda r: (r.created_at, r.id)):
            if rec.id not in out and rec.id != program_id:
                out.append(rec.id)
                todo.append(rec.id)
    return out


def export_run(store: Store, program_id: str, *, forks: bool = False) -> dict[str, Any]:
    """Everything needed to replay ``program_id`` (and with ``forks``, every fork made of
    it) elsewhere, as a JSON-ready dict. Raises ``NotFound`` for an unknown id."""
    doc, hashes = _run_doc(store, program_id)
    fork_docs = []
    if forks:
        for fid in fork_ids(store, program_id):
            fork_doc, more = _run_doc(store, fid)
            fork_docs.append(fork_doc)
            hashes += more
    code = []
    for h in dict.fromkeys(hashes):
        c = store.get_code(h)
        code.append({"hash": c.hash, "source_name": c.source_name, "source": c.source,
                     "unit": base64.b64encode(c.unit).decode("ascii")})
    out = {"format": FORMAT, "version": VERSION, "program": doc["program"], "code": code,
           "events": doc["events"], "snapshots": doc["snapshots"]}
    if forks:
        out["forks"] = fork_docs
    return out


def write_export(doc: dict[str, Any], path: str | Path) -> None:
    try:
        Path(path).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n",
                              encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"can't write {path}: {exc.strerror or exc}") from None


def read_export(path: str | Path) -> dict[str, Any]:
    """The export in ``path``, checked; ``ExportError`` says what is wrong with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExportError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"can't read {path}: {getattr(exc, 'strerror', None) or exc}") \
            from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path} is not a Flowmetal run export (not JSON: {exc.msg} at "
                          f"line {exc.lineno})") from None
    _check(doc, str(path))
    return doc


def _check(doc: Any, where: str) -> None:
    """Refuse anything but a well-formed export of this version, before writing a row."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ExportError(f"{where} is not a Flowmetal run export")
    if doc.get("version") != VERSION:
        raise ExportError(f"{where} is export version {doc.get('version')!r}; this Flowmetal "
                          f"reads version {VERSION}")
    try:
        hashes = set()
        for c in doc["code"]:
            base64.b64decode(c["unit"], validate=True)
            if not all(isinstance(c[k], str) for k in ("hash", "source_name", "source")):
                raise ValueError("a code unit has no hash, name or source")
            hashes.add(c["hash"])
        for run in [doc, *doc.get("forks", ())]:
            _check_run(run, hashes)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ExportError(f"{where} is a damaged Flowmetal run export ({what})") from None


def _check_run(run: dict[str, Any], hashes: set[str]) -> None:
    p = run["program"]
    for key in ("id", "name", "kind", "status"):
        if not isinstance(p[key], str):
            raise ValueError(f"program {key} is not a string")
    if p.get("code_hash") and p["code_hash"] not in hashes:
        raise ValueError(f"the code of {p['id']} is not in the file")
    seqs = [e["seq"] for e in run["events"]]
    if seqs != list(range(1, len(seqs) + 1)):
        raise ValueError(f"the log of {p['id']} has gaps")
    for e in run["events"]:
        if not isinstance(e["type"], str):
            raise ValueError(f"event {e['seq']} of {p['id']} has no type")
    for s in run.get("snapshots", ()):
        if not 0 <= s["seq"] <= len(seqs) or not isinstance(s["step"], int):
            raise ValueError(f"a snapshot of {p['id']} is outside its log")
        base64.b64decode(s["state"], validate=True)


def _taken(store: Store, pid: str) -> bool:
    try:
        store.get_program(pid)
    except NotFound:
        return False
    return True


def import_runs(store: Store, doc: dict[str, Any], *, program_id: str | None = None,
                if_taken: Literal["rename", "error"] = "rename") -> dict[str, str]:
    """Recreate an exported run (and the forks in the file) in ``store``.

    :param program_id: the id to give the run (default: its own).
    :param if_taken: what to do when an id is already in ``store``: ``"rename"`` gives it a
        new id, ``"error"`` raises ``ExportError`` before anything is written. Forks of a
        run imported under another ``program_id`` are copies too: they always get new ids
        when theirs are taken.
    :returns: the id in the file -> the id in ``store``, for the run and each fork.
    """
    _check(doc, "the document")
    runs = [doc, *doc.get("forks", ())]
    ids: dict[str, str] = {}
    for i, run in enumerate(runs):
        old = run["program"]["id"]
        new = program_id if i == 0 and program_id else old
        if _taken(store, new) or new in ids.values():
            if if_taken == "error" and (i == 0 or not program_id):
                hint = (" (import it under another id with --as NEW-ID)" if i == 0
                        else "; import the run under another id with --as NEW-ID")
                raise ExportError(f"program {new} is already in this store{hint}")
            new = new_program_id()
        ids[old] = new
    for c in doc.get("code", ()):
        store.put_code(c["hash"], c["source_name"], c["source"], base64.b64decode(c["unit"]))
    for run in runs:
        _import_one(store, run, ids)
    return ids


def import_run(store: Store, doc: dict[str, Any], *, program_id: str | None = None) -> str:
    """Recreate an exported run in ``store``; returns its id there (the original id if
    free, else a new one). Forks in the file come along, under fresh ids if needed."""
    return import_runs(store, doc, program_id=program_id)[doc["program"]["id"]]


def _import_one(store: Store, run: dict[str, Any], ids: dict[str, str]) -> None:
    p = run["program"]
    pid = ids[p["id"]]
    events = [(e["type"], e["data"]) for e in run["events"]]
    snaps = sorted(run.get("snapshots", ()), key=lambda s: s["seq"])
    first = snaps[0]["seq"] if snaps else len(events)
    parent = p.get("parent_id")
    parent = ids.get(parent, parent)
    if parent is not None and not _taken(store, parent):
        parent = None  # the parent stayed behind; keep the link only if it exists here
    # An unfinished run is a copy of one that may still be live elsewhere: hold it, so no
    # worker of this store performs its effects a second time (``resume`` still drives it).
    if p["kind"] == "fork":
        lease = {"lease_owner": FORK_LEASE_OWNER, "lease_seconds": FORK_LEASE_SECONDS}
    elif p["status"] not in FINISHED_STATUSES:
        lease = {"lease_owner": IMPORT_LEASE_OWNER, "lease_seconds": FORK_LEASE_SECONDS}
    else:
        lease = {}
    store.create_program(pid, name=p["name"], kind=p["kind"], code_hash=p["code_hash"],
                         args=p["args"], parent_id=parent, parent_step=p.get("parent_step"),
                         events=events[:first], **lease)
    seq = first
    for s in snaps:
        batch = events[seq:s["seq"]]
        try:
            store.commit(pid, Commit(expected_seq=seq, status="ready", events=batch,
                                     snapshot=base64.b64decode(s["state"]),
                                     snapshot_step=s["step"]))
        except ConflictError as exc:
            raise ExportError(f"snapshot at seq {s['seq']} does not fit the log: {exc}") \
                from None
        seq = s["seq"]
    store.commit(pid, Commit(expected_seq=seq, status=p["status"], events=events[seq:],
                             result=p.get("result"), error=p.get("error"),
                             waiting=p.get("waiting")))
