"""Inject a mock event (or replace a recorded one): the dialog that makes a fork.

Pick where (if the program took several inputs at this step) and what it is given (an
effect's result, a message, a callback, a timer, a restart), type the payload as JSON
(checked as you type), and the mocks that answer whatever the fork waits for next. A
recorded input or the answer to ``now``, ``random`` or ``uuid`` is replaced by editing its
data. The original run is never touched: the fork is a new program in the same store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Select, TextArea

from flowmetal.runtime.forks import check_replacement

__all__ = ["InjectModal", "InjectRequest", "DEFAULT_MOCKS"]

DEFAULT_MOCKS = '{"sleep": true}'


@dataclass
class InjectRequest:
    """What the dialog answers: fork at ``wait``, give it ``event``, then ``mocks``; or,
    with ``replace``, fork with ``event``'s data in place of that recorded event."""

    wait: Any
    event: tuple[str, dict[str, Any]]
    mocks: dict[str, Any]
    replace: int | None = None


def _parse(text: str, what: str, want: type | None = None) -> tuple[Any, str | None]:
    try:
        value = json.loads(text) if text.strip() else None
    except json.JSONDecodeError as exc:
        return None, f"{what}: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if want is not None and not isinstance(value, want):
        return None, f"{what} must be a JSON {'object' if want is dict else want.__name__}"
    return value, None


def _editable(mark: Any) -> str:
    """The recorded data to edit: an internal effect's one key per line, ``value`` first
    (the only one that may change), so it shows without scrolling."""
    if mark.type != "effect" or not isinstance(mark.data, dict):
        return json.dumps(mark.data, indent=1)
    items = sorted(mark.data.items(), key=lambda kv: kv[0] != "value")
    return "{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in items) + "\n}"


class InjectModal(ModalScreen[InjectRequest | None]):
    """``choices``: ``[(wait point, [Target, ...]), ...]``; ``mark``: the recorded event to
    replace (then its data is edited as is; no choices for an internal effect's answer)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("ctrl+s", "fork", "Fork and run")]

    DEFAULT_CSS = """
    InjectModal {
        align: center middle;
    }
    InjectModal > Vertical {
        width: 96;
        height: auto;
        max-height: 95%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    InjectModal TextArea {
        height: 7;
    }
    InjectModal TextArea.invalid {
        border: round $error;
    }
    InjectModal #inject-error {
        color: $error;
        height: auto;
    }
    InjectModal .buttons {
        height: auto;
        align-horizontal: right;
    }
    """

    def __init__(self, choices: list[tuple[Any, list[Any]]], mark: Any, marks: list[Any]
                 ) -> None:
        super().__init__()
        self.choices = choices
        self.mark = mark
        self.marks = marks

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = ("Replace a recorded event (on a fork)" if self.mark is not None
                                else "Inject a mock event (on a fork)")
            box.border_subtitle = "Ctrl+S forks and runs · Esc cancels"
            waits = [(self._wait_label(w), i) for i, (w, _t) in enumerate(self.choices)]
            yield Label("Where")
            if waits:
                yield Select(waits, value=len(waits) - 1 if self.mark is None else 0,
                             allow_blank=False, id="inject-wait")
            else:
                yield Label(f"step {self.mark.step:,}: the answer to {self.mark.summary()}",
                            id="inject-where")
            if self.mark is None:
                yield Label("Give it")
                yield Select([], allow_blank=True, id="inject-target",
                             prompt="(nothing waits here)")
                yield Label("Payload (JSON)")
                yield TextArea("null", id="inject-payload", soft_wrap=True)
            else:
                yield Label(f"Event {self.mark.seq} ({self.mark.type}) data (JSON)")
                yield TextArea(_editable(self.mark), id="inject-payload", soft_wrap=True)
            yield Label("Mocks for what the fork waits for next (JSON; {} stops at the "
                        "next wait)")
            yield TextArea(DEFAULT_MOCKS, id="inject-mocks", soft_wrap=True)
            yield Label("", id="inject-error")
            with Horizontal(classes="buttons"):
                yield Button("Fork and run", variant="primary", id="inject-fork")
                yield Button("Cancel", id="inject-cancel")

    def on_mount(self) -> None:
        self._fill_targets()
        self._validate()

    def _wait_label(self, wait: Any) -> str:
        if wait.seq is None:
            return f"step {wait.step:,}: at the end of the log"
        mark = next((m for m in self.marks if m.seq == wait.seq), None)
        what = f" ({mark.type}: {mark.summary()[:40]})" if mark is not None else ""
        return f"step {wait.step:,}: instead of event {wait.seq}{what}"

    def _wait_index(self) -> int:
        if not self.choices:
            return 0
        value = self.query_one("#inject-wait", Select).value
        return value if isinstance(value, int) else 0

    def _targets(self) -> list[Any]:
        return self.choices[self._wait_index()][1] if self.choices else []

    def _fill_targets(self) -> None:
        if self.mark is not None:
            return
        select = self.query_one("#inject-target", Select)
        targets = self._targets()
        select.set_options([(t.label, i) for i, t in enumerate(targets)])
        if targets:
            select.value = 0

    # -- validation ------------------------------------------------------------------------

    def _request(self) -> tuple[InjectRequest | None, str | None]:
        payload_box = self.query_one("#inject-payload", TextArea)
        mocks_box = self.query_one("#inject-mocks", TextArea)
        payload, err = _parse(payload_box.text, "payload", dict if self.mark else None)
        payload_box.set_class(err is not None, "invalid")
        mocks, err2 = _parse(mocks_box.text, "mocks", dict)
        mocks_box.set_class(err2 is not None, "invalid")
        if err is None and self.mark is not None:
            err = check_replacement(self.mark.type, self.mark.data, payload)
            payload_box.set_class(err is not None, "invalid")
        if err or err2:
            return None, err or err2
        wait = self.choices[self._wait_index()][0] if self.choices else None
        if self.mark is not None:
            return InjectRequest(wait, (self.mark.type, payload), mocks, self.mark.seq), None
        target_value = self.query_one("#inject-target", Select).value
        targets = self._targets()
        if not isinstance(target_value, int) or not targets:
            return None, "nothing to give: the program waits for nothing here"
        return InjectRequest(wait, targets[target_value].fill(payload), mocks), None

    def _validate(self) -> None:
        request, err = self._request()
        self.query_one("#inject-error", Label).update(err or "")
        self.query_one("#inject-fork", Button).disabled = request is None

    @on(TextArea.Changed)
    def _changed(self) -> None:
        self._validate()

    @on(Select.Changed, "#inject-wait")
    def _wait_changed(self) -> None:
        self._fill_targets()
        self._validate()

    @on(Select.Changed, "#inject-target")
    def _target_changed(self) -> None:
        self._validate()

    # -- answers ---------------------------------------------------------------------------

    @on(Button.Pressed, "#inject-fork")
    def action_fork(self) -> None:
        request, err = self._request()
        if request is not None:
            self.dismiss(request)

    @on(Button.Pressed, "#inject-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
