"""Where the time of one durable effect goes: ``python -m benchmarks.effect_breakdown``.

The effects benchmark (``python -m benchmarks --only effects``) gives one ratio; this splits
an effect of ``sleeps.flow`` into its parts, to say what to work on next:

- wall time per effect of each SQL statement of the commit (COMMIT is mostly the fsync),
  of ``snapshot.encode`` and of ``Machine.run``, the rest being the executor and runtime;
- with ``--instructions``, CPU instructions per effect counted by valgrind's callgrind
  (exact and repeatable, whatever else the machine is doing), for the whole runtime with
  the real store (``synchronous=NORMAL``, so no fsync is counted) and with
  ``store.commit`` replaced by a stub: the difference is the store's share. Each figure
  is the difference of two runs of different lengths, so start-up cancels out.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROGRAM = Path(__file__).resolve().parent / "programs" / "sleeps.flow"


def _timed_parts(n: int) -> tuple[float, dict[str, float]]:
    """Seconds per effect in total, and per part (wrapping the functions in place)."""
    from flowmetal.lang import snapshot
    from flowmetal.lang.machine import Machine
    from flowmetal.runtime.runtime import Runtime
    from flowmetal.store import _sqlite, open_store

    spent: collections.Counter[str] = collections.Counter()
    clock = time.perf_counter

    def wrap(owner: Any, name: str, label: Any) -> None:
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label(args) if callable(label) else label] += clock() - start

        setattr(owner, name, timed)

    statement = re.compile(r"\w+(?: \w+)?")
    wrap(_sqlite.SqliteStore, "_x", lambda a: "SQL " + statement.match(a[1]).group(0))
    wrap(_sqlite.SqliteStore, "_xm", lambda a: "SQL " + statement.match(a[1]).group(0) + " (many)")
    wrap(_sqlite.SqliteStore, "_w", lambda a: "SQL " + statement.match(a[1]).group(0))
    wrap(_sqlite.SqliteStore, "commit", "store.commit, all of it")
    wrap(snapshot, "encode", "snapshot.encode")
    wrap(Machine, "run", "Machine.run")  # the executor calls both through their owners

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "flow.db")
        try:
            rt = Runtime(store, virtual_time=True)
            text = PROGRAM.read_text(encoding="utf-8")
            rt.run(rt.start(text, "sleeps.flow", {"n": 1000}))  # warm: code, caches, WAL
            spent.clear()
            pid = rt.start(text, "sleeps.flow", {"n": n})
            start = clock()
            rt.run(pid)
            total = clock() - start
        finally:
            store.close()
    return total / n, {k: v / n for k, v in spent.items()}


def _drive_for_valgrind(mode: str, n: int) -> None:
    """The workload ``--instructions`` counts: ``n`` effects after a warm-up."""
    from flowmetal.runtime.runtime import Runtime
    from flowmetal.store import _sqlite, open_store

    if mode == "stub":
        _sqlite.SqliteStore.commit = (  # type: ignore[method-assign]
            lambda self, pid, c: c.expected_seq + len(c.events))
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "flow.db", synchronous="NORMAL")
        rt = Runtime(store, virtual_time=True)
        text = PROGRAM.read_text(encoding="utf-8")
        rt.run(rt.start(text, "sleeps.flow", {"n": 50}))
        rt.run(rt.start(text, "sleeps.flow", {"n": n}))
        store.close()


def _instructions(mode: str, n: int) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         "-m", "benchmarks.effect_breakdown", "--valgrind-run", mode, str(n)],
        capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"the run under valgrind failed (exit {out.returncode}):\n"
                         f"{out.stderr[-2000:]}")
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no instruction count:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.effect_breakdown",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="effects to time (default 3000)")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions per effect with valgrind (~1 minute)")
    parser.add_argument("--valgrind-run", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.valgrind_run:
        _drive_for_valgrind(args.valgrind_run[0], int(args.valgrind_run[1]))
        return 0
    if args.n < 1:
        parser.error("-n must be at least 1")

    total, parts = _timed_parts(args.n)
    print(f"sleeps.flow, {args.n:,} effects: {total * 1e6:.0f} us per effect (wall time)")
    inside = sum(v for k, v in parts.items() if k.startswith("SQL "))
    for label, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        if seconds >= 0.05e-6:  # statements of the start and the end, not of each effect
            print(f"  {seconds * 1e6:7.1f} us  {label}")
    store_total = parts.get("store.commit, all of it", 0.0)
    print(f"  {(store_total - inside) * 1e6:7.1f} us  store.commit's own Python (all of it - SQL)")
    rest = total - store_total - parts.get("snapshot.encode", 0) - parts.get("Machine.run", 0)
    print(f"  {rest * 1e6:7.1f} us  executor and runtime (the rest)")

    if args.instructions:
        if shutil.which("valgrind") is None:
            print("--instructions needs valgrind on the PATH", file=sys.stderr)
            return 1
        short, long = 100, 600
        per = {mode: (_instructions(mode, long) - _instructions(mode, short)) / (long - short)
               for mode in ("store", "stub")}
        print("instructions per effect (callgrind):")
        print(f"  {per['store']:10,.0f}  whole runtime, real store (synchronous=NORMAL)")
        print(f"  {per['stub']:10,.0f}  with store.commit stubbed")
        print(f"  {per['store'] - per['stub']:10,.0f}  the store's share")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
