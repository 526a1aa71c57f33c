"""``flowmetal export`` and ``flowmetal import``, run as a user runs them: a run moves to
another store (SQLite or PostgreSQL) with its forks and replays there identically; every
bad input is one clear message and exit code 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowmetal.runtime.forks import drive_fork, replace_input
from flowmetal.runtime.timeline import Timeline
from flowmetal.store import open_store
from tests.store.conftest import PostgresBackend, postgres_url
from tests.test_cli import SLEEPY, Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def pg() -> Iterator[PostgresBackend]:
    """A fresh PostgreSQL schema (skips without ``FLOWMETAL_TEST_POSTGRES``)."""
    backend = PostgresBackend(postgres_url())
    yield backend
    backend.cleanup()


def _recorded(cli: Cli) -> str:
    """A finished run in ``cli.db`` that asked for ``now`` and slept."""
    cli("run", str(cli.file("sleepy.flow", SLEEPY)), "--arg", "n=21", "--arg", "name=ada",
        "--virtual-time")
    return cli.only_program()


def _fork(cli: Cli, pid: str) -> str:
    """A fork of ``pid`` in ``cli.db`` whose ``(now)`` answered 1000."""
    with open_store(str(cli.db)) as store:
        tl = Timeline(store, pid)
        tl.build()
        now = next(e for e in tl.events if e.type == "effect" and e.data["kind"] == "now")
        fid = replace_input(tl, store, now.seq, {**now.data, "value": 1000})
        assert drive_fork(store, fid).status == "done"
    return fid


def _log(cli: Cli, pid: str, db: str) -> list[tuple[int, str, object]]:
    lines = cli("log", pid, "--json", "--db", db, db=False).stdout.splitlines()
    return [(e["seq"], e["type"], e["data"]) for e in map(json.loads, lines)]


def _same_run(cli: Cli, pid: str, there: str, here: str | None = None) -> None:
    """``pid`` in the store ``there`` replays and reads exactly as in ``here``."""
    here = here or str(cli.db)
    verified = cli("replay", pid, "--verify", "--db", there, db=False).stdout
    assert "matches its log" in verified
    assert verified == cli("replay", pid, "--verify", "--db", here, db=False).stdout
    assert _log(cli, pid, there) == _log(cli, pid, here)
    shown = [json.loads(cli("show", pid, "--json", "--db", db, db=False).stdout)
             for db in (here, there)]
    assert shown[0] == shown[1]


def test_export_then_import_into_another_sqlite_store(cli: Cli, tmp_path: Path):
    pid = _recorded(cli)
    done = cli("export", pid, "run.json")
    assert done.stdout.startswith(f"exported {pid} (") and "to run.json" in done.stdout
    other = str(tmp_path / "other.db")
    done = cli("import", "run.json", "--db", other, db=False)
    assert done.stdout.splitlines()[0] == f"imported {pid}"
    assert f"flowmetal replay {pid} --verify --db {other}" in done.stdout
    _same_run(cli, pid, other)


def test_forks_travel_with_the_run_when_asked(cli: Cli, tmp_path: Path):
    pid = _recorded(cli)
    fid = _fork(cli, pid)
    cli("export", pid, "alone.json")
    assert "forks" not in json.loads((tmp_path / "alone.json").read_text())
    assert "1 forks" in cli("export", pid, "all.json", "--forks").stdout
    other = str(tmp_path / "other.db")
    done = cli("import", "all.json", "--db", other, db=False)
    assert done.stdout.splitlines()[:2] == [f"imported {pid}", f"imported {fid}"]
    _same_run(cli, fid, other)
    with open_store(other) as store:
        fork = store.get_program(fid)
        assert (fork.kind, fork.parent_id) == ("fork", pid)


def test_an_id_already_in_the_target_is_refused_unless_imported_as_another(cli: Cli,
                                                                          tmp_path: Path):
    pid = _recorded(cli)
    cli("export", pid, "run.json")
    done = cli("import", "run.json", ok=False)  # into the store it came from
    assert f"error: program {pid} is already in this store" in done.stderr
    assert "--as NEW-ID" in done.stderr
    done = cli("import", "run.json", "--as", "p-copy")
    assert done.stdout.splitlines()[0] == f"imported p-copy (was {pid})"
    assert "matches its log" in cli("replay", "p-copy", "--verify").stdout
    assert "already in this store" in cli("import", "run.json", "--as", "p-copy",
                                          ok=False).stderr


def test_bad_files_and_ids_are_clear_errors(cli: Cli, tmp_path: Path):
    pid = _recorded(cli)
    cli("export", pid, "run.json")
    doc = json.loads((tmp_path / "run.json").read_text())
    cli.file("v9.json", json.dumps({**doc, "version": 9}))
    cli.file("other.json", json.dumps({"name": "not an export"}))
    cli.file("broken.json", '{"format": "flowmetal-run", ')
    cli.file("gaps.json", json.dumps({**doc, "events": doc["events"][1:]}))
    for args, message in [
        (("import", "missing.json"), "error: no such file: missing.json"),
        (("import", "other.json"), "error: other.json is not a Flowmetal run export"),
        (("import", "broken.json"), "error: broken.json is not a Flowmetal run export"),
        (("import", "v9.json"), "error: v9.json is export version 9; this Flowmetal reads "
                                "version 1"),
        (("import", "gaps.json"), "error: gaps.json is a damaged Flowmetal run export"),
        (("export", "p-000000000000", "x.json"), "error: no program with id 'p-000000000000'"),
        (("export", pid, str(tmp_path / "no" / "such" / "dir.json")), "error: can't write"),
    ]:
        assert message in cli(*args, ok=False).stderr, args
    assert not (tmp_path / "x.json").exists()
    done = cli("export", pid, "x.json", "--db", "missing.db", db=False, ok=False)
    assert "missing.db" in done.stderr and not (tmp_path / "missing.db").exists()


def test_sqlite_to_postgresql_and_back(cli: Cli, tmp_path: Path, pg: PostgresBackend):
    pid = _recorded(cli)
    fid = _fork(cli, pid)
    cli("export", pid, "run.json", "--forks")
    done = cli("import", "run.json", "--db", pg.url, db=False)
    assert done.stdout.splitlines()[:2] == [f"imported {pid}", f"imported {fid}"]
    _same_run(cli, pid, pg.url)
    _same_run(cli, fid, pg.url)
    assert "already in this store" in cli("import", "run.json", "--db", pg.url, db=False,
                                          ok=False).stderr
    # and out of PostgreSQL again, into a fresh SQLite file
    cli("export", pid, "back.json", "--forks", "--db", pg.url, db=False)
    back = str(tmp_path / "back.db")
    cli("import", "back.json", "--db", back, db=False)
    _same_run(cli, fid, back)
    assert "no program with id 'p-000000000000'" in cli(
        "export", "p-000000000000", "x.json", "--db", pg.url, db=False, ok=False).stderr


def test_an_unfinished_run_is_held_in_the_target_until_resumed_on_purpose(cli: Cli,
                                                                          tmp_path: Path):
    job = cli.file("waiter.flow", '(defn main [_] (println "got" (receive :go)) :done)')
    pid = cli("start", str(job)).stdout.strip()
    assert cli.runtime().drive(pid).status == "waiting"  # at its receive
    cli("export", pid, "run.json")
    other = str(tmp_path / "other.db")
    cli("import", "run.json", "--db", other, db=False)
    cli("send", pid, "go", '"it"', "--db", other, db=False)
    # a worker of the new store never drives the copy: the original may still be live
    cli("worker", "--until-idle", "--db", other, db=False)
    with open_store(other) as store:
        rec = store.get_program(pid)
        assert (rec.status, rec.lease_owner) == ("ready", "flowmetal-import")
    done = cli("resume", pid, "--db", other, db=False)
    assert "got it" in done.stdout
    with open_store(other) as store:
        assert store.get_program(pid).status == "done"
