"""The measuring kit shared by every benchmark: repeated timings, rows, the table.

Machines are shared and noisy, so nothing here trusts one timing. Each figure is the
median of several repeats, and what we compare we measure in the same run, alternating
the two sides repeat by repeat (``paired``) so that a noisy moment hurts both alike. A
figure is then quoted as a ratio against its baseline, never as an absolute target.
"""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "Row", "Suite", "Context", "paired", "repeated", "timed", "fmt_time", "fmt_rate",
    "fmt_int", "fmt_bytes", "render_table",
]


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes (after a collection, so earlier garbage is not
    charged to it; the collector stays on, as it would in real use)."""
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def repeated(fn: Callable[[], float], repeat: int) -> float:
    """The median of ``repeat`` results of ``fn`` (which measures and returns a figure)."""
    return statistics.median(fn() for _ in range(repeat))


def paired(ours: Callable[[], float], base: Callable[[], float], repeat: int
           ) -> tuple[float, float]:
    """Medians of two measurements taken alternately, ``repeat`` times each."""
    a, b = [], []
    for _ in range(repeat):
        a.append(ours())
        b.append(base())
    return statistics.median(a), statistics.median(b)


# -- formatting -----------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def fmt_rate(per_second: float, unit: str) -> str:
    return f"{per_second:,.0f} {unit}/s"


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_bytes(n: float) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.0f} KiB"
    return f"{n:.0f} B"


# -- results --------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table: our figure, its baseline, their ratio and the target.

    ``ok`` is None when the row has no target. ``ratio`` is ours/baseline unless the
    row says otherwise in its name.
    """

    group: str
    name: str
    size: str
    ours: str
    base: str
    ratio: float | None
    target: str = ""
    ok: bool | None = None


@dataclass
class Context:
    """What every benchmark gets: sizes, repeats, a scratch directory, profiling wishes."""

    preset: str
    repeat: int
    workdir: str
    profile: bool = False
    sizes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    profiles: list[tuple[str, str]] = field(default_factory=list)

    def size(self, key: str) -> int:
        return self.sizes[key]

    def note(self, text: str) -> None:
        self.notes.append(text)

    def profile_once(self, label: str, fn: Callable[[], object], top: int = 25) -> None:
        """With ``--profile``, run ``fn`` once more under cProfile and keep its hot spots
        (never one of the timed repeats: profiling slows everything down unevenly)."""
        if not self.profile:
            return
        prof = cProfile.Profile()
        prof.enable()
        try:
            fn()
        finally:
            prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
        self.profiles.append((label, out.getvalue()))


@dataclass
class Suite:
    """A named benchmark: ``run(ctx)`` returns its rows."""

    name: str
    group: str
    about: str
    run: Callable[[Context], list[Row]]


def render_table(rows: list[Row]) -> str:
    """The rows as an aligned plain-text table, a blank line between groups."""
    header = ("benchmark", "size", "flowmetal", "baseline", "ratio", "target", "")
    cells = []
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}x"
        verdict = "" if r.ok is None else ("ok" if r.ok else "MISSED")
        cells.append((r.group, (r.name, r.size, r.ours, r.base, ratio, r.target, verdict)))
    widths = [len(h) for h in header]
    for _, c in cells:
        widths = [max(w, len(x)) for w, x in zip(widths, c)]
    right = {2, 3, 4}  # numbers line up on the right

    def line(c: tuple[str, ...]) -> str:
        parts = [x.rjust(w) if i in right else x.ljust(w) for i, (x, w) in
                 enumerate(zip(c, widths))]
        return "  ".join(parts).rstrip()

    out = [line(header), line(tuple("-" * w for w in widths))]
    group = None
    for g, c in cells:
        if group is not None and g != group:
            out.append("")
        group = g
        out.append(line(c))
    return "\n".join(out)
