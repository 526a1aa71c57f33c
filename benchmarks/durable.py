"""The durability benchmarks (issue 3): the runtime on an SQLite store in files.

(a) ``effects``: durable effects per second against raw one-row SQLite commits with the
    same pragmas, in the same directory; and how many commits each effect costs.
(b) ``resume``: the time to load and resume a program with a long history against one
    with a short one (the history made of output events, and of applied timer events).
(c) ``suspended``: many programs suspended in one file; driving the due ones must load
    only those, use no more memory with more programs around, and find due timers
    through an index.

Setup (building long histories, creating thousands of programs) runs with
``synchronous=NORMAL`` to save time and is never timed; every measured store is opened
with the defaults (WAL, ``synchronous=FULL``). Each repeat of (b) and (c) works on a
fresh copy of a prepared file, so every repeat resumes the same state.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flowmetal.lang import load
from flowmetal.lang.data import Map, kw
from flowmetal.runtime.clock import VirtualClock
from flowmetal.runtime.codec import to_json
from flowmetal.runtime.executor import Executor, new_program_id
from flowmetal.runtime.runtime import Runtime, Waiting
from flowmetal.runtime.worker import Worker
from flowmetal.store import Commit, SqliteStore, open_store

from .harness import (
    Context,
    Row,
    Suite,
    fmt_bytes,
    fmt_int,
    fmt_rate,
    fmt_time,
    paired,
    timed,
)

PROGRAMS = Path(__file__).resolve().parent / "programs"
T0 = 1767225600.0  # 2026-01-01T00:00:00Z: virtual time starts here, so runs are repeatable


def program_text(name: str) -> str:
    return (PROGRAMS / name).read_text(encoding="utf-8")


def scratch(ctx: Context, name: str) -> Path:
    d = Path(ctx.workdir) / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def copy_store(src: Path, dst: Path) -> Path:
    """Copy a closed store file (and any WAL left beside it) to a fresh path."""
    for suffix in ("-wal", "-shm"):
        Path(str(dst) + suffix).unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    for suffix in ("-wal", "-shm"):
        if Path(str(src) + suffix).exists():
            shutil.copyfile(str(src) + suffix, str(dst) + suffix)
    return dst


class StatementCounter:
    """A store ``tracer=`` that counts the SQL statements by their first word."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.texts: dict[str, Sequence[Any]] = {}
        self.keep_texts = False

    def __call__(self, sql: str, params: Sequence[Any]) -> None:
        self.counts[sql.split(None, 1)[0].upper()] += 1
        if self.keep_texts:
            self.texts.setdefault(sql, params)

    def reset(self) -> None:
        self.counts.clear()
        self.texts.clear()


# -- (a) durable effects per second -----------------------------------------------------


class RawCommits:
    """The baseline: one-row SQLite commits, same pragmas as the store, same directory."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("CREATE TABLE IF NOT EXISTS log ("
                          "id INTEGER PRIMARY KEY, at REAL NOT NULL, data TEXT NOT NULL)")
        self.row = '{"type":"requested","key":"17","kind":"sleep","due":1767225600.0}'
        self.cpu: list[float] = []  # CPU seconds per commit, one entry per measurement

    def commits_per_second(self, n: int) -> float:
        x = self.conn.execute

        def commits() -> None:
            for _ in range(n):
                x("BEGIN IMMEDIATE")
                x("INSERT INTO log (at, data) VALUES (?, ?)", (time.time(), self.row))
                x("COMMIT")

        cpu = time.process_time()
        seconds = timed(commits)
        self.cpu.append((time.process_time() - cpu) / n)
        return n / seconds

    def close(self) -> None:
        self.conn.close()


class StoreCommits:
    """What the store's commits of an effect cost without the interpreter: commits shaped
    like those of ``sleeps.flow`` (its two events, a snapshot of the same size, one timer
    replaced by the next) made with ``store.commit`` on a program of their own. Between the
    raw rate and the effect rate, it tells the schema's share (the pages a commit writes)
    from the runtime's (running the machine and encoding its state)."""

    def __init__(self, store: Any, snapshot: bytes) -> None:
        self.store, self.snapshot = store, snapshot
        self.pid = new_program_id()
        self.seq = store.create_program(self.pid, name="commits", kind="program",
                                        code_hash=None, args={}).last_seq

    def commits_per_second(self, n: int) -> float:
        def commits() -> None:
            seq = self.seq
            for _ in range(n):
                fired, key = str(seq), str(seq + 2)
                self.seq = self.store.commit(self.pid, Commit(
                    expected_seq=seq, status="waiting", snapshot=self.snapshot,
                    snapshot_step=seq, events=[
                        ("timer-fired", {"key": fired, "due_at": T0}),
                        ("requested", {"key": key, "kind": "sleep",
                                       "request": {":seconds": 0.0}, "due": T0})],
                    waiting=[{"fiber": 0, "kind": "effect", "effect": "sleep",
                              "request": {":seconds": 0.0}}],
                    cancel_timers=[fired], new_timers=[(key, T0)]))
                seq = self.seq

        return n / timed(commits)


