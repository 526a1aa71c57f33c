"""SVG snapshots of the main screens at 120x40, on the committed sample runs (fixed ids and
times, cursors not blinking, animations off). After a deliberate UI change, review the
new images and accept them with ``pytest tests/tui --snapshot-update``."""

from __future__ import annotations

import os
from pathlib import Path

from tests.tui.conftest import settle
from tui.app import DebuggerApp

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
SIZE = (120, 40)


def _app(name: str, pid: str | None = None, step: int | None = None) -> DebuggerApp:
    # A relative path: the program list shows it, and the checkout's place must not matter.
    path = os.path.relpath(SAMPLES / f"{name}.db")
    return DebuggerApp(path, pid, start_step=step, blink=False)


def _then(*keys: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


def test_program_list(snap_compare):
    assert snap_compare(_app("approval"), terminal_size=SIZE, run_before=_then())


def test_debug_screen_inside_a_call(snap_compare):
    assert snap_compare(_app("approval", "p-approval", 40), terminal_size=SIZE,
                        run_before=_then())


def test_debug_screen_where_the_program_waits(snap_compare):
    assert snap_compare(_app("approval", "p-approval", 53), terminal_size=SIZE,
                        run_before=_then("tab", "tab", "tab", "tab", "right"))


def test_debug_screen_long_loop_output_tab(snap_compare):
    assert snap_compare(_app("long_loop", "p-long_loop", 300_000), terminal_size=SIZE,
                        run_before=_then("tab", "tab", "tab", "tab", "right", "right"))


def test_fork_opens_at_its_fork_point(snap_compare):
    assert snap_compare(_app("approval", "p-approval-refused"), terminal_size=SIZE,
                        run_before=_then())


def test_help_screen(snap_compare):
    assert snap_compare(_app("recovery", "p-recovery", 10), terminal_size=SIZE,
                        run_before=_then("f1"))


def test_inject_dialog(snap_compare):
    assert snap_compare(_app("approval", "p-approval", 53), terminal_size=SIZE,
                        run_before=_then("i"))
