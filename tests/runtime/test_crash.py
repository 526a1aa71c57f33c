"""THE crash test: kill -9 a process driving programs, at many random moments, restart it,
and check that every program ends exactly as in an uninterrupted run.

The driver (``crash_driver.py``) fires timers, drives programs and plays an outside worker
for ``call`` tasks. This test starts it, waits until the store shows it has made some
progress (a random number of new events, found by polling the store), lets a small random
delay pass, and sends SIGKILL; then starts it again. After at most ``MAX_KILLS`` kills (or
``KILL_BUDGET`` seconds) it lets a last driver finish. Bounded: well under two minutes.

Then, against a reference run of the same programs in a separate store, every program has
the same status, result and output, and the same log (the same events, in the same order);
no log has a gap, records an effect twice or applies an answer twice; every outbox task
carries the idempotency key ``program:key`` of the request that made it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from flowmetal.runtime import Runtime
from flowmetal.store import INPUT_EVENT_TYPES, EventRecord, Store, open_store

from . import crash_driver
from .conftest import check_log, outputs

DRIVER = Path(crash_driver.__file__)
MAX_KILLS = 30
KILL_BUDGET = 30.0  # seconds of killing; then one last driver runs to the end
FINISH_TIMEOUT = 30.0


def _total_events(store: Store) -> int:
    return sum(p.last_seq for p in store.list_programs())


def _all_finished(store: Store) -> bool:
    programs = store.list_programs()
    return bool(programs) and all(p.finished or p.status == "failed" for p in programs)


def _log_shape(store: Store, pid: str, racing: bool = False) -> list[tuple]:
    """A log with program ids (children, spawn values) and times left out.

    Inputs that arrive between two of the program's own steps may arrive in any order when
    they answer concurrent waits (children that end while the parent awaits the first), so
    each such run of inputs is compared as a sorted group; the program's own events (its
    effects, output and end) must come in exactly the same order.

    With ``racing`` drivers, each with its own virtual clock, one driver may jump its clock
    to the next timer and fire it while another's firing of the previous one still waits
    for the program's step: two concurrent waits then wake in one group rather than in two.
    So there the inputs are compared as one sorted multiset (none lost, none twice) and the
    program's own events, still, in exactly the same order.
    """
    if racing:
        events = store.events(pid)
        own = [_event_shape(e) for e in events if e.type not in INPUT_EVENT_TYPES]
        inputs = [_event_shape(e) for e in events if e.type in INPUT_EVENT_TYPES]
        return [*own, ("inputs", sorted(inputs, key=repr))]
    shape: list = []
    inputs: list[tuple] = []
    for e in store.events(pid):
        if e.type in INPUT_EVENT_TYPES:
            inputs.append(_event_shape(e))
            continue
        if inputs:
            shape.append(("inputs", sorted(inputs, key=repr)))
            inputs = []
        shape.append(_event_shape(e))
    if inputs:
        shape.append(("inputs", sorted(inputs, key=repr)))
    return shape


def _event_shape(e: EventRecord) -> tuple:
    d = e.data or {}
    if e.type == "effect" and d.get("kind") == "spawn":
        return (e.type, d["key"], d["kind"], d["request"])
    if e.type in ("effect", "requested"):
        return (e.type, d["key"], d["kind"], d["request"], d.get("value"))
    if e.type in ("effect-completed", "effect-failed"):
        return (e.type, d["key"], d.get("value"), d.get("error"))
    if e.type == "timer-fired":
        return (e.type, d["key"])
    if e.type == "child-completed":
        return (e.type, d["ok"], d["value"])
    if e.type == "started":
        return (e.type, d.get("function") or d.get("source"))
    return (e.type, d.get("value"))


def _by_name(store: Store) -> dict[str, list[str]]:
    """Program ids by name; the children of a parent, in the order it spawned them."""
    names: dict[str, list[str]] = {}
    for p in sorted(store.list_programs(), key=lambda p: (p.created_at, p.id)):
        names.setdefault(p.name, []).append(p.id)
    for name, ids in names.items():
        if len(ids) > 1:  # children: order them by the parent's spawn events
            parent = names[name.split("/")[0]][0]
            order = [e.data["value"][":program"] for e in store.events(parent, types=["effect"])
                     if e.data["kind"] == "spawn"]
            names[name] = sorted(ids, key=order.index)
    return names


def _reference(tmp_path: Path) -> tuple[Store, list[str]]:
    store = open_store(str(tmp_path / "reference.db"))
    crash_driver.create_programs(store)
    performed: list[str] = []
    crash_driver.drive_all(store, performed)
    return store, performed


def _kill_repeatedly(db: Path, performed_log: Path, rng: random.Random) -> dict[str, int]:
    """Start and SIGKILL the driver until the budget is spent; then let one finish."""
    watch = open_store(str(db))
    figures = {"kills": 0, "starts": 0, "killed_before_progress": 0}
    stderr = open(db.with_suffix(".stderr"), "ab")
    started = time.monotonic()
    try:
        while figures["kills"] < MAX_KILLS and time.monotonic() - started < KILL_BUDGET:
            if _all_finished(watch):
                break
            before = _total_events(watch)
            proc = subprocess.Popen([sys.executable, str(DRIVER), str(db), str(performed_log)],
                                    stdout=subprocess.DEVNULL, stderr=stderr)
            figures["starts"] += 1
            # Kill after a random amount of progress, seen in the store, then a random
            # small delay; now and then before any progress (while it starts up).
            wanted = rng.choice([0, 1, 2, 3, 5, 8, 13])
            if wanted == 0:
                figures["killed_before_progress"] += 1
            deadline = time.monotonic() + 10
            while (proc.poll() is None and _total_events(watch) < before + wanted
                   and time.monotonic() < deadline):
                time.sleep(0.001)
            if proc.poll() is not None:
                assert proc.returncode == 0, db.with_suffix(".stderr").read_text()
                break
            time.sleep(rng.uniform(0, 0.004 if wanted else 0.3))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            if proc.returncode == -signal.SIGKILL:
                figures["kills"] += 1
            figures["events_at_last_kill"] = _total_events(watch)
        final = subprocess.run([sys.executable, str(DRIVER), str(db), str(performed_log)],
                               stdout=subprocess.DEVNULL, stderr=stderr,
                               timeout=FINISH_TIMEOUT)
        figures["starts"] += 1
        assert final.returncode == 0, db.with_suffix(".stderr").read_text()
        figures["events"] = _total_events(watch)
    finally:
        stderr.close()
        watch.close()
    return figures


def _driver(db: Path, performed_log: Path, stderr) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(DRIVER), str(db), str(performed_log)],
                            stdout=subprocess.DEVNULL, stderr=stderr)


def _race_and_kill(db: Path, performed_log: Path, rng: random.Random,
                   drivers: int) -> dict[str, int]:
    """Keep ``drivers`` drivers racing on the store; SIGKILL a random one after random
    progress and start a new one in its place, until the budget is spent; then let all end."""
    watch = open_store(str(db))
    figures = {"kills": 0, "starts": drivers}
    stderr = open(db.with_suffix(".stderr"), "ab")
    procs = [_driver(db, performed_log, stderr) for _ in range(drivers)]
    started = time.monotonic()
    try:
        while (figures["kills"] < MAX_KILLS // 2 and time.monotonic() - started < KILL_BUDGET
               and not _all_finished(watch)):
            before = _total_events(watch)
            wanted = rng.choice([1, 2, 3, 5, 8, 13])
            deadline = time.monotonic() + 10
            while (_total_events(watch) < before + wanted and time.monotonic() < deadline
                   and any(p.poll() is None for p in procs)):
                time.sleep(0.001)
            victim = rng.randrange(drivers)
            if procs[victim].poll() is None:
                time.sleep(rng.uniform(0, 0.004))
                os.kill(procs[victim].pid, signal.SIGKILL)
            procs[victim].wait()
            if procs[victim].returncode == -signal.SIGKILL:
                figures["kills"] += 1
            else:
                assert procs[victim].returncode == 0, db.with_suffix(".stderr").read_text()
            procs[victim] = _driver(db, performed_log, stderr)
            figures["starts"] += 1
        for proc in procs:
            proc.wait(timeout=FINISH_TIMEOUT)
            assert proc.returncode == 0, db.with_suffix(".stderr").read_text()
        figures["events"] = _total_events(watch)
    finally:
        for proc in procs:
            proc.kill()
        stderr.close()
        watch.close()
    return figures


def _check_against_reference(store: Store, ref: Store, ref_performed: list[str],
                             performed_log: Path, seed: int, racing: bool = False) -> str:
    """Every program as in the reference run; the outbox sound. Returns a summary."""
    names, ref_names = _by_name(store), _by_name(ref)
    assert names.keys() == ref_names.keys()
    rt = Runtime(store)
    for name, ids in names.items():
        assert len(ids) == len(ref_names[name]), name
        for pid, ref_pid in zip(ids, ref_names[name]):
            rec, ref_rec = store.get_program(pid), ref.get_program(ref_pid)
            assert (rec.status, rec.result) == ("done", ref_rec.result), (name, seed)
            assert outputs(store, pid) == outputs(ref, ref_pid), (name, seed)
            check_log(store, pid)
            assert _log_shape(store, pid, racing) == _log_shape(ref, ref_pid, racing), \
                (name, seed)
            report = rt.replay(pid)
            assert report.ok, (name, report.divergence)

    # the outbox: one task per call request, each keyed program:key, each completed once
    requested = {(p.id, e.data["key"]) for p in store.list_programs()
                 for e in store.events(p.id, types=["requested"]) if e.data["kind"] == "call"}
    tasks = store.list_tasks()
    assert len(tasks) == len(requested) == len(ref.list_tasks())
    for task in tasks:
        assert task.idempotency_key == f"{task.program_id}:{task.effect_key}"
        assert (task.program_id, task.effect_key) in requested
        assert task.status in ("done", "failed")
        completions = [e for e in store.events(task.program_id)
                       if e.type in ("effect-completed", "effect-failed")
                       and e.data["key"] == task.effect_key]
        assert len(completions) == 1
    # A kill between performing a task and completing it makes the worker perform it
    # again: at least once in the world, but always under the same idempotency key.
    performed = performed_log.read_text().split()
    assert set(performed) == {t.idempotency_key for t in tasks}
    assert len(ref_performed) == len(tasks)
    repeats = len(performed) - len(set(performed))
    return (f"{len(tasks)} tasks performed {len(performed)} times ({repeats} repeats after "
            "kills or expired leases, same keys)")


def _seed() -> int:
    return int(os.environ.get("FLOWMETAL_CRASH_SEED", time.time_ns() % 1_000_000))


def _crash_store(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "crashed.db"
    with open_store(str(db)) as store:
        crash_driver.create_programs(store)
    return db, tmp_path / "performed.log"


def test_programs_killed_at_random_moments_end_as_if_never_interrupted(tmp_path: Path):
    seed = _seed()
    ref, ref_performed = _reference(tmp_path)
    db, performed_log = _crash_store(tmp_path)
    t0 = time.monotonic()
    figures = _kill_repeatedly(db, performed_log, random.Random(seed))
    elapsed = time.monotonic() - t0
    assert figures["kills"] >= 10, f"too few kills to mean much: {figures}"
    with open_store(str(db)) as store:
        summary = _check_against_reference(store, ref, ref_performed, performed_log, seed)
    print(f"\ncrash test (FLOWMETAL_CRASH_SEED={seed}): {figures}, {elapsed:.1f} s; {summary}")
    ref.close()


def test_racing_drivers_killed_at_random_moments_end_as_if_never_interrupted(tmp_path: Path):
    """Three drivers share the file, as several processes on one machine may: they race
    for the same programs (compare-and-set commits), timers and tasks, and get killed."""
    seed = _seed()
    ref, ref_performed = _reference(tmp_path)
    db, performed_log = _crash_store(tmp_path)
    t0 = time.monotonic()
    figures = _race_and_kill(db, performed_log, random.Random(seed), drivers=3)
    elapsed = time.monotonic() - t0
    assert figures["kills"] >= 5, f"too few kills to mean much: {figures}"
    with open_store(str(db)) as store:
        summary = _check_against_reference(store, ref, ref_performed, performed_log, seed,
                                           racing=True)
    print(f"\nracing crash test (FLOWMETAL_CRASH_SEED={seed}): {figures}, {elapsed:.1f} s; "
          f"{summary}")
    ref.close()
