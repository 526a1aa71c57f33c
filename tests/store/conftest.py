"""Fixtures for the store tests: one ``store`` per backend, each in a fresh temporary place.

To run the conformance suite on a new backend, add a harness class to ``BACKENDS`` and its
name to ``params`` below (PostgreSQL will skip itself when no test server is configured).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from flowmetal.store import Store, open_store


class SqliteBackend:
    """Opens stores on one SQLite file, and reaches under the contract for raw SQL."""

    name = "sqlite"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "store.db"
        self.url = str(self.path)

    def open(self, **options: Any) -> Store:
        return open_store(self.url, **options)

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on a separate plain connection, as an outside system would."""
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            return conn.execute(statement, params).fetchall()
        finally:
            conn.close()


BACKENDS = {"sqlite": SqliteBackend}


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> SqliteBackend:
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
def store(backend: SqliteBackend) -> Store:
    s = backend.open()
    yield s
    s.close()


@pytest.fixture
def program(store: Store) -> str:
    """A stored program ``p1`` with one event (``started``), status ``ready``."""
    store.put_code("h1", "job.flow", "(sleep 5)", b"unit-1")
    store.create_program(
        "p1",
        name="job",
        kind="program",
        code_hash="h1",
        args={"n": 1},
        events=[("started", {"args": {"n": 1}})],
    )
    return "p1"
