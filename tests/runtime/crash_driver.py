"""The process the crash test kills: it drives every program in a store to its end.

Run as ``python crash_driver.py STORE PERFORMED_LOG``; ``test_crash.py`` also imports it to
make the programs and to run the uninterrupted reference in its own process.

Each round it fires the due timers, drives the ready programs, and plays an outside worker
for the ``call`` tasks of the outbox: claim, perform (append the task's idempotency key to
``PERFORMED_LOG``, the stand-in for a side effect in the world), complete. When nothing can
run, the virtual clock jumps to the next timer. It exits 0 once every program has ended.
"""

from __future__ import annotations

import sys
import time

from flowmetal.runtime import Executor, Runtime
from flowmetal.runtime.clock import VirtualClock
from flowmetal.store import AlreadyCompleted, ConflictError, Store, open_store

WORKER_LEASE = 0.2  # a task claimed by a killed driver is claimed again this soon

STEPS = """
(defn mix [acc x] (mod (+ (* acc 31) x) 1000003))

(defn main [{:keys [seed n]}]
  (println "start" seed)
  (loop [i 0 acc seed]
    (if (< i n)
      (let [sq (call :square (+ i seed))
            acc (reduce mix acc (range (+ 50 (mod sq 50))))]
        (println "step" i "square" sq "acc" acc)
        (sleep (mod (+ i seed) 3))
        (recur (inc i) (mix acc sq)))
      (do (println "end" seed acc) acc))))
"""

FLAKY = """
(defn main [{:keys [n]}]
  (loop [i 0 got []]
    (if (< i n)
      (let [r (try (call :flaky i)
                (catch :effect-failed e (println "attempt" i "failed:" (ex-message e)) :failed))]
        (println "attempt" i "->" r)
        (sleep "1m")
        (recur (inc i) (conj got r)))
      got)))
"""

FAMILY = """
(defn child [k]
  (println "child" k "starts")
  (sleep k)
  (let [v (call :square k)]
    (println "child" k "got" v)
    (+ v 1)))

(defn main [{:keys [kids]}]
  (let [handles (mapv (fn [k] (spawn 'child k)) (range 1 (inc kids)))]
    (println "spawned" (count handles))
    (let [results (mapv await handles)]
      (println "children said" results)
      (reduce + results))))
"""

FANOUT = """
(defn leg [k]
  (sleep (* 10 k))
  (println "leg" k "done")
  (* k k))

(defn main [{:keys [legs]}]
  (let [fs (mapv (fn [k] (async (leg k))) (range legs 0 -1))]
    (println "waiting for" legs "legs")
    (let [vs (await-all fs)]
      (println "all legs" vs)
      vs)))
"""

PROGRAMS = [
    ("steps-a", STEPS, {"seed": 1, "n": 60}),
    ("steps-b", STEPS, {"seed": 7, "n": 45}),
    ("steps-c", STEPS, {"seed": 12, "n": 70}),
    ("flaky", FLAKY, {"n": 40}),
    ("family", FAMILY, {"kids": 6}),
    ("fanout", FANOUT, {"legs": 10}),
]
"""(name, source, args): sequential within each program, so each log has one right order."""


def create_programs(store: Store) -> dict[str, str]:
    """Start every program of PROGRAMS (not driving them); returns name -> program id."""
    rt = Runtime(store)
    return {name: rt.start(source, f"{name}.flow", args, name=name)
            for name, source, args in PROGRAMS}


def perform(task_request: dict) -> tuple[bool, object]:
    """What the outside worker computes for a ``call``: deterministic, sometimes failing."""
    name, args = task_request[":name"], task_request[":args"]
    if name == "square":
        return True, args[0] * args[0]
    if name == "flaky":
        if args[0] % 3 == 1:
            return False, {"message": f"flaky {args[0]} refused"}
        return True, args[0] * 10
    return False, {"message": f"no function {name}"}


def drive_all(store: Store, performed: list[str] | None = None,
              log_path: str | None = None) -> int:
    """Drive every program in ``store`` to its end; returns how many rounds it took."""
    clock = VirtualClock()
    ex = Executor(store, clock=clock)
    worker = f"driver-{time.time_ns()}"
    rounds = 0
    while True:
        rounds += 1
        did = len(store.fire_due_timers(now=clock.now()))
        for rec in store.list_programs(status="ready"):
            ex.drive(rec.id)
            did += 1
        for task in store.claim_tasks(kinds=["call"], worker=worker,
                                      lease_seconds=WORKER_LEASE, limit=5):
            ok, value = perform(task.request)
            if performed is not None:
                performed.append(task.idempotency_key)
            if log_path is not None:
                with open(log_path, "a", encoding="utf-8") as log:
                    log.write(task.idempotency_key + "\n")
            try:
                store.complete_task(task.id, ok=ok, value=value, worker=worker)
            except (ConflictError, AlreadyCompleted):
                pass  # our lease ran out and another driver took the task: it completes it
            did += 1
        if did:
            continue
        programs = store.list_programs()
        if all(p.finished or p.status == "failed" for p in programs):
            return rounds
        due = store.next_timer_due()
        if due is not None and due > clock.now():
            clock.advance_to(due)
        elif due is None:
            time.sleep(0.005)  # a task claimed before a kill: its lease is running out


def main(argv: list[str]) -> int:
    store = open_store(argv[1])
    drive_all(store, log_path=argv[2])
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
