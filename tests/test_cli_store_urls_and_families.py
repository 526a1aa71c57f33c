"""The CLI never prints a store password; ``cancel`` reports the children it cancelled;
``show`` and ``run`` warn about async fibers that failed with nobody awaiting them.
In-process (``main([...])``) so a fake PostgreSQL URL can stand for a SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowmetal import cli
from flowmetal.cli import main, redact_url
from flowmetal.runtime import Runtime
from flowmetal.store import open_store

SECRET_URL = "postgresql://ada:hunter2@db.internal:5432/flow?schema=prod"


@pytest.mark.parametrize(("url", "shown"), [
    (SECRET_URL, "postgresql://ada:***@db.internal:5432/flow?schema=prod"),
    ("postgres://ada:p%40ss:w@db/flow", "postgres://ada:***@db/flow"),
    ("postgresql://db/flow?sslmode=require&password=hunter2",
     "postgresql://db/flow?sslmode=require&password=***"),
    ("host=db user=ada password=hunter2 dbname=flow", "host=db user=ada password=*** dbname=flow"),
    ("host=db password='hun ter2' dbname=flow", "host=db password=*** dbname=flow"),
    ("postgresql://ada@db/flow", "postgresql://ada@db/flow"),
    ("sqlite:///run.db?synchronous=NORMAL", "sqlite:///run.db?synchronous=NORMAL"),
    ("flow.db", "flow.db"),
])
def test_redact_url(url: str, shown: str):
    assert redact_url(url) == shown
    assert "hunter2" not in redact_url(url)


@pytest.fixture
def fake_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``--db SECRET_URL`` opens a SQLite file instead."""
    path = tmp_path / "flow.db"
    real = open_store

    def open_fake(target: Any, **options: Any) -> Any:
        return real(path if str(target) == SECRET_URL else target, **options)

    monkeypatch.setattr(cli, "open_store", open_fake)
    return path


def test_worker_prints_the_store_url_without_its_password(fake_postgres: Path, capsys):
    assert main(["worker", "--db", SECRET_URL, "--until-idle"]) == 0
    err = capsys.readouterr().err
    assert "on postgresql://ada:***@db.internal:5432/flow?schema=prod (until idle)" in err
    assert "hunter2" not in err


def test_run_hints_show_the_store_url_without_its_password(fake_postgres: Path, tmp_path,
                                                           capsys, monkeypatch):
    job = tmp_path / "job.flow"
    job.write_text("(defn main [_] (receive :go))\n")
    monkeypatch.setattr(Runtime, "run", _interrupt_once_waiting)
    assert main(["run", str(job), "--db", SECRET_URL]) == 130
    err = capsys.readouterr().err
    assert "--db postgresql://ada:***@db.internal" in err
    assert "safely suspended in postgresql://ada:***@" in err
    assert "hunter2" not in err


def _interrupt_once_waiting(self: Runtime, pid: str, *, until: Any = None) -> Any:
    """``Runtime.run`` that stops with Ctrl-C where the real one would wait."""
    rec = self.drive(pid)
    until(rec)
    raise KeyboardInterrupt


def test_cancel_lists_the_children_it_cancelled(tmp_path: Path, capsys):
    db = str(tmp_path / "flow.db")
    rt = Runtime(open_store(db), virtual_time=True)
    pid = rt.start("""
      (defn slow [] (receive :never))
      (defn main [_] (await (spawn 'slow)))""", "fam.flow")
    rt.run(pid, until=lambda _rec: True)
    [kid] = rt.store.list_programs(parent_id=pid)
    assert main(["cancel", pid, "--db", db]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"program {pid} is cancelled", f"  its child {kid.id} (fam/slow) is cancelled"]


def test_show_and_run_warn_about_an_unawaited_async_failure(tmp_path: Path, capsys):
    db = str(tmp_path / "flow.db")
    job = tmp_path / "job.flow"
    job.write_text("""(defn main [_]
  (async (throw (ex-info "lost" {:type :lost})))
  (sleep 1)
  :done)
""")
    assert main(["run", str(job), "--db", db, "--virtual-time"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ":done\n"
    warning = f"async fiber 1 failed and was never awaited: lost: lost at {job}:2:10"
    assert captured.err == f"warning: {warning}\n"
    [rec] = open_store(db).list_programs()
    assert main(["show", rec.id, "--db", db]) == 0
    assert f"warning  {warning}" in capsys.readouterr().out


def test_import_hints_show_the_store_url_without_its_password(fake_postgres: Path, tmp_path,
                                                              capsys):
    source = str(tmp_path / "source.db")
    rt = Runtime(open_store(source), virtual_time=True)
    pid = rt.start("(defn main [_] 42)", "job.flow")
    rt.run(pid)
    assert main(["export", pid, str(tmp_path / "run.json"), "--db", source]) == 0
    assert main(["import", str(tmp_path / "run.json"), "--db", SECRET_URL]) == 0
    out = capsys.readouterr().out
    assert "--db 'postgresql://ada:***@db.internal:5432/flow?schema=prod'" in out
    assert "hunter2" not in out
