"""Several processes on one store: no lock errors, gapless logs, everything exactly once.

Four spawned processes share one store (an SQLite file, or a PostgreSQL schema standing in for
several machines) and, interleaved, append inputs, commit (retrying on conflict), claim and
complete tasks, and fire timers. Then the parent checks what the store holds.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import Counter

from flowmetal.store import Commit, ConflictError, NewTask, open_store

PROCESSES = 4
PROGRAMS = [f"p{i}" for i in range(4)]
TASKS_PER_PROGRAM = 60
TIMERS_PER_PROGRAM = 60
APPENDS_PER_PROCESS = 150
COMMITS_PER_PROCESS = 20
DEADLINE_SECONDS = 45


_start_together = None  # a Barrier in each worker process, set by the pool's initializer


def _init_worker(barrier) -> None:
    global _start_together
    _start_together = barrier


def _work(url: str, wid: int, deadline: float) -> dict:
    """One process's share: runs until its own work is done and no task or timer is left."""
    rng = random.Random(wid)
    worker = f"w{wid}"
    out = {"appended": [], "committed": [], "completed": [], "fired": [], "conflicts": 0}
    with open_store(url) as store:
        _start_together.wait(timeout=30)
        while time.time() < deadline:
            busy = False
            if len(out["appended"]) < APPENDS_PER_PROCESS:
                pid, i = rng.choice(PROGRAMS), len(out["appended"])
                seq = store.append_input(pid, "message", {"w": wid, "i": i})
                out["appended"].append((pid, seq, i))
                busy = True
            if len(out["committed"]) < COMMITS_PER_PROCESS and rng.random() < 0.2:
                pid, c = rng.choice(PROGRAMS), len(out["committed"])
                while True:
                    expected = store.get_program(pid).last_seq
                    note = Commit(
                        expected_seq=expected, status="waiting", events=[("note", [wid, c])]
                    )
                    try:
                        out["committed"].append((pid, store.commit(pid, note), c))
                        break
                    except ConflictError:
                        out["conflicts"] += 1
                busy = True
            for task in store.claim_tasks(kinds=None, worker=worker, lease_seconds=120, limit=3):
                seq = store.complete_task(task.id, ok=True, value=wid, worker=worker)
                out["completed"].append((task.id, task.program_id, seq))
                busy = True
            fired = store.fire_due_timers(limit=7)
            out["fired"].extend(tuple(f) for f in fired)
            busy = busy or bool(fired)
            if busy:
                continue
            mine_done = (
                len(out["appended"]) == APPENDS_PER_PROCESS
                and len(out["committed"]) == COMMITS_PER_PROCESS
            )
            if (
                mine_done
                and store.next_timer_due() is None
                and not store.list_tasks(status="pending")
            ):
                return out
            time.sleep(0.005)
    raise TimeoutError(f"worker {wid} did not finish in {DEADLINE_SECONDS}s")


def test_several_processes_share_one_store_safely(backend):
    url = backend.url
    now = time.time()
    with open_store(url) as store:
        for pid in PROGRAMS:
            store.create_program(pid, name="job", kind="program", code_hash=None, args=[])
            tasks = [NewTask(f"e{i}", "http", {"i": i}) for i in range(TASKS_PER_PROGRAM)]
            # Timers fall due over the first second or so, while the processes are busy.
            timers = [(f"t{i}", now + i * 0.02) for i in range(TIMERS_PER_PROGRAM)]
            store.commit(
                pid, Commit(expected_seq=0, status="waiting", new_tasks=tasks, new_timers=timers)
            )

    deadline = time.time() + DEADLINE_SECONDS
    spawn = multiprocessing.get_context("spawn")
    # The barrier makes all processes start work together, so they really contend.
    barrier = spawn.Barrier(PROCESSES)
    with spawn.Pool(PROCESSES, initializer=_init_worker, initargs=(barrier,)) as pool:
        # starmap re-raises any worker's error here.
        results = pool.starmap(_work, [(url, wid, deadline) for wid in range(PROCESSES)])

    with open_store(url) as store:
        events = {pid: store.events(pid) for pid in PROGRAMS}
        by_seq = {(pid, e.seq): e for pid, log in events.items() for e in log}

        # Every log is exactly 1..last_seq.
        for pid, log in events.items():
            assert [e.seq for e in log] == list(range(1, store.get_program(pid).last_seq + 1))

        # Every append and commit landed at the seq it was told, with its own data.
        for wid, r in enumerate(results):
            for pid, seq, i in r["appended"]:
                assert (by_seq[pid, seq].type, by_seq[pid, seq].data) == (
                    "message",
                    {"w": wid, "i": i},
                )
            for pid, seq, c in r["committed"]:
                assert (by_seq[pid, seq].type, by_seq[pid, seq].data) == ("note", [wid, c])
        counts = Counter(e.type for log in events.values() for e in log)
        assert counts["message"] == PROCESSES * APPENDS_PER_PROCESS
        assert counts["note"] == PROCESSES * COMMITS_PER_PROCESS

        # Every task was completed exactly once.
        tasks = store.list_tasks()
        assert len(tasks) == len(PROGRAMS) * TASKS_PER_PROGRAM
        assert {(t.status, t.attempts) for t in tasks} == {("done", 1)}
        completed = [c for r in results for c in r["completed"]]
        assert sorted(task_id for task_id, _, _ in completed) == sorted(t.id for t in tasks)
        done_events = Counter(
            (pid, e.data["key"])
            for pid, log in events.items()
            for e in log
            if e.type == "effect-completed"
        )
        assert set(done_events.values()) == {1}
        assert len(done_events) == len(tasks)

        # Every timer fired exactly once.
        assert store.list_timers() == []
        fired = [f for r in results for f in r["fired"]]
        assert len(fired) == len(set(fired)) == len(PROGRAMS) * TIMERS_PER_PROGRAM
        fired_events = Counter(
            (pid, e.data["key"])
            for pid, log in events.items()
            for e in log
            if e.type == "timer-fired"
        )
        assert set(fired_events.values()) == {1}
        assert len(fired_events) == len(PROGRAMS) * TIMERS_PER_PROGRAM
        for pid, key, seq in fired:
            assert by_seq[pid, seq].data["key"] == key


def _open_new_store(url: str, wid: int) -> str:
    _start_together.wait(timeout=30)
    with open_store(url) as store:
        store.create_program(f"p{wid}", name="x", kind="program", code_hash=None, args=[])
    return "ok"


def test_processes_opening_a_new_store_together_all_succeed(backend):
    # The first open of a store creates its schema (SQLite: and switches the file to WAL;
    # PostgreSQL: and the schema itself); processes that race to do it must wait for each
    # other, not fail with "database is locked" or "relation already exists".
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(PROCESSES)
    with spawn.Pool(PROCESSES, initializer=_init_worker, initargs=(barrier,)) as pool:
        for trial in range(5):
            url = backend.another(f"new{trial}")
            args = [(url, wid) for wid in range(PROCESSES)]
            assert pool.starmap(_open_new_store, args, chunksize=1) == ["ok"] * PROCESSES
            with open_store(url) as store:
                assert len(store.list_programs()) == PROCESSES
