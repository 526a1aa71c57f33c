"""Errors, and the error values programs throw and catch.

The exception tree, so callers catch at the level they mean::

    FlowmetalError            anything Flowmetal reports to a user
    ├── ReadError             malformed text: unclosed bracket, bad escape, stray ``)``
    ├── CompileError          a form the compiler rejects: bad ``let``, unknown special form use
    └── EvalError             an error thrown at run time and not caught by the program

Inside a running program errors are values: an ``ExInfo`` (what ``ex-info`` makes and what
built-ins throw), carrying a message, a data map whose ``:type`` says what kind of error it
is, and the Flowmetal stack trace. ``Thrown`` is the Python exception a built-in raises to
throw one into the program; the machine turns it into an ordinary Flowmetal throw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .data import Keyword, Map, Span, kw

__all__ = [
    "FlowmetalError",
    "ReadError",
    "CompileError",
    "EvalError",
    "ExInfo",
    "TraceEntry",
    "Thrown",
    "fail",
    "format_error",
]


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One line of a Flowmetal stack trace: the function and where its current form is."""

    name: str
    span: Span | None

    @property
    def where(self) -> str | None:
        """``file:line:col``; just ``core`` in the core library, whose lines mean nothing
        to a user."""
        if self.span is None:
            return None
        return "core" if self.span.source == "prelude.flow" else str(self.span)

    def __str__(self) -> str:
        return f"  at {self.name} ({self.where or '<unknown>'})"


class ExInfo:
    """An error value: ``(ex-info "msg" {:type :x})``. Catchable, printable, storable."""

    __slots__ = ("message", "data", "cause", "trace", "span")
    type_name = "error"

    def __init__(
        self,
        message: str,
        data: Map | None = None,
        cause: ExInfo | None = None,
        trace: tuple[TraceEntry, ...] = (),
        span: Span | None = None,
    ) -> None:
        self.message = message
        self.data = data if data is not None else Map()
        self.cause = cause
        self.trace = trace
        self.span = span

    @property
    def kind(self) -> str:
        """The ``:type`` of the error as text, e.g. ``type-error``; ``error`` when none."""
        value = self.data.get(kw("type"))
        return value.full if isinstance(value, Keyword) else "error"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ExInfo)
            and other.message == self.message
            and other.data == self.data
            and other.cause == self.cause
        )

    def __hash__(self) -> int:
        return hash((self.message, self.data))

    def __repr__(self) -> str:
        return _pr(self)


class Thrown(Exception):
    """Raised by a built-in to throw ``value`` into the running program."""

    def __init__(self, value: Any) -> None:
        super().__init__(value.message if isinstance(value, ExInfo) else _pr(value))
        self.value = value


def fail(kind: str, message: str, **data: Any) -> Thrown:
    """Make the exception a built-in raises: ``raise fail("type-error", "Expected a number")``."""
    payload = Map({kw("type"): kw(kind)})
    for key, value in data.items():
        payload[kw(key.replace("_", "-"))] = value
    return Thrown(ExInfo(message, payload))


class FlowmetalError(Exception):
    """Base of every error Flowmetal reports to a user; ``str()`` is the full report."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, source_line: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.source_line = source_line

    def __str__(self) -> str:
        return format_error(self.kind, self.message, self.span, self.source_line)


class ReadError(FlowmetalError):
    """Text that is not well-formed Flowmetal; ``incomplete`` if more input could fix it."""

    kind = "read error"

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        source_line: str | None = None,
        incomplete: bool = False,
    ):
        super().__init__(message, span, source_line)
        self.incomplete = incomplete


class CompileError(FlowmetalError):
    """A form that cannot be compiled (a misused special form, a bad binding vector)."""

    kind = "compile error"


class EvalError(FlowmetalError):
    """A program threw and nothing caught it. ``value`` is what was thrown (usually ``ExInfo``)."""

    kind = "runtime error"

    def __init__(self, value: Any, source_line: str | None = None) -> None:
        self.value = value
        info = value if isinstance(value, ExInfo) else None
        message = info.message if info else f"uncaught throw of {_pr(value)}"
        span = info.span if info else None
        super().__init__(message, span, source_line)

    @property
    def trace(self) -> tuple[TraceEntry, ...]:
        return self.value.trace if isinstance(self.value, ExInfo) else ()

    def __str__(self) -> str:
        info = self.value if isinstance(self.value, ExInfo) else None
        kind = f"{self.kind} ({info.kind})" if info else self.kind
        text = format_error(kind, self.message, self.span, self.source_line)
        lines = [text] + [str(entry) for entry in self.trace]
        return "\n".join(lines)


def _pr(value: Any) -> str:
    """A value as Flowmetal prints it (the printer imports this module, hence the late import)."""
    from .printer import pr_brief

    return pr_brief(value)


def format_error(kind: str, message: str, span: Span | None, source_line: str | None) -> str:
    """``file:line:col: kind: message`` then the offending line and a caret under the column."""
    head = f"{span}: {kind}: {message}" if span else f"{kind}: {message}"
    if span is None or source_line is None:
        return head
    caret = " " * (max(span.col, 1) - 1) + "^"
    return f"{head}\n  {source_line}\n  {caret}"
