"""What only the SQLite backend does: the file, its pragmas, open_store's paths and URLs."""

from __future__ import annotations

import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from flowmetal.store import (
    Commit,
    ConflictError,
    SchemaError,
    SqliteStore,
    StoreError,
    open_store,
)
from flowmetal.store._common import SCHEMA_VERSION
from flowmetal.store._sqlite import MIGRATIONS


def pragma(store: SqliteStore, name: str):
    return store._conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_store_file_uses_wal_full_sync_and_foreign_keys(tmp_path):
    with open_store(tmp_path / "a.db") as s:
        assert pragma(s, "journal_mode") == "wal"
        assert pragma(s, "synchronous") == 2  # FULL
        assert pragma(s, "foreign_keys") == 1
        assert pragma(s, "busy_timeout") == 30000


def test_synchronous_normal_is_an_option(tmp_path):
    with open_store(tmp_path / "a.db", synchronous="normal") as s:
        assert pragma(s, "synchronous") == 1  # NORMAL


def test_unknown_synchronous_is_refused(tmp_path):
    with pytest.raises(StoreError, match="synchronous"):
        open_store(tmp_path / "a.db", synchronous="OFF")


def test_open_store_accepts_a_path_or_a_sqlite_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for target in ["plain.db", "sqlite:///relative.db", f"sqlite:///{tmp_path}/absolute.db"]:
        with open_store(target) as s:
            assert isinstance(s, SqliteStore)
    assert {p.name for p in tmp_path.glob("*.db")} == {"plain.db", "relative.db", "absolute.db"}


def test_open_store_unknown_scheme_is_refused():
    with pytest.raises(StoreError, match="'mysql'"):
        open_store("mysql://localhost/x")


def test_non_sqlite_file_gives_clear_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database, just some text that is long enough " * 20)
    with pytest.raises(SchemaError, match="not an SQLite database") as e:
        open_store(path)
    assert str(path) in str(e.value)
    assert path.read_text().startswith("this is not a database")


def test_non_flowmetal_sqlite_file_gives_clear_error_and_is_left_alone(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match="not a Flowmetal store") as e:
        open_store(path)
    assert str(path) in str(e.value) and "users" in str(e.value)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # untouched
    conn.close()


def test_unopenable_path_is_a_store_error_naming_it(tmp_path):
    path = tmp_path / "no-such-dir" / "a.db"
    with pytest.raises(StoreError, match="no-such-dir"):
        open_store(path)


def test_events_are_append_only_even_for_raw_sql(tmp_path):
    with open_store(tmp_path / "a.db") as s:
        s.create_program(
            "p", name="x", kind="program", code_hash=None, args=[], events=[("started", {})]
        )
    conn = sqlite3.connect(tmp_path / "a.db")
    for statement in ["UPDATE events SET type = 'x'", "DELETE FROM events"]:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    conn.close()


def test_tracer_sees_every_statement_of_a_commit(tmp_path):
    seen = []
    with open_store(tmp_path / "a.db", tracer=lambda sql, params: seen.append(sql)) as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        seen.clear()
        s.commit("p", Commit(expected_seq=0, status="waiting", events=[("a", 1), ("b", 2)]))
    assert seen[0] == "BEGIN IMMEDIATE" and seen[-1] == "COMMIT"
    assert sum(sql.startswith("INSERT INTO events") for sql in seen) == 2
    assert len(seen) == 5  # BEGIN, the compare-and-set UPDATE, two INSERTs, COMMIT


