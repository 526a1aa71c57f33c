"""The benchmark harness runs and prints its table (``python -m benchmarks --tiny``).

Only that it works: tiny sizes, one repeat, and no assertion on any timing (machines are
shared and noisy; the figures are read by people, from a full run).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_benchmarks(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--tiny", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_benchmarks_run_and_print_a_table_of_every_figure():
    out = run_benchmarks()
    assert "benchmark" in out and "baseline" in out and "ratio" in out
    for name in ("fib", "loop/recur", "map/reduce", "(a) durable effects/s",
                 "(a) commits per durable effect", "(b) resume after output history",
                 "(b) resume after timer history", "(c) snapshot loads",
                 "(c) memory peak", "(c) due timers found through an index"):
        assert name in out, name
    assert "figures in" in out


def test_only_runs_the_named_benchmark():
    out = run_benchmarks("--only", "fib")
    assert "fib" in out
    assert "map/reduce" not in out and "(a) durable" not in out


def test_the_effect_breakdown_names_every_part_of_an_effect():
    done = subprocess.run([sys.executable, "-m", "benchmarks.effect_breakdown", "-n", "20"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for part in ("us per effect", "SQL COMMIT", "SQL UPDATE programs", "snapshot.encode",
                 "Machine.run", "store.commit's own Python", "executor and runtime"):
        assert part in done.stdout, part


def test_the_effect_breakdown_refuses_a_bad_count():
    done = subprocess.run([sys.executable, "-m", "benchmarks.effect_breakdown", "-n", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "-n must be at least 1" in done.stderr
    assert "Traceback" not in done.stderr
