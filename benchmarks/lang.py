"""The language benchmarks (issue 2): the machine against plain CPython, in memory.

Each program in ``programs/`` is compiled once (``flowmetal.lang.load``; timed on its
own and reported apart), then each repeat makes a fresh machine (``new_machine``) and
times only ``Machine.run``, alternating with the same algorithm written in Python.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowmetal.lang import Done, base, load, new_machine
from flowmetal.lang.data import Map, kw

from .harness import Context, Row, Suite, fmt_int, fmt_time, paired, repeated, timed

PROGRAMS = Path(__file__).resolve().parent / "programs"
_FUEL = 10**12  # one run call to the end: no out-of-fuel round trips in the timing


# -- the same algorithms in plain CPython -------------------------------------------------


def py_fib(n: int) -> int:
    if n < 2:
        return n
    return py_fib(n - 1) + py_fib(n - 2)


def py_loop(n: int) -> int:
    i, acc = 0, 0
    while i < n:
        i, acc = i + 1, acc + i
    return acc


def py_mapreduce(n: int) -> int:
    return functools.reduce(operator.add, map(lambda x: x * x, list(range(n))), 0)


# -- one benchmark --------------------------------------------------------------------


def compare(ctx: Context, name: str, flow: str, size_key: str, py: Callable[[int], Any],
            target: float | None) -> list[Row]:
    n = ctx.size(size_key)
    text = (PROGRAMS / flow).read_text(encoding="utf-8")
    base()  # the prelude is built once per process; not part of any figure
    unit = load(text, flow)
    args = Map({kw("n"): n})
    expected = py(n)
    steps = 0

    def ours() -> float:
        nonlocal steps
        m = new_machine(unit, args)
        seconds = timed(lambda: check(m.run(_FUEL), expected, flow))
        steps = m.steps
        return seconds

    def cpython() -> float:
        return timed(lambda: py(n))

    t_ours, t_py = paired(ours, cpython, ctx.repeat)
    t_compile = repeated(lambda: timed(lambda: load(text, flow)), ctx.repeat)
    ctx.profile_once(f"{name} (Machine.run, {size_key}={n:,})",
                     lambda: new_machine(unit, args).run(_FUEL))
    ratio = t_ours / t_py
    ctx.note(f"{name}: compile {fmt_time(t_compile)} (excluded from the run time); "
             f"{fmt_int(steps)} machine steps, {steps / t_ours / 1e6:.2f} M steps/s")
    return [Row("language", name, f"n={fmt_int(n)}", fmt_time(t_ours), fmt_time(t_py),
                ratio, f"<= {target:g}x" if target else "",
                (ratio <= target) if target else None)]


def check(outcome: Any, expected: Any, flow: str) -> None:
    if not isinstance(outcome, Done) or outcome.value != expected:
        raise AssertionError(f"{flow} gave {outcome!r}, expected {expected!r}")


def run_fib(ctx: Context) -> list[Row]:
    return compare(ctx, "fib", "fib.flow", "fib_n", py_fib, 40)


def run_loop(ctx: Context) -> list[Row]:
    return compare(ctx, "loop/recur", "loop.flow", "loop_n", py_loop, 40)


def run_mapreduce(ctx: Context) -> list[Row]:
    return compare(ctx, "map/reduce", "mapreduce.flow", "mapreduce_n", py_mapreduce, None)


SUITES = [
    Suite("fib", "language", "naive recursive fib(n) vs the same in CPython", run_fib),
    Suite("loop", "language", "loop/recur summing 0..n-1 vs a CPython while loop", run_loop),
    Suite("mapreduce", "language",
          "(reduce + 0 (map (fn [x] (* x x)) (vec (range n)))) vs functools.reduce/map",
          run_mapreduce),
]