def test_a_commit_that_sqlite_refuses_says_which_program_and_writes_nothing(tmp_path):
    with open_store(tmp_path / "a.db") as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        s.commit("p", Commit(expected_seq=0, status="waiting", events=[("a", 1)]))
        outside = sqlite3.connect(tmp_path / "a.db")
        outside.execute("CREATE TRIGGER refuse BEFORE INSERT ON events"
                        " BEGIN SELECT RAISE(ABORT, 'no more'); END")
        outside.commit()
        outside.close()
        with pytest.raises(StoreError, match="^Could not commit to program 'p': no more$"):
            s.commit("p", Commit(expected_seq=1, status="waiting", events=[("b", 2)],
                                 snapshot=b"s", new_timers=[("t", 1.0)]))
        p = s.get_program("p")
        assert (p.last_seq, s.latest_snapshot("p"), s.list_timers("p")) == (1, None, [])
        # the store still works, and its next commit is not misled by the one refused
        s._conn.execute("DROP TRIGGER refuse")
        assert s.commit("p", Commit(expected_seq=1, status="waiting", events=[("b", 2)])) == 2


def test_in_memory_store_works_for_throwaway_use():
    with open_store(":memory:") as s:
        s.create_program("p", name="x", kind="repl", code_hash=None, args=[])
        assert s.get_program("p").status == "ready"


def test_one_store_can_be_shared_by_threads_one_call_at_a_time(tmp_path):
    with open_store(tmp_path / "a.db", synchronous="NORMAL") as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])

        def append_many(t: int) -> list[int]:
            return [s.append_input("p", "message", {"t": t, "i": i}) for i in range(50)]

        with ThreadPoolExecutor(8) as pool:
            seqs = [seq for batch in pool.map(append_many, range(8)) for seq in batch]
        assert sorted(seqs) == list(range(1, 401))
        assert [e.seq for e in s.events("p")] == list(range(1, 401))


def test_sqlite_url_without_three_slashes_is_explained():
    with pytest.raises(StoreError, match="sqlite:///PATH"):
        open_store("sqlite://run.db")


def test_sqlite_url_takes_synchronous_as_a_query_option(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'n.db'}?synchronous=normal") as s:
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    with pytest.raises(StoreError, match="takes \\?synchronous"):
        open_store(f"sqlite:///{tmp_path / 'n.db'}?sync=1")


def test_new_files_cluster_events_and_snapshots_on_their_keys(tmp_path):
    """So a commit writes one page of each, not one of the table and one of its key."""
    open_store(tmp_path / "a.db").close()
    conn = sqlite3.connect(tmp_path / "a.db")
    ddl = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    conn.close()
    for table in ("events", "snapshots"):
        assert ddl[table].endswith("WITHOUT ROWID"), table
    assert "WITHOUT ROWID" not in ddl["programs"] and "timers" not in ddl


def test_a_commit_that_keeps_the_status_leaves_it_out_of_its_update(tmp_path):
    """Setting status to the value it has would still rewrite its index page."""
    seen = []
    with open_store(tmp_path / "a.db", tracer=lambda sql, params: seen.append(sql)) as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        s.commit("p", Commit(expected_seq=0, status="waiting", events=[("a", 1)]))
        seen.clear()
        s.commit("p", Commit(expected_seq=1, status="waiting", events=[("b", 2)]))
        s.commit("p", Commit(expected_seq=2, status="done", events=[("c", 3)]))
    updates = [sql for sql in seen if sql.startswith("UPDATE programs")]
    assert "status" not in updates[0].split("WHERE")[0]
    assert "status = ?" in updates[1].split("WHERE")[0]


def test_a_sleep_commit_is_one_statement_per_table(tmp_path):
    """What the runtime commits for each durable sleep: its events, and the program's row
    with its snapshot moved along and its timer replaced by the next one."""
    seen = []
    with open_store(tmp_path / "a.db", tracer=lambda sql, params: seen.append(sql)) as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        s.commit("p", Commit(expected_seq=0, status="waiting", events=[("requested", 1)],
                             snapshot=b"s1", new_timers=[("1", 0.0)]))
        seen.clear()
        s.commit("p", Commit(expected_seq=1, status="waiting",
                             events=[("timer-fired", 1), ("requested", 2)], snapshot=b"s3",
                             cancel_timers=["1"], new_timers=[("3", 0.0)]))
        committed = seen[:]
        assert [(t.key, t.due_at) for t in s.list_timers("p")] == [("3", 0.0)]
        assert s.snapshots("p") == [(3, 0)] and s.latest_snapshot("p").state == b"s3"
    assert [" ".join(sql.split()[:4]) for sql in committed] == [
        "BEGIN IMMEDIATE", "UPDATE programs SET last_seq", "INSERT INTO events (program_id,",
        "INSERT INTO events (program_id,", "COMMIT"]
    # the snapshot and the timers went into the program's row; the earliest due stayed
    update = next(sql for sql in committed if "programs" in sql).split("WHERE")[0]
    assert "snapshot_state = ?" in update and "timers = ?" in update
    assert "next_timer_at" not in update and "status" not in update


