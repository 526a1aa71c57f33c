"""Run the benchmarks and print one table of medians and ratios.

    python -m benchmarks                  # everything, full sizes (a few minutes)
    python -m benchmarks --quick          # a smoke run at small sizes (well under 30 s)
    python -m benchmarks --only fib --only resume
    python -m benchmarks --profile --only effects   # also cProfile hot spots

See ``benchmarks/README.md`` for what each figure means.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from . import durable, lang  # noqa: E402
from .harness import Context, Row, Suite, render_table  # noqa: E402

SUITES: list[Suite] = [*lang.SUITES, *durable.SUITES]

PRESETS: dict[str, dict[str, int]] = {
    # The sizes issues #2 and #3 ask for.
    "full": {
        "repeat": 5,
        "fib_n": 25, "loop_n": 1_000_000, "mapreduce_n": 100_000,
        "effects_n": 1000,
        "resume_big": 100_000, "resume_timer_big": 100_000, "resume_small": 10,
        "suspended_big": 10_000, "suspended_small": 1_000, "suspended_due": 100,
    },
    # Same shapes, smaller: every code path, in seconds.
    "quick": {
        "repeat": 3,
        "fib_n": 22, "loop_n": 200_000, "mapreduce_n": 20_000,
        "effects_n": 300,
        "resume_big": 20_000, "resume_timer_big": 4_000, "resume_small": 10,
        "suspended_big": 2_000, "suspended_small": 200, "suspended_due": 40,
    },
    # For tests/test_benchmarks_smoke.py: only that it runs and prints a table.
    "tiny": {
        "repeat": 1,
        "fib_n": 10, "loop_n": 1_000, "mapreduce_n": 100,
        "effects_n": 10,
        "resume_big": 100, "resume_timer_big": 40, "resume_small": 10,
        "suspended_big": 60, "suspended_small": 20, "suspended_due": 5,
    },
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [s.name for s in SUITES]
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Flowmetal benchmarks: medians of repeated runs, as ratios against "
                    "baselines measured in the same run.",
        epilog="benchmarks: " + "; ".join(f"{s.name}: {s.about}" for s in SUITES))
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", dest="preset", const="quick",
                      help="small sizes and 3 repeats: a smoke run")
    size.add_argument("--tiny", action="store_const", dest="preset", const="tiny",
                      help="tiny sizes and 1 repeat (for the test suite; figures mean little)")
    p.add_argument("--only", action="append", metavar="NAME", default=[],
                   help=f"run only this benchmark or group (repeatable; one of "
                        f"{', '.join(names)}, language, durability)")
    p.add_argument("--repeat", type=int, metavar="N",
                   help="repeats per measurement (default: 5 full, 3 quick)")
    p.add_argument("--profile", action="store_true",
                   help="also run each benchmark once under cProfile and print its hot spots")
    p.add_argument("--dir", metavar="PATH",
                   help="where the SQLite files go (default: a new temporary directory, "
                        "removed afterwards); put it on the disk you care about")
    p.add_argument("--keep", action="store_true", help="keep the SQLite files afterwards")
    p.set_defaults(preset="full")
    args = p.parse_args(argv)
    wanted = {w for item in args.only for w in item.split(",") if w}
    unknown = wanted - set(names) - {"language", "durability"}
    if unknown:
        p.error(f"unknown benchmark {', '.join(sorted(unknown))}; choose from "
                f"{', '.join(names)}, language, durability")
    args.suites = [s for s in SUITES if not wanted or s.name in wanted or s.group in wanted]
    return args


def filesystem_of(path: str) -> str:
    """The filesystem type a path lives on (from /proc/mounts), since fsync cost depends
    on it: on tmpfs a "durable" commit costs nothing."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "?"
    real = os.path.realpath(path)
    best, kind = "", "?"
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3 and (real == parts[1] or real.startswith(parts[1].rstrip("/") + "/")):
            if len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    return kind


def header(ctx: Context) -> str:
    load = ""
    if hasattr(os, "getloadavg"):
        load = ", load " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"Flowmetal benchmarks: {ctx.preset} sizes, median of {ctx.repeat} repeats\n"
            f"Python {platform.python_version()} ({platform.python_implementation()}), "
            f"SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs{load}\n"
            f"store files in {ctx.workdir} ({filesystem_of(ctx.workdir)})")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = dict(PRESETS[args.preset])
    repeat = args.repeat or sizes.pop("repeat")
    sizes.pop("repeat", None)
    tmp = None
    if args.dir:
        workdir = args.dir
        os.makedirs(workdir, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="flowmetal-bench-")
        workdir = tmp.name
    ctx = Context(args.preset, max(1, repeat), workdir, profile=args.profile, sizes=sizes)
    print(header(ctx), flush=True)
    rows: list[Row] = []
    started = time.perf_counter()
    try:
        for suite in args.suites:
            t0 = time.perf_counter()
            print(f"  running {suite.name}...", end="", flush=True, file=sys.stderr)
            rows.extend(suite.run(ctx))
            print(f" {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    finally:
        if tmp is not None and not args.keep:
            tmp.cleanup()
        elif tmp is not None:
            print(f"kept the store files in {workdir}", file=sys.stderr)
    print()
    print(render_table(rows))
    if ctx.notes:
        print()
        for note in ctx.notes:
            print(f"- {note}")
    missed = [r for r in rows if r.ok is False]
    print()
    plural = "" if len(rows) == 1 else "s"
    print(f"{len(rows)} figure{plural} in {time.perf_counter() - started:.1f} s; "
          + (f"{len(missed)} missed their target: " + ", ".join(r.name for r in missed)
             if missed else "every target met"))
    for label, text in ctx.profiles:
        print(f"\n== profile: {label} ==\n{text.rstrip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
