"""Fixtures for the debugger tests: copies of the recorded runs in sample_logs/, a run that
asks for ``now``, ``random``, ``uuid`` and a sleep, a PostgreSQL store holding the samples
(when ``FLOWMETAL_TEST_POSTGRES`` is set), and a helper that lets the debugger's worker
threads finish before a test looks at the screen."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from flowmetal.runtime import Runtime
from flowmetal.runtime.export import export_run, import_runs
from flowmetal.store import open_store
from tests.store.conftest import PostgresBackend, postgres_url

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


DICE = """(defn main [_]
  (let [t (now)
        r (random 100)
        id (uuid)]
    (println "rolled" r)
    (let [s (sleep "1h")]
      (println "slept" s))
    (println "id" id "at" t)
    (if (> r 50) :high :low)))
"""


def record(store_url: str, source: str, folder: Path) -> str:
    """Run ``source`` to its end in virtual time in the store at ``store_url``; its id."""
    src = folder / "dice.flow"
    src.write_text(source, encoding="utf-8")
    with open_store(store_url) as store:
        rt = Runtime(store, virtual_time=True)
        pid = rt.start_file(src)
        assert rt.run(pid).status == "done"
    return pid


@pytest.fixture
def dice(tmp_path: Path) -> tuple[str, str]:
    """``(store path, program id)`` of a finished run of ``DICE``: its events 2, 3 and 4
    answer now, random and uuid, event 7 fires its sleep's timer."""
    path = str(tmp_path / "dice.db")
    return path, record(path, DICE, tmp_path)


@pytest.fixture
def pg_samples():
    """The URL of a fresh PostgreSQL schema holding sample_logs/approval.db's runs (skips
    without ``FLOWMETAL_TEST_POSTGRES``); dropped afterwards."""
    backend = PostgresBackend(postgres_url())
    try:
        with open_store(str(SAMPLES / "approval.db"), read_only=True) as src, \
                open_store(backend.url) as dest:
            import_runs(dest, export_run(src, "p-approval", forks=True), if_taken="error")
        yield backend.url
    finally:
        backend.cleanup()


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

