"""The debugger on a PostgreSQL store (``flowmetal debug postgresql://...``): the list, a
run, and forks written to the same database, the original record never touched. These run
against the real server named by ``FLOWMETAL_TEST_POSTGRES`` and skip without it."""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable, Input, Label

from flowmetal.runtime.executor import Executor
from flowmetal.runtime.replay import replay
from flowmetal.store import StoreError, open_store
from tests.tui.conftest import DICE, record, settle
from tui.app import DebuggerApp, run_debugger
from tui.screens.debug import DebugScreen
from tui.screens.inject import InjectModal
from tui.screens.programs import ProgramsScreen

pytestmark = pytest.mark.anyio


def _log(url: str, pid: str) -> list[tuple[str, object]]:
    with open_store(url, read_only=True) as store:
        return [(e.type, e.data) for e in store.events(pid)]


async def test_the_list_and_a_run_from_postgresql(pg_samples):
    app = DebuggerApp(pg_samples, blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ProgramsScreen)
        table = app.screen.query_one("#programs", DataTable)
        ids = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        assert sorted(ids) == ["p-approval", "p-approval-refused"]
        info = str(app.screen.query_one("#programs-info", Label).render())
        assert "(schema 'fm_test_" in info and "opened read-only" in info
        with pytest.raises(StoreError):  # the debugger's own connection can't write
            app.store.set_status("p-approval", "cancelled")
        table.move_cursor(row=ids.index("p-approval"))
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DebugScreen) and screen.tl.total_steps == 76
        assert screen.tl.divergence is None


async def test_a_fork_on_postgresql_leaves_the_original_alone(pg_samples):
    before = _log(pg_samples, "p-approval")
    app = DebuggerApp(pg_samples, "p-approval", start_step=53, blink=False,
                      fork_ids=["p-pg-fork"])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("r")  # the callback that arrived at step 53
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, InjectModal)
        text = modal.query_one("#inject-payload").text.replace('"dana"', '"eve"')
        modal.query_one("#inject-payload").text = text
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        fork = app.screen
        assert isinstance(fork, DebugScreen) and fork.program_id == "p-pg-fork"
        await pilot.press("end")
        await settle(pilot)
        assert "decision: eve approved" in "".join(fork.view.output)
    assert _log(pg_samples, "p-approval") == before
    with open_store(pg_samples, read_only=True) as store:
        rec = store.get_program("p-pg-fork")
        assert (rec.kind, rec.parent_id, rec.parent_step) == ("fork", "p-approval", 53)
        assert replay(Executor(store), "p-pg-fork").ok


async def test_replace_a_now_answer_on_postgresql(pg_samples, tmp_path):
    pid = record(pg_samples, DICE, tmp_path)
    before = _log(pg_samples, pid)
    app = DebuggerApp(pg_samples, pid, start_step=0, blink=False, fork_ids=["p-pg-now"])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("j")
        await settle(pilot)
        app.screen.query_one(Input).value = "2"  # the answer to (now)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, InjectModal) and screen.tl.marks[1].kind == "now"
        data = json.loads(modal.query_one("#inject-payload").text)
        modal.query_one("#inject-payload").text = json.dumps({**data, "value": 1000})
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen.program_id == "p-pg-now"
        await pilot.press("end")
        await settle(pilot)
        assert "at 1000\n" in "".join(app.screen.view.output)
    assert _log(pg_samples, pid) == before


def test_run_debugger_refuses_an_unknown_program_or_server(pg_samples, capsys):
    assert run_debugger(pg_samples, "p-nope") == 1
    err = capsys.readouterr().err
    assert "no program 'p-nope' in postgresql://" in err and "(schema 'fm_test_" in err
    assert run_debugger("postgresql://nobody:secret@127.0.0.1:1/none") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "secret" not in err
