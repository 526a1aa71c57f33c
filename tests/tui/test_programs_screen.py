"""The program list: what it shows, and its keys."""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable

from flowmetal.store import open_store
from tests.tui.conftest import settle
from tui.app import DebuggerApp
from tui.screens.debug import DebugScreen
from tui.screens.help import HelpScreen
from tui.screens.programs import ProgramsScreen

pytestmark = pytest.mark.anyio


def _rows(app):
    table = app.screen.query_one("#programs", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_list_shows_status_name_started_steps_events_and_forks(sample):
    app = DebuggerApp(sample("approval"), blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ProgramsScreen)
        rows = _rows(app)
        by_id = {r[1]: r for r in rows}
        parent = by_id["p-approval"]
        assert parent[0] == "done" and parent[2] == "approval" and parent[3] == "program"
        assert parent[4] == "2026-01-01 00:00:00Z"
        assert parent[5] == "76" and parent[6] == "13" and parent[7] == "1"
        fork = by_id["p-approval-refused"]
        assert fork[3] == "fork" and fork[8] == "p-approval@53"


async def test_enter_opens_the_debugger_and_escape_comes_back(sample):
    app = DebuggerApp(sample("recovery"), blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DebugScreen)
        assert app.screen.program_id == "p-recovery"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ProgramsScreen)


async def test_help_lists_the_keys(sample):
    app = DebuggerApp(sample("recovery"), blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = [r[0] for r in app.screen.rows]
        assert "Enter" in keys and "x" in keys
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ProgramsScreen)


async def test_export_then_import_adds_a_program(sample, tmp_path):
    out = tmp_path / "run.json"
    app = DebuggerApp(sample("recovery"), blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        app.screen.query_one("Input").value = str(out)
        await pilot.press("enter")
        await settle(pilot)
        assert json.loads(out.read_text())["program"]["id"] == "p-recovery"
        await pilot.press("i")
        await settle(pilot)
        app.screen.query_one("Input").value = str(out)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert len(_rows(app)) == 2
    store = open_store(sample("recovery"), read_only=True)
    assert len(store.list_programs()) == 2


async def test_import_of_a_missing_file_is_refused_in_the_dialog(sample):
    app = DebuggerApp(sample("recovery"), blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        app.screen.query_one("Input").value = "/nonexistent/file.json"
        await pilot.press("enter")
        await settle(pilot)
        assert "no such file" in str(app.screen.query_one("#prompt-error").render())
        await pilot.press("escape")