def wal_frames(path: Path, action: Callable[[], object]) -> int:
    """How many pages (WAL frames) ``action`` writes to the database at ``path``.

    The WAL is emptied first (a TRUNCATE checkpoint), so afterwards its frame count is
    what the action appended, provided it stays below the auto-checkpoint size.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        action()
        return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    finally:
        conn.close()


def run_effects(ctx: Context) -> list[Row]:
    n = ctx.size("effects_n")
    d = scratch(ctx, "effects")
    text = program_text("sleeps.flow")
    raw = RawCommits(d / "raw.db")
    cpu_per_effect: list[float] = []

    def run_program(rt: Runtime, count: int = n) -> Callable[[], float]:
        """A fresh program started in ``rt``, and a callable that drives it to the end
        and returns the CPU seconds that took."""
        pid = rt.start(text, "sleeps.flow", {"n": count})

        def drive() -> float:
            cpu = time.process_time()
            rec = rt.run(pid)
            if getattr(rec, "status", None) != "done" or rec.result != count:
                raise AssertionError(f"sleeps.flow ended as {rec!r}")
            return time.process_time() - cpu

        return drive

    # Counted, untimed: the same run through a store whose tracer sees every statement.
    # It also warms up: the code is compiled and cached, and the WAL file grows to its
    # steady size. Until the WAL first wraps around (after 1,000 pages, the auto-checkpoint
    # size), every commit also extends the file and pays for a metadata sync: the raw side,
    # at one page per commit, needs a few thousand commits for that, and before it its
    # rate is half its steady rate.
    counter = StatementCounter()
    counter.keep_texts = True
    counted = open_store(d / "flow.db", tracer=counter)
    try:
        drive = run_program(Runtime(counted, virtual_time=True))
        counter.reset()  # count the drive only, not the start
        drive()
    finally:
        counted.close()
    raw.commits_per_second(max(n, 3000))
    raw.cpu.clear()
    counts = counter.counts

    store = open_store(d / "flow.db")
    rt = Runtime(store, virtual_time=True)

    def ours() -> float:
        drive = run_program(rt)
        seconds = timed(lambda: cpu_per_effect.append(drive() / n))
        return n / seconds

    try:
        effects, commits = paired(ours, lambda: raw.commits_per_second(n), ctx.repeat)
        ctx.profile_once(f"effects (Runtime.run of {n:,} x (sleep 0))",
                         lambda: run_program(rt)())
        few = min(n, 50)  # few enough that no auto-checkpoint empties the WAL meanwhile
        drive = run_program(rt, few)
        pages = wal_frames(d / "flow.db", drive) / few
        raw_pages = wal_frames(d / "raw.db", lambda: raw.commits_per_second(few)) / few
        waiting = rt.start(text, "sleeps.flow", {"n": n})
        rt.drive(waiting)  # to its first sleep: a snapshot like those an effect commits
        alone = StoreCommits(store, store.latest_snapshot(waiting).state)
        alone.commits_per_second(n)  # its program's first block of events, untimed
        stored, raw_again = paired(lambda: alone.commits_per_second(n),
                                   lambda: raw.commits_per_second(n), ctx.repeat)
    finally:
        raw.close()
        store.close()
    per_effect = counts["COMMIT"] / n
    ratio = effects / commits
    overhead = 1 / effects - 1 / commits
    ctx.note(f"effects: {counts['COMMIT']:,} commits ({counts['BEGIN']:,} BEGIN) for {n:,} "
             f"effects = {per_effect:.3f} commits/effect (the last one records completion); "
             f"{sum(counts.values()) / n:.1f} SQL statements/effect; "
             f"{fmt_time(overhead)} per effect beyond one raw commit; CPU (user+sys) "
             f"{fmt_time(statistics.median(cpu_per_effect))} per effect vs "
             f"{fmt_time(statistics.median(raw.cpu))} per raw commit; "
             f"{pages:.1f} WAL pages written per effect vs {raw_pages:.1f} per raw commit")
    ctx.note(f"effects: store.commit alone, shaped like an effect's commit (two events, a "
             f"{fmt_bytes(len(alone.snapshot))} snapshot, a timer replaced), no interpreter: "
             f"{fmt_rate(stored, 'commit')} vs {fmt_rate(raw_again, 'commit')} raw = "
             f"{stored / raw_again:.2f}x: the schema's share; the rest of the gap to the "
             f"effect rate is running the machine and encoding its state")
    scans = [line for p in explain(d / "flow.db", counter.texts).values()
             for line in full_scans(p)]
    ctx.note("effects: full table scans among the statements of the effect path: "
             + (", ".join(sorted(set(scans))) if scans else "none"))
    return [Row("durability", "(a) durable effects/s vs raw commits/s",
                f"{fmt_int(n)} x (sleep 0)", fmt_rate(effects, "eff"),
                fmt_rate(commits, "commit"), ratio, ">= 0.5x", ratio >= 0.5),
            Row("durability", "(a) commits per durable effect", f"{fmt_int(n)} x (sleep 0)",
                f"{fmt_int(counts['COMMIT'])} commits", f"{fmt_int(n)} effects", per_effect,
                "<= 1x (+1 to finish)", counts["COMMIT"] <= n + 1)]


# -- (b) resume time against history length --------------------------------------------


def prepare_history(path: Path, flow: str, n: int) -> tuple[str, int]:
    """Run ``flow`` with ``n`` until it waits for its message; returns (id, events)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    store = open_store(path, synchronous="NORMAL")
    rt = Runtime(store, clock=VirtualClock(start=T0))
    pid = rt.start(program_text(flow), flow, {"n": n})
    out = rt.run(pid, until=lambda rec: True)
    if not isinstance(out, Waiting):
        raise AssertionError(f"{flow} did not wait for its message: {out!r}")
    events = out.program.last_seq
    store.close()
    return pid, events


