"""Fixtures for the debugger tests: copies of the recorded runs in sample_logs/, and a
helper that lets the debugger's worker threads finish before a test looks at the screen."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"

os.environ.setdefault("TZ", "UTC")
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")


@pytest.fixture
def sample(tmp_path: Path):
    """``sample("approval")`` -> a private copy of sample_logs/approval.db (writable, so
    fork tests never touch the committed file)."""

    def copy(name: str) -> str:
        dest = tmp_path / f"{name}.db"
        if not dest.exists():
            shutil.copy(SAMPLES / f"{name}.db", dest)
        return str(dest)

    return copy


async def settle(pilot, rounds: int = 4) -> None:
    """Wait until the app's workers are done and their messages handled."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def anyio_backend() -> str:
    """Textual runs on asyncio; the async tests here run under anyio's pytest plugin
    (each async test module sets ``pytestmark = pytest.mark.anyio``)."""
    return "asyncio"

