"""docs/repl.md keeps up with the REPL: every command and every key is documented."""

from __future__ import annotations

from pathlib import Path

from flowmetal.repl.commands import COMMANDS, KEYS_HELP

DOC = (Path(__file__).parents[2] / "docs" / "repl.md").read_text(encoding="utf-8")


def test_every_command_is_documented():
    missing = [name for name in COMMANDS if f"`{name}" not in DOC]
    assert missing == []


def test_every_key_is_documented():
    for key in ("Enter", "Esc Enter", "Tab", "Up", "Ctrl-R", "Right", "Ctrl-C", "Ctrl-D"):
        assert f"| {key}" in DOC, key
        assert key in KEYS_HELP, key


def test_history_and_modes_are_documented():
    for words in ("FLOWMETAL_HISTORY", "~/.flowmetal_history", ",mock on", "stdin is not a "
                  "terminal", "pygmentize -l flowmetal"):
        assert words in DOC, words
