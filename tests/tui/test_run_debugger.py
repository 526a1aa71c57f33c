"""``flowmetal debug`` refuses what it can't open, with a message and exit code 1."""

from __future__ import annotations

from tui.app import run_debugger


def test_missing_store(tmp_path, capsys):
    assert run_debugger(str(tmp_path / "nope.db")) == 1
    assert "no such store" in capsys.readouterr().err


def test_missing_program(sample, capsys):
    assert run_debugger(sample("recovery"), "p-nope") == 1
    assert "no program 'p-nope'" in capsys.readouterr().err


def test_not_a_store(tmp_path, capsys):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not sqlite at all" * 100)
    assert run_debugger(str(bad)) == 1
    assert "error" in capsys.readouterr().err
