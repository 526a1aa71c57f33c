"""The REPL's input history: a file shared by all sessions, without consecutive repeats.

Where it lives, first match wins:

1. ``history_path`` given to ``run_repl`` (tests pass a temporary file);
2. ``$FLOWMETAL_HISTORY`` (an empty value turns the history file off);
3. ``~/.flowmetal_history``.

This is the editing history (what Up, Ctrl-R and suggestions search); the durable record
of what was evaluated is the session's event log, which ``,log`` shows.
"""

from __future__ import annotations

import os
from pathlib import Path

from prompt_toolkit.history import FileHistory, History, InMemoryHistory

__all__ = ["DedupFileHistory", "DedupInMemoryHistory", "history_path", "open_history"]

ENV = "FLOWMETAL_HISTORY"
DEFAULT = "~/.flowmetal_history"


class _Dedup:
    """Skips an entry equal to the one before it (Up then gives distinct inputs)."""

    def append_string(self, string: str) -> None:
        strings = self.get_strings()  # type: ignore[attr-defined]
        if strings and strings[-1] == string:
            return
        super().append_string(string)  # type: ignore[misc]


class DedupFileHistory(_Dedup, FileHistory):
    """``FileHistory`` without consecutive duplicates."""


class DedupInMemoryHistory(_Dedup, InMemoryHistory):
    """``InMemoryHistory`` without consecutive duplicates (no history file)."""


def history_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The history file to use, or None when history files are turned off."""
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get(ENV)
    if env is not None:
        return Path(env).expanduser() if env.strip() else None
    return Path(DEFAULT).expanduser()


def open_history(explicit: str | os.PathLike[str] | None = None) -> History:
    """The history object for a prompt: a file when one is configured and writable."""
    path = history_path(explicit)
    if path is None:
        return DedupInMemoryHistory()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError:
        return DedupInMemoryHistory()
    return DedupFileHistory(str(path))
