"""What only the PostgreSQL backend does: schemas, SKIP LOCKED claims, LISTEN/NOTIFY, locks.

Every test here but the first few needs a server: they use the ``pg`` fixture (conftest.py),
which skips unless ``FLOWMETAL_TEST_POSTGRES`` is set, and gives each test a fresh schema.
A "session" below is a plain psycopg connection standing in for another worker or an
outside system: it holds row locks in an open transaction while the store works.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from flowmetal.store import (
    Commit,
    ConflictError,
    NewProgram,
    NewTask,
    SchemaError,
    StoreError,
    open_store,
)

psycopg = pytest.importorskip("psycopg", reason="the PostgreSQL store tests need psycopg 3")

from flowmetal.store._common import SCHEMA_VERSION  # noqa: E402
from flowmetal.store._postgres import PostgresStore, notify_channel  # noqa: E402

DOC = (Path(__file__).parents[2] / "docs" / "store.md").read_text()


def make_programs(store, n: int, **commit) -> list[str]:
    ids = [f"p{i:03}" for i in range(n)]
    for pid in ids:
        store.create_program(pid, name="x", kind="program", code_hash=None, args=[])
        if commit:
            store.commit(pid, Commit(expected_seq=0, **commit))
    return ids


def wait_for_lock_wait(pg, backend_pid: int) -> None:
    """Return once that session waits for a lock another session holds."""
    deadline = time.monotonic() + 10
    while pg.sql("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                 (backend_pid,)) != [("Lock",)]:  # fmt: skip
        assert time.monotonic() < deadline, "the store never waited for the lock"
        time.sleep(0.01)


def in_thread(fn, *args):
    """Start ``fn(*args)`` in a thread; ``.result()`` waits for it and re-raises its error."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(fn, *args)
    pool.shutdown(wait=False)
    return future


# -- opening: no server needed ------------------------------------------------------------


def test_unreachable_server_is_a_store_error_that_hides_the_password():
    with pytest.raises(StoreError, match="Could not connect") as e:
        open_store("postgresql://ada:s3cret@127.0.0.1:1/db?password=s3cret", connect_timeout=2)
    assert "s3cret" not in str(e.value) and "ada@127.0.0.1:1/db" in str(e.value)


def test_two_different_schemas_for_one_store_are_refused():
    with pytest.raises(StoreError, match="Two schemas"):
        open_store("postgresql://127.0.0.1:1/db?schema=a", schema="b")


def test_channel_is_per_schema_and_fits_postgres_names():
    assert notify_channel("public") == "flowmetal.public"
    assert len(notify_channel("s" * 100).encode()) == 63


# -- opening a schema -------------------------------------------------------------------------


def test_both_url_schemes_open_a_postgres_store(pg):
    for scheme in ("postgresql://", "postgres://"):
        url = scheme + pg.url.split("://", 1)[1]
        with open_store(url) as s:
            assert isinstance(s, PostgresStore) and s.schema == pg.schema


def test_schema_option_selects_and_creates_the_schema(pg):
    url = pg.another("made")
    schema = url.rsplit("schema=", 1)[1]
    with open_store(url.split("?")[0], schema=schema) as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
    assert pg.sql(f'SELECT id FROM "{schema}".programs') == [("p",)]
    assert pg.sql(f"SELECT key, value FROM \"{schema}\".meta ORDER BY key") == [
        ("application", "flowmetal"),
        ("schema_version", str(SCHEMA_VERSION)),
    ]


def test_other_libpq_options_in_the_url_pass_through(pg):
    with open_store(pg.url + "&application_name=fm-test&options=-c%20work_mem%3D7MB") as s:
        assert s._one("look", "SHOW work_mem", None) == ("7MB",)
        assert s._one("look", "SHOW application_name", None) == ("fm-test",)


def test_schema_with_other_tables_is_refused_and_left_alone(pg):
    pg.sql("CREATE TABLE users (id INT PRIMARY KEY)")
    with pytest.raises(SchemaError, match="not a Flowmetal store") as e:
        pg.open()
    assert "users" in str(e.value) and pg.schema in str(e.value)
    tables = pg.sql("SELECT tablename FROM pg_tables WHERE schemaname = %s", (pg.schema,))
    assert tables == [("users",)]


