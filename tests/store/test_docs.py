"""docs/store.md is a public interface: check it describes the real schema, and run its SQL."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from flowmetal.store import (
    INPUT_EVENT_TYPES,
    PROGRAM_STATUSES,
    TASK_STATUSES,
    Commit,
    NewTask,
    open_store,
)

DOC = (Path(__file__).parents[2] / "docs" / "store.md").read_text()


def section(title: str) -> str:
    """The text under the heading ``title`` (of any level), up to the next heading."""
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", DOC, re.M | re.S)
    assert match, f"docs/store.md has no section {title!r}"
    return match.group(1)


def recipe(name: str) -> list[str]:
    """The statements of the ```sql block that starts with ``-- recipe: name``."""
    match = re.search(rf"```sql\n-- recipe: {name}\n(.*?)```", DOC, re.S)
    assert match, f"docs/store.md has no recipe {name!r}"
    code = "\n".join(line for line in match.group(1).splitlines() if not line.startswith("--"))
    return [s.strip() for s in code.split(";") if s.strip()]


def run_recipe(path: Path, name: str, **params) -> dict | None:
    """Run a recipe as an outside system would, on a plain sqlite3 connection.

    A SELECT's first row becomes parameters for the statements after it; a SELECT with no
    row means ROLLBACK, as the recipe's comment says, and the result is None.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        for statement in recipe(name):
            cursor = conn.execute(statement, params)
            if statement.upper().startswith("SELECT"):
                row = cursor.fetchone()
                if row is None:
                    conn.execute("ROLLBACK")
                    return None
                params.update(zip([d[0] for d in cursor.description], row))
        return params
    finally:
        conn.close()


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "store.db"
    with open_store(path) as s:
        s.create_program("p1", name="job", kind="program", code_hash=None, args=[])
        s.commit(
            "p1",
            Commit(
                expected_seq=0,
                status="waiting",
                events=[("requested", {"key": "e1"})],
                new_tasks=[NewTask("e1", "call:resize", {"w": 64})],
            ),
        )
    return path


def live_schema(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        conn.close()


def test_every_table_and_column_is_documented(store_path):
    for table, columns in live_schema(store_path).items():
        text = section(f"`{table}`")
        for column in columns:
            assert f"| `{column}` |" in text, f"column {table}.{column} is not documented"


def test_every_index_and_trigger_is_documented(store_path):
    conn = sqlite3.connect(store_path)
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL"
        )
    ]
    conn.close()
    for name in names:
        assert f"`{name}" in DOC, f"{name} is not documented"


def test_every_status_and_input_event_type_is_documented():
    for status in PROGRAM_STATUSES:
        assert f"| `{status}` |" in section("Program statuses")
    for status in TASK_STATUSES:
        assert f"| `{status}` |" in section("Task statuses")
    for type in INPUT_EVENT_TYPES:
        assert f"| `{type}` |" in section("Input events")


def test_append_input_recipe_appends_and_wakes_the_program(store_path):
    data = '{"name":"approve","payload":true}'
    assert run_recipe(
        store_path, "append-input", program_id="p1", type="message", data=data, now=5.0
    )
    with open_store(store_path) as s:
        p = s.get_program("p1")
        assert (p.last_seq, p.status) == (2, "ready")
        assert s.events("p1", after=1)[0].data == {"name": "approve", "payload": True}
        s.set_status("p1", "cancelled")
    assert (
        run_recipe(store_path, "append-input", program_id="p1", type="message", data=data, now=6.0)
        is None
    )
    with open_store(store_path) as s:
        assert s.get_program("p1").last_seq == 2


def test_claim_and_complete_task_recipes_deliver_the_result_once(store_path):
    claim = run_recipe(
        store_path, "claim-task", kind="call:resize", worker="ext", now=10.0, lease_seconds=60
    )
    assert claim["idempotency_key"] == "p1:e1" and claim["request"] == '{"w":64}'
    assert (
        run_recipe(
            store_path, "claim-task", kind="call:resize", worker="x", now=11.0, lease_seconds=60
        )
        is None
    )

    args = dict(task_id=claim["task_id"], result='{"url":"small.png"}', now=12.0)
    assert run_recipe(store_path, "complete-task", **args)
    assert run_recipe(store_path, "complete-task", **args) is None  # at most once

    with open_store(store_path) as s:
        task = s.get_task(claim["task_id"])
        assert (task.status, task.claimed_by, task.attempts, task.result) == (
            "done",
            "ext",
            1,
            {"url": "small.png"},
        )
        [event] = s.events("p1", after=1)
        assert (event.seq, event.type, event.data) == (
            2,
            "effect-completed",
            {"key": "e1", "value": {"url": "small.png"}},
        )
        assert s.get_program("p1").status == "ready"
