"""Regenerate the recorded runs in sample_logs/: ``python sample_logs/make_samples.py``.

Each scenario runs a program from ``sample_logs/programs/`` in a fresh SQLite store and
plays the outside world itself: a fake HTTP service and foreign-function workers complete
the program's outbox tasks through the store, a "manager" answers a callback, an operator
picks a restart. Everything is deterministic: a virtual clock starting at
2026-01-01T00:00:00Z stamps both the program's time and the store's rows, program ids are
``p-<scenario>``, and callback tokens and random values come from a seeded generator. So
running this again gives the same logs, and the screenshots in docs/debugger.md stay put.

The files (open any with ``flowmetal debug sample_logs/approval.db``):

- approval.db      an approval with a webhook and a callback (plus a fork of it)
- http_retries.db  HTTP calls against a flaky service, retried with backoff
- fanout.db        concurrent foreign calls, fan-out and fan-in
- recovery.db      a failure, recovered with the ``retry`` restart
- long_loop.db     a long loop: several hundred thousand steps with a pause halfway
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import time as _time
import uuid as _uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flowmetal.lang.data import Map, kw  # noqa: E402
from flowmetal.runtime import executor as _executor  # noqa: E402
from flowmetal.runtime import runtime as _runtime  # noqa: E402
from flowmetal.runtime.clock import VirtualClock  # noqa: E402
from flowmetal.runtime.codec import from_plain  # noqa: E402
from flowmetal.runtime.forks import drive_fork, replace_input  # noqa: E402
from flowmetal.runtime.runtime import Runtime  # noqa: E402
from flowmetal.runtime.timeline import Timeline  # noqa: E402
from flowmetal.store import _sqlite, open_store  # noqa: E402

START = 1767225600.0  # 2026-01-01T00:00:00Z
SCENARIOS: dict[str, Callable[[Runtime], None]] = {}


# -- determinism ----------------------------------------------------------------------------


class _StoreTime:
    """Stands in for the ``time`` module inside the store: rows are stamped with the
    virtual clock; waiting (busy timeouts) still uses the real one."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def time(self) -> float:
        return self.clock.now()

    monotonic = staticmethod(_time.monotonic)
    sleep = staticmethod(_time.sleep)