def test_newer_schema_version_names_the_database_and_schema(pg):
    pg.open().close()
    newer = SCHEMA_VERSION + 1
    pg.sql(f"UPDATE meta SET value = '{newer}' WHERE key = 'schema_version'")
    with pytest.raises(SchemaError,
                       match=f"version {newer}.*supports versions up to {SCHEMA_VERSION}") as e:
        pg.open()
    assert pg.server_url.split("?")[0] in str(e.value) and pg.schema in str(e.value)


def test_read_only_store_refuses_writes_and_creates_nothing(pg):
    with pytest.raises(SchemaError, match="read-write"):
        open_store(pg.another("absent"), read_only=True)
    assert not pg.sql("SELECT 1 FROM pg_namespace WHERE nspname = %s", (pg.schema + "_absent",))
    with pg.open() as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
    with pg.open(read_only=True) as ro:
        assert ro.get_program("p").status == "ready"
        with pytest.raises(StoreError, match="read-only"):
            ro.append_input("p", "message", {})
        assert ro.get_program("p").last_seq == 0


# -- what PostgreSQL stores ----------------------------------------------------------------


def test_json_keeps_key_order_number_form_and_nul_exactly(pg):
    value = {"z": 1, "a": 2, "m": {"y": [], "b": None}, "big": 1e20, "tiny": 5e-324, "nul": "\0"}
    with pg.open() as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=value,
                         events=[("started", value)])  # fmt: skip
        args, data = s.get_program("p").args, s.events("p")[0].data
    for got in (args, data):
        assert got == value and list(got) == list(value) and list(got["m"]) == ["y", "b"]
        assert isinstance(got["big"], float)
    [(text, kind)] = pg.sql("SELECT args::text, pg_typeof(args)::text FROM programs")
    assert kind == "json" and text == json.dumps(value, separators=(",", ":"))


def test_events_are_append_only_even_for_raw_sql(pg):
    with pg.open() as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[],
                         events=[("started", {})])  # fmt: skip
    for statement in ["UPDATE events SET type = 'x'", "DELETE FROM events", "TRUNCATE events"]:
        with pytest.raises(psycopg.IntegrityError, match="append-only"):
            pg.sql(statement)
    assert pg.sql("SELECT count(*) FROM events") == [(1,)]


def test_tracer_sees_a_commit_as_one_transaction(pg):
    seen = []
    with pg.open(tracer=lambda sql, params: seen.append(sql)) as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        seen.clear()
        s.commit("p", Commit(expected_seq=0, status="waiting", events=[("a", 1), ("b", 2)]))
    assert seen[0] == "BEGIN" and seen[-1] == "COMMIT"
    assert seen[1].startswith("UPDATE programs") and "last_seq = %(expected)s" in seen[1]
    assert [sql.split(" (")[0] for sql in seen[2:-1]] == ["INSERT INTO events"]  # one statement


def test_every_postgres_table_column_index_and_trigger_is_documented(pg):
    pg.open().close()
    columns = pg.sql(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = %s",
        (pg.schema,),
    )
    for table, column in columns:
        section = re.search(rf"^### `{table}`\n(.*?)(?=^#+ )", DOC, re.M | re.S)
        assert section and f"| `{column}` |" in section.group(1), f"{table}.{column}"
    names = pg.sql(
        "SELECT indexname FROM pg_indexes WHERE schemaname = %(s)s"
        " AND indexname NOT LIKE '%%pkey' AND indexname NOT LIKE '%%_key'"
        " UNION SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %(s)s AND NOT t.tgisinternal"
        " UNION SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = %(s)s",
        {"s": pg.schema},
    )
    assert len(names) >= 11  # 7 indexes, 3 triggers, 1 function
    for (name,) in names:
        assert f"`{name}" in DOC, f"{name} is not documented"


# -- claims with SKIP LOCKED, seen from two sessions ---------------------------------------


