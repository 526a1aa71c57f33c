"""The REPL's comma commands (``,help`` lists them).

Each command is one method ``cmd_<name>`` taking the rest of the line; the table
``COMMANDS`` gives its argument and summary, for ``,help``, for completion and for the
docs (a test checks that every command is in ``docs/repl.md``).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..runtime.codec import from_json
from .forms import form_at_line
from .names import first_line
from .pretty import pretty

if TYPE_CHECKING:
    from .shell import Shell

__all__ = ["Commands", "COMMANDS"]

COMMANDS: dict[str, tuple[str, str]] = {
    ",help": ("", "list the commands and keys"),
    ",doc": ("SYM", "argument list and documentation of SYM"),
    ",apropos": ("TEXT", "names whose name or documentation contains TEXT"),
    ",source": ("SYM", "the source of SYM's definition"),
    ",load": ("FILE", "evaluate a file in this session"),
    ",reset": ("", "close this session (it stays in the store) and start a fresh one"),
    ",time": ("EXPR", "evaluate EXPR; show how long it took and how many steps"),
    ",log": ("[N]", "the last N events of this session's log (default 20; 'all')"),
    ",sessions": ("", "the REPL sessions in this store"),
    ",debug": ("", "open this session in the time-travel debugger"),
    ",mock": ("on|off", "hand-fed mode: you answer effects with JSON"),
    ",quit": ("", "leave; the session stays in the store (Ctrl-D too)"),
}

KEYS_HELP = """\
Keys: Enter evaluates a complete form (else a new, indented line); Esc Enter evaluates
anyway; Tab completes; Up/Down walk the history by prefix; Ctrl-R searches it; Right
takes the grey suggestion; Ctrl-C cancels the input or stops waiting; Ctrl-D exits."""


class Commands:
    """Runs comma commands for a ``Shell``."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell

    @property
    def summaries(self) -> dict[str, str]:
        """Command -> summary, for completion."""
        return {name: (f"{arg} " if arg else "") + text for name, (arg, text) in
                COMMANDS.items()}

    def run(self, line: str) -> None:
        name, _, rest = line.strip().partition(" ")
        name = name.lower()
        matches = [c for c in COMMANDS if c == name] or [c for c in COMMANDS
                                                        if c.startswith(name)]
        if len(matches) != 1:
            known = ", ".join(matches) if matches else ",help lists them"
            self.shell.out.error(f"unknown command {name!r} ({known})")
            return
        getattr(self, "cmd_" + matches[0][1:])(rest.strip())

    # -- help and lookup ----------------------------------------------------------------

    def cmd_help(self, _arg: str) -> None:
        width = max(len(c) + len(a) + 1 for c, (a, _) in COMMANDS.items())
        lines = [f"  {(c + ' ' + a).strip():<{width}}  {t}" for c, (a, t) in COMMANDS.items()]
        self.shell.out.text("Commands:\n" + "\n".join(lines) + "\n" + KEYS_HELP)

    def cmd_doc(self, arg: str) -> None:
        if not arg:
            self.shell.out.error(",doc needs a name: ,doc map")
            return
        info = self.shell.names.info(arg)
        if info is None:
            self.shell.out.error(f"no such name: {arg}  (try ,apropos {arg})")
            return
        head = f"{info.name}  {info.arglists}".rstrip()
        self.shell.out.code(head)
        self.shell.out.text(f"  {info.kind}" + (f"\n  {_indent(info.doc)}" if info.doc else ""))

    def cmd_apropos(self, arg: str) -> None:
        if not arg:
            self.shell.out.error(",apropos needs some text: ,apropos str")
            return
        found = self.shell.names.apropos(arg)
        if not found:
            self.shell.out.text(f"nothing matches {arg!r}")
            return
        width = max(len(i.name) for i in found)
        self.shell.out.text("\n".join(f"{i.name:<{width}}  {i.arglists or ''}  "
                                      f"{first_line(i.doc)}".rstrip() for i in found))

    def cmd_source(self, arg: str) -> None:
        if not arg:
            self.shell.out.error(",source needs a name: ,source my-fn")
            return
        session = self.shell.session
        site = session.definition_site(arg)
        if site is None:
            if self.shell.names.info(arg) is not None:
                self.shell.out.text(f"{arg} is built in (written in Python): no Flowmetal "
                                    f"source; ,doc {arg} describes it")
            else:
                self.shell.out.error(f"no such name: {arg}")
            return
        source, line = site
        text = session.source_text(source)
        form = form_at_line(text, line) if text is not None else None
        if form is None:
            self.shell.out.error(f"{arg} was defined at {source}:{line}, but that source "
                                 "is not available")
            return
        self.shell.out.note(f";; {source}:{line}")
        self.shell.out.code(form)

    # -- evaluating ---------------------------------------------------------------------

    def cmd_load(self, arg: str) -> None:
        if not arg:
            self.shell.out.error(",load needs a file: ,load examples/hello.flow")
            return
        path = Path(arg).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.shell.failures += 1
            self.shell.out.error(f"can't read {path}: {getattr(exc, 'strerror', None) or exc}")
            return
        if self.shell.finish_pending():
            self.shell.evaluate(text, source=str(path))

    def cmd_time(self, arg: str) -> None:
        if not arg:
            self.shell.out.error(",time needs an expression: ,time (reduce + (range 1e5))")
            return
        if not self.shell.finish_pending():
            return
        outcome = self.shell.evaluate(arg)
        if outcome is None or outcome.pending:
            return
        steps = f", {outcome.steps:,} steps" if outcome.steps is not None else ""
        self.shell.out.note(f";; elapsed {_ms(outcome.elapsed)}{steps}")

    # -- the session --------------------------------------------------------------------

    def cmd_log(self, arg: str) -> None:
        last: int | None = 20
        if arg == "all":
            last = None
        elif arg:
            try:
                last = max(1, int(arg))
            except ValueError:
                self.shell.out.error(",log takes a number of events, or 'all'")
                return
        rows = []
        for e in self.shell.session.events(last):
            when = dt.datetime.fromtimestamp(e.at).strftime("%H:%M:%S")
            rows.append((str(e.seq), when, e.type, _summary(e.type, e.data)))
        self.shell.out.text(_table(("SEQ", "AT", "TYPE", "DATA"), rows))

    def cmd_sessions(self, _arg: str) -> None:
        current = self.shell.session.id
        rows = []
        for rec in self.shell.session.sessions():
            when = dt.datetime.fromtimestamp(rec.updated_at).strftime("%Y-%m-%d %H:%M")
            mark = "*" if rec.id == current else " "
            rows.append((mark + rec.id, rec.name, rec.status, str(rec.last_seq), when))
        self.shell.out.text(_table((" ID", "NAME", "STATUS", "EVENTS", "UPDATED"), rows))

    def cmd_reset(self, _arg: str) -> None:
        session = self.shell.session
        old = session.reset()
        self.shell.names.refresh()
        self.shell.out.note(f"session {session.name!r} starts afresh as {session.id}; the "
                            f"old one, {old}, stays in the store (flowmetal debug "
                            f"{session.db_shown} {old})")

    def cmd_debug(self, _arg: str) -> None:
        session = self.shell.session
        command = [sys.executable, "-m", "flowmetal", "debug", session.db_path, session.id]
        if not _debugger_available():
            self.shell.out.error(
                "the debugger is not installed here yet (no tui.app module); later, open "
                f"this session with:\n  flowmetal debug {session.db_shown} {session.id}")
            return
        self.shell.out.note(f"opening the debugger: flowmetal debug {session.db_shown} "
                            f"{session.id}")
        try:
            code = subprocess.call(command)
        except OSError as exc:
            self.shell.out.error(f"can't start the debugger: {exc}")
            return
        except KeyboardInterrupt:
            code = 130
        if code:
            self.shell.out.error(f"the debugger exited with status {code}")

    def cmd_mock(self, arg: str) -> None:
        if arg not in ("on", "off", ""):
            self.shell.out.error(",mock takes on or off")
            return
        if arg:
            self.shell.mock = arg == "on"
        state = "on: effects wait for your answers" if self.shell.mock else (
            "off: effects run for real")
        self.shell.out.note(f"mock mode is {state}")

    def cmd_quit(self, _arg: str) -> None:
        self.shell.quit = True


