"""The program list: every run in the store, to pick one to debug.

| Key | Action |
|---|---|
| Enter | debug the selected program |
| r | reload the list |
| x | export the selected run to a JSON file |
| X | export it with every fork made of it |
| i | import a run from a JSON file (into this store, as a new program) |
| F1 | help |
| q | quit |
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label

from flowmetal.runtime.export import import_run, read_export

from ..widgets.panes import utc
from .export import ask_export
from .help import HelpScreen, key_rows
from .prompt import PromptModal

__all__ = ["ProgramsScreen", "STATUS_STYLES"]

STATUS_STYLES = {"done": "green", "failed": "bold red", "waiting": "yellow", "ready": "cyan",
                 "cancelled": "dim", "aborted": "red"}


class ProgramsScreen(Screen[None]):
    """A table of the store's programs: status, id, name, kind, started, steps, events,
    forks."""

    BINDINGS = [
        Binding("enter", "open", "Debug", priority=True),
        Binding("r", "reload", "Reload"),
        Binding("x", "export", "Export"),
        Binding("X", "export(1)", "Export with forks", show=False),
        Binding("i", "import_run", "Import"),
        Binding("f1", "help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    DEFAULT_CSS = """
    ProgramsScreen DataTable {
        height: 1fr;
    }
    ProgramsScreen #programs-info {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Label("", id="programs-info")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="programs")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#programs", DataTable)
        for title, width in (("status", 9), ("id", 22), ("name", 16), ("kind", 8),
                             ("started (UTC)", 20), ("steps", 10), ("events", 7),
                             ("forks", 5), ("parent", 26)):
            table.add_column(title, width=width)
        self.reload()
        table.focus()

    # -- data ------------------------------------------------------------------------------

    def rows(self) -> list[tuple[Any, ...]]:
        """The table's rows, newest program first."""
        store = self.app.store  # type: ignore[attr-defined]
        programs = store.list_programs(limit=10_000)
        forks: dict[str, int] = {}
        for p in programs:
            if p.kind == "fork" and p.parent_id:
                forks[p.parent_id] = forks.get(p.parent_id, 0) + 1
        out = []
        for p in sorted(programs, key=lambda p: (-p.created_at, p.id)):
            snaps = store.snapshots(p.id)
            steps = f"{snaps[-1].step:,}" if snaps else "—"
            parent = ""
            if p.parent_id:
                parent = p.parent_id + (f"@{p.parent_step:,}" if p.parent_step is not None
                                        else "")
            out.append((p.id, p.status, p.name, p.kind, utc(p.created_at), steps,
                        f"{p.last_seq:,}", str(forks.get(p.id, 0) or ""), parent))
        return out

    def reload(self) -> None:
        table = self.query_one("#programs", DataTable)
        table.clear()
        rows = self.rows()
        self.ids = [r[0] for r in rows]
        for pid, status, *rest in rows:
            table.add_row(Text(status, style=STATUS_STYLES.get(status, "")), pid, *rest,
                          key=pid)
        info = self.query_one("#programs-info", Label)
        path = self.app.store_label  # type: ignore[attr-defined]
        info.update(f"{len(rows)} program{'s' if len(rows) != 1 else ''} in {path} "
                    "(opened read-only: what-ifs go to forks)")

    def selected(self) -> str | None:
        table = self.query_one("#programs", DataTable)
        if not self.ids or not 0 <= table.cursor_row < len(self.ids):
            return None
        return self.ids[table.cursor_row]

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("open", "export"):
            return True if self.selected() is not None else None
        return True

    @on(DataTable.RowHighlighted)
    def _moved(self) -> None:
        self.refresh_bindings()

    def action_open(self) -> None:
        pid = self.selected()
        if pid is not None:
            self.app.open_program(pid)  # type: ignore[attr-defined]

    def action_reload(self) -> None:
        self.reload()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Programs: keys", key_rows(self.BINDINGS)))

    def action_export(self, forks: int = 0) -> None:
        pid = self.selected()
        if pid is not None:
            ask_export(self, pid, bool(forks))

    def action_import_run(self) -> None:
        def check(path: str) -> str | None:
            return None if Path(path).is_file() else f"no such file: {path}"

        self.app.push_screen(PromptModal("Import a run from a JSON file",
                                         placeholder="run.flowmetal.json", check=check),
                             callback=self._import)

    def _import(self, path: str | None) -> None:
        if not path:
            return
        self.import_file(path)

    @work(thread=True, group="import")
    def import_file(self, path: str) -> None:
        try:
            pid = import_run(self.app.writable_store(), read_export(path))  # type: ignore
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"import failed: {exc}", severity="error")
            return
        self.app.call_from_thread(self._imported, pid)

    def _imported(self, pid: str) -> None:
        self.reload()
        if pid in self.ids:
            self.query_one("#programs", DataTable).move_cursor(row=self.ids.index(pid))
        self.notify(f"imported as {pid}")