def test_claim_ready_skips_a_program_another_session_holds_without_waiting(pg):
    with pg.open(lock_timeout=5) as s:
        make_programs(s, 3)
        with pg.connect(autocommit=False) as other:
            other.execute("SELECT 1 FROM programs WHERE id = 'p000' FOR UPDATE")
            started = time.monotonic()
            assert s.claim_ready(worker="w1", lease_seconds=30) == ["p001", "p002"]
            assert time.monotonic() - started < 1
        assert s.claim_ready(worker="w2", lease_seconds=30) == ["p000"]


def test_claim_tasks_skips_a_task_another_session_is_claiming(pg):
    with pg.open(lock_timeout=5) as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        tasks = [NewTask(f"e{i}", "http", {}) for i in range(3)]
        s.commit("p", Commit(expected_seq=0, status="waiting", new_tasks=tasks))
        first = s.list_tasks()[0].id
        with pg.connect(autocommit=False) as other:
            other.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (first,))
            claimed = s.claim_tasks(kinds=["http"], worker="w1", lease_seconds=30)
            assert [t.effect_key for t in claimed] == ["e1", "e2"]
        [late] = s.claim_tasks(kinds=None, worker="w2", lease_seconds=30)
        assert (late.id, late.attempts) == (first, 1)


def test_a_timer_is_not_fired_while_another_session_holds_it_or_its_program(pg):
    with pg.open(lock_timeout=5) as s:
        make_programs(s, 2, status="waiting", new_timers=[("t", 10.0)])
        with pg.connect(autocommit=False) as other:
            other.execute("SELECT 1 FROM timers WHERE program_id = 'p000' FOR UPDATE")
            other.execute("SELECT 1 FROM programs WHERE id = 'p001' FOR UPDATE")
            started = time.monotonic()
            assert s.fire_due_timers(now=20.0) == []
            assert time.monotonic() - started < 1
        fired = s.fire_due_timers(now=20.0)
        assert sorted(f.program_id for f in fired) == ["p000", "p001"]
        assert s.fire_due_timers(now=20.0) == []


def test_concurrent_claims_from_many_stores_take_each_item_once(pg):
    programs, tasks_each = 120, 2
    with pg.open() as s:
        for pid in make_programs(s, programs):
            new = [NewTask(f"e{i}", "http", {}) for i in range(tasks_each)]
            s.commit(pid, Commit(expected_seq=0, status="ready", new_tasks=new,
                                 new_timers=[("t", 1.0)]))  # fmt: skip
    stores = [pg.open() for _ in range(6)]
    barrier = threading.Barrier(len(stores))

    def drain(store):
        barrier.wait()
        got = {"programs": [], "tasks": [], "timers": []}
        while True:
            p = store.claim_ready(worker=str(id(store)), lease_seconds=60, limit=5)
            t = store.claim_tasks(kinds=None, worker=str(id(store)), lease_seconds=60, limit=5)
            f = store.fire_due_timers(now=2.0, limit=5)
            got["programs"] += p
            got["tasks"] += [task.id for task in t]
            got["timers"] += [timer.program_id for timer in f]
            if not (p or t or f):
                return got

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            results = list(pool.map(drain, stores))
    finally:
        for store in stores:
            store.close()
    for what, expected in [("programs", programs), ("tasks", programs * tasks_each),
                           ("timers", programs)]:  # fmt: skip
        taken = [item for r in results for item in r[what]]
        assert len(taken) == len(set(taken)) == expected, what
    assert sum(1 for r in results if r["tasks"]) > 1  # the work really was shared


# -- row locks: gapless logs, compare-and-set, lock order --------------------------------------


def test_appends_from_many_stores_at_once_are_gapless(pg):
    with pg.open() as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
    stores = [pg.open() for _ in range(4)]

    def append_many(store):
        return [store.append_input("p", "message", {"i": i}) for i in range(40)]

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            seqs = [seq for batch in pool.map(append_many, stores) for seq in batch]
    finally:
        for store in stores:
            store.close()
    assert sorted(seqs) == list(range(1, 161))
    with pg.open() as s:
        assert [e.seq for e in s.events("p")] == list(range(1, 161))


