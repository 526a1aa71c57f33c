"""The REPL prints its store's URL (banner, hints, commands) without the password."""

from __future__ import annotations

import io
from pathlib import Path

from flowmetal.repl.app import _banner
from flowmetal.repl.output import PlainOutput
from flowmetal.repl.session import Session
from flowmetal.repl.shell import Shell
from flowmetal.runtime import Runtime
from flowmetal.store import open_store

SECRET_URL = "postgresql://ada:hunter2@db.internal/flow"
SHOWN = "postgresql://ada:***@db.internal/flow"


def test_the_banner_hints_and_commands_hide_the_password(tmp_path: Path):
    rt = Runtime(open_store(tmp_path / "repl.db"))
    session = Session(rt, rt.repl_open("t"), SECRET_URL)  # a SQLite file stands in
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(session, PlainOutput(out, err))
    try:
        _banner(shell)
        assert session.evaluate("(receive :go)").pending
        [wait] = session.waits()
        assert wait.hint == f"flowmetal send --db {SHOWN} {session.id} go JSON"
        shell.submit(",reset")
        shown = out.getvalue() + err.getvalue()
        assert f"in {SHOWN}" in shown and f"flowmetal debug {SHOWN} " in shown
        assert "hunter2" not in shown
    finally:
        session.close()
