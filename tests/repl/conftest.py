"""Fixtures for the REPL tests: a fresh store per test, a shell writing to strings, and a
history file in a temporary folder (never the user's ``~/.flowmetal_history``)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowmetal.repl.output import PlainOutput
from flowmetal.repl.session import Session
from flowmetal.repl.shell import Shell


class Captured:
    """A shell whose results and errors land in strings; ``answers`` feed mock mode."""

    def __init__(self, db: Path, name: str = "test") -> None:
        self.db = db
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.answers: list[str] = []
        self.session = Session.open(str(db), name)
        self.shell = Shell(self.session, PlainOutput(self.out, self.err, answers=self._answer))
        self.session.on_output = self.shell.program_output

    def _answer(self) -> str | None:
        return self.answers.pop(0) if self.answers else None

    def submit(self, text: str) -> str:
        """Submit ``text``; returns what it printed on stdout (and keeps stderr)."""
        start = self.out.tell()
        self.shell.submit(text)
        return self.out.getvalue()[start:]

    def errors(self) -> str:
        return self.err.getvalue()

    def close(self) -> None:
        self.session.close()


@pytest.fixture(autouse=True)
def _history_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes its editing history to a temporary file."""
    path = tmp_path / "history"
    monkeypatch.setenv("FLOWMETAL_HISTORY", str(path))
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "repl.db"


@pytest.fixture
def repl(db: Path) -> Iterator[Captured]:
    captured = Captured(db)
    yield captured
    captured.close()
