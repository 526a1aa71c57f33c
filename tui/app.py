"""The debugger application, and ``run_debugger`` which ``flowmetal debug`` calls.

The store (an SQLite file or a PostgreSQL URL) is opened read-only: nothing the debugger
does can change a recorded run. A second, writable connection to the same store is opened
only when the user makes a fork or imports a run.

Example::

    run_debugger("sample_logs/approval.db", "p-approval")
    run_debugger("postgresql://db.internal/flowmetal?schema=prod")
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.widgets import Input, TextArea

from flowmetal.store import Store, StoreError, open_store

from .screens.debug import DebugScreen
from .screens.programs import ProgramsScreen

__all__ = ["DebuggerApp", "run_debugger"]


class DebuggerApp(App[int]):
    """The time-travel debugger over one store.

    :param store_path: an SQLite file or a ``postgresql://`` URL.
    :param program_id: open this program at once (Esc goes back to the list).
    :param start_step: the step the run named by ``program_id`` opens at.
    :param fork_ids: ids to give new forks, in order (tests; default: random ids).
    :param blink: False stops cursors blinking and animations (screenshots, tests).
    :param checkpoint_every: steps between in-memory checkpoints (default: the timeline's).
    """

    TITLE = "flowmetal debug"
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, store_path: str, program_id: str | None = None, *,
                 start_step: int | None = None, fork_ids: Iterable[str] | None = None,
                 blink: bool = True, checkpoint_every: int | None = None) -> None:
        super().__init__()
        self.store_path = store_path
        self.program_id = program_id
        self.start_step = start_step
        self.blink = blink
        self.checkpoint_every = checkpoint_every
        self._fork_ids: Iterator[str] | None = iter(fork_ids) if fork_ids is not None else None
        self.store: Store = open_store(store_path, read_only=True)
        self._writable: Store | None = None
        if not blink:
            self.animation_level = "none"

    def on_mount(self) -> None:
        self.push_screen(ProgramsScreen())
        if self.program_id is not None:
            self.open_program(self.program_id, self.start_step)

    def on_unmount(self) -> None:
        for store in (self.store, self._writable):
            if store is not None:
                try:
                    store.close()
                except StoreError:
                    pass

    # -- what screens ask of the app ---------------------------------------------------------

    def open_program(self, program_id: str, step: int | None = None) -> None:
        """Debug ``program_id`` (on top of whatever is shown), at ``step`` (default: its
        last step, or for a fork the step where it left its parent)."""
        self.push_screen(DebugScreen(program_id, start_step=step,
                                     checkpoint_every=self.checkpoint_every))

    @property
    def store_label(self) -> str:
        """The store, for the screen and messages (a URL without its password)."""
        return str(getattr(self.store, "where", None) or self.store_path)

    def writable_store(self) -> Store:
        """A read-write connection to the same store, for forks and imports only."""
        if self._writable is None:
            self._writable = open_store(self.store_path)
        return self._writable

    def next_fork_id(self) -> str | None:
        if self._fork_ids is None:
            return None
        return next(self._fork_ids, None)

    def push_screen(self, screen: Any, callback: Any = None,
                    wait_for_dismiss: bool = False) -> Any:
        result = super().push_screen(screen, callback=callback,
                                     wait_for_dismiss=wait_for_dismiss)  # type: ignore
        if not self.blink:
            self.call_after_refresh(self._stop_blinking)
        return result

    def _stop_blinking(self) -> None:
        for widget in self.screen.query("Input, TextArea"):
            if isinstance(widget, (Input, TextArea)):
                widget.cursor_blink = False

    # -- the command palette -----------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands = getattr(screen, "palette_commands", None)
        if commands is None:
            return
        for title, help_, action in commands():
            yield SystemCommand(title, help_ or title,
                                lambda a=action, s=screen: s.run_action(a))


def run_debugger(store_path: str, program_id: str | None = None) -> int:
    """Run the debugger in this terminal; returns the exit code."""
    if "://" not in store_path and not os.path.exists(store_path):
        print(f"error: no such store: {store_path}", file=sys.stderr)
        return 1
    try:
        app = DebuggerApp(store_path, program_id)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if program_id is not None:
        try:
            app.store.get_program(program_id)
        except StoreError:
            print(f"error: no program {program_id!r} in {app.store_label}", file=sys.stderr)
            app.store.close()
            return 1
    app.run()
    return 0
