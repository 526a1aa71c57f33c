"""The ``flowmetal`` command. Each subcommand opens the store and calls one ``Runtime``
method; errors become a message on stderr and exit code 1, never a traceback.

Exit codes: 0 success, 1 error (bad input, the program failed), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .lang.errors import FlowmetalError
from .store import StoreError, open_store

__all__ = ["main"]

DEFAULT_DB = "flowmetal.db"
_ID_HELP = "the program's ID, as `flowmetal start` or `flowmetal ps` shows it"
# No markup: what these print is mostly user data (names, messages, payloads), where a
# [bracket] is text. Styling is done with Text objects instead.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


class UsageError(Exception):
    """A bad command line: says what is wrong with which option."""


# -- helpers ---------------------------------------------------------------------------------


def _db(args: argparse.Namespace) -> str:
    return args.db or os.environ.get("FLOWMETAL_DB") or DEFAULT_DB


def redact_url(url: str) -> str:
    """A store path or URL fit to print: any password (``user:PASSWORD@``, ``?password=``,
    or libpq's ``password=...``) is replaced by ``***``."""
    if "://" not in url:
        return re.sub(r"(password\s*=\s*)('(?:\\.|[^'])*'|\S+)", r"\1***", url)
    scheme, _, rest = url.partition("://")
    authority, tail = re.match(r"([^/?#]*)(.*)", rest, re.DOTALL).groups()
    user, at, host = authority.rpartition("@")
    if at and ":" in user:
        authority = f"{user.split(':', 1)[0]}:***@{host}"
    tail = re.sub(r"([?&]password=)[^&#]*", r"\1***", tail)
    return f"{scheme}://{authority}{tail}"


def _runtime(args: argparse.Namespace, **options: Any) -> Any:
    from .runtime import Runtime

    return Runtime(open_store(_db(args)), **options)


def _parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}") from None


def _parse_args(pairs: list[str]) -> dict[str, Any]:
    """``--arg k=v``: v is read as JSON when it is valid JSON, else taken as a string."""
    out_args: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--arg expects KEY=VALUE, got {pair!r}")
        try:
            out_args[key] = json.loads(value)
        except json.JSONDecodeError:
            out_args[key] = value
    return out_args


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _show_value(value: Any) -> str:
    from .lang.printer import pr_str

    return pr_str(value)


def _error_report(program_id: str, rec: Any, db: str) -> None:
    from .runtime.codec import error_from_json

    e = rec.error or {}
    info = error_from_json(e)
    where = e.get("where")
    err.print(Text.assemble(("error", "red"),
                            f": {where + ': ' if where else ''}{info.kind}: {info.message}"))
    for name, pos in e.get("trace") or []:
        err.print(f"  at {name} ({pos or '?'})")
    err.print(f"program {program_id} failed and is kept in {db}; choose a restart with\n"
              f"  flowmetal recover {program_id} --retry | --use-value JSON | --abort")


# -- commands --------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> int:
    from .lang.evaluate import LocalEffects, evaluate

    result = evaluate(args.expr, "<eval>", LocalEffects(echo=_write))
    out.print(_show_value(result.value), markup=False)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    rt = _runtime(args, virtual_time=args.virtual_time, on_output=lambda _pid, t: _write(t))
    pid = rt.start_file(args.file, _parse_args(args.arg))
    return _drive_to_end(rt, pid, _db(args))


def cmd_resume(args: argparse.Namespace) -> int:
    rt = _runtime(args, virtual_time=args.virtual_time, on_output=lambda _pid, t: _write(t))
    rt.get(args.id)
    return _drive_to_end(rt, args.id, _db(args))


def _drive_to_end(rt: Any, pid: str, db: str) -> int:
    from .runtime.runtime import describe_unawaited

    db = redact_url(db)
    told: set[str] = set()

    def tell_what_it_waits_for(rec: Any) -> bool:
        for wait in rec.waiting or []:
            hint = _wait_hint(pid, wait, db)
            if hint and hint not in told:
                told.add(hint)
                err.print(hint, markup=False)
        return False  # keep waiting

    try:
        rec = rt.run(pid, until=tell_what_it_waits_for)
    except KeyboardInterrupt:
        err.print(f"\ninterrupted: program {pid} is safely suspended in {db}; "
                  f"continue it with\n  flowmetal resume {pid}")
        return 130
    for lost in rt.unawaited_errors(pid):
        err.print(f"warning: {describe_unawaited(lost)}", markup=False)
    if rec.status == "done":
        out.print(_show_value(rt.result(pid)), markup=False)
        return 0
    if rec.status == "failed":
        _error_report(pid, rec, db)
        return 1
    err.print(f"program {pid} ended: {rec.status}")
    return 1


