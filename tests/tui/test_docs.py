"""docs/debugger.md keeps up with the code: every key is documented, every picture exists."""

from __future__ import annotations

import re
from pathlib import Path

from tui.screens.debug import DebugScreen
from tui.screens.help import key_rows
from tui.screens.programs import ProgramsScreen
from tui.screenshots import SHOTS
from tui.widgets import Timeline

DOC = Path(__file__).resolve().parents[2] / "docs" / "debugger.md"


def test_every_key_is_documented():
    text = DOC.read_text(encoding="utf-8")
    for cls in (DebugScreen, ProgramsScreen, Timeline):
        for keys, _what in key_rows(cls.BINDINGS):
            for key in keys.split(" / "):
                assert f"`{key}`" in text, f"{cls.__name__}: key {key} missing from {DOC.name}"


def test_every_screenshot_is_linked_and_present():
    text = DOC.read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(images/([\w-]+)\.svg\)", text))
    assert linked <= set(SHOTS)
    for name in linked:
        assert (DOC.parent / "images" / f"{name}.svg").exists(), name