def _debugger_available() -> bool:
    try:
        return importlib.util.find_spec("tui.app") is not None
    except (ImportError, ValueError):
        return False


def _indent(text: str) -> str:
    return "\n  ".join(line.strip() for line in text.strip().splitlines())


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.2f} s"


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    if not rows:
        return "(none)"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def _value(data: Any) -> str:
    try:
        return pretty(from_json(data), width=10_000, max_depth=3, max_length=8)
    except (TypeError, ValueError):
        return json.dumps(data)


def _summary(type_: str, data: Any, limit: int = 80) -> str:
    """One line about an event, for ``,log``."""
    data = data if isinstance(data, dict) else {}
    if type_ == "eval":
        text = " ".join(str(data.get("source", "")).split())
    elif type_ == "evaluated":
        text = f"input {data.get('input')} => {_value(data.get('value'))}"
    elif type_ == "failed":
        err = data.get("error") or {}
        text = f"input {data.get('input')}: {err.get('type')}: {err.get('message')}"
    elif type_ in ("effect", "requested"):
        text = f"{data.get('kind')} {_value(data.get('request'))}"
        if "value" in data and data.get("kind") not in ("print", "log"):
            text += f" => {_value(data.get('value'))}"
    elif type_ == "message":
        text = f"{data.get('name')} {json.dumps(data.get('payload'))}"
    else:
        text = json.dumps(data)
    return text if len(text) <= limit else text[: limit - 3] + "..."
