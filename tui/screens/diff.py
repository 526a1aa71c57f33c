"""Diff two moments: the bindings and the output at two steps of one run, or a fork's end
against its parent's end (result, globals, output, and the events after the fork point)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from flowmetal.runtime.timeline import Timeline, show

__all__ = ["DiffScreen", "Side", "step_side", "fork_sides", "binding_changes"]


@dataclass
class Side:
    """One side of a diff: printed bindings by name, the output, and notes."""

    label: str
    bindings: dict[str, str]
    output: list[str]
    notes: list[str] = field(default_factory=list)


def _flatten(view: Any, fid: int | None, index: int) -> dict[str, str]:
    scopes = view.scopes(fid, index) or view.scopes(None, 0)
    out: dict[str, str] = {}
    for scope in reversed(scopes):
        for name, value in scope.items:
            out[name] = show(value, 100)
    for name, value in view.globals:
        out[f"(global) {name}"] = show(value, 100)
    return out


def step_side(tl: Timeline, step: int, sel: tuple[int, int] | None) -> Side:
    """The bindings of the selected frame (else the current one) and output at ``step``."""
    view = tl.view(step)
    fid, index = sel if sel is not None else (None, 0)
    fv = view.fiber(fid)
    if fv is None or index >= len(fv.frames):
        fid, index = None, 0
    return Side(f"step {step:,}", _flatten(view, fid, index), view.output,
                [f"program {view.status}"])


def fork_sides(store: Any, tl: Timeline) -> tuple[Side, Side]:
    """The parent's last step against the fork's last step."""
    rec = tl.rec
    parent = Timeline(store, rec.parent_id)
    parent.build()
    sides = []
    for label, t in ((f"parent {rec.parent_id}", parent), (f"fork {rec.id}", tl)):
        view = t.view(t.total_steps)
        b = {f"(global) {n}": show(v, 100) for n, v in view.globals}
        b["(result)"] = show(view.machine.result, 100)
        notes = [f"{t.total_steps:,} steps, {len(t.marks)} events, program {view.status}"]
        sides.append(Side(label, b, view.output, notes))
    own = [f"{mk.seq} {mk.type} {mk.summary()[:60]}" for mk in tl.marks
           if mk.step >= (rec.parent_step or 0)]
    sides[1].notes.append("events from the fork point: " + ("; ".join(own[:8]) or "none"))
    return sides[0], sides[1]


def binding_changes(left: dict[str, str], right: dict[str, str]) -> list[tuple[str, str, str,
                                                                              str]]:
    """``(mark, name, left, right)`` for each name whose printed value differs."""
    rows = []
    for name in sorted(set(left) | set(right)):
        a, b = left.get(name), right.get(name)
        if a == b:
            continue
        mark = "+" if a is None else "-" if b is None else "~"
        rows.append((mark, name, a or "", b or ""))
    return rows


class DiffScreen(ModalScreen[None]):
    """Changed bindings in a table, then the output as a unified diff."""

    BINDINGS = [Binding("escape,q,d", "close", "Close")]

    DEFAULT_CSS = """
    DiffScreen {
        align: center middle;
    }
    DiffScreen > Vertical {
        width: 95%;
        height: 90%;
        border: round $accent;
        background: $surface;
    }
    DiffScreen DataTable {
        height: 1fr;
    }
    DiffScreen VerticalScroll {
        height: 1fr;
    }
    """

    def __init__(self, left: Side, right: Side) -> None:
        super().__init__()
        self.left, self.right = left, right

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Diff: {self.left.label} → {self.right.label}"
            box.border_subtitle = "Esc closes"
            yield Label(" · ".join(self.left.notes) + "   →   " + " · ".join(self.right.notes))
            yield DataTable(cursor_type="row", id="diff-bindings")
            with VerticalScroll():
                yield Static(self._output_diff(), id="diff-output")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", "name", self.left.label, self.right.label)
        rows = binding_changes(self.left.bindings, self.right.bindings)
        for mark, name, a, b in rows:
            style = {"+": "green", "-": "red", "~": "yellow"}[mark]
            table.add_row(Text(mark, style=style), name, a, b)
        if not rows:
            table.add_row("", "no binding differs", "", "")
        table.focus()

    def _output_diff(self) -> Group:
        a = "".join(self.left.output).splitlines()
        b = "".join(self.right.output).splitlines()
        lines = list(difflib.unified_diff(a, b, self.left.label, self.right.label, lineterm="",
                                          n=2))
        if not lines:
            return Group(Text("output: the same", style="dim italic"))
        out = [Text("output:", style="bold")]
        for line in lines:
            style = ("green" if line.startswith("+") else "red" if line.startswith("-")
                     else "cyan" if line.startswith("@@") else "")
            out.append(Text(line, style=style))
        return Group(*out)

    def action_close(self) -> None:
        self.dismiss(None)
