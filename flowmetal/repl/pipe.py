"""The REPL without a terminal: forms from stdin, one result per line on stdout.

Lines are gathered until they make complete forms (the reader decides), then each form is
evaluated and its result printed on its own line; errors go to stderr and make the exit
code 1. A line starting with ``,`` is a comma command. In mock mode the answers are the
next lines of stdin::

    printf '(def x 2)\\n(* x 21)\\n' | flowmetal repl --db t.db    # prints x, then 42
"""

from __future__ import annotations

import sys
from typing import IO

from ..lang.reader import is_complete
from .output import PlainOutput
from .session import Session
from .shell import Shell

__all__ = ["run_pipe"]


def run_pipe(session: Session, stdin: IO[str] | None = None, stdout: IO[str] | None = None,
             stderr: IO[str] | None = None) -> int:
    """Evaluate everything on ``stdin``; 0 if all succeeded, 1 if any failed, 130 on Ctrl-C."""
    stdin = stdin or sys.stdin
    out = PlainOutput(stdout, stderr, answers=lambda: _readline(stdin))
    shell = Shell(session, out)
    session.on_output = shell.program_output
    buffer = ""
    try:
        while not shell.quit and not shell.interrupted:
            line = stdin.readline()
            if not line:
                break
            if not buffer.strip() and line.lstrip().startswith(","):
                _submit(shell, line)
                continue
            buffer += line
            if not buffer.strip():
                buffer = ""
            elif is_complete(buffer):
                _submit(shell, buffer)
                buffer = ""
        if buffer.strip() and not shell.quit and not shell.interrupted:
            _submit(shell, buffer)  # unfinished text at the end: reports where it stops
    except KeyboardInterrupt:
        return 130
    if shell.interrupted:
        return 130
    return 1 if shell.failures else 0


def _submit(shell: Shell, text: str) -> None:
    try:
        shell.submit(text)
    except Exception as exc:  # noqa: BLE001  (a bug is reported, never a traceback)
        shell.failures += 1
        shell.out.error(f"internal error (a bug in Flowmetal, please report it): "
                        f"{type(exc).__name__}: {exc}")


def _readline(stream: IO[str]) -> str | None:
    line = stream.readline()
    return line.rstrip("\n") if line else None