def test_the_newest_snapshot_is_in_the_programs_row_and_checkpoints_in_their_table(tmp_path):
    with open_store(tmp_path / "a.db") as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        for seq in (999, 1001, 1500):
            s.commit("p", Commit(expected_seq=s.get_program("p").last_seq, status="waiting",
                                 events=[("e", None)] * (seq - s.get_program("p").last_seq),
                                 snapshot=b"s%d" % seq, snapshot_step=seq))
    conn = sqlite3.connect(tmp_path / "a.db")
    try:
        assert conn.execute("SELECT seq, state FROM snapshots").fetchall() == [(999, b"s999")]
        assert conn.execute(
            "SELECT snapshot_seq, snapshot_step, snapshot_state FROM programs"
        ).fetchall() == [(1500, 1500, b"s1500")]
    finally:
        conn.close()


def test_a_version_1_file_is_migrated_with_its_newest_snapshots_moved_to_programs(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in MIGRATIONS[1]:
            conn.execute(statement)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
        for pid in ("p", "q", "r"):
            conn.execute("INSERT INTO programs (id, name, kind, status, args, last_seq,"
                         " created_at, updated_at) VALUES (?, 'x', 'program', 'waiting',"
                         " 'null', 2005, 0, 0)", (pid,))
        for pid, seq in (("p", 999), ("p", 2005), ("q", 7)):
            conn.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?, 1)",
                         (pid, seq, seq * 10, b"s%d" % seq))
    finally:
        conn.close()
    with open_store(path) as s:
        assert s.snapshots("p") == [(999, 9990), (2005, 20050)]
        assert s.latest_snapshot("p").state == b"s2005"
        assert s.snapshot_at_or_before("p", 2000).state == b"s999"
        assert s.latest_snapshot("q").seq == 7 and s.latest_snapshot("r") is None
        s.commit("p", Commit(expected_seq=2005, status="waiting", events=[("e", None)],
                             snapshot=b"s2006"))
        assert s.snapshots("p") == [(999, 9990), (2006, 0)]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT program_id, seq FROM snapshots").fetchall() == [("p", 999)]
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                            ).fetchone() == (str(SCHEMA_VERSION),)
    finally:
        conn.close()


def test_wait_for_change_hears_other_connections_not_its_own_commits(tmp_path):
    with open_store(tmp_path / "a.db") as s, open_store(tmp_path / "a.db") as other:
        assert s.wait_for_change(0) is False  # starts watching
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        assert s.wait_for_change(0) is False
        other.append_input("p", "message", {})
        assert s.wait_for_change(0) is True
        assert s.wait_for_change(0) is False  # answered once