def test_two_commits_from_one_view_race_and_exactly_one_wins(pg):
    with pg.open() as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
    a, b = pg.open(), pg.open()
    try:
        with pg.connect(autocommit=False) as other:
            # Both commits queue on the program's row lock, then run one after the other.
            other.execute("SELECT 1 FROM programs WHERE id = 'p' FOR UPDATE")
            futures = [
                in_thread(store.commit, "p", Commit(expected_seq=0, status="waiting",
                                                    events=[("from", name)]))
                for store, name in [(a, "a"), (b, "b")]
            ]  # fmt: skip
            time.sleep(0.3)
            assert not any(f.done() for f in futures)
        outcomes = []
        for f in futures:
            try:
                outcomes.append(f.result(timeout=10))
            except ConflictError:
                outcomes.append("conflict")
        assert sorted(outcomes, key=str) == [1, "conflict"]
        assert len(a.events("p")) == 1
    finally:
        a.close()
        b.close()


def test_a_lock_held_past_lock_timeout_is_a_store_error(pg):
    with pg.open(lock_timeout=0.2) as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        with pg.connect(autocommit=False) as other:
            other.execute("SELECT 1 FROM programs WHERE id = 'p' FOR UPDATE")
            with pytest.raises(StoreError, match="lock_timeout"):
                s.append_input("p", "message", {})
        assert s.append_input("p", "message", {}) == 1  # the store is still usable


def test_a_deadlock_is_broken_and_the_commit_retried(pg):
    # The child's commit locks the child, then sends to (locks) the parent; another session
    # locks the parent, then the child. PostgreSQL aborts the store's transaction (it waited
    # first), and the store runs it again once the other session is done.
    seen = []
    url = pg.url + "&options=-c%20deadlock_timeout%3D100ms"
    with open_store(url) as s:
        s.create_program("parent", name="x", kind="program", code_hash=None, args=[])
        s.commit("parent", Commit(expected_seq=0, status="waiting"))
        s.commit("parent", Commit(expected_seq=0, status="waiting", new_programs=[
            NewProgram(id="child", name="c", kind="child", code_hash=None, args=[],
                       parent_id="parent")]))  # fmt: skip
    with open_store(url, tracer=lambda sql, params: seen.append(sql)) as s:
        with pg.connect(autocommit=False) as other:
            other.execute("SELECT 1 FROM programs WHERE id = 'parent' FOR UPDATE")
            done = Commit(expected_seq=0, status="done", result=1,
                          send=[("parent", "child-completed", {"ok": True})])  # fmt: skip
            future = in_thread(s.commit, "child", done)
            wait_for_lock_wait(pg, s._conn.info.backend_pid)  # it holds the child now
            other.execute("SELECT 1 FROM programs WHERE id = 'child' FOR UPDATE")
            other.commit()
        assert future.result(timeout=10) == 0
        assert seen.count("BEGIN") == 2 and "ROLLBACK" in seen
        assert s.get_program("child").status == "done"
        assert s.events("parent")[-1].type == "child-completed"


def test_a_killed_connection_is_replaced_and_the_call_run_again(pg):
    # As after a server restart, or a firewall cutting an idle connection: the transaction
    # on the dead connection stored nothing, so running it again is safe.
    with pg.open() as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        for call, expected in [(lambda: s.get_program("p").status, "ready"),
                               (lambda: s.append_input("p", "message", {}), 1)]:  # fmt: skip
            pid = s._conn.info.backend_pid
            pg.sql("SELECT pg_terminate_backend(%s)", (pid,))
            assert call() == expected
            assert s._conn.info.backend_pid != pid
        assert [e.seq for e in s.events("p")] == [1]


def test_a_dropped_listen_connection_is_a_wake_up_and_is_reopened(pg):
    with pg.open() as waiter, pg.open() as writer:
        waiter.wait_for_change(0)
        pg.sql("SELECT pg_terminate_backend(%s)", (waiter._listen_conn.info.backend_pid,))
        assert waiter.wait_for_change(5) is True  # notices may have been missed
        waiter.wait_for_change(0)
        writer.create_program("p", name="x", kind="program", code_hash=None, args=[])
        assert waiter.wait_for_change(5) is True