class Resume:
    """Times, on fresh copies of a prepared file, ``Executor.load`` and a whole resume
    (a drive after sending the message the program waits for)."""

    def __init__(self, template: Path, pid: str, work: Path) -> None:
        self.template, self.pid, self.work = template, pid, work
        self.loads: list[float] = []
        self.snapshot_bytes = 0
        self.events_read = 0

    def fresh_store(self) -> SqliteStore:
        store = open_store(copy_store(self.template, self.work))
        assert isinstance(store, SqliteStore)
        return store

    def once(self) -> float:
        store = self.fresh_store()
        try:
            rec = store.get_program(self.pid)
            self.loads.append(timed(lambda: Executor(store).load(rec)))
            self.snapshot_bytes = len(store.latest_snapshot(self.pid).state)
            store.append_input(self.pid, "message", {"name": "go", "payload": 1})
            read = count_events(store)
            ex = Executor(store)  # a new process's executor: nothing cached
            seconds = timed(lambda: self.drive(ex))
            self.events_read = read[0]
            return seconds
        finally:
            store.close()

    def drive(self, ex: Executor) -> None:
        rec = ex.drive(self.pid).program
        if rec.status != "done":
            raise AssertionError(f"resume ended as {rec.status}: {rec.error}")


def count_events(store: SqliteStore) -> list[int]:
    """Wrap ``store.events`` to count the event records it returns."""
    read = [0]
    inner = store.events

    def events(*args: Any, **kwargs: Any) -> Any:
        got = inner(*args, **kwargs)
        read[0] += len(got)
        return got

    store.events = events  # type: ignore[method-assign]
    return read


