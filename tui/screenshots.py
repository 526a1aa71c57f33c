"""Regenerate the debugger's screenshots in docs/images: ``python -m tui.screenshots``.

Each is an SVG of the real app at 120x40 on a committed sample run, with cursors not
blinking, so the pictures in docs/debugger.md match what a newcomer sees.
"""

from __future__ import annotations

import sys
from pathlib import Path

from textual._doc import take_svg_screenshot

from .app import DebuggerApp

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_logs"

# name -> (sample, program, start step, keys pressed after it opens)
SHOTS: dict[str, tuple[str, str | None, int | None, tuple[str, ...]]] = {
    "debugger-programs": ("approval", None, None, ()),
    "debugger-step": ("approval", "p-approval", 40, ()),
    "debugger-waits": ("approval", "p-approval", 53, ("tab", "tab", "tab", "tab", "right")),
    "debugger-long-run": ("long_loop", "p-long_loop", 300_000,
                          ("tab", "tab", "tab", "tab", "right", "right")),
    "debugger-inject": ("approval", "p-approval", 53, ("i",)),
    "debugger-fork": ("approval", "p-approval-refused", None, ()),
    "debugger-help": ("recovery", "p-recovery", 10, ("f1",)),
}


def shoot(name: str, out_dir: Path) -> Path:
    sample, pid, step, keys = SHOTS[name]

    async def settle(pilot) -> None:  # noqa: ANN001
        for _ in range(4):
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()
        for key in keys:
            await pilot.press(key)
            for _ in range(4):
                await pilot.pause()
                await pilot.app.workers.wait_for_complete()

    app = DebuggerApp(str(SAMPLES / f"{sample}.db"), pid, start_step=step, blink=False)
    svg = take_svg_screenshot(app=app, terminal_size=(120, 40), run_before=settle,
                              title=f"flowmetal debug sample_logs/{sample}.db")
    path = out_dir / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    out_dir = Path(args[0]) if args else ROOT / "docs" / "images"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in SHOTS:
        print(shoot(name, out_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