# -- LISTEN / NOTIFY --------------------------------------------------------------------------


def test_wait_for_change_wakes_when_another_machine_appends(pg):
    with pg.open() as waiter, pg.open() as writer:
        writer.create_program("p", name="x", kind="program", code_hash=None, args=[])
        assert waiter.wait_for_change(0) is False  # starts listening
        threading.Timer(0.2, writer.append_input, ("p", "message", {})).start()
        started = time.monotonic()
        assert waiter.wait_for_change(10) is True
        assert 0.15 < time.monotonic() - started < 5


def test_notices_that_arrive_while_busy_wake_the_next_wait_at_once(pg):
    with pg.open() as waiter, pg.open() as writer:
        assert waiter.wait_for_change(0) is False
        make_programs(writer, 20)  # twenty notices while the waiter is "busy"
        started = time.monotonic()
        assert waiter.wait_for_change(10) is True
        assert time.monotonic() - started < 1
        # The notices that had arrived were answered by that one True; any still on the
        # way wake it again, then it is quiet.
        wakes = 1
        while waiter.wait_for_change(0.2):
            wakes += 1
        assert wakes < 10  # usually 1


@pytest.mark.parametrize(
    "write, wakes",
    [
        (lambda s: s.append_input("p", "message", {}), True),
        (lambda s: s.commit("p", Commit(expected_seq=0, status="waiting",
                                        new_tasks=[NewTask("e", "http", {})])), True),
        (lambda s: s.commit("p", Commit(expected_seq=0, status="waiting",
                                        new_timers=[("t", 1.0)])), True),
        (lambda s: s.commit("p", Commit(expected_seq=0, status="ready")), True),
        (lambda s: s.create_program("q", name="x", kind="program", code_hash=None,
                                    args=[]), True),
        (lambda s: s.commit("p", Commit(expected_seq=0, status="waiting",
                                        events=[("output", "hi")])), False),
        (lambda s: s.claim_ready(worker="w", lease_seconds=5), False),
        (lambda s: s.commit("p", Commit(expected_seq=1, status="waiting")), False),
    ],
    ids=["append", "task", "timer", "ready", "create", "quiet-commit", "claim", "refused"],
)  # fmt: skip
def test_writes_that_make_work_notify_and_others_do_not(pg, write, wakes):
    with pg.open() as waiter, pg.open() as writer:
        writer.create_program("p", name="x", kind="program", code_hash=None, args=[])
        waiter.wait_for_change(0)
        try:
            write(writer)
        except ConflictError:
            pass  # a refused commit writes, and tells, nothing
        assert waiter.wait_for_change(0.3 if wakes else 0.1) is wakes


def test_completing_firing_and_releasing_notify_the_program(pg):
    with pg.open() as waiter, pg.open() as writer:
        writer.create_program("p", name="x", kind="program", code_hash=None, args=[])
        writer.commit("p", Commit(expected_seq=0, status="waiting", new_callbacks=[("tok", "c")],
                                  new_tasks=[NewTask("e", "http", {})], new_timers=[("t", 1.0)]))
        waiter.wait_for_change(0)
        waiter.wait_for_change(0.1)  # drain the commit's own notice
        task = writer.list_tasks()[0]
        for write in [
            lambda: writer.complete_task(task.id, ok=True, value=1),
            lambda: writer.fire_due_timers(now=2.0),
            lambda: writer.complete_callback("tok", 1),
            # released while ready: some worker should drive it now
            lambda: writer.acquire_lease("p", worker="w", lease_seconds=30)
            and writer.release("p", "w"),
        ]:
            write()
            assert waiter.wait_for_change(2) is True
        writer.commit("p", Commit(expected_seq=3, status="waiting"))
        writer.acquire_lease("p", worker="w", lease_seconds=30)
        writer.release("p", "w")  # released while waiting: nothing for anyone to do
        assert waiter.wait_for_change(0.1) is False