def _wait_hint(pid: str, wait: dict, db: str) -> str | None:
    dbopt = "" if db == DEFAULT_DB else f" --db {db}"
    if wait.get("kind") == "message":
        return (f"waiting for message {wait.get('name')!r}; send it with:\n"
                f"  flowmetal send {pid} {wait.get('name')} JSON{dbopt}")
    if wait.get("kind") == "callback" and str(wait.get("token")).startswith("program:"):
        child = str(wait.get("token"))[len("program:"):]
        return (f"waiting for child program {child}; see it with:\n"
                f"  flowmetal show {child}{dbopt}")
    if wait.get("kind") == "callback":
        return (f"waiting for a callback; deliver it with:\n"
                f"  flowmetal send --callback {wait.get('token')} JSON{dbopt}")
    if wait.get("kind") == "effect" and wait.get("effect") in ("http", "call"):
        return f"waiting for a {wait.get('effect')} task to be completed by a worker"
    return None


def cmd_start(args: argparse.Namespace) -> int:
    rt = _runtime(args)
    pid = rt.start_file(args.file, _parse_args(args.arg))
    print(pid)
    return 0


def cmd_ps(args: argparse.Namespace) -> int:
    store = open_store(_db(args))
    table = Table("ID", "NAME", "KIND", "STATUS", "EVENTS", "UPDATED", box=None)
    import datetime as dt

    for rec in store.list_programs(status=args.status, limit=args.limit):
        when = dt.datetime.fromtimestamp(rec.updated_at).strftime("%Y-%m-%d %H:%M:%S")
        # Text cells: a name or payload with [brackets] is data, never Rich markup.
        table.add_row(*map(Text, (rec.id, rec.name, rec.kind, rec.status, str(rec.last_seq),
                                  when)))
    out.print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from .runtime.codec import from_json
    from .runtime.runtime import describe_unawaited

    rt = _runtime(args)
    rec = rt.get(args.id)
    if args.json:
        print(json.dumps({"id": rec.id, "name": rec.name, "kind": rec.kind,
                          "status": rec.status, "code_hash": rec.code_hash,
                          "parent_id": rec.parent_id, "args": rec.args, "result": rec.result,
                          "error": rec.error, "waiting": rec.waiting,
                          "events": rec.last_seq}, indent=2))
        return 0
    out.print(f"program  {rec.id} ({rec.name})", markup=False)
    out.print(f"status   {rec.status}", markup=False)
    out.print(f"code     {rec.code_hash}", markup=False)
    out.print(f"events   {rec.last_seq}", markup=False)
    if rec.status == "done":
        out.print(f"result   {_show_value(from_json(rec.result))}", markup=False)
    if rec.error:
        out.print(f"error    {rec.error.get('type')}: {rec.error.get('message')}", markup=False)
        if rec.status == "failed":
            out.print(f"restarts flowmetal recover {rec.id} --retry | --use-value JSON | --abort",
                      markup=False)
    for wait in rec.waiting or []:
        out.print(f"waits on {_describe_wait(wait)}", markup=False)
    for lost in rt.unawaited_errors(rec.id):
        out.print(f"warning  {describe_unawaited(lost)}", markup=False)
    timers = rt.store.list_timers(rec.id)
    for t in timers:
        import datetime as dt

        when = dt.datetime.fromtimestamp(t.due_at).isoformat(timespec="seconds")
        out.print(f"timer    {t.key} due {when}", markup=False)
    return 0


def _describe_wait(wait: dict) -> str:
    kind = wait.get("kind")
    if kind == "message":
        return f"message {wait.get('name')!r}"
    if kind == "effect":
        return f"{wait.get('effect')} {json.dumps(wait.get('request'))}"
    if kind == "callback" and str(wait.get("token")).startswith("program:"):
        return f"child program {str(wait.get('token'))[len('program:'):]}"
    return str(kind)


