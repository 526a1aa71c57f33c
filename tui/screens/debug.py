"""The debug screen: one run, scrubbed step by step.

Top to bottom: a status line, the timeline; on the left the source (current form
highlighted) over the event list; on the right the continuation stack, the bindings of the
selected frame, and tabs for the value being returned, the event under the cursor, the
output so far, the watches and the evaluation log. Every key is listed in ``BINDINGS``
(and by F1); keys that can't act at this step are greyed out in the footer.

All replaying happens in worker threads: the first index of the run (``build``), the state
at each step (``load_step``, exclusive, so scrubbing fast only computes the last step asked
for) and the searches through the run (``scan``), which Esc cancels.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, RichLog, TabbedContent, TabPane
from textual.worker import get_current_worker

from flowmetal.runtime.forks import REPLACEABLE_EFFECTS
from flowmetal.runtime.timeline import ScanCancelled, StepView, Timeline

from ..messages import (
    BuildProgress,
    ForkCreated,
    FrameSelected,
    ScanFinished,
    StepLoaded,
    TimelineReady,
)
from ..model import Session, form_text
from ..widgets import (
    BindingsTree,
    EventPane,
    EventTable,
    OutputPane,
    SourceView,
    StackTable,
    ValuePane,
    WatchPane,
)
from ..widgets import Timeline as TimelineBar
from .export import ask_export
from .help import HelpScreen, key_rows
from .prompt import PromptModal

__all__ = ["DebugScreen", "NAV_ACTIONS"]

NAV_ACTIONS = frozenset({
    "step", "over", "out", "next_event", "next_effect", "first", "last", "goto_step",
    "goto_event", "search", "search_again", "bookmark", "next_bookmark", "toggle_breakpoint",
    "breakpoints", "continue", "add_watch", "watch_change", "eval", "inject", "replace_event",
    "diff", "mark_diff", "export",
})


class DebugScreen(Screen[None]):
    """Time travel through one program's recorded run."""

    BINDINGS = [
        Binding("f1", "help", "Help", tooltip="Every key, and what it does"),
        Binding("right", "step(1)", "Step", key_display="→",
                tooltip="One machine step forward"),
        Binding("left", "step(-1)", "Back", key_display="←",
                tooltip="One machine step back"),
        Binding("o", "over(0)", "Over", tooltip="Step over: forward to the next step of this "
                "fiber at the same or a shallower stack depth"),
        Binding("O", "over(1)", "Over back", show=False,
                tooltip="Step over, backward"),
        Binding("u", "out(0)", "Out", tooltip="Step out: forward until this frame returns"),
        Binding("U", "out(1)", "Out back", show=False,
                tooltip="Step out, backward: to where this frame was entered"),
        Binding("n", "next_event(0)", "Next event", tooltip="Forward to the next event"),
        Binding("p", "next_event(1)", "Prev event", show=False,
                tooltip="Back to the previous event"),
        Binding("N", "next_effect(0)", "Next effect", show=False,
                tooltip="Forward to the next effect (not output)"),
        Binding("P", "next_effect(1)", "Prev effect", show=False,
                tooltip="Back to the previous effect"),
        Binding("home", "first", "First", show=False, tooltip="The first step"),
        Binding("end", "last", "Last", show=False, tooltip="The last step"),
        Binding("g", "goto_step", "Go to", show=False, tooltip="Go to step N (or N%)"),
        Binding("j", "goto_event", "Event #", show=False, tooltip="Go to event number N"),
        Binding("slash", "search", "Search", key_display="/",
                tooltip="Search events by type, name or text"),
        Binding("s", "search_again(0)", "Search next", show=False,
                tooltip="The next event matching the search"),
        Binding("S", "search_again(1)", "Search prev", show=False,
                tooltip="The previous event matching the search"),
        Binding("m", "bookmark", "Bookmark", show=False, tooltip="Bookmark this step (again: "
                "remove it)"),
        Binding("apostrophe", "next_bookmark(0)", "Next bookmark", show=False,
                key_display="'", tooltip="Forward to the next bookmark"),
        Binding("quotation_mark", "next_bookmark(1)", "Prev bookmark", show=False,
                key_display='"', tooltip="Back to the previous bookmark"),
        Binding("b", "toggle_breakpoint", "Break", tooltip="Toggle a breakpoint on the line "
                "of the selected frame's form"),
        Binding("B", "breakpoints", "Breakpoints", show=False,
                tooltip="Edit breakpoints: lines, event kinds, a condition"),
        Binding("c", "continue(0)", "Continue", tooltip="Run forward to the next breakpoint"),
        Binding("C", "continue(1)", "Reverse", show=False,
                tooltip="Run backward to the previous breakpoint"),
        Binding("w", "add_watch", "Watch", show=False,
                tooltip="Add a watch expression, shown at every step"),
        Binding("greater_than_sign", "watch_change(0)", "Watch ▶", show=False,
                key_display=">", tooltip="Forward to where the last watch changes value"),
        Binding("less_than_sign", "watch_change(1)", "◀ Watch", show=False,
                key_display="<", tooltip="Back to where the last watch changed value"),
        Binding("e", "eval", "Eval", tooltip="Evaluate an expression in the selected frame "
                "at this step (effects disabled)"),
        Binding("i", "inject", "Inject", tooltip="Inject a mock event where the program "
                "waits: the run continues on a fork"),
        Binding("r", "replace_event", "Replace", show=False,
                tooltip="Replace the selected input, or a now/random/uuid answer, on a "
                "fork"),
        Binding("equals_sign", "mark_diff", "Mark", show=False, key_display="=",
                tooltip="Mark this step for a diff"),
        Binding("d", "diff", "Diff", show=False, tooltip="Diff bindings and output: marked "
                "step vs this one (or this fork vs its parent)"),
        Binding("x", "export", "Export", show=False,
                tooltip="Export this run (code, log, snapshots) to a JSON file"),
        Binding("X", "export(1)", "Export with forks", show=False,
                tooltip="Export this run and every fork made of it to a JSON file"),
        Binding("escape", "back", "Programs", show=False,
                tooltip="Back to the program list (or stop a search in progress)"),
        Binding("q", "app.quit", "Quit", show=False, tooltip="Quit the debugger"),
    ]

    DEFAULT_CSS = """
    DebugScreen #status {
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $panel;
    }
    DebugScreen #main {
        height: 1fr;
    }
    DebugScreen #left {
        width: 55%;
    }
    DebugScreen #right {
        width: 45%;
    }
    DebugScreen .pane {
        border: round $primary-darken-1;
        border-title-color: $text;
    }
    DebugScreen .pane:focus-within {
        border: round $accent;
    }
    DebugScreen #source-pane {
        height: 1fr;
    }
    DebugScreen #events-pane {
        height: 12;
    }
    DebugScreen #stack-pane {
        height: 9;
    }
    DebugScreen #bindings-pane {
        height: 1fr;
    }
    DebugScreen #tabs {
        height: 13;
    }
    DebugScreen #eval-input {
        dock: bottom;
        display: none;
        margin-bottom: 1;
    }
    DebugScreen #eval-input.shown {
        display: block;
    }
    """

    def __init__(self, program_id: str, *, start_step: int | None = None,
                 checkpoint_every: int | None = None) -> None:
        super().__init__()
        self.program_id = program_id
        self.start_step = start_step
        self.checkpoint_every = checkpoint_every
        self.tl: Timeline | None = None
        self.session: Session | None = None
        self.view: StepView | None = None
        self.sel: tuple[int, int] | None = None
        self.sources: dict[str, str] = {}
        self.busy: str | None = None
        self.event_focus: int | None = None
        self._pending_focus: int | None = None
        self.build_error: str | None = None
        self.diverged_from: int | None = None
        self._scan_stop = False
        self._building = True
        self._keys_sig: tuple[bool, ...] = ()

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Label("indexing the run…", id="status")
        yield TimelineBar(id="timeline")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                with Vertical(id="source-pane", classes="pane"):
                    yield SourceView(id="source")
                with Vertical(id="events-pane", classes="pane"):
                    yield EventTable(id="events")
            with Vertical(id="right"):
                with Vertical(id="stack-pane", classes="pane"):
                    yield StackTable(id="stack")
                with Vertical(id="bindings-pane", classes="pane"):
                    yield BindingsTree(id="bindings")
                with TabbedContent(id="tabs"):
                    with TabPane("Value", id="tab-value"):
                        yield ValuePane(id="value")
                    with TabPane("Event", id="tab-event"):
                        yield EventPane(id="event")
                    with TabPane("Output", id="tab-output"):
                        yield OutputPane(id="output")
                    with TabPane("Watches", id="tab-watches"):
                        yield WatchPane(id="watches")
                    with TabPane("Eval", id="tab-eval"):
                        yield RichLog(id="eval-log", wrap=True, markup=False)
        yield Input(placeholder="evaluate in the selected frame at this step "
                    "(Enter runs, Esc closes)", id="eval-input")
        yield Footer()

    def on_mount(self) -> None:
        rec = self.app.store.get_program(self.program_id)  # type: ignore[attr-defined]
        self.rec = rec
        self.sub_title = f"{rec.name} · {rec.id} · {rec.kind} · {rec.status}"
        self.query_one("#source-pane").border_title = "Source"
        self.query_one("#events-pane").border_title = "Events"
        self.query_one("#stack-pane").border_title = "Stack"
        self.query_one("#bindings-pane").border_title = "Bindings"
        self.query_one(WatchPane).show_watches([])
        self.query_one("#timeline").focus()
        self.build()

    # -- workers ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="build")
    def build(self) -> None:
        """Index the run once: checkpoints, event steps, wait points."""
        worker = get_current_worker()
        try:
            options = {}
            if self.checkpoint_every:
                options["checkpoint_every"] = self.checkpoint_every
            tl = Timeline(self.app.store, self.program_id, **options)  # type: ignore
            tl.build(progress=lambda s: self.post_message(BuildProgress(s)),
                     should_stop=lambda: worker.is_cancelled)
            self.tl = tl
            self.sources = tl.sources()
            self.diverged_from = _divergence(self.app.store, tl)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - shown in the status line
            self.post_message(TimelineReady(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(TimelineReady(None))

    @work(thread=True, exclusive=True, group="view")
    def load_step(self, step: int) -> None:
        """Rebuild the state at ``step`` (and the watches) off the UI thread."""
        worker = get_current_worker()
        tl, session = self.tl, self.session
        if tl is None or session is None or worker.is_cancelled:
            return
        view = tl.view(step)
        if worker.is_cancelled:
            return
        watches = []
        for expr in list(session.watches):
            res = tl.evaluate(step, expr, machine=view.machine)
            watches.append((expr, res.text if res.ok else f"[{res.text}]"))
        if not worker.is_cancelled:
            self.post_message(StepLoaded(view, watches))

    @work(thread=True, exclusive=True, group="scan")
    def scan(self, what: str, find: Callable[[Callable[[], bool]], int | None]) -> None:
        """Search the run (``find(should_stop)``); posts ``ScanFinished``."""
        worker = get_current_worker()
        self._scan_stop = False

        def should_stop() -> bool:
            return self._scan_stop or worker.is_cancelled

        try:
            step = find(should_stop)
        except ScanCancelled:
            self.post_message(ScanFinished(what, None, "stopped"))
            return
        except Exception as exc:  # noqa: BLE001
            self.post_message(ScanFinished(what, None, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(ScanFinished(what, step))

    # -- messages --------------------------------------------------------------------------

    def on_build_progress(self, msg: BuildProgress) -> None:
        self.query_one("#status", Label).update(f"indexing the run… {msg.steps:,} steps")

    def on_timeline_ready(self, msg: TimelineReady) -> None:
        self._building = False
        if msg.error is not None or self.tl is None:
            self.build_error = msg.error
            self.query_one("#status", Label).update(
                Text(f"can't replay this run: {msg.error}", style="bold red"))
            self._refresh_keys()
            return
        tl = self.tl
        self.session = Session(tl)
        bar = self.query_one("#timeline", TimelineBar)
        if self.rec.kind == "fork":
            bar.fork_step = self.rec.parent_step
        bar.set_marks([(mk.step, mk.category) for mk in tl.marks if mk.applied],
                      tl.total_steps)
        self.query_one("#events", EventTable).load(tl.marks, self.diverged_from)
        if tl.divergence is not None:
            self.notify(f"the replay diverges from the record: {tl.divergence.message}",
                        severity="warning", timeout=10)
        target = self.start_step
        if target is None and self.rec.kind == "fork" and self.rec.parent_step is not None:
            target = self.rec.parent_step  # where it leaves its parent
            bar.fork_step = target
        if target is None:
            target = tl.total_steps
        target = min(target, tl.total_steps)
        if bar.step == target:
            self.load_step(target)
        bar.step = target
        self._refresh_keys()

    @on(TimelineBar.StepSelected)
    def step_selected(self, msg: TimelineBar.StepSelected) -> None:
        self.event_focus, self._pending_focus = self._pending_focus, None
        self._status()
        if self.tl is not None:
            self.load_step(msg.step)
        self._refresh_keys()

    def on_step_loaded(self, msg: StepLoaded) -> None:
        bar = self.query_one("#timeline", TimelineBar)
        if msg.view.step != bar.step:
            return  # a step the user has already left
        self.view = msg.view
        stack = self.query_one("#stack", StackTable)
        stack.show(msg.view, keep=self.sel)
        self.sel = stack.selected()
        self._show_frame()
        assert self.tl is not None
        index = self.event_focus if self.event_focus is not None else msg.view.event_index
        self.query_one("#events", EventTable).follow(index)
        self._show_event(index)
        self.query_one("#output", OutputPane).show_output(msg.view.output)
        self.query_one("#watches", WatchPane).show_watches(msg.watches)
        self._status()
        self._refresh_keys()

    def on_frame_selected(self, msg: FrameSelected) -> None:
        self.sel = (msg.fiber, msg.frame)
        self._show_frame()
        self._refresh_keys()

    @on(EventTable.Chosen)
    def event_chosen(self, msg: EventTable.Chosen) -> None:
        if self.tl is None or not 0 <= msg.index < len(self.tl.marks):
            return
        mark = self.tl.marks[msg.index]
        if msg.jump:
            self._go(mark.step, msg.index)
        else:
            self.event_focus = msg.index
        self._show_event(msg.index)
        self._refresh_keys()

    def on_scan_finished(self, msg: ScanFinished) -> None:
        self.busy = None
        if msg.error:
            self.notify(f"{msg.what}: {msg.error}", severity="warning")
        elif msg.step is None:
            self.notify(f"{msg.what}: no such step", severity="warning")
        else:
            self._go(msg.step)
        self._status()
        self._refresh_keys()

    def on_fork_created(self, msg: ForkCreated) -> None:
        self.busy = None
        self._status()
        if msg.error:
            self.notify(f"fork failed: {msg.error}", severity="error", timeout=10)
            return
        self.notify(f"fork {msg.program_id}: {msg.stopped}", timeout=8)
        if msg.program_id:
            self.app.open_program(msg.program_id)  # type: ignore[attr-defined]

    # -- showing ---------------------------------------------------------------------------

    def _status(self) -> None:
        label = self.query_one("#status", Label)
        if self.tl is None:
            return
        tl = self.tl
        step = self.query_one("#timeline", TimelineBar).step
        parts = [Text.assemble(("step ", "dim"), (f"{step:,}", "bold"),
                               ("/" + f"{tl.total_steps:,}", "dim"))]
        idx = self.event_focus if self.event_focus is not None else (
            self.view.event_index if self.view is not None else None)
        if idx is not None:
            mk = tl.marks[idx]
            parts.append(Text.assemble(("event ", "dim"), (f"{idx + 1}", "bold"),
                                       (f"/{len(tl.marks)} ", "dim"), (mk.type, "cyan")))
        if self.view is not None:
            parts.append(Text.assemble(("program ", "dim"), (self.view.status, "bold")))
        if self._waits_here():
            parts.append(Text("took input here (i: what if?)", style="bold magenta"))
        if self.session is not None:
            if self.session.bookmarks:
                parts.append(Text(f"★ {len(self.session.bookmarks)}", style="yellow"))
            if self.session.breakpoints:
                parts.append(Text(f"● {self.session.breakpoints.describe()}", style="red"))
            if self.session.diff_mark is not None:
                parts.append(Text(f"= {self.session.diff_mark:,}", style="cyan"))
        if self.rec.kind == "fork" and self.rec.parent_id:
            parts.append(Text(f"↳ fork of {self.rec.parent_id}@{self.rec.parent_step:,}",
                              style="bold red"))
        if self.busy:
            parts.append(Text(f"{self.busy}… (Esc stops)", style="bold yellow"))
        label.update(Text("  ·  ").join(parts))

    def _show_frame(self) -> None:
        view = self.view
        if view is None:
            return
        fid, index = self.sel if self.sel is not None else (None, 0)
        fv = view.fiber(fid)
        frame = fv.frames[index] if fv is not None and 0 <= index < len(fv.frames) else None
        span = frame.span if frame is not None else None
        source = self.query_one("#source", SourceView)
        name = span.source if span is not None else (
            self.tl.unit.source_name if self.tl is not None else None)
        lines: set[int] = set()
        if self.session is not None and name is not None:
            lines = {ln for src, ln in self.session.breakpoints.lines if src == name}
        source.show(name, self.sources.get(name) if name else None, span, lines)
        pane = self.query_one("#source-pane")
        pane.border_title = (f"Source · {name}:{span.line}" if span is not None
                             else f"Source · {name}" if name else "Source")
        value = None
        if fv is not None and index == 0 and (fv.mode == "return" or fv.status == "done"):
            value = ("⇐ returning", fv.value)
        scopes = view.scopes(fv.id if fv else None, index) if fv is not None else []
        self.query_one("#bindings", BindingsTree).show_scopes(scopes, view.globals, value)
        self.query_one("#bindings-pane").border_title = (
            f"Bindings · fiber {fv.id} frame {index}" if fv is not None else "Bindings")
        text = form_text(self.sources, span) if frame is not None and frame.kind in (
            "eval", "wait") or index > 0 else None
        self.query_one("#value", ValuePane).show_fiber(fv, text, view.status)

    def _show_event(self, index: int | None) -> None:
        tl = self.tl
        if tl is None:
            return
        mark = tl.marks[index] if index is not None else None
        self.query_one("#event", EventPane).show_event(mark, len(tl.marks))

    def _go(self, step: int, focus: int | None = None) -> None:
        """Move the timeline to ``step``; ``focus`` is the event to show there."""
        bar = self.query_one("#timeline", TimelineBar)
        if bar.step == bar.validate_step(step):
            self.event_focus = focus
            if focus is not None:
                self.query_one("#events", EventTable).follow(focus)
                self._show_event(focus)
            self._status()
            self._refresh_keys()
            return
        self._pending_focus = focus
        bar.step = step

    @property
    def step(self) -> int:
        return self.query_one("#timeline", TimelineBar).step

    # -- which keys can act ----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in NAV_ACTIONS:
            return True
        tl = self.tl
        if tl is None or self.session is None or self._building:
            return None
        if self.busy and action not in ("bookmark", "mark_diff", "export"):
            return None
        step = self.step
        backward = bool(parameters and parameters[0] == 1 and action != "step")
        at_start, at_end = step <= 0, step >= tl.total_steps
        if action == "step":
            return None if (at_start if parameters[0] == -1 else at_end) else True
        if action == "first":
            return None if at_start else True
        if action == "last":
            return None if at_end else True
        if action in ("over", "out"):
            return None if (at_start if backward else at_end) else True
        if action == "next_event":
            return True if self._event_neighbour(backward, None) is not None else None
        if action == "next_effect":
            return True if self._event_neighbour(backward, lambda mk: mk.is_effect) \
                is not None else None
        if action == "search_again":
            return True if self.session.search and self.session.search_hit(step, backward) \
                else None
        if action == "next_bookmark":
            return True if self.session.next_bookmark(step, backward) is not None else None
        if action == "toggle_breakpoint":
            return True if self._selected_span() is not None else None
        if action == "continue":
            if not self.session.breakpoints:
                return None
            return None if (at_start if backward else at_end) else True
        if action == "watch_change":
            return True if self.session.watches else None
        if action == "eval":
            return True if self.view is not None else None
        if action == "inject":
            return True if self._waits_here() else None
        if action == "replace_event":
            return True if self._replaceable() is not None else None
        if action == "diff":
            return True if (self.session.diff_mark is not None
                            or self.rec.kind == "fork") else None
        return True

    def _refresh_keys(self) -> None:
        """Re-grey the footer, but only when which keys can act has changed: redrawing
        the footer costs more than rebuilding a step."""
        sig = tuple(bool(self.check_action(*_split_action(b.action)))
                    for b in self.BINDINGS if isinstance(b, Binding))
        if sig != self._keys_sig:
            self._keys_sig = sig
            self.refresh_bindings()

    def _event_neighbour(self, backward: bool, pred: Callable[[Any], bool] | None
                         ) -> Any:
        tl = self.tl
        if tl is None:
            return None
        order = tl.ordered_marks()
        current = self.event_focus if self.event_focus is not None else (
            self.view.event_index if self.view is not None else None)
        pos = order.index(current) if current is not None and current in order else None
        step = self.step
        if pos is None:
            mk = tl.next_mark(step, pred, backward)
            return mk
        rng = range(pos - 1, -1, -1) if backward else range(pos + 1, len(order))
        for i in rng:
            mk = tl.marks[order[i]]
            if not mk.applied:
                continue
            if pred is None or pred(mk):
                return mk
        return None

    def _waits_here(self) -> list[Any]:
        tl = self.tl
        if tl is None or self.rec.kind in ("child", "repl"):
            return []
        out = [w for w in tl.waits_at(self.step) if w.prefix_ok]
        if out and out[-1].seq is None and self.rec.status in ("done", "cancelled",
                                                               "aborted"):
            out = out[:-1]
        return out

    def _replaceable(self) -> Any:
        tl = self.tl
        if tl is None or self.rec.kind in ("child", "repl"):
            return None
        index = self.event_focus if self.event_focus is not None else (
            self.view.event_index if self.view is not None else None)
        if index is None:
            return None
        mark = tl.marks[index]
        if mark.type == "effect" and mark.applied and mark.kind in REPLACEABLE_EFFECTS:
            return mark
        for w in tl.waits:
            if w.seq == mark.seq and w.prefix_ok:
                return mark
        return None

    def _selected_span(self) -> Any:
        view = self.view
        if view is None:
            return None
        fid, index = self.sel if self.sel is not None else (None, 0)
        fv = view.fiber(fid)
        if fv is None or not 0 <= index < len(fv.frames):
            return None
        return fv.frames[index].span

    # -- navigation actions ------------------------------------------------------------------

    def action_step(self, delta: int) -> None:
        self._go(self.step + delta)

    def action_first(self) -> None:
        self._go(0)

    def action_last(self) -> None:
        if self.tl is not None:
            self._go(self.tl.total_steps)

    def action_over(self, backward: int) -> None:
        self._find_depth("step over", out=False, backward=bool(backward))

    def action_out(self, backward: int) -> None:
        self._find_depth("step out", out=True, backward=bool(backward))

    def _find_depth(self, what: str, *, out: bool, backward: bool) -> None:
        tl, step = self.tl, self.step
        if tl is None:
            return
        self._start_scan(what, lambda stop: tl.find_depth(step, out=out, backward=backward,
                                                         should_stop=stop))

    def _start_scan(self, what: str, find: Callable[[Callable[[], bool]], int | None]) -> None:
        self.busy = what
        self._status()
        self._refresh_keys()
        self.scan(what, find)

    def action_next_event(self, backward: int) -> None:
        self._to_event(self._event_neighbour(bool(backward), None))

    def action_next_effect(self, backward: int) -> None:
        self._to_event(self._event_neighbour(bool(backward), lambda mk: mk.is_effect))

    def _to_event(self, mark: Any) -> None:
        if mark is None:
            return
        self._go(mark.step, mark.index)

    def action_goto_step(self) -> None:
        tl = self.tl
        if tl is None:
            return

        def parse(text: str) -> int | None:
            t = text.replace(",", "").replace("_", "").strip()
            if t.endswith("%") and t[:-1].replace(".", "", 1).isdigit():
                return int(float(t[:-1]) / 100 * tl.total_steps)
            return int(t) if t.isdigit() else None

        def check(text: str) -> str | None:
            n = parse(text)
            if n is None:
                return "write a step number (12345) or a percentage (50%)"
            if n > tl.total_steps:
                return f"the run has {tl.total_steps:,} steps"
            return None

        self.app.push_screen(
            PromptModal("Go to step", placeholder=f"0 … {tl.total_steps:,} or 50%",
                        check=check),
            callback=lambda text: self._go(parse(text)) if text else None)

    def action_goto_event(self) -> None:
        tl = self.tl
        if tl is None:
            return

        def check(text: str) -> str | None:
            if not text.isdigit() or not 1 <= int(text) <= len(tl.marks):
                return f"write an event number from 1 to {len(tl.marks)}"
            return None

        self.app.push_screen(
            PromptModal("Go to event", placeholder=f"1 … {len(tl.marks)}", check=check),
            callback=lambda text: self._to_event(tl.marks[int(text) - 1]) if text else None)

    def action_search(self) -> None:
        if self.session is None:
            return
        self.app.push_screen(
            PromptModal("Search events", value=self.session.search,
                        placeholder="a type (message), an effect (http), a name or any text",
                        hint="s / S: next / previous match"),
            callback=self._searched)

    def _searched(self, query: str | None) -> None:
        if not query or self.session is None or self.tl is None:
            return
        self.session.search = query
        hits = self.tl.search(query)
        if not hits:
            self.notify(f"no event matches {query!r}", severity="warning")
            return
        mark = self.session.search_hit(self.step) or hits[0]
        self.notify(f"{len(hits)} event{'s' if len(hits) != 1 else ''} match {query!r}")
        self._to_event(mark)

    def action_search_again(self, backward: int) -> None:
        if self.session is not None:
            self._to_event(self.session.search_hit(self.step, bool(backward)))

    def action_bookmark(self) -> None:
        if self.session is None:
            return
        on_ = self.session.toggle_bookmark(self.step)
        bar = self.query_one("#timeline", TimelineBar)
        bar.bookmarks = set(self.session.bookmarks)
        bar.refresh()
        self.notify(f"bookmark {'set' if on_ else 'removed'} at step {self.step:,}")
        self._status()
        self._refresh_keys()

    def action_next_bookmark(self, backward: int) -> None:
        if self.session is not None:
            target = self.session.next_bookmark(self.step, bool(backward))
            if target is not None:
                self._go(target)

    # -- breakpoints and watches -----------------------------------------------------------

    def action_toggle_breakpoint(self) -> None:
        span = self._selected_span()
        if span is None or self.session is None:
            return
        on_ = self.session.toggle_line(span.source, span.line)
        self.notify(f"breakpoint {'set' if on_ else 'removed'} at "
                    f"{span.source.rsplit('/', 1)[-1]}:{span.line}")
        self._show_frame()
        self._status()
        self._refresh_keys()

    def action_breakpoints(self) -> None:
        if self.session is None or self.tl is None:
            return
        from .breakpoints import BreakpointsModal

        self.app.push_screen(BreakpointsModal(self.session.breakpoints,
                                              self.tl.unit.source_name),
                             callback=self._breakpoints_set)

    def _breakpoints_set(self, bps: Any) -> None:
        if bps is None or self.session is None:
            return
        self.session.breakpoints = bps
        self._show_frame()
        self._status()
        self._refresh_keys()

    def action_continue(self, backward: int) -> None:
        tl, session, step = self.tl, self.session, self.step
        if tl is None or session is None:
            return
        bps = session.breakpoints
        back = bool(backward)

        def find(stop: Callable[[], bool]) -> int | None:
            event_hit = session.event_breakpoint_hit(step, back)
            best = event_hit.step if event_hit is not None else None
            if bps.lines:
                hit = tl.find_line(step, bps.lines, backward=back, condition=bps.condition,
                                   should_stop=stop)
                best = _nearest(best, hit, back)
            elif bps.condition:
                hit = tl.find_condition(step, bps.condition, backward=back, should_stop=stop)
                best = _nearest(best, hit, back)
            return best

        self._start_scan("reverse-continue" if back else "continue", find)

    def action_add_watch(self) -> None:
        self.app.push_screen(PromptModal("Add a watch expression", placeholder="(count items)",
                                         hint="Shown at every step; > / < run to where the "
                                         "last one changes"),
                             callback=self._watch_added)

    def _watch_added(self, expr: str | None) -> None:
        if not expr or self.session is None:
            return
        self.session.watches.append(expr)
        self.load_step(self.step)
        self.query_one("#tabs", TabbedContent).active = "tab-watches"
        self._refresh_keys()

    def action_watch_change(self, backward: int) -> None:
        tl, session, step = self.tl, self.session, self.step
        if tl is None or session is None or not session.watches:
            return
        expr = session.watches[-1]
        self._start_scan(f"watch {expr}", lambda stop: tl.find_watch_change(
            step, expr, backward=bool(backward), should_stop=stop))

    # -- evaluating ------------------------------------------------------------------------

    def action_eval(self) -> None:
        box = self.query_one("#eval-input", Input)
        box.add_class("shown")
        box.focus()
        self.query_one("#tabs", TabbedContent).active = "tab-eval"

    @on(Input.Submitted, "#eval-input")
    def eval_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text or self.tl is None:
            return
        event.input.value = ""
        fid, index = self.sel if self.sel is not None else (None, 0)
        self.evaluate(self.step, text, fid, index)

    def on_key(self, event: Any) -> None:
        box = self.query_one("#eval-input", Input)
        if event.key == "escape" and box.has_focus:
            box.remove_class("shown")
            self.query_one("#timeline").focus()
            event.stop()
            event.prevent_default()

    @work(thread=True, group="eval")
    def evaluate(self, step: int, text: str, fid: int | None, index: int) -> None:
        tl = self.tl
        if tl is None:
            return
        res = tl.evaluate(step, text, fiber=fid, frame=index)
        where = f"step {step:,}" + (f" fiber {fid} frame {index}" if fid is not None else "")
        self.app.call_from_thread(self._evaluated, where, text, res)

    def _evaluated(self, where: str, text: str, res: Any) -> None:
        log = self.query_one("#eval-log", RichLog)
        log.write(Text.assemble((f"[{where}] ", "dim"), ("> ", "bold"), text))
        log.write(Text(("⇒ " if res.ok else "✖ ") + res.text,
                       style="green" if res.ok else "red"))

    # -- forks -----------------------------------------------------------------------------

    def action_inject(self) -> None:
        waits = self._waits_here()
        if not waits or self.tl is None:
            return
        self.prepare_inject(waits, None)

    def action_replace_event(self) -> None:
        mark = self._replaceable()
        if mark is None or self.tl is None:
            return
        if mark.type == "effect":  # an internal effect's answer: no wait point to pick
            self._open_inject([], mark)
            return
        wait = next(w for w in self.tl.waits if w.seq == mark.seq)
        self.prepare_inject([wait], mark)

    @work(thread=True, group="fork")
    def prepare_inject(self, waits: list[Any], mark: Any) -> None:
        from flowmetal.runtime.forks import machine_at_wait, targets_of

        tl = self.tl
        assert tl is not None
        choices = []
        for w in waits:
            m = machine_at_wait(tl, w)
            choices.append((w, targets_of(m, tl.events)))
        self.app.call_from_thread(self._open_inject, choices, mark)

    def _open_inject(self, choices: list[Any], mark: Any) -> None:
        from .inject import InjectModal

        self.app.push_screen(InjectModal(choices, mark, self.tl.marks),  # type: ignore
                             callback=self._inject_chosen)

    def _inject_chosen(self, request: Any) -> None:
        if request is None:
            return
        self.busy = "forking"
        self._status()
        self._refresh_keys()
        self.fork(request)

    @work(thread=True, group="fork")
    def fork(self, request: Any) -> None:
        from flowmetal.runtime.forks import drive_fork, fork_at, replace_input

        tl = self.tl
        assert tl is not None
        try:
            store = self.app.writable_store()  # type: ignore[attr-defined]
            fork_id = self.app.next_fork_id()  # type: ignore[attr-defined]
            if request.replace is not None:
                fid = replace_input(tl, store, request.replace, request.event[1],
                                    program_id=fork_id)
            else:
                fid = fork_at(tl, store, request.wait, request.event, program_id=fork_id)
            result = drive_fork(store, fid, request.mocks)
        except Exception as exc:  # noqa: BLE001
            self.post_message(ForkCreated(None, "", f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(ForkCreated(fid, result.stopped))

    # -- diff, export, help, back ----------------------------------------------------------

    def action_mark_diff(self) -> None:
        if self.session is None:
            return
        self.session.diff_mark = self.step
        self.notify(f"step {self.step:,} marked: move elsewhere and press d to diff")
        self._status()
        self._refresh_keys()

    def action_diff(self) -> None:
        if self.session is None or self.tl is None:
            return
        self.prepare_diff(self.session.diff_mark, self.step, self.sel)

    @work(thread=True, group="diff")
    def prepare_diff(self, mark: int | None, step: int, sel: tuple[int, int] | None) -> None:
        from .diff import DiffScreen, fork_sides, step_side

        tl = self.tl
        assert tl is not None
        if mark is not None:
            left, right = step_side(tl, mark, sel), step_side(tl, step, sel)
        else:
            left, right = fork_sides(self.app.store, tl)  # type: ignore[attr-defined]
        self.app.call_from_thread(self.app.push_screen, DiffScreen(left, right))

    def action_export(self, forks: int = 0) -> None:
        ask_export(self, self.program_id, bool(forks))

    def action_help(self) -> None:
        rows = key_rows(self.BINDINGS) + [
            (k, f"(timeline) {w}") for k, w in key_rows(TimelineBar.BINDINGS)[2:]]
        rows.append(("Ctrl+P", "command palette: every action by name"))
        rows.append(("Tab / Shift+Tab", "move between panes"))
        rows.append(("Enter (events)", "jump to the selected event's step"))
        self.app.push_screen(HelpScreen(f"Debugging {self.program_id}: keys", rows))

    def action_back(self) -> None:
        if self.busy:
            self._scan_stop = True
            return
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    # -- for the command palette -----------------------------------------------------------

    def palette_commands(self) -> list[tuple[str, str, str]]:
        """``(title, help, action)`` for every key that can act now."""
        out = []
        for b in self.BINDINGS:
            assert isinstance(b, Binding)
            name, params = _split_action(b.action)
            if self.check_action(name, params) and not b.action.startswith("app."):
                out.append((b.description, b.tooltip, b.action))
        return out


def _split_action(action: str) -> tuple[str, tuple[object, ...]]:
    m = re.fullmatch(r"(\w+)(?:\((.*)\))?", action)
    if m is None:
        return action, ()
    args = tuple(int(a) for a in m.group(2).split(",")) if m.group(2) else ()
    return m.group(1), args


def _nearest(a: int | None, b: int | None, backward: bool) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b) if backward else min(a, b)


def _divergence(store: Any, tl: Timeline) -> int | None:
    """For a fork: the index of its first event that its parent's log does not have."""
    rec = tl.rec
    if rec.kind != "fork" or not rec.parent_id:
        return None
    try:
        parent = store.events(rec.parent_id)
    except Exception:  # noqa: BLE001
        return None
    for i, e in enumerate(tl.events):
        if i >= len(parent) or parent[i].type != e.type or parent[i].data != e.data:
            return i
    return len(tl.events)