def test_another_schemas_changes_do_not_wake_this_store(pg):
    with pg.open() as waiter, open_store(pg.another("elsewhere")) as elsewhere:
        waiter.wait_for_change(0)
        elsewhere.create_program("p", name="x", kind="program", code_hash=None, args=[])
        assert waiter.wait_for_change(0.2) is False


def test_an_outside_notify_on_the_channel_wakes_the_store(pg):
    with pg.open() as waiter:
        waiter.wait_for_change(0)
        assert waiter.channel == f"flowmetal.{pg.schema}"
        pg.sql("SELECT pg_notify('flowmetal.' || current_schema(), 'p1')")
        assert waiter.wait_for_change(5) is True


def test_wait_for_change_does_not_block_other_threads(pg):
    with pg.open() as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        s.wait_for_change(0)
        waiting = in_thread(s.wait_for_change, 10)
        time.sleep(0.1)
        started = time.monotonic()
        s.append_input("p", "message", {})  # the store's own writes wake it, too
        assert time.monotonic() - started < 1
        assert waiting.result(timeout=5) is True


# -- the recipes of docs/store.md, run as an outside system would ----------------------------


def recipe(name: str) -> list[str]:
    match = re.search(rf"```sql\n-- recipe: {name}\n(.*?)```", DOC, re.S)
    assert match, f"docs/store.md has no recipe {name!r}"
    code = "\n".join(line for line in match.group(1).splitlines() if not line.startswith("--"))
    # The docs write :name; psycopg wants %(name)s (and :: casts stay as they are).
    code = re.sub(r"(?<!:):(\w+)", r"%(\1)s", code)
    return [s.strip() for s in code.split(";") if s.strip()]


def run_recipe(pg, name: str, **params) -> dict | None:
    """Run a recipe on a plain connection; a statement that returns no row means ROLLBACK."""
    with pg.connect() as conn:
        for statement in recipe(name):
            cursor = conn.execute(statement, params if "%(" in statement else None)
            if cursor.description:
                row = cursor.fetchone()
                if row is None:
                    conn.execute("ROLLBACK")
                    return None
                params.update(zip([d.name for d in cursor.description], row))
        return params


def test_postgres_recipes_append_claim_and_complete_once(pg):
    with pg.open() as s:
        s.create_program("p1", name="job", kind="program", code_hash=None, args=[])
        s.commit("p1", Commit(expected_seq=0, status="waiting", events=[("requested", {})],
                              new_tasks=[NewTask("e1", "call:resize", {"w": 64})]))  # fmt: skip
        s.wait_for_change(0)

        data = '{"name":"approve","payload":true}'
        sent = run_recipe(pg, "pg-append-input", program_id="p1", type="message", data=data,
                          now=5.0)  # fmt: skip
        assert sent["seq"] == 2 and s.wait_for_change(2) is True
        assert s.events("p1", after=1)[0].data == {"name": "approve", "payload": True}

        claim = run_recipe(pg, "pg-claim-task", kind="call:resize", worker="ext", now=10.0,
                           lease_seconds=60)  # fmt: skip
        assert claim["idempotency_key"] == "p1:e1" and claim["request"] == {"w": 64}
        assert run_recipe(pg, "pg-claim-task", kind="call:resize", worker="x", now=11.0,
                          lease_seconds=60) is None  # fmt: skip

        args = dict(task_id=claim["task_id"], result='{"url":"small.png"}', now=12.0)
        assert run_recipe(pg, "pg-complete-task", **args)["seq"] == 3
        assert run_recipe(pg, "pg-complete-task", **args) is None  # at most once
        task = s.get_task(claim["task_id"])
        assert (task.status, task.claimed_by, task.attempts, task.result) == (
            "done", "ext", 1, {"url": "small.png"},
        )  # fmt: skip
        [event] = s.events("p1", after=2)
        assert (event.type, event.data) == (
            "effect-completed", {"key": "e1", "value": {"url": "small.png"}},
        )  # fmt: skip
        assert s.get_program("p1").status == "ready"

        s.set_status("p1", "cancelled")
        assert run_recipe(pg, "pg-append-input", program_id="p1", type="message", data=data,
                          now=6.0) is None  # fmt: skip
        assert s.get_program("p1").last_seq == 3