def resume_rows(ctx: Context, label: str, flow: str, events_per_n: int, big: int, small: int
                ) -> list[Row]:
    d = scratch(ctx, "resume")
    stem = Path(flow).stem
    sides = {}
    for events in (big, small):
        template = d / f"{stem}-{events}.db"
        n = max(0, -(-(events - 1) // events_per_n))  # started + n x events_per_n >= events
        pid, actual = prepare_history(template, flow, n)
        sides[events] = (Resume(template, pid, d / f"{stem}-{events}-run.db"), actual)
    (rb, eb), (rs, es) = sides[big], sides[small]
    t_big, t_small = paired(rb.once, rs.once, ctx.repeat)
    l_big, l_small = sorted(rb.loads)[len(rb.loads) // 2], sorted(rs.loads)[len(rs.loads) // 2]
    ctx.profile_once(f"resume after {eb:,} {label} events (copy the file, load, send, drive)",
                     rb.once)
    ctx.note(f"resume ({label}): {fmt_int(eb)} vs {fmt_int(es)} events in the log; the "
             f"resuming drive read {fmt_int(rb.events_read)} vs {fmt_int(rs.events_read)} "
             f"events; snapshot {fmt_bytes(rb.snapshot_bytes)} vs "
             f"{fmt_bytes(rs.snapshot_bytes)}")
    size = f"{fmt_int(eb)} vs {fmt_int(es)} events"
    ratio, lratio = t_big / t_small, l_big / l_small
    return [Row("durability", f"(b) resume after {label} history", size, fmt_time(t_big),
                fmt_time(t_small), ratio, "<= 2x", ratio <= 2),
            Row("durability", f"(b) Executor.load, {label} history", size, fmt_time(l_big),
                fmt_time(l_small), lratio, "<= 2x", lratio <= 2)]


def run_resume(ctx: Context) -> list[Row]:
    small = ctx.size("resume_small")
    return (resume_rows(ctx, "output", "history.flow", 1, ctx.size("resume_big"), small)
            + resume_rows(ctx, "timer", "timer_history.flow", 2, ctx.size("resume_timer_big"),
                          small))


# -- (c) many suspended programs in one file -------------------------------------------


def prepare_suspended(path: Path, total: int, due: int) -> set[str]:
    """A store with ``total`` suspended programs: ``due`` wait on a timer one second after
    T0, the others on a timer a year away or on a message that never comes. Returns the
    ids of the due ones."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    store = open_store(path, synchronous="NORMAL")
    clock = VirtualClock(start=T0)
    text = program_text("waiter.flow")
    unit = load(text, "waiter.flow")
    Executor(store, clock=clock).save_code(unit, text)
    every = max(1, total // due)
    due_ids: set[str] = set()
    ex = Executor(store, clock=clock)
    for i in range(total):
        if i % 1000 == 0:
            ex = Executor(store, clock=clock)  # drop the machines it keeps for next time
        if i % every == 0 and len(due_ids) < due:
            delay: float | None = 1
        else:
            delay = 365 * 86400 if i % 2 else None
        pid = new_program_id()
        args = to_json(Map({kw("delay"): delay}))
        store.create_program(pid, name="waiter", kind="program", code_hash=unit.hash,
                             args=args, events=[("started", {"code_hash": unit.hash,
                                                             "source": "waiter.flow",
                                                             "args": args})])
        if ex.drive(pid).program.status != "waiting":
            raise AssertionError("a waiter did not suspend")
        if delay == 1:
            due_ids.add(pid)
    store.close()
    return due_ids


class DriveDue:
    """Drives the due programs of a fresh copy of a prepared file with a ``Worker``, the
    way ``flowmetal worker`` does, counting the snapshots it loads."""

    def __init__(self, template: Path, due: set[str], work: Path) -> None:
        self.template, self.due, self.work = template, due, work
        self.loaded: list[str] = []

    def run(self, *, measure: str = "time", tracer: Callable | None = None) -> float:
        """Seconds taken (``measure="time"``) or peak traced bytes (``"memory"``)."""
        store = open_store(copy_store(self.template, self.work), tracer=tracer)
        loaded: list[str] = []
        inner = store.latest_snapshot

        def latest_snapshot(program_id: str) -> Any:
            loaded.append(program_id)
            return inner(program_id)

        store.latest_snapshot = latest_snapshot  # type: ignore[method-assign]
        worker = Worker(store, clock=VirtualClock(start=T0 + 60))
        try:
            if measure == "memory":
                tracemalloc.start()
                try:
                    self.loop(worker)
                    figure = float(tracemalloc.get_traced_memory()[1])
                finally:
                    tracemalloc.stop()
            else:
                figure = timed(lambda: self.loop(worker))
        finally:
            store.close()
        if worker.stats.drives != len(self.due):
            raise AssertionError(f"drove {worker.stats.drives} programs, {len(self.due)} due")
        self.loaded = loaded
        return figure

    @staticmethod
    def loop(worker: Worker) -> None:
        while worker.step():
            pass


def explain(path: Path, statements: dict[str, Sequence[Any]]) -> dict[str, list[str]]:
    """EXPLAIN QUERY PLAN of each reading statement, by its SQL text."""
    conn = sqlite3.connect(path)
    try:
        plans = {}
        for sql, params in statements.items():
            if sql.split(None, 1)[0].upper() not in ("SELECT", "UPDATE", "DELETE"):
                continue
            rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            plans[sql] = [r[-1] for r in rows]
        return plans
    finally:
        conn.close()


def full_scans(plan: list[str]) -> list[str]:
    """Plan lines that read a whole table (``SCAN t`` with no index to narrow it)."""
    return [line for line in plan if line.startswith("SCAN ") and "INDEX" not in line
            and line.split()[1] not in _SCHEMA_TABLES]


_SCHEMA_TABLES = {"sqlite_master", "sqlite_schema", "meta"}  # read once when a store opens


def run_suspended(ctx: Context) -> list[Row]:
    small, big, due = (ctx.size("suspended_small"), ctx.size("suspended_big"),
                       ctx.size("suspended_due"))
    d = scratch(ctx, "suspended")
    runs = {}
    for total in (big, small):
        template = d / f"waiters-{total}.db"
        t0 = time.perf_counter()
        ids = prepare_suspended(template, total, due)
        ctx.note(f"suspended: prepared {fmt_int(total)} suspended programs in "
                 f"{fmt_time(time.perf_counter() - t0)} (synchronous=NORMAL, untimed); "
                 f"file {fmt_bytes(os.path.getsize(template))}")
        runs[total] = DriveDue(template, ids, d / f"waiters-{total}-run.db")
    rb, rs = runs[big], runs[small]
    t_big, t_small = paired(rb.run, rs.run, ctx.repeat)
    m_big, m_small = (rb.run(measure="memory"), rs.run(measure="memory"))
    loaded, others = len(rb.loaded), len(set(rb.loaded) - rb.due)
    ctx.profile_once(f"suspended: a worker drives {due:,} due of {big:,}", rb.run)

    tracer = StatementCounter()
    tracer.keep_texts = True
    rb.run(tracer=tracer)
    plans = explain(rb.template, tracer.texts)
    due_sql = [s for s in plans if "FROM programs" in s and "next_timer_at <=" in s]
    due_plan = plans[due_sql[0]] if due_sql else ["(the due-timer query was not issued)"]
    indexed = bool(due_sql) and any("USING" in p and "INDEX" in p for p in due_plan) \
        and not full_scans(due_plan)
    ctx.note("suspended: due-timer query plan: " + "; ".join(due_plan))
    ctx.note(f"suspended: the worker loop made {tracer.counts['COMMIT']:,} commits for "
             f"{due} due programs ({tracer.counts['COMMIT'] / due:.2f} per program: fire, "
             f"claim, drive, release)")
    scans = {s: full_scans(p) for s, p in plans.items() if full_scans(p)}
    ctx.note(f"suspended: the worker issued {len(tracer.texts)} distinct statements, "
             f"{len(plans)} reads/updates; full table scans: "
             + ("none" if not scans else "; ".join(
                 f"{' '.join(s.split())[:80]}... -> {', '.join(v)}" for s, v in scans.items())))

    size = f"{fmt_int(big)} vs {fmt_int(small)} programs, {due} due"
    mratio, tratio = m_big / m_small, t_big / t_small
    return [
        Row("durability", "(c) snapshot loads / due programs",
            f"{due} due of {fmt_int(big)}", f"{loaded} loads", f"{len(rb.due)} due",
            loaded / len(rb.due), f"= 1x, others {others}", loaded == len(rb.due)
            and others == 0),
        Row("durability", "(c) memory peak driving the due ones", size, fmt_bytes(m_big),
            fmt_bytes(m_small), mratio, "<= 1.25x", mratio <= 1.25),
        Row("durability", "(c) time to drive the due ones", size, fmt_time(t_big),
            fmt_time(t_small), tratio, "", None),
        Row("durability", "(c) due timers found through an index", "programs_next_timer",
            "index" if indexed else "SCAN", "", None, "uses an index", indexed),
    ]


SUITES = [
    Suite("effects", "durability",
          "(a) N x (sleep 0) via Runtime.run against raw one-row SQLite commits", run_effects),
    Suite("resume", "durability",
          "(b) load+resume after a long history against a short one", run_resume),
    Suite("suspended", "durability",
          "(c) many suspended programs: loads, memory and the timer index", run_suspended),
]
