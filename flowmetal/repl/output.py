"""Where the shell's words go: a terminal (colours, a waiting indicator, questions asked
with prompt-toolkit) or plain streams (stdin piped in: results on stdout, errors on stderr).

``Shell`` talks only to the small ``Output`` interface below, so the same REPL logic runs
in both modes and in tests.
"""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Protocol

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.output import Output as PtOutput

from .render import STYLE, highlight
from .waits import Wait

__all__ = ["Output", "PlainOutput", "TerminalOutput", "Indicator"]

Indicator = Callable[[list[Wait]], None]
"""Called with what the input waits on, each time it settles into waiting (again)."""


class Output(Protocol):
    """What the shell needs from a front end."""

    width: int

    def value(self, text: str) -> None:
        """A result (Flowmetal text: highlighted when there are colours)."""

    def code(self, text: str) -> None:
        """Source code to show (``,source``)."""

    def text(self, text: str) -> None:
        """Plain text the user asked for (``,help``, ``,log``...)."""

    def note(self, text: str) -> None:
        """A remark about what the REPL does (waiting, interrupted, restored...)."""

    def error(self, text: str) -> None:
        """An error report."""

    def program_output(self, text: str) -> None:
        """What the program printed, as it is committed."""

    def waiting(self) -> Iterator[Indicator]:  # a context manager
        """Show that an input waits; the indicator it yields updates what is shown."""

    def ask(self, prompt: str) -> str:
        """Ask the user a line (mock mode); EOFError or KeyboardInterrupt to give up."""


class PlainOutput:
    """Streams without colours: results and requested text on ``out``, the rest on ``err``.

    In this mode hand-fed (mock) answers are read from ``answers`` (the rest of stdin).
    """

    def __init__(self, out: IO[str] | None = None, err: IO[str] | None = None,
                 answers: Callable[[], str | None] | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.width = 100
        self._answers = answers
        self._at_line_start = True

    def _line(self, stream: IO[str], text: str) -> None:
        if not self._at_line_start:
            stream.write("\n")
            self._at_line_start = True
        stream.write(text + "\n")
        stream.flush()

    def value(self, text: str) -> None:
        self._line(self.out, text)

    code = text = value

    def note(self, text: str) -> None:
        self.out.flush()
        self._line(self.err, text)

    error = note

    def program_output(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
        if text:
            self._at_line_start = text.endswith("\n")

    @contextmanager
    def waiting(self) -> Iterator[Indicator]:
        shown: list[str] = []

        def update(waits: list[Wait]) -> None:
            text = _describe(waits)
            if text not in shown:
                shown.append(text)
                self.note(f"waiting on {text}")

        yield update

    def ask(self, prompt: str) -> str:
        line = self._answers() if self._answers else None
        if line is None:
            raise EOFError
        self.note(prompt + line)
        return line


class TerminalOutput:
    """A terminal: highlighted results, a spinner while waiting, prompt-toolkit questions."""

    def __init__(self, output: PtOutput | None = None) -> None:
        self.pt_output = output
        self._at_line_start = True
        self._ask_session: PromptSession[str] | None = None
        self._spinner: _Spinner | None = None

    @property
    def width(self) -> int:
        if self.pt_output is not None:
            return self.pt_output.get_size().columns
        return shutil.get_terminal_size((100, 24)).columns

    def _print(self, text: FormattedText) -> None:
        if not self._at_line_start:
            sys.stdout.write("\n")
            self._at_line_start = True
        sys.stdout.flush()
        print_formatted_text(text, style=STYLE, output=self.pt_output,
                             include_default_pygments_style=False)

    def value(self, text: str) -> None:
        self._print(highlight(text))

    code = value

    def text(self, text: str) -> None:
        self._print(FormattedText([("", text)]))

    def note(self, text: str) -> None:
        self._print(FormattedText([("class:note", text)]))

    def error(self, text: str) -> None:
        head, _, rest = text.partition("\n")
        parts = [("class:error.head", head)]
        if rest:
            parts.append(("class:error", "\n" + rest))
        self._print(FormattedText(parts))

    def program_output(self, text: str) -> None:
        if self._spinner is not None:
            self._spinner.write_above(text)
            self._at_line_start = True
            return
        sys.stdout.write(text)
        sys.stdout.flush()
        if text:
            self._at_line_start = text.endswith("\n")

    @contextmanager
    def waiting(self) -> Iterator[Indicator]:
        self._spinner = spinner = _Spinner(sys.stdout)
        try:
            yield spinner.update
        finally:
            self._spinner = None
            spinner.stop()

    def ask(self, prompt: str) -> str:
        if self._ask_session is None:
            self._ask_session = PromptSession(output=self.pt_output)
        return self._ask_session.prompt(FormattedText([("class:mock", prompt)]), style=STYLE)


class _Spinner:
    """One status line, redrawn in place: ``⠹ waiting on message "go" ... (Ctrl-C ...)``.

    It starts on the first ``update`` (a quick evaluation shows nothing) and erases its
    line when stopped, so results print where they belong.
    """

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.text = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def update(self, waits: list[Wait]) -> None:
        self.text = f"waiting on {_describe(waits)}  (Ctrl-C stops waiting)"
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            with self._lock:
                frame = self.FRAMES[i % len(self.FRAMES)]
                self.stream.write(f"\r\x1b[2K\x1b[33m{frame}\x1b[0m {self.text}")
                self.stream.flush()
            i += 1
            self._stop.wait(0.1)

    def write_above(self, text: str) -> None:
        """Print program output on the spinner's line; the spinner redraws below it."""
        with self._lock:
            self.stream.write("\r\x1b[2K" + text + ("" if text.endswith("\n") else "\n"))
            self.stream.flush()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        with self._lock:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def _describe(waits: list[Wait]) -> str:
    if not waits:
        return "the session (nothing to wait on yet)"
    first = waits[0]
    text = first.text
    if first.hint and first.kind in ("message", "callback"):
        text += f": {first.hint}"
    if len(waits) > 1:
        text += f" (+{len(waits) - 1} more)"
    return text
