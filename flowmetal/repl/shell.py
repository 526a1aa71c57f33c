"""The REPL's logic, apart from any terminal: evaluate what the user submits, wait on
effects (for real, or hand-fed in mock mode), show results and errors, run commands.

The terminal app (``app.py``) and the piped mode (``pipe.py``) both feed a ``Shell`` one
submission at a time::

    shell = Shell(session, PlainOutput())
    shell.submit("(def a (atom 1)) (swap! a inc)")   # prints a, then 2
    shell.submit(",doc swap!")
"""

from __future__ import annotations

from ..lang.errors import FlowmetalError
from ..lang.reader import read
from ..runtime.runtime import RuntimeError_
from ..store import StoreError
from .commands import Commands
from .forms import split_forms
from .names import Names
from .output import Output
from .pretty import pretty
from .render import runtime_error_report
from .session import Outcome, Session
from .waits import Wait

__all__ = ["Shell", "CONNECTORS"]

CONNECTORS: frozenset[str] = frozenset()
"""Task kinds a connector performs in this process. None yet: ``http`` and ``call``
effects are answered by hand until the connectors exist."""


class Shell:
    """One REPL over one session; ``failures`` counts inputs that ended in an error."""

    def __init__(self, session: Session, out: Output) -> None:
        self.session = session
        self.out = out
        self.mock = False
        self.failures = 0
        self.quit = False
        self.interrupted = False  # set by Ctrl-C during an input (piped mode stops)
        self.names = Names(session.definitions, session.doc)
        self.names.see(session.input_sources())
        self.names.refresh()
        self.commands = Commands(self)

    def program_output(self, program_id: str, text: str) -> None:
        """Show what the session (or a child it spawned, tagged with its id) printed."""
        if program_id != self.session.id:
            text = "".join(f"[{program_id}] {line}" for line in text.splitlines(True))
        self.out.program_output(text)

    # -- submissions ------------------------------------------------------------------

    def submit(self, text: str) -> None:
        """Handle one submission: a comma command, or one or more forms."""
        stripped = text.strip()
        if not stripped:
            return
        if stripped.startswith(","):
            self.commands.run(stripped)
            return
        if not self.finish_pending():
            self.out.note("(your new input was not evaluated)")
            return
        try:
            read(text, "<repl>")
        except FlowmetalError:
            self.evaluate(text)  # reports the read error where it is; records nothing
            return
        for piece in split_forms(text):
            if not read(piece.text, "<repl>"):
                continue  # only comments or a discarded form (#_ x)
            outcome = self.evaluate(piece.text)
            if outcome is not None and outcome.pending:
                break  # an interrupt leaves the rest unevaluated

    def evaluate(self, text: str, source: str | None = None) -> Outcome | None:
        """Evaluate and show the result; None if it could not even be recorded."""
        try:
            outcome = self.session.evaluate(text, source)
        except FlowmetalError as exc:  # read and compile errors: nothing was recorded
            self.failures += 1
            self.out.error(str(exc))
            return None
        except (RuntimeError_, StoreError) as exc:
            self.failures += 1
            self.out.error(f"error: {exc}")
            return None
        except KeyboardInterrupt:
            seq = self.session.pending_input()
            if seq is None:
                self.out.note("interrupted before the input was recorded: nothing happened")
                return None
            self.explain_interrupt(seq)
            return Outcome(seq, pending=True)
        finally:
            self.names.see([text])
        if outcome.pending:
            outcome = self.wait_for(outcome)
        self.show(outcome)
        return outcome

    def show(self, outcome: Outcome) -> None:
        """Print an outcome's value or error report (nothing if still pending), then any
        async fiber that failed with nothing awaiting it."""
        self.names.refresh()
        for line in self.session.lost_errors():
            self.out.note(f"warning: {line}")
        if outcome.pending:
            return
        if outcome.error is not None:
            self.failures += 1
            self.out.error(runtime_error_report(outcome.error, self.session.source_text))
            return
        self.out.value(pretty(outcome.value, width=max(40, self.out.width - 1)))

    # -- waiting ----------------------------------------------------------------------------

    def finish_pending(self) -> bool:
        """Before a new input: finish one still in flight from before (an interrupted
        evaluation, or a wait). False if the user interrupted again."""
        seq = self.session.pending_input()
        if seq is None:
            return True
        n = self.session.input_number(seq)
        self.out.note(f"input {n} is still in flight; finishing it first "
                      "(Ctrl-C to stop, ,reset for a fresh session)")
        outcome = self.wait_for(Outcome(seq, pending=True))
        if outcome.pending:
            return False
        self.out.note(f"input {n} finished:")
        self.show(outcome)
        return True

    def wait_for(self, outcome: Outcome) -> Outcome:
        """Wait for a pending input: with an indicator, or asking for answers (mock mode,
        and effects that no connector performs in this process)."""
        seq = outcome.seq
        try:
            while True:
                with self.out.waiting() as indicator:
                    outcome = self.session.wait(seq, on_waiting=indicator,
                                                stop=lambda waits: bool(self._to_feed(waits)))
                if not outcome.pending:
                    return outcome
                waits = self._to_feed(self.session.waits())
                if not self.mock:
                    kinds = sorted({w.task.kind for w in waits if w.task is not None})
                    self.out.note(f"no connector performs {'/'.join(kinds)} effects in the "
                                  "REPL yet: give the result by hand")
                self.hand_feed(waits)
        except KeyboardInterrupt:
            self.explain_interrupt(seq)
            return Outcome(seq, pending=True)

    def _to_feed(self, waits: list[Wait]) -> list[Wait]:
        """The waits to ask the user about: all in mock mode, else outbox tasks that no
        connector in this process performs."""
        if self.mock:
            return [w for w in waits if w.answerable]
        return [w for w in waits if w.kind == "task" and w.task is not None
                and w.task.kind not in CONNECTORS]

    def hand_feed(self, waits: list[Wait]) -> None:
        """Mock mode: ask for the result of the first wait the user answers."""
        for wait in waits:
            if wait.kind == "timer":
                hint = "Enter fires it now"
            elif wait.kind == "task":
                hint = "its result as JSON, or !fail MESSAGE; Enter skips"
            else:
                hint = "the payload as JSON; Enter skips"
            while True:
                try:
                    answer = self.out.ask(f"mock {wait.text} ({hint})> ")
                except EOFError:
                    raise KeyboardInterrupt from None
                if not answer.strip() and wait.kind != "timer":
                    break  # skip to the next thing it waits on
                try:
                    self.out.note(self.session.answer(wait, answer))
                    return
                except ValueError as exc:
                    self.out.error(str(exc))
                except (RuntimeError_, StoreError) as exc:
                    self.out.error(f"error: {exc}")
                    return

    def explain_interrupt(self, seq: int) -> None:
        """Say what Ctrl-C did: nothing is lost, the input keeps its place in the log."""
        self.interrupted = True
        n = self.session.input_number(seq)
        waits = self.session.waits()
        if waits:
            what = "it still waits on " + "; ".join(
                w.text + (f" (answer: {w.hint})" if w.kind in ("message", "callback") else "")
                for w in waits)
        else:
            what = ("its evaluation was cut short here; it goes on from its last "
                    "checkpoint when the session next runs")
        self.out.note(
            f"interrupted: input {n} keeps its place in the log of session "
            f"{self.session.name!r} (event {seq}); {what}.\n"
            "The session finishes it before your next input. ,mock on answers waits by hand; "
            ",reset starts a fresh session (this one stays in the store).")
