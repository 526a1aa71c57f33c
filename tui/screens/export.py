"""Export a run (and, if asked, its forks) to a JSON file: shared by the program list and
the debug screen. The file is written in a worker thread, so a long run never blocks the
screen; see ``flowmetal.runtime.export`` for the format and for importing it."""

from __future__ import annotations

from textual.screen import Screen

from flowmetal.runtime.export import export_run, write_export

from .prompt import PromptModal

__all__ = ["ask_export"]


def ask_export(screen: Screen, program_id: str, forks: bool = False) -> None:
    """Ask for a file name, then export ``program_id`` there and say how it went."""
    title = "Export the run and its forks to a JSON file" if forks else \
        "Export the run to a JSON file"
    name = f"{program_id}{'-with-forks' if forks else ''}.flowmetal.json"

    def chosen(path: str | None) -> None:
        if not path:
            return
        app = screen.app

        def write() -> None:
            try:
                write_export(export_run(app.store, program_id, forks=forks),  # type: ignore
                             path)
            except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
                app.call_from_thread(screen.notify, f"export failed: {exc}", severity="error")
                return
            app.call_from_thread(screen.notify, f"exported {program_id} to {path}")

        screen.run_worker(write, thread=True, group="export")

    screen.app.push_screen(PromptModal(title, value=name), callback=chosen)
