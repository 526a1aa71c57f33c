"""End to end: ``flowmetal repl`` in a real pseudo-terminal, driven with pexpect.

Every wait is an ``expect`` with a timeout; nothing sleeps.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

PROMPT = "demo=> "
ANSI = r"\x1b\[[0-9;]*m"


class Terminal:
    """One ``flowmetal repl`` process in a pseudo-terminal."""

    def __init__(self, db: Path, history: Path) -> None:
        env = dict(os.environ, FLOWMETAL_HISTORY=str(history), TERM="xterm-256color",
                   PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="100", LINES="30")
        self.db = db
        self.child = pexpect.spawn(
            sys.executable, ["-m", "flowmetal", "repl", "--db", str(db), "--session", "demo"],
            env=env, encoding="utf-8", timeout=20, dimensions=(30, 100))

    def expect(self, pattern: str | list) -> int:
        return self.child.expect(pattern)

    def prompt(self) -> None:
        self.child.expect_exact(PROMPT)

    def type(self, keys: str) -> None:
        self.child.send(keys)

    def session_id(self) -> str:
        self.type(",sessions\r")
        self.expect(r"\*(p-[0-9a-f]+)")
        sid = self.child.match.group(1)
        self.prompt()
        return sid

    def quit(self) -> None:
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF)
        self.child.close()
        assert self.child.exitstatus == 0


@pytest.fixture
def terminal(db: Path, tmp_path: Path) -> Iterator:
    opened: list[Terminal] = []

    def start() -> Terminal:
        t = Terminal(db, tmp_path / "history")
        opened.append(t)
        return t

    yield start
    for t in opened:
        if t.child.isalive():
            t.child.terminate(force=True)


def test_multiline_definition_highlighting_completion_and_restore(terminal):
    t = terminal()
    t.expect("new session")
    t.prompt()
    t.type("(defn square\r")
    t.expect(r"\.+1 ")  # the continuation prompt shows one open bracket
    t.type("[x]\r(* x x))\r")
    t.expect(ANSI + "square" + ANSI)  # the result is highlighted
    t.prompt()
    t.type("(squ\t")  # Tab completes the session's own definition
    t.expect("square")
    t.type(" 12)\r")
    t.expect(ANSI + "144" + ANSI)
    t.prompt()
    t.quit()

    t = terminal()
    t.expect("2 inputs restored")
    t.prompt()
    t.type("(square 5)\r")
    t.expect("25")
    t.prompt()
    t.type("(sq\x1b[A")  # Up searches the history by prefix
    t.expect("square " + ANSI + "5")  # the line now reads (square 5)
    t.type("\r")
    t.expect("25")
    t.prompt()
    t.quit()


def test_errors_are_reports_not_tracebacks(terminal):
    t = terminal()
    t.prompt()
    t.type('(defn half [x] (/ x "two"))\r')
    t.prompt()
    t.type("(half 1)\r")
    t.expect(r"runtime error \(type-error\)")
    t.expect(r"at half \(<repl 1>:1:16\)")
    t.prompt()
    t.type("(oops))\x1b\r")
    t.expect("read error")
    t.prompt()
    assert "Traceback" not in t.child.before
    t.quit()


def test_ctrl_c_cancels_input_and_stops_a_wait_keeping_the_session(terminal, db: Path):
    t = terminal()
    t.prompt()
    t.type("(def kept 41)\r")
    t.prompt()
    t.type("(half-typed")
    t.child.sendcontrol("c")  # cancels the input being typed
    t.prompt()
    t.type('(receive "approval")\r')
    t.expect('waiting on message "approval"')
    t.child.sendcontrol("c")
    t.expect("interrupted: input 2 keeps its place in the log")
    t.prompt()
    sid = t.session_id()
    sent = subprocess.run([sys.executable, "-m", "flowmetal", "send", "--db", str(db), sid,
                           "approval", '{"ok": true}'], capture_output=True, text=True,
                          timeout=60)
    assert sent.returncode == 0, sent.stderr
    t.type("(inc kept)\r")
    t.expect("input 2 finished")
    t.expect("true")  # its answer, {"ok" true}, then the new input's
    t.expect("42")
    t.prompt()
    t.quit()


def test_a_wait_is_answered_from_another_terminal(terminal, db: Path):
    t = terminal()
    t.prompt()
    sid = t.session_id()
    t.type('(str "got " (receive :go))\r')
    t.expect("waiting on message")
    sent = subprocess.run([sys.executable, "-m", "flowmetal", "send", "--db", str(db), sid,
                           "go", '"it"'], capture_output=True, text=True, timeout=60)
    assert sent.returncode == 0, sent.stderr
    t.expect('"got it"')
    t.prompt()
    t.quit()


def test_mock_mode_asks_for_an_effects_result(terminal):
    t = terminal()
    t.prompt()
    t.type(",mock on\r")
    t.child.expect_exact("demo (mock)=> ")
    t.type('(+ 1 (receive :n :timeout "1h"))\r')
    t.expect(r'mock message "n"')
    t.type("41\r")
    t.expect("42")
    t.child.expect_exact("demo (mock)=> ")
    t.quit()


def test_background_fibers_run_while_the_prompt_waits(terminal):
    t = terminal()
    t.prompt()
    t.type('(def ticker (async (do (sleep 0.3) (println "tick from the background") :done)))\r')
    t.prompt()
    t.expect("tick from the background")  # printed above the prompt, nothing typed
    t.type("(await ticker)\r")
    t.expect(":done")
    t.prompt()
    t.quit()


def test_debug_opens_the_debugger_on_the_session(terminal):
    pytest.importorskip("tui.app")
    t = terminal()
    t.prompt()
    t.type("(+ 1 2)\r")
    t.prompt()
    t.type(",debug\r")
    t.expect("opening the debugger: flowmetal debug ")
    t.expect(r"\x1b\[\?1049h")  # the debugger takes the screen
    t.child.sendcontrol("q")
    t.prompt()  # and gives it back to the REPL
    t.quit()
