"""How fast the debugger shows an arbitrary step of a long run.

    python benchmarks/debugger_bench.py            # a fresh recording of >= 1,000,000 steps
    python benchmarks/debugger_bench.py --ui       # also time the full screen update

It records ``sample_logs/programs/long_loop.flow`` with a limit that takes it past a
million machine steps (in a temporary store, virtual time), indexes it once with
``Timeline.build`` (the debugger does this in a worker when a run is opened), then shows
random steps: ``Timeline.view(step)`` rebuilds the machine from the nearest in-memory
checkpoint and describes it (fibers, frames, bindings, output). With ``--ui`` it also drives
the real debug screen under Textual's Pilot and times from setting the timeline's step to
the panes showing it. Prints median and p99 per checkpoint spacing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flowmetal.lang.data import Map, kw  # noqa: E402
from flowmetal.runtime.clock import VirtualClock  # noqa: E402
from flowmetal.runtime.runtime import Runtime  # noqa: E402
from flowmetal.runtime.timeline import DEFAULT_CHECKPOINT_EVERY, Timeline  # noqa: E402
from flowmetal.store import open_store  # noqa: E402

PROGRAM = "sample_logs/programs/long_loop.flow"


def record(path: Path, limit: int) -> tuple[str, float]:
    """Run the long loop to the end into ``path``; returns (program id, seconds)."""
    store = open_store(path, synchronous="NORMAL")
    rt = Runtime(store, clock=VirtualClock(start=1767225600.0))
    pid = rt.start((ROOT / PROGRAM).read_text(encoding="utf-8"), PROGRAM,
                   Map({kw("limit"): limit}))
    t0 = time.perf_counter()
    rec = rt.run(pid)
    took = time.perf_counter() - t0
    assert getattr(rec, "status", None) == "done", rec
    store.close()
    return pid, took


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def bench_engine(path: Path, pid: str, every: int, samples: int, seed: int) -> dict:
    store = open_store(path, read_only=True)
    tl = Timeline(store, pid, checkpoint_every=every)
    t0 = time.perf_counter()
    tl.build()
    build = time.perf_counter() - t0
    rng = random.Random(seed)
    times = []
    for _ in range(samples):
        step = rng.randrange(tl.total_steps + 1)
        t = time.perf_counter()
        view = tl.view(step)
        view.scopes(None, 0)
        times.append((time.perf_counter() - t) * 1000)
    size = sum(len(c.blob) for c in tl.checkpoints)
    store.close()
    return {"every": every, "steps": tl.total_steps, "build_s": build,
            "checkpoints": len(tl.checkpoints), "kib": size / 1024,
            "median_ms": statistics.median(times), "p99_ms": percentile(times, 99),
            "max_ms": max(times)}


def bench_ui(path: Path, pid: str, samples: int, seed: int) -> dict:
    """Median/p99 from setting the timeline's step until the screen has repainted with
    every pane showing that step (jumps 50 ms apart, as a user's are)."""
    from tui.app import DebuggerApp
    from tui.screens.debug import DebugScreen
    from tui.widgets import Timeline as Bar

    painted: dict[int, float] = {}
    original = DebugScreen.on_step_loaded

    def on_step_loaded(self: DebugScreen, msg) -> None:  # noqa: ANN001
        original(self, msg)
        step = msg.view.step
        self.call_after_refresh(lambda: painted.__setitem__(step, time.perf_counter()))

    async def run() -> list[float]:
        app = DebuggerApp(str(path), pid, blink=False)
        times: list[float] = []
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            while not isinstance(screen, DebugScreen) or screen.view is None:
                await pilot.pause(0.05)
                screen = app.screen
            bar = screen.query_one(Bar)
            rng = random.Random(seed)
            for _ in range(samples):
                step = rng.randrange(screen.tl.total_steps + 1)
                painted.pop(step, None)
                t = time.perf_counter()
                bar.step = step
                while step not in painted:
                    await asyncio.sleep(0.0005)
                times.append((painted[step] - t) * 1000)
                await asyncio.sleep(0.05)
        return times

    DebugScreen.on_step_loaded = on_step_loaded  # type: ignore[method-assign]
    try:
        times = asyncio.run(run())
    finally:
        DebugScreen.on_step_loaded = original  # type: ignore[method-assign]
    return {"median_ms": statistics.median(times), "p99_ms": percentile(times, 99),
            "max_ms": max(times)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=4_200,
                    help="the loop's limit (4,200 gives about 1.1 million steps)")
    ap.add_argument("--samples", type=int, default=300, help="random steps to show")
    ap.add_argument("--every", type=int, nargs="*",
                    default=[1_000, DEFAULT_CHECKPOINT_EVERY, 20_000],
                    help="checkpoint spacings to compare")
    ap.add_argument("--ui", action="store_true", help="also time the full screen update")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.db"
        pid, took = record(path, args.limit)
        print(f"recorded {PROGRAM} (limit {args.limit}) in {took:.1f} s")
        for every in args.every:
            r = bench_engine(path, pid, every, args.samples, args.seed)
            print(f"steps {r['steps']:,}  checkpoint every {r['every']:>6,}: "
                  f"index {r['build_s']:.2f} s, {r['checkpoints']} checkpoints "
                  f"({r['kib']:,.0f} KiB); show a step: median {r['median_ms']:.1f} ms, "
                  f"p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms")
        if args.ui:
            r = bench_ui(path, pid, min(args.samples, 100), args.seed)
            print(f"full screen update (Textual, default spacing): median "
                  f"{r['median_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