class _Secrets:
    """Seeded stand-ins for the ``secrets`` functions the executor uses."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def token_urlsafe(self, n: int = 16) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
        return "".join(self.rng.choice(alphabet) for _ in range(max(8, n * 4 // 3)))

    def token_hex(self, n: int = 16) -> str:
        return f"{self.rng.getrandbits(n * 8):0{n * 2}x}"

    def randbelow(self, n: int) -> int:
        return self.rng.randrange(n)

    def randbits(self, k: int) -> int:
        return self.rng.getrandbits(k)


class _Uuid:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def uuid4(self) -> _uuid.UUID:
        return _uuid.UUID(int=self.rng.getrandbits(128), version=4)


@contextmanager
def deterministic(name: str, clock: VirtualClock) -> Iterator[None]:
    """Patch the id, token, random and time sources for one scenario; restore them after."""
    rng = random.Random(name)
    counter = iter(range(1, 10_000))

    def program_id() -> str:
        n = next(counter)
        return f"p-{name}" if n == 1 else f"p-{name}-{n}"

    saved = (_runtime.new_program_id, _executor.new_program_id, _executor.secrets,
             _executor._uuid, _sqlite.time)
    _runtime.new_program_id = program_id
    _executor.new_program_id = program_id
    _executor.secrets = _Secrets(rng)
    _executor._uuid = _Uuid(rng)
    _sqlite.time = _StoreTime(clock)
    try:
        yield
    finally:
        (_runtime.new_program_id, _executor.new_program_id, _executor.secrets,
         _executor._uuid, _sqlite.time) = saved


# -- playing the outside world ----------------------------------------------------------------


def settle(rt: Runtime, pid: str, *, timers: bool = True) -> str:
    """Drive until the program waits on the outside world (or ends). With ``timers``, due
    and future timers fire in virtual time; without, only those already due."""
    ex, store, clock = rt.executor, rt.store, rt.clock
    fire: dict[str, float] = {}
    while True:
        rec = ex.drive(pid, fire=fire).program
        fire = {}
        if rec.finished or rec.status == "failed":
            return rec.status
        if rec.status == "ready":
            continue
        pending = store.list_timers(pid)
        due = [t for t in pending if t.due_at <= clock.now()]
        if not due and timers and pending:
            clock.advance_to(min(t.due_at for t in pending))
            due = [t for t in pending if t.due_at <= clock.now()]
        if not due:
            return rec.status
        fire = {t.key: t.due_at for t in due}


def serve_tasks(rt: Runtime, kind: str, answer: Callable[[Any], tuple[bool, Any]],
                *, order: Callable[[list[Any]], list[Any]] | None = None) -> int:
    """Claim the pending tasks of ``kind`` and complete each with ``answer(request)``."""
    tasks = rt.store.claim_tasks(kinds=[kind], worker=f"fake-{kind}", lease_seconds=60,
                                 now=rt.clock.now())
    if order is not None:
        tasks = order(tasks)
    for task in tasks:
        ok, value = answer(task.request)
        rt.store.complete_task(task.id, ok=ok, value=value, worker=f"fake-{kind}")
    return len(tasks)


def later(rt: Runtime, seconds: float) -> None:
    rt.clock.advance_to(rt.clock.now() + seconds)


def start(rt: Runtime, program: str, args: dict[str, Any]) -> str:
    """Start ``sample_logs/programs/<program>.flow`` with ``main`` given ``args`` (a map
    with keyword keys; the values as JSON data would arrive)."""
    rel = f"sample_logs/programs/{program}.flow"
    value = Map((kw(k), from_plain(v)) for k, v in args.items())
    return rt.start((ROOT / rel).read_text(encoding="utf-8"), rel, value, name=program)


# -- the scenarios -----------------------------------------------------------------------------


def scenario(fn: Callable[[Runtime], None]) -> Callable[[Runtime], None]:
    SCENARIOS[fn.__name__] = fn
    return fn


@scenario
def approval(rt: Runtime) -> None:
    pid = start(rt, "approval", {"id": "exp-42", "amount": 350})
    settle(rt, pid, timers=False)  # waits for the webhook post and the callback
    later(rt, 2)
    serve_tasks(rt, "http", lambda req: (True, {"status": 200, "json": {"ok": True}}))
    settle(rt, pid, timers=False)
    later(rt, 2 * 3600)  # the manager answers two hours later
    token = rt.store.list_callbacks(pid)[0].token
    rt.store.complete_callback(token, {"approved": True, "by": "dana"})
    settle(rt, pid, timers=False)
    later(rt, 5)
    serve_tasks(rt, "call", lambda req: (True, {"receipt": "rcpt-0042"}))
    settle(rt, pid)
    # A what-if, as the debugger makes one: the manager refuses instead (a fork).
    tl = Timeline(rt.store, pid)
    tl.build()
    answer = next(e for e in tl.events if e.type == "callback")
    fid = replace_input(tl, rt.store, answer.seq, {**answer.data, "value": {
        "approved": False, "by": "dana"}}, program_id="p-approval-refused")
    drive_fork(rt.store, fid, {})


@scenario
def http_retries(rt: Runtime) -> None:
    pid = start(rt, "http_retries", {"order": 7})
    replies = {
        "/orders/7": [
            (True, {"status": 503, "json": None}),
            (False, {"message": "connection reset by peer", "type": "http-error"}),
            (True, {"status": 200, "json": {"id": 7, "sku": "B-12"}}),
        ],
        "/stock/B-12": [
            (True, {"status": 502, "json": None}),
            (True, {"status": 200, "json": {"sku": "B-12", "available": 3}}),
        ],
    }

    def service(req: Any) -> tuple[bool, Any]:
        path = str(req.get(":url", "")).split("example.test", 1)[-1]
        queue = replies.get(path)
        return queue.pop(0) if queue else (True, {"status": 404, "json": None})

    for _ in range(10):
        if settle(rt, pid) in ("done", "failed"):
            break
        later(rt, 1)
        serve_tasks(rt, "http", service)


@scenario
def fanout(rt: Runtime) -> None:
    items = ["alpha", "bravo", "charlie", "delta", "echo"]
    pid = start(rt, "fanout", {"items": items})
    settle(rt, pid, timers=False)
    scores = {"alpha": 7, "bravo": 3, "charlie": 9, "delta": 4, "echo": 6}
    later(rt, 30)
    tasks = rt.store.claim_tasks(kinds=["call"], worker="fake-scorer", lease_seconds=600,
                                 now=rt.clock.now())
    by_item = {t.request[":args"][0]: t for t in tasks}
    # The workers answer out of order: the fan-in still lines the results up by item.
    for batch in (["delta", "bravo"], ["echo", "alpha", "charlie"]):
        for item in batch:
            rt.store.complete_task(by_item[item].id, ok=True, value=scores[item],
                                   worker="fake-scorer")
        settle(rt, pid, timers=False)
        later(rt, 45)


@scenario
def recovery(rt: Runtime) -> None:
    pid = start(rt, "recovery", {"id": "ord-9", "card": "tok_visa", "amount": 1999})
    settle(rt, pid)
    later(rt, 30)
    serve_tasks(rt, "call", lambda req: (False, {"message": "card processor timed out",
                                                 "type": "gateway-timeout"}))
    settle(rt, pid)  # the program is now failed, offering restarts
    later(rt, 600)
    rt.recover(pid, "retry")  # an operator retries the charge
    settle(rt, pid)
    later(rt, 3)
    serve_tasks(rt, "call", lambda req: (True, {"id": "ch_3N7x"}))
    settle(rt, pid)


@scenario
def long_loop(rt: Runtime) -> None:
    pid = start(rt, "long_loop", {"limit": 2000})
    settle(rt, pid)


# -- writing the files -------------------------------------------------------------------------


def make(name: str, out_dir: Path = HERE, after: Callable[[Runtime, str], None] | None = None
         ) -> Path:
    """Run one scenario into ``out_dir/<name>.db`` (replacing it); returns the path."""
    path = out_dir / f"{name}.db"
    tmp = out_dir / f".{name}.db.tmp"
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        if p.exists():
            p.unlink()
    clock = VirtualClock(start=START)
    with deterministic(name, clock):
        store = open_store(tmp, synchronous="NORMAL")
        rt = Runtime(store, clock=clock)
        SCENARIOS[name](rt)
        if after is not None:
            after(rt, f"p-{name}")
        store.close()
    # One self-contained file: fold the WAL in and leave journal mode DELETE, so opening it
    # read-only needs no -wal or -shm files next to it (and leaves none behind).
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA journal_mode = DELETE")
    con.execute("VACUUM")
    con.close()
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(SCENARIOS)
    for name in names:
        if name not in SCENARIOS:
            print(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
            return 1
        path = make(name)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
