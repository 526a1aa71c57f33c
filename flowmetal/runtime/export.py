"""Export one run (its code, log and snapshots) to a JSON file, and import it elsewhere.

The file is plain JSON, so it can be attached to a bug report and read by eye::

    {"format": "flowmetal-run", "version": 1,
     "program": {"id": ..., "name": ..., "kind": ..., "status": ..., "args": ..., ...},
     "code": [{"hash": ..., "source_name": ..., "source": ..., "unit": BASE64}],
     "events": [{"seq": 1, "type": "started", "data": {...}, "at": 1767225600.0}, ...],
     "snapshots": [{"seq": 12, "step": 4711, "state": BASE64}]}

Importing recreates the program (same id unless it is taken) with the same log and
snapshots, so ``replay`` reproduces it there step for step. Timers, outbox tasks and
callbacks are not carried: an imported program is for looking at and replaying, and it
takes input only if someone sends it some. The events' ``at`` times are those of the
import (the store stamps them); the original times stay in the file.

Example::

    doc = export_run(open_store("prod.db", read_only=True), "p-1a2b3c")
    write_export(doc, "run.json")
    pid = import_run(open_store("mine.db"), read_export("run.json"))
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from ..store.contract import Commit, ConflictError, NotFound, Store
from .executor import new_program_id

__all__ = ["export_run", "import_run", "write_export", "read_export", "ExportError", "FORMAT"]

FORMAT = "flowmetal-run"
VERSION = 1


class ExportError(Exception):
    """The file is not a Flowmetal run export this version can read."""


def _code_hashes(program: Any, events: list[Any]) -> list[str]:
    hashes = [program.code_hash] if program.code_hash else []
    for e in events:
        data = e.data if isinstance(e.data, dict) else {}
        if e.type == "upgraded" and data.get("to"):
            hashes.append(data["to"])
        if e.type == "eval" and data.get("code_hash"):
            hashes.append(data["code_hash"])
    return list(dict.fromkeys(hashes))


def export_run(store: Store, program_id: str) -> dict[str, Any]:
    """Everything needed to replay ``program_id`` elsewhere, as a JSON-ready dict."""
    p = store.get_program(program_id)
    events = store.events(program_id)
    code = []
    for h in _code_hashes(p, events):
        c = store.get_code(h)
        code.append({"hash": c.hash, "source_name": c.source_name, "source": c.source,
                     "unit": base64.b64encode(c.unit).decode("ascii")})
    snaps = []
    for info in store.snapshots(program_id):
        rec = store.snapshot_at_or_before(program_id, info.seq)
        if rec is not None and rec.seq == info.seq:
            snaps.append({"seq": rec.seq, "step": rec.step,
                          "state": base64.b64encode(rec.state).decode("ascii")})
    return {
        "format": FORMAT,
        "version": VERSION,
        "program": {"id": p.id, "name": p.name, "kind": p.kind, "status": p.status,
                    "code_hash": p.code_hash, "parent_id": p.parent_id,
                    "parent_step": p.parent_step, "args": p.args, "result": p.result,
                    "error": p.error, "waiting": p.waiting, "created_at": p.created_at},
        "code": code,
        "events": [{"seq": e.seq, "type": e.type, "data": e.data, "at": e.at}
                   for e in events],
        "snapshots": snaps,
    }


def write_export(doc: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")


def read_export(path: str | Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"can't read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    _check(doc, str(path))
    return doc


def _check(doc: Any, where: str) -> None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ExportError(f"{where} is not a Flowmetal run export")
    if doc.get("version") != VERSION:
        raise ExportError(f"{where} is export version {doc.get('version')!r}; this Flowmetal "
                          f"reads version {VERSION}")


def import_run(store: Store, doc: dict[str, Any], *, program_id: str | None = None) -> str:
    """Recreate an exported run in ``store``; returns its id there (the original id if
    free, else a new one)."""
    _check(doc, "the document")
    p = doc["program"]
    for c in doc.get("code", ()):
        store.put_code(c["hash"], c["source_name"], c["source"], base64.b64decode(c["unit"]))
    pid = program_id or p["id"]
    try:
        store.get_program(pid)
        pid = new_program_id()
    except NotFound:
        pass
    events = [(e["type"], e["data"]) for e in doc["events"]]
    snaps = sorted(doc.get("snapshots", ()), key=lambda s: s["seq"])
    first = snaps[0]["seq"] if snaps else len(events)
    parent = p.get("parent_id")
    try:
        if parent is not None:
            store.get_program(parent)
    except NotFound:
        parent = None  # the parent stayed behind; keep the link only if it exists here
    store.create_program(pid, name=p["name"], kind=p["kind"], code_hash=p["code_hash"],
                         args=p["args"],
                         parent_id=parent, parent_step=p.get("parent_step"),
                         events=events[:first])
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
    return pid