def test_an_interrupt_right_after_begin_leaves_no_transaction_or_lock(tmp_path, monkeypatch):
    path = tmp_path / "a.db"
    with open_store(path) as s:
        begin = s._begin_write

        def begin_then_ctrl_c() -> None:
            begin()  # SQLite now holds the write lock...
            raise KeyboardInterrupt  # ...and Ctrl-C lands before the store's code resumes

        monkeypatch.setattr(s, "_begin_write", begin_then_ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        monkeypatch.undo()
        assert not s._conn.in_transaction
        # this process and any other can write at once (no 30 s wait for a lock)
        s.create_program("q", name="x", kind="program", code_hash=None, args=[])
        with open_store(path, busy_timeout=0.5) as other:
            other.create_program("r", name="x", kind="program", code_hash=None, args=[])
        assert sorted(p.id for p in s.list_programs()) == ["q", "r"]


def test_a_wal_file_is_truncated_back_after_checkpoints(tmp_path):
    with open_store(tmp_path / "a.db") as s:
        assert pragma(s, "journal_size_limit") == 64 * 1024 * 1024


# -- timers in the programs row (schema version 3) --------------------------------------------


def _v2_file(path) -> None:
    """A store file as Flowmetal made them at schema version 2: a timers table."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in (*MIGRATIONS[1], *MIGRATIONS[2]):
            conn.execute(statement)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '2')")
        for pid in ("p", "q", "r"):
            conn.execute("INSERT INTO programs (id, name, kind, status, args, last_seq,"
                         " created_at, updated_at) VALUES (?, 'x', 'program', 'waiting',"
                         " 'null', 1, 0, 0)", (pid,))
        conn.executemany("INSERT INTO timers (program_id, key, due_at) VALUES (?, ?, ?)",
                         [("p", "a", 1767225600.123456789), ("p", "b", 5.0), ("q", "c", 7.25)])
    finally:
        conn.close()


def test_a_version_2_file_is_migrated_with_its_timers_moved_into_programs(tmp_path):
    path = tmp_path / "old.db"
    _v2_file(path)
    with open_store(path) as s:
        assert [(t.program_id, t.key, t.due_at) for t in s.list_timers()] == [
            ("p", "b", 5.0), ("q", "c", 7.25), ("p", "a", 1767225600.123456789)]
        assert s.next_timer_due() == 5.0
        assert [tuple(f) for f in s.fire_due_timers(now=10.0)] == [("p", "b", 2), ("q", "c", 2)]
        assert s.events("q")[-1].data == {"key": "c", "due_at": 7.25}
        fired = s.fire_due_timers(now=2e9)
        assert [tuple(f) for f in fired] == [("p", "a", 3)]
        assert s.events("p")[-1].data == {"key": "a", "due_at": 1767225600.123456789}
        assert s.list_timers() == [] and s.next_timer_due() is None
    conn = sqlite3.connect(path)
    try:
        kinds = dict(conn.execute("SELECT name, type FROM sqlite_master"))
        assert kinds["timers"] == "view" and "timers_due" not in kinds
        assert kinds["programs_next_timer"] == "index"
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                            ).fetchone() == (str(SCHEMA_VERSION),)
    finally:
        conn.close()


def test_the_timers_view_lists_every_timer_for_outside_readers_and_refuses_writes(tmp_path):
    with open_store(tmp_path / "a.db") as s:
        for pid in ("p", "q"):
            s.create_program(pid, name="x", kind="program", code_hash=None, args=[])
        s.commit("p", Commit(expected_seq=0, status="waiting", new_timers=[("a", 3.0), ("b", 1.5)]))
        s.commit("q", Commit(expected_seq=0, status="waiting", new_timers=[("c", 2.0)]))
    conn = sqlite3.connect(tmp_path / "a.db")
    try:
        rows = conn.execute("SELECT program_id, key, due_at FROM timers ORDER BY due_at").fetchall()
        assert rows == [("p", "b", 1.5), ("q", "c", 2.0), ("p", "a", 3.0)]
        # docs/operations.md's check for a stalled timer process
        assert conn.execute("SELECT count(*) FROM timers WHERE due_at < 2.5").fetchone() == (2,)
        with pytest.raises(sqlite3.OperationalError, match="view"):
            conn.execute("INSERT INTO timers (program_id, key, due_at) VALUES ('p', 'z', 1.0)")
    finally:
        conn.close()


def test_timers_fire_once_and_commits_keep_them_right_across_two_stores(tmp_path):
    """Each store remembers the row it last wrote; the other's writes must never be undone."""
    path = tmp_path / "a.db"
    with open_store(path) as a, open_store(path) as b:
        a.create_program("p", name="x", kind="program", code_hash=None, args=[])
        a.commit("p", Commit(expected_seq=0, status="waiting",
                             new_timers=[("t1", 1.0), ("t2", 2.0), ("t3", 3.0)]))
        assert [tuple(f) for f in b.fire_due_timers(now=1.5)] == [("p", "t1", 1)]
        assert a.fire_due_timers(now=1.5) == []
        with pytest.raises(ConflictError):  # a's view of the program is stale
            a.commit("p", Commit(expected_seq=0, status="waiting"))
        assert [tuple(f) for f in a.fire_due_timers(now=2.5)] == [("p", "t2", 2)]
        assert b.fire_due_timers(now=2.5) == []
        a.commit("p", Commit(expected_seq=2, status="ready"))
        # b changes the timers without moving last_seq or status; a then commits at that
        # same seq, its own last commit
        b.commit("p", Commit(expected_seq=2, status="ready", cancel_timers=["t3"],
                             new_timers=[("t4", 4.0)]))
        a.commit("p", Commit(expected_seq=2, status="waiting", new_timers=[("t5", 5.0)]))
        assert [(t.key, t.due_at) for t in b.list_timers("p")] == [("t4", 4.0), ("t5", 5.0)]
        assert b.next_timer_due() == 4.0
        assert [tuple(f) for f in b.fire_due_timers(now=9.0)] == [("p", "t4", 3), ("p", "t5", 4)]
        assert a.fire_due_timers(now=9.0) == [] and a.list_timers() == []
        fired = [e.data["key"] for e in a.events("p") if e.type == "timer-fired"]
        assert fired == ["t1", "t2", "t4", "t5"]


def _pages_written(path, action) -> Counter:
    """How many WAL frames ``action`` writes, by b-tree (the dbstat table names each page;
    without it, only the root pages of sqlite_master are named)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        action()
        wal = (path.parent / (path.name + "-wal")).read_bytes()
        try:
            names = dict(conn.execute("SELECT pageno, name FROM dbstat"))
        except sqlite3.OperationalError:  # SQLite built without dbstat
            names = dict(conn.execute("SELECT rootpage, name FROM sqlite_master"))
    finally:
        conn.close()
    page_size = int.from_bytes(wal[8:12], "big")
    frames = range(32, len(wal) - 23, 24 + page_size)
    return Counter(names.get(int.from_bytes(wal[at:at + 4], "big"), "?") for at in frames)


def test_a_commit_replacing_a_timer_writes_no_timer_page_unless_the_earliest_due_moves(tmp_path):
    path = tmp_path / "a.db"
    with open_store(path) as s:
        s.create_program("p", name="x", kind="program", code_hash=None, args=[])
        s.commit("p", Commit(expected_seq=0, status="waiting", new_timers=[("0", 5.0)]))

        def sleeps(dues: list[float]) -> None:
            for due in dues:
                seq = s.get_program("p").last_seq
                s.commit("p", Commit(expected_seq=seq, status="waiting", snapshot=b"state",
                                     events=[("timer-fired", seq), ("requested", seq + 2)],
                                     cancel_timers=[str(seq)], new_timers=[(str(seq + 2), due)]))

        same_due = _pages_written(path, lambda: sleeps([5.0] * 10))
        assert set(same_due) <= {"programs", "events"}, same_due
        assert same_due["programs"] == 10
        later_dues = _pages_written(path, lambda: sleeps([6.0 + i for i in range(10)]))
        assert set(later_dues) <= {"programs", "events", "programs_next_timer"}, later_dues
        assert later_dues["programs_next_timer"] == 10


def test_an_sqlite_without_json_functions_is_refused_by_name(tmp_path, monkeypatch):
    """The timers view is made of json_each: an SQLite built without it gets a clear error
    at open, and no file is created."""
    from flowmetal.store import _sqlite

    monkeypatch.setattr(_sqlite, "_has_json_functions", lambda: False)
    with pytest.raises(StoreError, match="JSON functions"):
        open_store(tmp_path / "a.db")
    assert not (tmp_path / "a.db").exists()


def test_this_sqlite_has_the_json_functions_the_store_needs():
    from flowmetal.store import _sqlite

    assert _sqlite._has_json_functions()