def cmd_log(args: argparse.Namespace) -> int:
    import datetime as dt

    rt = _runtime(args)
    rt.get(args.id)
    events = rt.store.events(args.id)
    if args.json:
        for e in events:
            print(json.dumps({"seq": e.seq, "type": e.type, "at": e.at, "data": e.data}))
        return 0
    table = Table("SEQ", "AT", "TYPE", "DATA", box=None)
    for e in events:
        when = dt.datetime.fromtimestamp(e.at).strftime("%H:%M:%S.%f")[:-3]
        table.add_row(*map(Text, (str(e.seq), when, e.type, json.dumps(e.data)[:200])))
    out.print(table)
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    rt = _runtime(args)
    if args.callback:
        payload = _parse_json(args.callback[1], "the callback payload")
        seq = rt.complete_callback(args.callback[0], payload)
        out.print(f"delivered callback (event {seq})")
        return 0
    if args.id is None or args.name is None or args.payload is None:
        raise UsageError("send needs ID NAME JSON (or --callback TOKEN JSON)")
    payload = _parse_json(args.payload, "the payload")
    seq = rt.send(args.id, args.name, payload)
    out.print(f"sent {args.name!r} to {args.id} (event {seq})")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    rt = _runtime(args)
    rec, children = rt.cancel_now(args.id)
    out.print(f"program {args.id} is {rec.status}")
    for child in children:
        out.print(f"  its child {child.id} ({child.name}) is {child.status}", markup=False)
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    rt = _runtime(args, virtual_time=args.virtual_time, on_output=lambda _p, t: _write(t))
    if args.use_value is not None:
        rt.recover(args.id, "use-value", _parse_json(args.use_value, "--use-value"))
    elif args.abort:
        rt.recover(args.id, "abort")
    elif args.retry:
        rt.recover(args.id, "retry")
    else:
        rec = rt.get(args.id)
        if rec.status != "failed":
            raise UsageError(f"program {args.id} is {rec.status}, not failed")
        out.print(f"program {args.id} failed: {(rec.error or {}).get('message')}\n"
                  "choose a restart: --retry, --use-value JSON or --abort", markup=False)
        return 1
    if args.no_run:
        return 0
    return _drive_to_end(rt, args.id, _db(args))


def cmd_replay(args: argparse.Namespace) -> int:
    rt = _runtime(args)
    report = rt.replay(args.id)
    if report.ok:
        out.print(f"replay of {args.id} matches its log: {report.events_checked} events, "
                  f"{report.steps} steps", markup=False)
        return 0
    err.print(f"replay of {args.id} diverges:\n{report.divergence}", markup=False)
    return 1


