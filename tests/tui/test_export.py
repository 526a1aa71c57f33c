"""Export a run to a JSON file, import it into another store, and it replays the same."""

from __future__ import annotations

import json

import pytest

from flowmetal.runtime.executor import Executor
from flowmetal.runtime.export import ExportError, export_run, import_run, read_export, write_export
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
