"""Export a run to a JSON file, import it into another store, and it replays the same."""

from __future__ import annotations

import json
import re

import pytest

from flowmetal.runtime.executor import Executor
from flowmetal.runtime.export import (
    ExportError,
    export_run,
    import_run,
    import_runs,
    read_export,
    write_export,
)
from flowmetal.runtime.forks import FORK_LEASE_OWNER
from flowmetal.runtime.replay import replay
from flowmetal.runtime.timeline import Timeline
from flowmetal.store import open_store


@pytest.mark.parametrize("name", ["approval", "recovery", "long_loop"])
def test_export_import_replays_identically(sample, tmp_path, name):
    src = open_store(sample(name), read_only=True)
    path = tmp_path / "run.json"
    write_export(export_run(src, f"p-{name}"), path)
    dest = open_store(tmp_path / "other.db")
    pid = import_run(dest, read_export(path))
    assert pid == f"p-{name}"
    a, b = src.get_program(pid), dest.get_program(pid)
    assert (a.status, a.result, a.last_seq, a.kind) == (b.status, b.result, b.last_seq, b.kind)
    assert [(e.type, e.data) for e in src.events(pid)] == \
        [(e.type, e.data) for e in dest.events(pid)]
    assert dest.snapshots(pid) == src.snapshots(pid)
    report = replay(Executor(dest), pid)
    assert report.ok and report.steps == replay(Executor(src), pid).steps
    tl = Timeline(dest, pid)
    tl.build()
    assert tl.divergence is None


def test_import_twice_gets_a_new_id(sample, tmp_path):
    doc = export_run(open_store(sample("recovery"), read_only=True), "p-recovery")
    dest = open_store(tmp_path / "other.db")
    assert import_run(dest, doc) == "p-recovery"
    second = import_run(dest, doc)
    assert second != "p-recovery" and replay(Executor(dest), second).ok


def test_read_export_refuses_other_files(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"format": "something"}))
    with pytest.raises(ExportError):
        read_export(bad)
    bad.write_text("{")
    with pytest.raises(ExportError):
        read_export(bad)


def test_forks_come_along_when_asked(sample, tmp_path):
    src = open_store(sample("approval"), read_only=True)
    assert "forks" not in export_run(src, "p-approval")
    doc = export_run(src, "p-approval", forks=True)
    assert [f["program"]["id"] for f in doc["forks"]] == ["p-approval-refused"]
    assert len(doc["code"]) == 1  # the fork runs the parent's code: stored once
    dest = open_store(tmp_path / "other.db")
    ids = import_runs(dest, doc, if_taken="error")
    assert ids == {"p-approval": "p-approval", "p-approval-refused": "p-approval-refused"}
    fork = dest.get_program("p-approval-refused")
    assert (fork.kind, fork.parent_id, fork.parent_step) == ("fork", "p-approval", 53)
    assert fork.lease_owner == FORK_LEASE_OWNER  # no worker drives an imported fork
    assert replay(Executor(dest), "p-approval-refused").ok
    # a copy under another id takes its forks along, under new ids, linked to the copy
    copy = import_runs(dest, doc, program_id="p-copy", if_taken="error")
    assert copy["p-approval"] == "p-copy"
    assert dest.get_program(copy["p-approval-refused"]).parent_id == "p-copy"


def test_a_taken_id_is_refused_before_anything_is_written(sample, tmp_path):
    doc = export_run(open_store(sample("approval"), read_only=True), "p-approval", forks=True)
    dest = open_store(tmp_path / "other.db")
    import_runs(dest, {**doc, "forks": []})
    with pytest.raises(ExportError, match="p-approval is already in this store"):
        import_runs(dest, doc, if_taken="error")
    assert [p.id for p in dest.list_programs()] == ["p-approval"]
    with pytest.raises(ExportError, match="p-approval is already in this store"):
        import_runs(dest, doc, program_id="p-approval", if_taken="error")


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.pop("events"), "missing 'events'"),
    (lambda d: d["events"].pop(3), "has gaps"),
    (lambda d: d["code"][0].update(unit="not base64!"), "damaged"),
    (lambda d: d["snapshots"][0].update(seq=10_000), "outside its log"),
    (lambda d: d.update(code=[]), "is not in the file"),
])
def test_a_damaged_export_is_refused(sample, tmp_path, damage, message):
    doc = export_run(open_store(sample("recovery"), read_only=True), "p-recovery")
    damage(doc)
    path = tmp_path / "bad.json"
    write_export(doc, path)
    with pytest.raises(ExportError, match=re.escape(message)):
        read_export(path)
