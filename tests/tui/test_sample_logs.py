"""The recorded runs in sample_logs/ open, replay and verify; the script that makes them is
deterministic."""

from __future__ import annotations

import hashlib
import importlib.util
import sqlite3
from pathlib import Path

import pytest

from flowmetal.runtime.executor import Executor
from flowmetal.runtime.replay import replay
from flowmetal.store import open_store

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
NAMES = ["approval", "http_retries", "fanout", "recovery", "long_loop"]


@pytest.mark.parametrize("name", NAMES)
def test_committed_sample_replays_and_verifies(name):
    store = open_store(SAMPLES / f"{name}.db", read_only=True)
    programs = store.list_programs()
    assert programs, f"{name}.db has no programs"
    for rec in programs:
        report = replay(Executor(store), rec.id)
        assert report.ok, f"{name}.db {rec.id}: {report.divergence}"
        assert rec.status == "done"
    store.close()


def test_samples_cover_the_scenarios():
    kinds = {}
    for name in NAMES:
        store = open_store(SAMPLES / f"{name}.db", read_only=True)
        kinds[name] = {e.type for p in store.list_programs() for e in store.events(p.id)}
        store.close()
    assert "callback" in kinds["approval"]
    assert {"effect-failed", "timer-fired"} <= kinds["http_retries"]
    assert "restart" in kinds["recovery"]
    steps = open_store(SAMPLES / "long_loop.db", read_only=True).snapshots("p-long_loop")
    assert steps[-1].step > 100_000


def test_samples_are_single_files_in_rollback_journal_mode():
    for name in NAMES:
        con = sqlite3.connect(f"file:{SAMPLES / f'{name}.db'}?mode=ro", uri=True)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        con.close()


def test_make_samples_is_deterministic(tmp_path):
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name in ("approval", "recovery", "fanout"):
        made = mod.make(name, tmp_path)
        assert _digest(made) == _digest(SAMPLES / f"{name}.db"), name


def _digest(path: Path) -> str:
    """The content (not the page layout, which varies with SQLite versions)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return hashlib.sha256("\n".join(con.iterdump()).encode()).hexdigest()
    finally:
        con.close()