def cmd_upgrade(args: argparse.Namespace) -> int:
    rt = _runtime(args)
    report = rt.upgrade(args.id, args.file)
    if report.ok:
        out.print(f"program {args.id} now runs {args.file} "
                  f"(replayed {report.events_checked} events without divergence)", markup=False)
        return 0
    err.print(f"not upgraded: replaying {args.id} against {args.file} diverges:\n"
              f"{report.divergence}", markup=False)
    return 1


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type: a number above zero, else a usage error naming the value."""
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value
    return parse


def cmd_worker(args: argparse.Namespace) -> int:
    from .runtime.worker import Worker

    worker = Worker(open_store(_db(args)), poll_interval=args.poll,
                    lease_seconds=args.lease, batch=args.batch,
                    on_output=lambda pid, t: _write(f"[{pid}] {t}"))
    err.print(f"worker {worker.id} on {redact_url(_db(args))}"
              + (" (until idle)" if args.until_idle else ""), markup=False)
    stopping: list[str] = []

    def on_sigterm(_signum: int, _frame: object) -> None:
        # systemctl stop: leave like Ctrl-C does, releasing what this worker holds.
        stopping.append("SIGTERM")
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        worker.run(until_idle=args.until_idle)
    except KeyboardInterrupt:
        how = f" by {stopping[0]}" if stopping else ""
        err.print(f"worker stopped{how}; its programs stay in the store")
        return 0 if stopping else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    s = worker.stats
    err.print(f"drove {s.drives} times, fired {s.timers_fired} timers")
    return 0


def cmd_repl(args: argparse.Namespace) -> int:
    from .repl.app import run_repl

    return run_repl(_db(args), args.session)


def cmd_debug(args: argparse.Namespace) -> int:
    from tui.app import run_debugger

    return run_debugger(args.store or _db(args), args.program)


def cmd_export(args: argparse.Namespace) -> int:
    from .runtime.export import ExportError, export_run, write_export
    from .store import NotFound

    with open_store(_db(args), read_only=True) as store:
        try:
            doc = export_run(store, args.id, forks=args.forks)
        except NotFound:
            where = getattr(store, "where", redact_url(_db(args)))
            raise UsageError(f"no program with id {args.id!r} in {where}") from None
    try:
        write_export(doc, args.file)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    forks = len(doc.get("forks", ()))
    out.print(f"exported {args.id} ({len(doc['events'])} events, {len(doc['snapshots'])} "
              f"snapshots{f', {forks} forks' if args.forks else ''}) to {args.file}",
              markup=False)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .runtime.export import ExportError, import_runs, read_export

    try:
        doc = read_export(args.file)
        with open_store(_db(args)) as store:
            ids = import_runs(store, doc, program_id=args.as_id, if_taken="error")
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    import shlex

    db = redact_url(_db(args))
    dbopt = "" if db == DEFAULT_DB else f" --db {shlex.quote(db)}"
    for old, new in ids.items():
        what = "" if old == new else f" (was {old})"
        out.print(f"imported {new}{what}", markup=False)
    first = next(iter(ids.values()))
    out.print(f"check it replays with: flowmetal replay {first} --verify{dbopt}", markup=False)
    return 0


# -- the parser ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowmetal", description="Durable, evented, asynchronous scripting in a Lisp.",
        epilog="Example: flowmetal run examples/approval.flow --arg amount=120")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str,
            example: str, db: bool = True) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_, epilog=f"Example: {example}")
        sp.set_defaults(fn=fn)
        if db:
            sp.add_argument("--db", help=f"the store: an SQLite file (default ./{DEFAULT_DB}, "
                            "or $FLOWMETAL_DB)")
        return sp

    sp = add("run", cmd_run, "Start a program and drive it until it ends, printing its output.",
             "flowmetal run job.flow --arg name=ada --virtual-time")
    sp.add_argument("file", help="the program's source file")
    sp.add_argument("--arg", action="append", metavar="KEY=VALUE",
                    help="an argument for main (VALUE is JSON, or else a string); repeatable")
    sp.add_argument("--virtual-time", action="store_true",
                    help="jump over sleeps and timeouts instead of waiting")

    sp = add("eval", cmd_eval, "Evaluate an expression in memory and print its value.",
             "flowmetal eval '(reduce + (range 10))'", db=False)
    sp.add_argument("expr", help="Flowmetal source text")

    sp = add("start", cmd_start, "Create a program without driving it; prints its ID.",
             "ID=$(flowmetal start job.flow)")
    sp.add_argument("file", help="the program's source file")
    sp.add_argument("--arg", action="append", metavar="KEY=VALUE",
                    help="an argument for main (VALUE is JSON, or else a string); repeatable")

    sp = add("resume", cmd_resume, "Drive a suspended program until it ends.",
             "flowmetal resume p-1a2b3c4d5e6f")
    sp.add_argument("id", help=_ID_HELP)
    sp.add_argument("--virtual-time", action="store_true",
                    help="jump over sleeps and timeouts instead of waiting")

    sp = add("ps", cmd_ps, "List programs and their status.", "flowmetal ps --status waiting")
    sp.add_argument("--status", help="only programs with this status")
    sp.add_argument("--limit", type=int, default=100,
                    help="show at most this many, newest first (default 100)")

    sp = add("show", cmd_show, "Show a program: status, result or error, what it waits for.",
             "flowmetal show p-1a2b3c4d5e6f")
    sp.add_argument("id", help=_ID_HELP)
    sp.add_argument("--json", action="store_true", help="machine-readable output")

    sp = add("log", cmd_log, "Print a program's event log.", "flowmetal log p-1a2b3c --json")
    sp.add_argument("id", help=_ID_HELP)
    sp.add_argument("--json", action="store_true", help="one JSON object per line")

    sp = add("send", cmd_send, "Send a named event (JSON) to a program, or deliver a callback.",
             "flowmetal send p-1a2b3c approval '{\"ok\": true}'")
    sp.add_argument("id", nargs="?", help=_ID_HELP)
    sp.add_argument("name", nargs="?", help="the event's name, as the program receives it")
    sp.add_argument("payload", nargs="?", metavar="JSON", help="the event's payload: JSON")
    sp.add_argument("--callback", nargs=2, metavar=("TOKEN", "JSON"),
                    help="deliver a callback result instead (at most once)")

    sp = add("cancel", cmd_cancel, "Cancel a program.", "flowmetal cancel p-1a2b3c")
    sp.add_argument("id", help=_ID_HELP)

    sp = add("recover", cmd_recover, "Choose a restart for a failed program, then drive it.",
             "flowmetal recover p-1a2b3c --use-value '{\"status\": 200}'")
    sp.add_argument("id", help=_ID_HELP)
    group = sp.add_mutually_exclusive_group()
    group.add_argument("--retry", action="store_true", help="retry the failed expression")
    group.add_argument("--use-value", metavar="JSON", help="make it return this value")
    group.add_argument("--abort", action="store_true", help="end the program as aborted")
    sp.add_argument("--no-run", action="store_true", help="record the choice, don't drive")
    sp.add_argument("--virtual-time", action="store_true",
                    help="jump over sleeps and timeouts instead of waiting")

    sp = add("replay", cmd_replay, "Replay a program's log and check it reproduces.",
             "flowmetal replay p-1a2b3c --verify")
    sp.add_argument("id", help=_ID_HELP)
    sp.add_argument("--verify", action="store_true", help="(the default) compare every step")

    sp = add("worker", cmd_worker, "Drive the store's programs: fire timers, run what is ready.",
             "flowmetal worker --db run.db")
    sp.add_argument("--until-idle", action="store_true",
                    help="stop once nothing can run without waiting")
    sp.add_argument("--poll", type=_positive(float), default=0.2, metavar="SECONDS",
                    help="the longest pause between looks at the store (default 0.2)")
    sp.add_argument("--lease", type=_positive(float), default=30.0, metavar="SECONDS",
                    help="how long a program stays leased to this worker per drive "
                         "(default 30)")
    sp.add_argument("--batch", type=_positive(int), default=20, metavar="N",
                    help="how many ready programs to claim at a time (default 20)")

    sp = add("repl", cmd_repl, "An interactive, durable REPL session.",
             "flowmetal repl --session scratch")
    sp.add_argument("--session", default="default", help="the session's name (default: default)")

    sp = add("debug", cmd_debug, "The time-travel debugger over a store's recorded runs.",
             "flowmetal debug run.db p-1a2b3c", db=False)
    sp.add_argument("store", nargs="?", help=f"an SQLite file or a postgresql:// URL "
                    f"(default ./{DEFAULT_DB})")
    sp.add_argument("program", nargs="?", help="open this program directly")
    sp.add_argument("--db", help=argparse.SUPPRESS)

    sp = add("export", cmd_export, "Write one run (code, log, snapshots) to a JSON file.",
             "flowmetal export p-1a2b3c run.json --forks")
    sp.add_argument("id", help=_ID_HELP)
    sp.add_argument("file", help="the JSON file to write")
    sp.add_argument("--forks", action="store_true",
                    help="also every fork made of the run in the debugger")

    sp = add("import", cmd_import, "Load a run exported with `flowmetal export` into a store.",
             "flowmetal import run.json --db postgresql://db.internal/flowmetal")
    sp.add_argument("file", help="a file written by `flowmetal export`")
    sp.add_argument("--as", dest="as_id", metavar="NEW-ID",
                    help="import the run under this ID (its forks get new IDs if theirs "
                    "are taken)")

    sp = add("upgrade", cmd_upgrade, "Switch a program to new code if its log replays on it.",
             "flowmetal upgrade p-1a2b3c job-v2.flow")
    sp.add_argument("id", help=_ID_HELP)
    sp.add_argument("file", help="the new source file")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return 1
    try:
        return args.fn(args)
    except FlowmetalError as exc:
        err.print(str(exc), markup=False)
        return 1
    except (StoreError, UsageError) as exc:
        err.print(f"error: {exc}", markup=False)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
