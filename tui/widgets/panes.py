"""The small read-only panes: the value being returned, the event under the cursor (its
full JSON), the program's output so far, and the watch expressions."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from rich.console import Group
from rich.json import JSON
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from flowmetal.runtime.timeline import show

__all__ = ["ValuePane", "EventPane", "OutputPane", "WatchPane", "utc"]


def utc(t: float) -> str:
    """An epoch time as ``2026-01-01 00:00:00Z`` (always UTC: screenshots stay stable)."""
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class ValuePane(Static):
    """What the selected fiber does at this step: the value it returns, or the form it is
    about to evaluate, or what it waits for."""

    DEFAULT_CSS = """
    ValuePane {
        height: auto;
        padding: 0 1;
    }
    """

    def show_fiber(self, fv: Any, form_text: str | None, status: str) -> None:
        if fv is None:
            self.update(Text(f"no fiber: the program is {status}", style="dim"))
            return
        head = Text.assemble(("fiber ", "dim"), (str(fv.id), "bold"), ("  ", ""),
                             (fv.status, "bold cyan"), ("  mode ", "dim"), (fv.mode, "bold"))
        lines = [head]
        if fv.wait:
            lines.append(Text.assemble(("waits for ", "dim"), (fv.wait, "magenta")))
        if fv.mode == "return" or fv.status == "done":
            lines.append(Text.assemble(("returning ", "dim"),
                                       (show(fv.value, 200), "bold green")))
        elif fv.mode == "throw":
            lines.append(Text.assemble(("throwing ", "dim"), (show(fv.value, 200), "bold red")))
        if form_text:
            lines.append(Text.assemble(("evaluating ", "dim"), (form_text, "")))
        self.update(Group(*lines))


class EventPane(Static):
    """One event: its number, type, step and time, then its data as JSON."""

    DEFAULT_CSS = """
    EventPane {
        height: auto;
        padding: 0 1;
    }
    """

    def show_event(self, mark: Any, total: int) -> None:
        if mark is None:
            self.update(Text("no event yet at this step", style="dim italic"))
            return
        where = f"step {mark.step:,}" if mark.applied else "not applied yet"
        head = Text.assemble((f"event {mark.index + 1}/{total}", "bold"), "  seq ",
                             (str(mark.seq), "bold"), "  ", (mark.type, "bold cyan"), "  ",
                             where, "  ", (utc(mark.at), "dim"))
        body = JSON(json.dumps(mark.data, ensure_ascii=False, default=str), indent=2)
        self.update(Group(head, body))


class OutputPane(VerticalScroll):
    """The program's printed output up to this step; the newest line at the bottom."""

    DEFAULT_CSS = """
    OutputPane {
        height: 1fr;
    }
    OutputPane > Static {
        padding: 0 1;
    }
    """

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="output-text")

    def show_output(self, chunks: list[str]) -> None:
        text = "".join(chunks[-500:])
        body = self.query_one("#output-text", Static)
        body.update(Text(text) if text else Text("no output yet", style="dim italic"))
        self.scroll_end(animate=False)


class WatchPane(Static):
    """Each watch expression and its value at this step."""

    DEFAULT_CSS = """
    WatchPane {
        height: auto;
        padding: 0 1;
    }
    """

    def show_watches(self, watches: list[tuple[str, str]]) -> None:
        self.watches = watches
        if not watches:
            self.update(Text("no watches: press w to add one", style="dim italic"))
            return
        self.update(Group(*[Text.assemble((expr, "bold"), "  ⇒  ", value)
                            for expr, value in watches]))
