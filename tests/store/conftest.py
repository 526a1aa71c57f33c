"""Fixtures for the store tests: one ``store`` per backend, each in a fresh place of its own.

The conformance suite runs on every backend in ``BACKENDS``. SQLite uses a file in a
temporary folder. PostgreSQL needs a server: set ``FLOWMETAL_TEST_POSTGRES`` to its URL (CI
uses ``postgresql://postgres@127.0.0.1:5432/test``); without it the PostgreSQL tests skip.
Each PostgreSQL test gets a schema of its own, ``fm_test_<random>``, dropped afterwards, so
tests never see each other's data and the suite can run again and again, even alongside
another run on the same database.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowmetal.store import Store, open_store
from flowmetal.store._sqlite import MIGRATIONS

POSTGRES_ENV = "FLOWMETAL_TEST_POSTGRES"


class SqliteBackend:
    """Opens stores on one SQLite file, and reaches under the contract for raw SQL."""

    name = "sqlite"

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
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

    def another(self, name: str) -> str:
        """The URL of another, not yet created store (``name`` tells them apart)."""
        return str(self.tmp_path / f"{name}.db")

    def cleanup(self) -> None:
        pass


class SqliteRowidBackend(SqliteBackend):
    """An SQLite file made before events, snapshots and timers were WITHOUT ROWID tables:
    the same schema version, with rowid tables. It must keep every promise too."""

    name = "sqlite-rowid"

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            for statement in MIGRATIONS[1]:
                conn.execute(statement.replace(" WITHOUT ROWID", ""))
            conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
        finally:
            conn.close()


class PostgresBackend:
    """Opens stores in a fresh schema of the test database, dropped by :meth:`cleanup`."""

    name = "postgres"

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.schema = f"fm_test_{secrets.token_hex(6)}"
        self.path = self.schema  # what error messages name, as a file's path does for SQLite
        self.url = with_schema(server_url, self.schema)
        self._schemas = [self.schema]
        # Made here, like an empty file: the store creates its tables in it.
        self.sql(f'CREATE SCHEMA "{self.schema}"')

    def open(self, **options: Any) -> Store:
        return open_store(self.url, **options)

    def connect(self, *, autocommit: bool = True) -> Any:
        """A plain psycopg connection with this store's schema first on the search_path."""
        import psycopg

        conn = psycopg.connect(self.server_url, autocommit=autocommit)
        conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    def sql(self, statement: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement on a separate plain connection, as an outside system would."""
        with self.connect() as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def another(self, name: str) -> str:
        """The URL of another store, in a schema not yet created (dropped at cleanup)."""
        schema = f"{self.schema}_{name}"
        self._schemas.append(schema)
        return with_schema(self.server_url, schema)

    def cleanup(self) -> None:
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True) as conn:
            # Fail rather than hang if a test left a session holding a lock in the schema.
            conn.execute("SET lock_timeout = '10s'")
            for schema in self._schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def with_schema(url: str, schema: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = "&".join(q for q in (parts.query, f"schema={schema}") if q)
    return urllib.parse.urlunsplit(parts._replace(query=query))


def postgres_url() -> str:
    """The test server's URL, or skip: PostgreSQL tests need a server and psycopg."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(
            f"{POSTGRES_ENV} is not set; set it to a PostgreSQL URL (CI uses"
            " postgresql://postgres@127.0.0.1:5432/test) to run the PostgreSQL store tests"
        )
    pytest.importorskip("psycopg", reason="the PostgreSQL store tests need psycopg 3")
    return url


def make_backend(name: str, tmp_path: Path) -> SqliteBackend | PostgresBackend:
    if name == "postgres":
        return PostgresBackend(postgres_url())
    if name == "sqlite-rowid":
        return SqliteRowidBackend(tmp_path)
    return SqliteBackend(tmp_path)


BACKENDS = ["sqlite", "sqlite-rowid", "postgres"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    b = make_backend(request.param, tmp_path)
    yield b
    b.cleanup()


@pytest.fixture
def pg() -> Iterator[PostgresBackend]:
    """A PostgreSQL backend only, for tests of what only PostgreSQL does."""
    b = PostgresBackend(postgres_url())
    yield b
    b.cleanup()


@pytest.fixture
def store(backend: Any) -> Iterator[Store]:
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
