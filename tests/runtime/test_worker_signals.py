"""``flowmetal worker`` as a service manager stops it: SIGTERM ends it cleanly (exit 0) and
releases what it held, like Ctrl-C (exit 130). Real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flowmetal.runtime.runtime import Runtime
from flowmetal.store import open_store

LOOPER = "(defn main [_] (loop [i 0] (recur (inc i))))"  # never waits: always being driven


def _start_worker(db: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "flowmetal", "worker", "--db", str(db)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env=env)
    assert proc.stderr is not None
    first = proc.stderr.readline()  # "worker HOST:PID on DB": it is up
    assert first.startswith("worker "), first
    return proc


def _leased(db: Path, pid: str) -> bool:
    store = open_store(str(db))
    try:
        return store.get_program(pid).lease_owner is not None
    finally:
        store.close()


@pytest.mark.parametrize(("sig", "code", "says"), [
    (signal.SIGTERM, 0, "worker stopped by SIGTERM"),
    (signal.SIGINT, 130, "worker stopped;"),
])
def test_a_signal_stops_the_worker_and_releases_its_program(tmp_path: Path, sig: int,
                                                          code: int, says: str) -> None:
    db = tmp_path / "flow.db"
    rt = Runtime(open_store(str(db)))
    pid = rt.start(LOOPER, "looper.flow")
    proc = _start_worker(db)
    try:
        deadline = 200_000
        while not _leased(db, pid):  # wait on the condition: the worker holds the program
            deadline -= 1
            assert deadline and proc.poll() is None, "the worker never took the program"
        proc.send_signal(sig)
        rest = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, rest
    assert says in rest
    assert "Traceback" not in rest
    assert not _leased(db, pid)
