"""The store contract, tested through ``Store`` only, on every backend (see conftest.py)."""

from __future__ import annotations

import threading
import time

import pytest

from flowmetal.store import (
    INPUT_EVENT_TYPES,
    AlreadyCompleted,
    Commit,
    ConflictError,
    NewProgram,
    NewTask,
    NotFound,
    ProgramFinished,
    SchemaError,
    SnapshotInfo,
    StoreError,
)
from flowmetal.store._common import SCHEMA_VERSION

# -- opening and the schema ------------------------------------------------------------


def test_reopening_a_store_keeps_its_data(backend, store, program):
    store.close()
    with backend.open() as again:
        assert again.get_program(program).last_seq == 1
        assert again.get_code("h1").unit == b"unit-1"


def test_schema_records_application_and_version(backend, store):
    meta = dict(backend.sql("SELECT key, value FROM meta"))
    assert meta["application"] == "flowmetal"
    assert int(meta["schema_version"]) >= 1


def test_schema_newer_version_gives_clear_error(backend, store):
    store.close()
    backend.sql("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(SchemaError) as e:
        backend.open()
    message = str(e.value)
    assert "999" in message and f"supports versions up to {SCHEMA_VERSION}" in message
    assert str(backend.path) in message


def test_schema_of_another_application_is_refused(backend, store):
    store.close()
    backend.sql("UPDATE meta SET value = 'someone-else' WHERE key = 'application'")
    with pytest.raises(SchemaError, match="not a Flowmetal store"):
        backend.open()


def test_store_closes_as_a_context_manager_and_then_refuses_work(backend):
    with backend.open() as s:
        s.put_code("h", "a", "b", b"c")
    with pytest.raises(StoreError):
        s.get_code("h")


# -- code ---------------------------------------------------------------------------------


def test_put_code_is_idempotent_on_the_hash(store):
    store.put_code("h", "a.flow", "(one)", b"first")
    store.put_code("h", "b.flow", "(two)", b"second")
    code = store.get_code("h")
    assert (code.source_name, code.source, code.unit) == ("a.flow", "(one)", b"first")


def test_get_code_of_unknown_hash_is_not_found(store):
    with pytest.raises(NotFound, match="nope"):
        store.get_code("nope")


# -- programs --------------------------------------------------------------------------


def test_create_program_starts_ready_with_events_from_seq_1(store, program):
    p = store.get_program(program)
    assert (p.status, p.kind, p.code_hash, p.args, p.last_seq) == (
        "ready",
        "program",
        "h1",
        {"n": 1},
        1,
    )
    assert (p.result, p.error, p.waiting, p.lease_owner) == (None, None, None, None)
    [e] = store.events(program)
    assert (e.seq, e.type, e.data) == (1, "started", {"args": {"n": 1}})


def test_create_program_without_events_has_last_seq_0(store):
    p = store.create_program("r", name="repl", kind="repl", code_hash=None, args=None)
    assert p.last_seq == 0 and store.events("r") == []


def test_create_program_with_a_taken_id_conflicts(store, program):
    with pytest.raises(ConflictError, match="p1"):
        store.create_program("p1", name="x", kind="program", code_hash="h1", args=[])


def test_create_program_with_unknown_code_is_not_found_and_writes_nothing(store):
    with pytest.raises(NotFound, match="put_code"):
        store.create_program(
            "p", name="x", kind="program", code_hash="missing", args=[], events=[("a", 1)]
        )
    with pytest.raises(NotFound):
        store.get_program("p")
    assert store.events("p") == []


def test_create_program_with_unknown_parent_is_not_found(store):
    with pytest.raises(NotFound, match="ghost"):
        store.create_program(
            "c", name="x", kind="child", code_hash=None, args=[], parent_id="ghost"
        )


def test_create_program_rejects_unknown_kind(store):
    with pytest.raises(StoreError, match="kind"):
        store.create_program("p", name="x", kind="daemon", code_hash=None, args=[])


def test_create_program_can_start_leased(store):
    store.create_program(
        "p",
        name="x",
        kind="program",
        code_hash=None,
        args=[],
        lease_owner="cli",
        lease_seconds=60,
    )
    assert store.get_program("p").lease_owner == "cli"
    assert store.claim_ready(worker="w", lease_seconds=10) == []


def test_get_program_not_found_names_the_id(store):
    with pytest.raises(NotFound, match="no-such-program"):
        store.get_program("no-such-program")


def test_list_programs_newest_first_with_filters(store):
    for i, kind in enumerate(["program", "repl", "program"]):
        store.create_program(f"p{i}", name="x", kind=kind, code_hash=None, args=[])
    store.create_program("c", name="x", kind="child", code_hash=None, args=[], parent_id="p0")
    store.set_status("p2", "cancelled")
    assert [p.id for p in store.list_programs()] == ["c", "p2", "p1", "p0"]
    assert [p.id for p in store.list_programs(kind="program")] == ["p2", "p0"]
    assert [p.id for p in store.list_programs(status="ready", kind="program")] == ["p0"]
    assert [p.id for p in store.list_programs(parent_id="p0")] == ["c"]
    assert len(store.list_programs(limit=2)) == 2


def test_list_programs_of_a_parent_newest_first_within_the_limit(store):
    store.create_program("p", name="x", kind="program", code_hash=None, args=[])
    for kid in ("k1", "k3", "k2", "k4"):
        store.create_program(kid, name="x", kind="child", code_hash=None, args=[],
                             parent_id="p")
    kids = [store.get_program(k) for k in ("k1", "k3", "k2", "k4")]
    newest = [r.id for r in sorted(kids, key=lambda r: (r.created_at, r.id), reverse=True)]
    assert [r.id for r in store.list_programs(parent_id="p")] == newest
    for limit in (4, 3, 1, 0):  # as many as there are, and fewer
        assert [r.id for r in store.list_programs(parent_id="p", limit=limit)] == \
            newest[:limit]
    assert [r.id for r in store.list_programs(parent_id="p", kind="child", limit=2)] == \
        newest[:2]
    assert store.list_programs(parent_id="p", status="done") == []

def test_json_values_round_trip(store):
    value = {
        "s": "ünïcode ✓",
        "i": -7,
        "big": 2**62,
        "f": 1.5,
        "t": True,
        "n": None,
        "l": [1, [2, {"x": []}]],
        "e": {},
    }
    store.create_program(
        "p", name="x", kind="program", code_hash=None, args=value, events=[("started", value)]
    )
    assert store.get_program("p").args == value
    assert store.events("p")[0].data == value


@pytest.mark.parametrize("bad", [
    {"when": object()}, float("nan"), {"deep": [1, {"x": float("inf")}]}, [float("-inf")],
    {"when": __import__("datetime").date(2026, 1, 1)},
], ids=["object", "nan", "nested-inf", "minus-inf", "date"])
def test_non_json_data_is_refused_and_nothing_is_written(store, program, bad):
    with pytest.raises(StoreError, match="JSON"):
        store.append_input(program, "message", bad)
    assert store.get_program(program).last_seq == 1


def test_json_the_fast_encoder_refuses_is_still_stored_exactly(store, program):
    """Big integers, non-string keys, nulls and text that says null all read back as the
    standard library writes them."""
    value = {"big": 2**70, "neg": -(2**65), "keys": {1: "a", 2.5: "b", None: "c"},
             "none": None, "text": "nullable é", "nested": [[None], {"x": -0.0}]}
    store.append_input(program, "message", value)
    assert store.events(program)[-1].data == {
        "big": 2**70, "neg": -(2**65), "keys": {"1": "a", "2.5": "b", "null": "c"},
        "none": None, "text": "nullable é", "nested": [[None], {"x": -0.0}]}


# -- events -----------------------------------------------------------------------------


def test_events_filters_by_range_type_and_limit(store, program):
    for i in range(2, 7):
        store.append_input(program, "message", {"i": i})
    store.commit(program, Commit(expected_seq=6, status="waiting", events=[("output", "hi")]))
    assert [e.seq for e in store.events(program, after=2, until=5)] == [3, 4, 5]
    assert [e.seq for e in store.events(program, types=["output", "started"])] == [1, 7]
    assert [e.seq for e in store.events(program, after=3, limit=2)] == [4, 5]


def test_events_of_unknown_program_are_empty(store):
    assert store.events("ghost") == []


# -- commit -----------------------------------------------------------------------------


def test_commit_appends_gaplessly_and_returns_last_seq(store, program):
    seq = store.commit(
        program,
        Commit(
            expected_seq=1,
            status="waiting",
            events=[("requested", {"k": 1}), ("x", 2)],
            waiting={"timer": "t1"},
        ),
    )
    assert seq == 3
    assert [(e.seq, e.type) for e in store.events(program)] == [
        (1, "started"),
        (2, "requested"),
        (3, "x"),
    ]
    p = store.get_program(program)
    assert (p.last_seq, p.status, p.waiting) == (3, "waiting", {"timer": "t1"})


def test_commit_with_stale_expected_seq_writes_nothing(store, program):
    store.append_input(program, "message", {"m": 1})  # the runtime's view (1) is now stale
    before = store.get_program(program)
    stale = Commit(
        expected_seq=1,
        status="waiting",
        events=[("requested", {})],
        snapshot=b"state",
        snapshot_step=9,
        new_timers=[("t", 10.0)],
        new_tasks=[NewTask("e2", "http", {})],
        new_callbacks=[("tok", "e3")],
        new_programs=[NewProgram(id="c", name="c", kind="child", code_hash=None, args=[])],
    )
    with pytest.raises(ConflictError, match="expected last_seq 1"):
        store.commit(program, stale)
    assert store.get_program(program) == before
    assert [e.seq for e in store.events(program)] == [1, 2]
    assert store.latest_snapshot(program) is None
    assert store.list_timers() == [] and store.list_tasks() == []
    assert store.list_callbacks(program) == []
    with pytest.raises(NotFound):
        store.get_program("c")


def test_commit_is_all_or_nothing_when_a_part_fails(store, program):
    store.create_program("taken", name="x", kind="program", code_hash=None, args=[])
    failing = Commit(
        expected_seq=1,
        status="waiting",
        events=[("requested", {})],
        new_tasks=[NewTask("e2", "http", {})],
        new_programs=[NewProgram(id="taken", name="c", kind="child", code_hash=None, args=[])],
    )
    with pytest.raises(ConflictError, match="taken"):
        store.commit(program, failing)
    assert store.get_program(program).last_seq == 1
    assert store.list_tasks() == []


def test_commit_to_unknown_program_is_not_found(store):
    with pytest.raises(NotFound, match="ghost"):
        store.commit("ghost", Commit(expected_seq=0, status="waiting"))


def test_commit_rejects_unknown_status(store, program):
    with pytest.raises(StoreError, match="status"):
        store.commit(program, Commit(expected_seq=1, status="sleeping"))


def test_commit_stores_result_and_error(store, program):
    store.commit(program, Commit(expected_seq=1, status="failed", error={"message": "boom"}))
    p = store.get_program(program)
    assert (p.status, p.error, p.result) == ("failed", {"message": "boom"}, None)
    store.commit(program, Commit(expected_seq=1, status="done", result=[1, 2]))
    p = store.get_program(program)
    assert (p.status, p.error, p.result, p.finished) == ("done", None, [1, 2], True)


def test_a_commit_of_none_clears_result_error_and_waiting(store, program):
    """None is written as NULL whatever the row held: the SQLite backend writes it as NULL
    in the statement's text rather than binding it, so each column is checked here."""
    store.commit(program, Commit(expected_seq=1, status="waiting", result=1, error="e",
                                 waiting=[{"fiber": 0}]))
    p = store.get_program(program)
    assert (p.result, p.error, p.waiting) == (1, "e", [{"fiber": 0}])
    for kept in ("result", "error", "waiting"):
        store.commit(program, Commit(expected_seq=1, status="waiting",
                                     **{kept: {"kept": kept}}))  # type: ignore[arg-type]
        p = store.get_program(program)
        values = {"result": p.result, "error": p.error, "waiting": p.waiting}
        assert values == {c: ({"kept": kept} if c == kept else None) for c in values}


def test_commit_refuses_a_snapshot_that_is_not_bytes(store, program):
    with pytest.raises(StoreError, match="the snapshot of program 'p1' must be bytes, not str"):
        store.commit(program, Commit(expected_seq=1, status="ready",
                                     snapshot="s"))  # type: ignore[arg-type]
    assert store.latest_snapshot(program) is None


def test_commit_to_a_finished_program_is_refused(store, program):
    store.commit(program, Commit(expected_seq=1, status="done", result=1))
    with pytest.raises(ProgramFinished, match="done"):
        store.commit(program, Commit(expected_seq=1, status="waiting"))


def test_snapshot_is_stored_at_the_last_appended_event(store, program):
    store.commit(
        program,
        Commit(
            expected_seq=1,
            status="waiting",
            events=[("a", 1), ("b", 2)],
            snapshot=b"S3",
            snapshot_step=30,
        ),
    )
    snap = store.latest_snapshot(program)
    assert (snap.seq, snap.step, snap.state) == (3, 30, b"S3")


def test_snapshot_without_events_is_stored_at_expected_seq_and_replaces(store, program):
    store.commit(program, Commit(expected_seq=1, status="ready", snapshot=b"A", snapshot_step=5))
    store.commit(program, Commit(expected_seq=1, status="ready", snapshot=b"B", snapshot_step=9))
    assert store.snapshots(program) == [SnapshotInfo(1, 9)]
    assert store.latest_snapshot(program).state == b"B"


def _commit_snapshot_at(store, program, seq, blob):
    events = [("e", seq)] * (seq - store.get_program(program).last_seq)
    expected = store.get_program(program).last_seq
    store.commit(program, Commit(expected_seq=expected, status="waiting", events=events,
                                 snapshot=blob, snapshot_step=seq * 10))


def test_snapshot_lookup_by_seq(store, program):
    assert store.latest_snapshot(program) is None
    for seq in (998, 1003, 2005):
        _commit_snapshot_at(store, program, seq, f"s{seq}".encode())
    assert store.snapshots(program) == [(998, 9980), (1003, 10030), (2005, 20050)]
    assert store.snapshot_at_or_before(program, 1500).state == b"s1003"
    assert store.snapshot_at_or_before(program, 2005).state == b"s2005"
    assert store.snapshot_at_or_before(program, 0) is None
    assert store.latest_snapshot(program).seq == 2005


def test_commits_keep_the_newest_snapshot_and_one_checkpoint_per_thousand_events(store, program):
    for seq in (1, 3, 5, 999, 1001, 1500, 2001, 2005):
        _commit_snapshot_at(store, program, seq, b"x")
    assert [info.seq for info in store.snapshots(program)] == [999, 1500, 2005]


def test_a_snapshot_on_a_multiple_of_a_thousand_is_the_one_checkpoint_of_its_block(store,
                                                                                 program):
    """Blocks are (0, 1000], (1000, 2000]...: 2000 ends its block, so 1998 is not kept."""
    for seq in (1998, 2000, 2002, 2999, 3000, 3001):
        _commit_snapshot_at(store, program, seq, b"x")
    assert [info.seq for info in store.snapshots(program)] == [2000, 3000, 3001]


def test_a_commit_keeps_one_snapshot_of_the_current_block_even_after_stray_ones(backend, store,
                                                                              program):
    """Retention holds whatever the table held before: an outside writer's extra snapshots
    in the current block go with the next commit."""
    _commit_snapshot_at(store, program, 1003, b"a")
    for seq in (1001, 1002):
        backend.sql(
            "INSERT INTO snapshots (program_id, seq, step, state, created_at)"
            + (" VALUES (%s, %s, %s, %s, 0)" if backend.name == "postgres"
               else " VALUES (?, ?, ?, ?, 0)"),
            (program, seq, seq, b"stray"),
        )
    _commit_snapshot_at(store, program, 1005, b"b")
    assert store.snapshots(program) == [SnapshotInfo(1005, 10050)]
    assert store.latest_snapshot(program).state == b"b"

def test_commit_sets_replaces_and_cancels_timers(store, program):
    store.commit(
        program,
        Commit(
            expected_seq=1, status="waiting", new_timers=[("a", 50.0), ("b", 20.0), ("c", 30.0)]
        ),
    )
    store.commit(
        program,
        Commit(expected_seq=1, status="waiting", new_timers=[("a", 10.0)], cancel_timers=["c"]),
    )
    assert [(t.key, t.due_at) for t in store.list_timers(program)] == [("a", 10.0), ("b", 20.0)]


def test_a_commit_cancelling_one_timer_and_setting_another_replaces_it(store, program):
    # What a fired sleep followed by the next one commits: one timer out, one in.
    store.commit(program, Commit(expected_seq=1, status="waiting", new_timers=[("a", 5.0)]))
    store.commit(program, Commit(expected_seq=1, status="waiting", new_timers=[("b", 6.0)],
                                 cancel_timers=["a"]))
    assert [(t.key, t.due_at) for t in store.list_timers(program)] == [("b", 6.0)]
    # the one cancelled is not set (it fired meanwhile): the new one is set all the same
    store.commit(program, Commit(expected_seq=1, status="waiting", new_timers=[("c", 7.0)],
                                 cancel_timers=["a"]))
    assert [t.key for t in store.list_timers(program)] == ["b", "c"]
    # the new one is set already: it takes the new due time, the cancelled one goes
    store.commit(program, Commit(expected_seq=1, status="waiting", new_timers=[("c", 8.0)],
                                 cancel_timers=["b"]))
    assert [(t.key, t.due_at) for t in store.list_timers(program)] == [("c", 8.0)]
    store.commit(program, Commit(expected_seq=1, status="waiting", new_timers=[("c", 9.0)],
                                 cancel_timers=["c"]))
    assert [(t.key, t.due_at) for t in store.list_timers(program)] == [("c", 9.0)]


def test_a_commit_after_someone_else_set_the_status_sets_its_own(store, program):
    for seq in (1, 2):  # two commits in a row with the same status
        store.commit(program, Commit(expected_seq=seq, status="waiting", events=[("e", seq)],
                                     waiting=[seq]))
    store.set_status(program, "ready")  # no event: last_seq stays 3
    store.commit(program, Commit(expected_seq=3, status="waiting", events=[("e", 3)],
                                 waiting=[3]))
    rec = store.get_program(program)
    assert (rec.status, rec.last_seq, rec.waiting) == ("waiting", 4, [3])
    store.append_input(program, "message", {"name": "go"})
    with pytest.raises(ConflictError):  # the same status again, but last_seq has moved
        store.commit(program, Commit(expected_seq=4, status="waiting"))
    assert store.get_program(program).status == "ready"

def test_task_idempotency_key_is_program_and_effect_key(store, program):
    store.commit(
        program,
        Commit(expected_seq=1, status="waiting", new_tasks=[NewTask("e2", "http", {"url": "u"})]),
    )
    [t] = store.list_tasks(program)
    assert (t.idempotency_key, t.kind, t.request, t.status, t.attempts) == (
        "p1:e2",
        "http",
        {"url": "u"},
        "pending",
        0,
    )
    assert store.get_task(t.id) == t


def test_recommitting_an_effect_never_duplicates_its_task(store, program):
    task = NewTask("e2", "http", {"url": "u"})
    store.commit(program, Commit(expected_seq=1, status="waiting", new_tasks=[task]))
    store.commit(program, Commit(expected_seq=1, status="waiting", new_tasks=[task, task]))
    assert len(store.list_tasks(program)) == 1


def test_commit_creates_children_atomically(store, program):
    child = NewProgram(
        id="c1",
        name="child",
        kind="child",
        code_hash="h1",
        args=[1],
        parent_id=program,
        parent_step=42,
        events=[("started", {})],
    )
    store.commit(
        program,
        Commit(
            expected_seq=1,
            status="waiting",
            events=[("requested", {"spawn": "c1"})],
            new_programs=[child],
        ),
    )
    c = store.get_program("c1")
    assert (c.status, c.parent_id, c.parent_step, c.last_seq) == ("ready", program, 42, 1)
    assert [p.id for p in store.list_programs(parent_id=program)] == ["c1"]


def test_commit_sends_input_to_another_program_atomically(store, program):
    store.create_program("c1", name="c", kind="child", code_hash=None, args=[], parent_id=program)
    store.commit(program, Commit(expected_seq=1, status="waiting"))
    store.commit(
        "c1",
        Commit(
            expected_seq=0,
            status="done",
            result=7,
            send=[(program, "child-completed", {"child": "c1", "value": 7})],
        ),
    )
    parent = store.get_program(program)
    assert parent.status == "ready"
    assert store.events(program)[-1].data == {"child": "c1", "value": 7}


def test_commit_send_to_a_finished_program_is_dropped(store, program):
    store.create_program("c1", name="c", kind="child", code_hash=None, args=[], parent_id=program)
    store.set_status(program, "cancelled")
    store.commit(
        "c1",
        Commit(expected_seq=0, status="done", send=[(program, "child-completed", {"child": "c1"})]),
    )
    assert store.get_program("c1").status == "done"
    assert store.get_program(program).last_seq == 1


def test_commit_send_must_be_an_input_event(store, program):
    store.create_program("q", name="q", kind="program", code_hash=None, args=[])
    with pytest.raises(StoreError, match="input event"):
        store.commit("q", Commit(expected_seq=0, status="done", send=[(program, "output", 1)]))


def test_finishing_cancels_open_tasks_and_timers(store, program):
    store.commit(
        program,
        Commit(
            expected_seq=1,
            status="waiting",
            new_timers=[("t", 5.0)],
            new_tasks=[NewTask("a", "http", {}), NewTask("b", "http", {})],
        ),
    )
    [first] = store.claim_tasks(kinds=None, worker="w", lease_seconds=60, limit=1)
    store.complete_task(first.id, ok=True, value=1)
    store.commit(program, Commit(expected_seq=2, status="done", result=None))
    assert [t.status for t in store.list_tasks(program)] == ["done", "cancelled"]
    assert store.list_timers(program) == []
    with pytest.raises(AlreadyCompleted, match="cancelled"):
        store.complete_task(store.list_tasks(program)[1].id, ok=True, value=2)


# -- input events --------------------------------------------------------------------------


def test_append_input_assigns_next_seq_and_makes_program_ready(store, program):
    store.commit(program, Commit(expected_seq=1, status="waiting", waiting={"receive": "go"}))
    before = store.get_program(program)
    seq = store.append_input(program, "message", {"name": "go", "value": [1]})
    after = store.get_program(program)
    assert seq == 2 and after.last_seq == 2
    assert after.status == "ready" and after.updated_at >= before.updated_at
    assert store.events(program, after=1)[0].data == {"name": "go", "value": [1]}


@pytest.mark.parametrize("status", ["done", "cancelled", "aborted"])
def test_append_input_to_a_finished_program_is_refused(store, program, status):
    store.set_status(program, status)
    with pytest.raises(ProgramFinished, match=status):
        store.append_input(program, "message", {})
    assert store.get_program(program).last_seq == 1


def test_append_input_to_a_failed_program_makes_it_ready(store, program):
    store.commit(program, Commit(expected_seq=1, status="failed", error={"m": "x"}))
    store.append_input(program, "restart", {"restart": "retry"})
    assert store.get_program(program).status == "ready"


def test_append_input_accepts_only_input_event_types(store, program):
    for type in INPUT_EVENT_TYPES:
        store.append_input(program, type, None)
    with pytest.raises(StoreError, match="not an input event"):
        store.append_input(program, "completed", {})


def test_append_input_to_unknown_program_is_not_found(store):
    with pytest.raises(NotFound, match="ghost"):
        store.append_input("ghost", "message", {})


def test_set_status_with_event_appends_it(store, program):
    seq = store.set_status(program, "aborted", event=("cancelled", {"by": "cli"}))
    assert seq == 2 and store.get_program(program).status == "aborted"
    assert store.events(program)[-1].type == "cancelled"
    with pytest.raises(ProgramFinished):
        store.set_status(program, "ready")


# -- timers ---------------------------------------------------------------------------------


def test_next_timer_due_is_the_earliest(store, program):
    assert store.next_timer_due() is None
    store.create_program("p2", name="x", kind="program", code_hash=None, args=[])
    store.commit(program, Commit(expected_seq=1, status="waiting", new_timers=[("a", 30.0)]))
    store.commit("p2", Commit(expected_seq=0, status="waiting", new_timers=[("b", 20.0)]))
    assert store.next_timer_due() == 20.0


def test_due_timers_fire_in_order_once_as_input_events(store, program):
    store.create_program("p2", name="x", kind="program", code_hash=None, args=[])
    store.commit(
        program,
        Commit(expected_seq=1, status="waiting", new_timers=[("late", 300.0), ("soon", 100.0)]),
    )
    store.commit("p2", Commit(expected_seq=0, status="waiting", new_timers=[("mid", 200.0)]))
    fired = store.fire_due_timers(now=250.0)
    assert fired == [(program, "soon", 2), ("p2", "mid", 1)]
    assert store.events(program)[-1].data == {"key": "soon", "due_at": 100.0}
    assert store.events(program)[-1].type == "timer-fired"
    assert store.get_program(program).status == "ready"
    assert store.fire_due_timers(now=250.0) == []
    assert [t.key for t in store.list_timers()] == ["late"]


def test_fire_due_timers_respects_limit(store, program):
    timers = [(f"t{i}", float(i)) for i in range(5)]
    store.commit(program, Commit(expected_seq=1, status="waiting", new_timers=timers))
    assert [f.key for f in store.fire_due_timers(now=10.0, limit=2)] == ["t0", "t1"]
    assert len(store.list_timers()) == 3


# -- tasks ----------------------------------------------------------------------------------


@pytest.fixture
def tasks(store, program):
    """Three pending tasks of ``p1``: e1 (http), e2 (call:x), e3 (http)."""
    new = [
        NewTask("e1", "http", {"n": 1}),
        NewTask("e2", "call:x", {"n": 2}),
        NewTask("e3", "http", {"n": 3}),
    ]
    store.commit(program, Commit(expected_seq=1, status="waiting", new_tasks=new))
    return store.list_tasks(program)


def test_claim_tasks_marks_them_claimed_oldest_first(store, tasks):
    claimed = store.claim_tasks(kinds=["http"], worker="w1", lease_seconds=30, now=1000.0)
    assert [t.effect_key for t in claimed] == ["e1", "e3"]
    assert {(t.status, t.claimed_by, t.lease_until, t.attempts) for t in claimed} == {
        ("claimed", "w1", 1030.0, 1),
    }
    assert store.claim_tasks(kinds=["http"], worker="w2", lease_seconds=30, now=1001.0) == []
    rest = store.claim_tasks(kinds=None, worker="w2", lease_seconds=30, now=1002.0)
    assert [t.effect_key for t in rest] == ["e2"]
    assert store.claim_tasks(kinds=[], worker="w2", lease_seconds=30) == []


def test_claim_tasks_respects_limit(store, tasks):
    assert len(store.claim_tasks(kinds=None, worker="w", lease_seconds=30, limit=2)) == 2


def test_task_with_expired_lease_is_claimed_again(store, tasks):
    store.claim_tasks(kinds=["call:x"], worker="w1", lease_seconds=30, now=1000.0)
    assert store.claim_tasks(kinds=["call:x"], worker="w2", lease_seconds=30, now=1029.0) == []
    [again] = store.claim_tasks(kinds=["call:x"], worker="w2", lease_seconds=30, now=1030.0)
    assert (again.claimed_by, again.attempts) == ("w2", 2)


def test_complete_task_appends_effect_completed(store, program, tasks):
    [t] = store.claim_tasks(kinds=["call:x"], worker="w", lease_seconds=30)
    seq = store.complete_task(t.id, ok=True, value={"status": 200}, worker="w")
    assert seq == 2
    [e] = store.events(program, after=1)
    assert (e.type, e.data) == ("effect-completed", {"key": "e2", "value": {"status": 200}})
    done = store.get_task(t.id)
    assert (done.status, done.result) == ("done", {"status": 200})
    assert store.get_program(program).status == "ready"


def test_complete_task_failure_appends_effect_failed(store, program, tasks):
    store.complete_task(tasks[0].id, ok=False, value={"message": "timeout"})
    [e] = store.events(program, after=1)
    assert (e.type, e.data) == ("effect-failed", {"key": "e1", "error": {"message": "timeout"}})
    assert store.get_task(tasks[0].id).status == "failed"


def test_task_completes_at_most_once(store, program, tasks):
    store.complete_task(tasks[0].id, ok=True, value=1)
    with pytest.raises(AlreadyCompleted, match="already done"):
        store.complete_task(tasks[0].id, ok=False, value="late")
    assert store.get_task(tasks[0].id).result == 1
    assert len(store.events(program, types=["effect-completed", "effect-failed"])) == 1


def test_complete_task_by_a_worker_whose_lease_was_taken_over_conflicts(store, tasks):
    store.claim_tasks(kinds=["call:x"], worker="w1", lease_seconds=30, now=1000.0)
    [t] = store.claim_tasks(kinds=["call:x"], worker="w2", lease_seconds=30, now=2000.0)
    with pytest.raises(ConflictError, match="w2"):
        store.complete_task(t.id, ok=True, value="stale", worker="w1")
    store.complete_task(t.id, ok=True, value="fresh", worker="w2")
    assert store.get_task(t.id).result == "fresh"


def test_unknown_task_is_not_found(store):
    with pytest.raises(NotFound, match="99"):
        store.get_task(99)
    with pytest.raises(NotFound, match="99"):
        store.complete_task(99, ok=True, value=None)


def test_list_tasks_filters(store, program, tasks):
    store.claim_tasks(kinds=["call:x"], worker="w", lease_seconds=30)
    assert [t.effect_key for t in store.list_tasks(status="pending")] == ["e1", "e3"]
    assert [t.effect_key for t in store.list_tasks(program, "claimed")] == ["e2"]
    assert store.list_tasks("ghost") == []


# -- callbacks ----------------------------------------------------------------------------


def test_complete_callback_appends_callback_event(store, program):
    store.commit(program, Commit(expected_seq=1, status="waiting", new_callbacks=[("tok", "e2")]))
    assert store.get_callback("tok").completed_at is None
    seq = store.complete_callback("tok", {"approved": True})
    assert seq == 2
    [e] = store.events(program, after=1)
    assert (e.type, e.data) == (
        "callback",
        {"key": "e2", "token": "tok", "value": {"approved": True}},
    )
    cb = store.get_callback("tok")
    assert cb.payload == {"approved": True} and cb.completed_at is not None
    assert store.list_callbacks(program) == [cb]


def test_callback_completes_at_most_once(store, program):
    store.commit(program, Commit(expected_seq=1, status="waiting", new_callbacks=[("tok", "e2")]))
    store.complete_callback("tok", 1)
    with pytest.raises(AlreadyCompleted):
        store.complete_callback("tok", 2)
    assert store.get_callback("tok").payload == 1
    assert store.get_program(program).last_seq == 2


def test_unknown_callback_is_not_found(store):
    with pytest.raises(NotFound):
        store.complete_callback("nope", {})
    with pytest.raises(NotFound):
        store.get_callback("nope")


# -- leases on runnable programs ------------------------------------------------------------


def test_claim_ready_leases_each_ready_program_once(store):
    for i in range(3):
        store.create_program(f"p{i}", name="x", kind="program", code_hash=None, args=[])
    store.commit("p1", Commit(expected_seq=0, status="waiting"))
    assert store.claim_ready(worker="w1", lease_seconds=30, now=1000.0) == ["p0", "p2"]
    assert store.claim_ready(worker="w2", lease_seconds=30, now=1010.0) == []
    p = store.get_program("p0")
    assert (p.lease_owner, p.lease_until) == ("w1", 1030.0)


def test_claim_ready_takes_over_an_expired_lease(store, program):
    assert store.claim_ready(worker="w1", lease_seconds=30, now=1000.0) == [program]
    assert store.claim_ready(worker="w2", lease_seconds=30, now=1030.0) == [program]
    assert store.get_program(program).lease_owner == "w2"


def test_claim_ready_filters_kinds_and_respects_limit(store):
    for i, kind in enumerate(["repl", "program", "program"]):
        store.create_program(f"p{i}", name="x", kind=kind, code_hash=None, args=[])
    assert store.claim_ready(worker="w", lease_seconds=30, kinds=["program"], limit=1) == ["p1"]


def test_release_frees_the_lease_for_its_holder_only(store, program):
    store.claim_ready(worker="w1", lease_seconds=30)
    assert store.release(program, "w2") is False
    assert store.release(program, "w1") is True
    assert store.get_program(program).lease_owner is None
    assert store.claim_ready(worker="w2", lease_seconds=30) == [program]


def test_acquire_lease_takes_free_renews_own_refuses_others(store, program):
    assert store.acquire_lease(program, worker="w1", lease_seconds=30, now=1000.0)
    assert store.acquire_lease(program, worker="w1", lease_seconds=30, now=1020.0)
    assert store.get_program(program).lease_until == 1050.0
    assert not store.acquire_lease(program, worker="w2", lease_seconds=30, now=1040.0)
    assert store.acquire_lease(program, worker="w2", lease_seconds=30, now=1050.0)
    with pytest.raises(NotFound):
        store.acquire_lease("ghost", worker="w", lease_seconds=1)


def test_blobs_must_be_bytes(store, program):
    with pytest.raises(StoreError, match="bytes"):
        store.put_code("h2", "a", "b", "not bytes")
    with pytest.raises(StoreError, match="bytes"):
        store.commit(program, Commit(expected_seq=1, status="waiting", snapshot="text"))


# -- waking up ------------------------------------------------------------------------------


def test_wait_for_change_returns_false_once_the_timeout_passes_quietly(store, program):
    started = time.monotonic()
    assert store.wait_for_change(0.1) is False
    assert 0.09 <= time.monotonic() - started < 2


def test_wait_for_change_with_no_timeout_returns_at_once(store):
    started = time.monotonic()
    assert store.wait_for_change(0) is False
    assert time.monotonic() - started < 1


def test_wait_for_change_wakes_for_input_another_connection_appended(backend, store, program):
    assert store.wait_for_change(0) is False  # starts watching
    with backend.open() as writer:
        writer.append_input(program, "message", {"name": "go"})
    started = time.monotonic()
    assert store.wait_for_change(10) is True  # made while "busy": answered at once
    assert time.monotonic() - started < 5


def test_wait_for_change_wakes_a_waiter_when_another_connection_appends(backend, store, program):
    store.wait_for_change(0)
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(store.wait_for_change(30)))
    started = time.monotonic()
    waiter.start()
    with backend.open() as writer:
        writer.append_input(program, "message", {"name": "go"})
    waiter.join(30)
    assert woke == [True] and time.monotonic() - started < 10
