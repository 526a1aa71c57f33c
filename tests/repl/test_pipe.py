"""``flowmetal repl`` with stdin not a terminal: forms in, one result per line out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def repl(db: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FLOWMETAL_HISTORY="")
    return subprocess.run([sys.executable, "-m", "flowmetal", "repl", "--db", str(db), *args],
                          input=text, capture_output=True, text=True, timeout=60, env=env)


def test_each_result_on_its_own_line(db: Path):
    done = repl(db, '(def x 2)\n(* x\n   21) (str "a" "b")\n; a comment\n,doc inc\n')
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:4] == ["x", "42", '"ab"', "inc  [x]"]


def test_errors_go_to_stderr_and_make_the_exit_code_1(db: Path):
    done = repl(db, "(/ 1 0)\n(+ 1 1)\n(oops\n")
    assert done.returncode == 1
    assert done.stdout == "2\n"
    assert "runtime error (arithmetic-error): Divide by zero" in done.stderr
    assert "read error: Expected ')' to close the list opened at 1:1" in done.stderr
    assert "Traceback" not in done.stderr


def test_sessions_persist_between_runs(db: Path):
    repl(db, "(def total (atom 10))\n", "--session", "jobs")
    done = repl(db, "(swap! total inc)\n", "--session", "jobs")
    assert done.stdout == "11\n", done.stderr
