"""Snapshots: any machine state encodes and decodes into a state that continues exactly
as the original would have; the format is versioned JSON (compressed when big), never
pickle, and older versions still decode; code units are content-addressed and rebuild
identically from their stored form."""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
import zlib
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowmetal.lang import base, pr_str
from flowmetal.lang.base import load, new_machine
from flowmetal.lang.compiler import compile_expanded
from flowmetal.lang.data import Vector, kw
from flowmetal.lang.evaluate import LocalEffects
from flowmetal.lang.machine import Done, Failed, Machine, OutOfFuel
from flowmetal.lang.snapshot import (
    _MACHINE_LAYOUT,
    SnapshotError,
    decode,
    decode_value,
    encode,
    encode_value,
)

CLOCK = 1_700_000_000.0  # the virtual clock starts here in every run, so (now) repeats


def roundtrip(m: Machine) -> Machine:
    """Encode ``m`` and decode it into a new machine, as another process would."""
    return decode(encode(m, base().glob), base().glob, base().units.__getitem__)


def run_program(src: str, snapshot_at=(), snapshot_on_suspend: bool = False,
                source: str = "prog.flow") -> tuple[str, str, int, int]:
    """Run ``src`` to the end, answering effects like ``evaluate`` does (virtual clock,
    seeded randomness), snapshotting and restoring at each step count in ``snapshot_at``
    (and after every suspension if asked). Returns the printed result, the output, the
    final step number and how many snapshots were taken."""
    unit = load(src, source)
    m = new_machine(unit)
    effects = LocalEffects(seed=7)
    effects.clock = CLOCK
    points = sorted(set(snapshot_at))
    pending = []
    taken = 0
    while True:
        if points and points[0] <= m.steps:
            points.pop(0)
            m = roundtrip(m)
            taken += 1
            continue
        outcome = m.run(points[0] - m.steps if points else 100_000_000)
        if isinstance(outcome, OutOfFuel):
            continue
        if isinstance(outcome, Done):
            return pr_str(outcome.value), "".join(effects.output), m.steps, taken
        if isinstance(outcome, Failed):
            return "failed: " + pr_str(outcome.error), "".join(effects.output), m.steps, taken
        cancelled = set(outcome.cancelled)
        pending = [r for r in pending + outcome.requests if r.id not in cancelled]
        ready = [r for r in pending if not r.data.get(kw("timeout"))] or pending[:1]
        assert ready, f"program waits forever: {m.waits()}"
        request = ready[0]
        pending.remove(request)
        if snapshot_on_suspend:
            m = roundtrip(m)
            taken += 1
        m.complete(request.id, effects(request))


PROGRAMS = {
    "fib": "(defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2))))) (fib 11)",
    "loop-building-a-map": """
        (defn build [n]
          (loop [i 0 m {}]
            (if (< i n) (recur (inc i) (assoc m (keyword (str "k" i)) (* i i))) m)))
        (let [m (build 30)]
          [(count m) (:k7 m) (reduce + (vals m)) (group-by even? (take 6 (vals m)))])""",
    "closures-in-atoms": """
        (def fns (atom []))
        (def alias fns)
        (dotimes [i 4] (swap! fns conj (fn [x] (+ x i))))
        (def pair (let [a (atom 10)] [(fn [] (swap! a inc)) (fn [] @a)]))
        ((first pair))
        (swap! alias conj (fn [x] (* x ((second pair)))))
        (mapv (fn [f] (f 2)) @fns)""",
    "try-finally-mid-flight": """
        (defn risky [n]
          (try
            (println :in n)
            (when (= n 2) (throw (ex-info "two" {:type :two :n n})))
            (* n 10)
            (catch :two e (println :caught (:n (ex-data e))) -1)
            (finally (println :finally n))))
        (defn nested []
          (try (try (throw (ex-info "deep" {})) (finally (println :inner)))
            (catch e (println :outer (ex-message e)) :recovered)))
        [(mapv risky [1 2 3]) (nested)]""",
    "async-fibers": """
        (let [fs (mapv (fn [i] (async (sleep i) (println :done i) (* i 10))) [3 1 2])
              quick (async (println :quick) :q)]
          (println :started)
          [(await-all fs) (await-any fs) (await quick)
           (await (async (receive :nothing)) :timeout 5 :default :late)])""",
    "destructuring": """
        (defn f [{:keys [a b] :or {b 5} :as m} [x & more] & {:keys [k]}]
          [a b x more k (count m)])
        (loop [[h & t] [1 2 3] acc []]
          (if h (recur t (conj acc (f {:a h} [h h h] :k h))) acc))""",
    "effects": """
        (println :start)
        (let [t0 (now)]
          (sleep "1m")
          (println :slept (- (now) t0))
          (dotimes [i 3] (print i (random 100) ""))
          (println (uuid))
          (log "done" :ok true)
          [(receive :x :timeout 5 :default :none) (- (now) t0)])""",
    "waiting-inside-higher-order-functions": """
        (def seen (atom []))
        (let [xs (map (fn [x] (sleep 1) (swap! seen conj x) (* x x)) [1 2 3])
              total (reduce (fn [acc x] (println :add x) (+ acc x)) 0 xs)
              sorted (sort-by (fn [x] (- x)) xs)]
          (swap! seen (fn [v] (println :swapping) (conj v :end)))
          [xs total sorted @seen])""",
    "uncaught-error": """
        (defn f [x] (println :f x) (/ x 0))
        (try (f 1) (catch :type-error e :wrong-type))""",
}


@cache
def reference(name: str) -> tuple[str, str, int, int]:
    return run_program(PROGRAMS[name])


def test_reference_runs_do_what_the_programs_say():
    assert reference("fib")[0] == "89"
    assert reference("loop-building-a-map")[0] == (
        "[30 49 8555 {true [0 4 16], false [1 9 25]}]")
    assert reference("closures-in-atoms")[0] == "[2 3 4 5 22]"
    assert reference("try-finally-mid-flight")[:2] == (
        "[[10 -1 30] :recovered]",
        ":in 1\n:finally 1\n:in 2\n:caught 2\n:finally 2\n:in 3\n:finally 3\n"
        ":inner\n:outer deep\n")
    assert reference("async-fibers")[0] == "[[30 10 20] 30 :q :late]"
    assert reference("destructuring")[0] == (
        "[[1 5 1 (1 1) 1 1] [2 5 2 (2 2) 2 1] [3 5 3 (3 3) 3 1]]")
    value, out, _, _ = reference("effects")
    assert value == "[:none 65000]" and out.startswith(":start\n:slept 60000\n0 ")
    assert reference("waiting-inside-higher-order-functions")[0] == (
        "[(1 4 9) 14 (9 4 1) [1 2 3 :end]]")
    assert reference("uncaught-error")[0].startswith('failed: #error {:message "Divide by zero"')


@pytest.mark.parametrize("name", sorted(PROGRAMS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_snapshot_at_random_steps_resumes_to_the_same_value_output_and_steps(name, data):
    value, out, steps, _ = reference(name)
    points = data.draw(st.lists(st.integers(0, steps - 1), min_size=1, max_size=6), label="steps")
    on_suspend = data.draw(st.booleans(), label="snapshot on every suspension")
    got_value, got_out, got_steps, taken = run_program(PROGRAMS[name], points, on_suspend)
    assert (got_value, got_out, got_steps) == (value, out, steps)
    assert taken >= 1


def test_snapshot_at_every_single_step_of_a_program_with_fibers_and_effects():
    name = "async-fibers"
    value, out, steps, _ = reference(name)
    got = run_program(PROGRAMS[name], range(steps + 1))
    assert got[:3] == (value, out, steps)
    assert got[3] >= steps


def test_snapshot_at_every_step_of_try_finally():
    name = "try-finally-mid-flight"
    value, out, steps, _ = reference(name)
    assert run_program(PROGRAMS[name], range(steps + 1))[:3] == (value, out, steps)


# -- sharing -----------------------------------------------------------------------------


SHARING = """
(def a (atom 0))
(def b a)
(def pair (let [x (atom 10)] [(fn [] (swap! x inc)) (fn [] @x)]))
(def holder (atom {:f (fn [n] (+ n @a))}))
(sleep 1)
(swap! b inc)
((first pair))
((first pair))
[@a ((second pair)) ((:f @holder) 100)]"""


def test_atoms_and_closures_shared_by_two_globals_stay_shared_after_decode():
    m = new_machine(load(SHARING, "share.flow"))
    [req] = m.run(10_000).requests
    m2 = roundtrip(m)
    assert m2.glob["a"] is m2.glob["b"]
    first, second = m2.glob["pair"]
    assert first.env is second.env
    m2.complete(req.id, None)
    assert pr_str(m2.run(10_000).value) == "[1 12 101]"


def test_a_let_frame_shared_by_a_closure_and_the_continuation_stays_shared():
    # reader closes over the let's frame while the let is still filling it: after decode,
    # the frame the continuation goes on filling must be the very one reader holds.
    src = """
    (let [a (atom 0)
          reader (fn [] [@a (reset! a 1)])
          _ (sleep 1)
          b (do (reset! a 5) a)]
      [(reader) (= a b) @b])"""
    m = new_machine(load(src, "frame.flow"))
    [req] = m.run(10_000).requests
    m2 = roundtrip(m)
    [let_frame] = [k for k in m2.fibers[0].stack if type(k).__name__ == "LetK"]
    assert m2.fibers[0].stack and let_frame.env[2].env is let_frame.env
    m2.complete(req.id, None)
    assert pr_str(m2.run(10_000).value) == "[[5 1] true 1]"


def test_decoding_twice_gives_independent_machines():
    m = new_machine(load(SHARING, "share.flow"))
    [req] = m.run(10_000).requests
    blob = encode(m, base().glob)
    one = decode(blob, base().glob, base().units.__getitem__)
    two = decode(blob, base().glob, base().units.__getitem__)
    assert one.glob["a"] is not two.glob["a"]
    one.complete(req.id, None)
    assert pr_str(one.run(10_000).value) == "[1 12 101]"
    two.complete(req.id, None)
    assert pr_str(two.run(10_000).value) == "[1 12 101]"


def test_a_failed_machine_restarts_after_decode():
    m = new_machine(load("(def limit 0) [(/ 10 limit) :after]", "fail.flow"))
    assert isinstance(m.run(10_000), Failed)
    m2 = roundtrip(m)
    assert m2.status == "failed"
    m2.glob["limit"] = 2
    m2.restart("retry")
    assert pr_str(m2.run(10_000).value) == "[5 :after]"


# -- the format ----------------------------------------------------------------------------


def json_of(blob: bytes) -> dict:
    """A snapshot's JSON: the bytes themselves when small, zlib-compressed otherwise."""
    return json.loads(blob if blob.startswith(b"{") else zlib.decompress(blob))


def test_encoding_is_versioned_json_not_pickle():
    m = new_machine(load(SHARING, "share.flow"))
    m.run(10_000)
    blob = encode(m, base().glob)
    assert not blob.startswith(b"\x80")  # pickle protocol 2+ marker
    doc = json_of(blob)
    assert doc["v"] == 3
    assert isinstance(doc["machine"], list) and len(doc["machine"]) == len(_MACHINE_LAYOUT)
    assert isinstance(doc["heap"], list) and doc["heap"]
    assert all(isinstance(entry, list) and isinstance(entry[0], str) for entry in doc["heap"])


def test_encoding_the_same_state_twice_or_after_a_decode_gives_the_same_bytes():
    # sample_logs/make_samples.py relies on it: the same run gives the same store
    m = new_machine(load(SHARING, "share.flow"))
    m.run(10_000)
    blob = encode(m, base().glob)
    assert encode(m, base().glob) == blob
    assert encode(roundtrip(m), base().glob) == blob


def test_small_snapshots_are_plain_json_and_big_ones_compressed():
    small = new_machine(load("(sleep 1)", "small.flow"))
    small.run(10_000)
    assert encode(small, base().glob).startswith(b'{"v":3,')
    big = new_machine(load('(def xs (vec (range 500))) (sleep 1) (count xs)', "big.flow"))
    [req] = big.run(100_000).requests
    blob = encode(big, base().glob)
    assert blob[:1] == b"x" and json_of(blob)["v"] == 3  # zlib's header
    back = roundtrip(big)
    back.complete(req.id, None)
    assert back.run(10_000).value == 500


def test_the_machine_s_own_parts_and_identity_free_leaves_are_not_heap_entries():
    src = "(defn main [{:keys [n]}] (dotimes [i n] (sleep 0))) (main {:n 3})"
    unit = load(src, "sleeps.flow")
    m = new_machine(unit)
    m.run(10_000)
    text = json.dumps(json_of(encode(m, base().glob)))
    doc = json.loads(text)
    tags = {entry[0] for entry in doc["heap"]}
    # no machine, fiber, frame, keyword, node, unit or base value in the heap...
    assert not tags & {"Z", "f", "K", "k", "N", "U", "G", "B", "P", "s"}
    assert doc["units"] == [unit.hash] and text.count(unit.hash) == 1
    # ...and the machine's empty containers (inbox, callbacks...) are written in place
    assert len(doc["heap"]) <= 12
    assert ["k", "flowmetal/no-default"] == doc["machine"][4][0][7][-1]  # fiber 0's wait


def test_the_layout_covers_every_field_of_a_machine():
    registers = {"pending_fault", "fiber", "stack", "mode", "node", "env", "val"}
    assert set(vars(Machine({}))) - registers == {name for name, _ in _MACHINE_LAYOUT}


def test_code_units_keep_the_version_1_encoding_their_hashes_are_made_of():
    unit = load("(defn f [x] (inc x)) (f 1)", "hash.flow")
    assert json.loads(zlib.decompress(unit.blob))["v"] == 1


def test_the_prelude_is_written_by_name_not_copied_into_the_snapshot():
    m = new_machine(load("(def f map) (sleep 1) (f inc [1])", "names.flow"))
    m.run(10_000)
    doc = json_of(encode(m, base().glob))
    assert doc["machine"][0] == ["d", "f", ["G", "map"]]  # the program's globals, only
    assert len(doc["heap"]) < 50


# -- globals -------------------------------------------------------------------------------


def test_a_redefined_base_name_survives_a_round_trip():
    src = """
    (def inc (fn [x] (+ x 100)))
    (defn map [f xs] :mine)
    (def keep first)
    (sleep 1)
    [(inc 1) (map inc [1]) (keep [7 8])]"""
    m = new_machine(load(src, "redefine.flow"))
    [req] = m.run(10_000).requests
    m2 = roundtrip(m)
    assert m2.glob["inc"] is not base().glob["inc"] and m2.glob["keep"] is base().glob["first"]
    m2.complete(req.id, None)
    assert pr_str(m2.run(10_000).value) == "[101 :mine 7]"
    assert roundtrip(m2).glob["map"] is not base().glob["map"]


def test_names_written_straight_into_the_globals_survive_a_round_trip():
    # as the runtime does for a REPL session's *1 *2 *3 *e
    m = new_machine(load("(def x 1) (sleep 1)", "plain.flow"))
    m.run(10_000)
    m.glob["*1"], m.glob["*e"] = kw("one"), None
    m2 = roundtrip(m)
    assert (m2.glob["*1"], m2.glob["*e"], m2.glob["x"]) == (kw("one"), None, 1)
    assert "*2" not in m2.glob


def test_globals_that_are_not_a_copy_of_the_base_still_round_trip():
    m = new_machine(load("(def x 1) (sleep 1)", "odd.flow"))
    m.run(10_000)
    m.glob = {"early": 5, **m.glob}  # not the base's names first: every name is compared
    m.glob["inc"] = m.glob["dec"]  # and a base name rebound without a def is seen too
    m2 = roundtrip(m)
    assert (m2.glob["early"], m2.glob["x"]) == (5, 1)
    assert m2.glob["inc"] is base().glob["dec"] and m2.glob["map"] is base().glob["map"]


def test_a_repl_style_session_with_hundreds_of_globals_round_trips():
    defs = "\n".join(f"(def v{i} {i}) (defn f{i} [x] (+ x v{i}))" for i in range(300))
    m = new_machine(load(defs + "\n(def inc dec) (sleep 1) [(f299 1) (inc 5)]", "many.flow"))
    [req] = m.run(1_000_000).requests
    m.glob["*1"] = 42
    m2 = roundtrip(m)
    own = {k for k in m.glob if base().glob.get(k, m) is not m.glob[k]}
    assert len(own) == 600 + 2  # the 600 defs, the program's own inc and *1: no more
    assert {k for k in m2.glob if base().glob.get(k, m) is not m2.glob[k]} == own
    assert list(m2.glob)[-1] == "*1" and m2.glob["*1"] == 42
    assert m2.docs == m.docs and m2.docs["f7"][kw("arglists")] == "[x]"
    m2.complete(req.id, None)
    assert pr_str(m2.run(100_000).value) == "[300 4]"


# -- values --------------------------------------------------------------------------------


VALUES = """
(def shared (atom [1 2]))
(def again shared)
(def cyc (atom nil))
(reset! cyc {:self cyc :get (fn [] cyc)})
(def t-vec (transient [1]))
(def t-map (transient {}))
(assoc! t-map 1 :a)
(assoc! t-map 1.0 :b)
(def t-set (conj! (transient #{}) true))
(defmacro unless [c x] `(if ~c nil ~x))
(def err (ex-info "boom" {:k 1} (ex-info "cause" {})))
(def fut (async :done))
(def vals [##NaN ##Inf ##-Inf 123456789012345678901234567890 -7 1.5 "é\\n\\"q" nil true false
           :k :ns/k 'sym 'ns/sym '(1 (2)) #{1 "a" :b} {1 :a 1.0 :b true :c "1" :d [1] :e}
           map inc shared])
(sleep 1)
"""


def test_every_kind_of_value_round_trips_and_shared_ones_stay_shared():
    m = new_machine(load(VALUES, "values.flow"))
    m.run(100_000)
    g = roundtrip(m).glob
    assert g["shared"] is g["again"] and g["vals"][-1] is g["shared"]
    cyc = g["cyc"]
    assert cyc.value[kw("self")] is cyc and cyc.value[kw("get")].env is not None
    vals = g["vals"]
    assert math.isnan(vals[0]) and list(vals[1:3]) == [math.inf, -math.inf]
    assert pr_str(vals[3:-3]) == pr_str(m.glob["vals"][3:-3])
    assert vals[-3] is base().glob["map"] and vals[-2] is base().glob["inc"]
    for name in ("t-vec", "t-map", "t-set", "err", "fut", "unless"):
        assert pr_str(g[name]) == pr_str(m.glob[name]), name
    assert type(g["unless"]) is type(m.glob["unless"])
    assert pr_str(g["t-map"].items) == pr_str(m.glob["t-map"].items)


FLOATS = """
(def floats [##NaN ##Inf ##-Inf -0.0 1e300 5e-324 0.1 1.5 "é ☃" {:inf ##Inf}])
(def state (atom ##-Inf))
(sleep 1)
"""


@pytest.mark.parametrize("fast_json", [True, False], ids=["orjson", "stdlib"])
def test_infinities_nan_and_every_float_survive_either_json_encoder(fast_json, monkeypatch):
    """orjson writes non-finite floats as null: a machine's are heap entries, never inline."""
    from flowmetal.lang import snapshot

    if fast_json and snapshot._orjson is None:
        pytest.skip("orjson is not installed")
    if not fast_json:
        monkeypatch.setattr(snapshot, "_orjson", None)
    m = new_machine(load(FLOATS, "floats.flow"))
    m.run(100_000)
    blob = encode(m, base().glob)
    assert b"null,null" not in blob and b"Infinity" not in blob and b"NaN" not in blob
    g = decode(blob, base().glob, base().units.__getitem__).glob
    floats = g["floats"]
    assert math.isnan(floats[0]) and list(floats[1:3]) == [math.inf, -math.inf]
    assert math.copysign(1.0, floats[3]) == -1.0
    assert list(floats[4:9]) == [1e300, 5e-324, 0.1, 1.5, "é ☃"]
    assert floats[9][kw("inf")] == math.inf and g["state"].value == -math.inf


def test_what_orjson_refuses_is_written_by_the_standard_library():
    """Integers beyond 64 bits and lone surrogates: the snapshot is still written, whole."""
    src = '(def big [123456789012345678901234567890 (- (* 4 4611686018427387904))])\n' \
          '(def odd "a\\ud800b")\n(sleep 1)'
    m = new_machine(load(src, "odd.flow"))
    m.run(100_000)
    g = roundtrip(m).glob
    assert list(g["big"]) == [123456789012345678901234567890, -(4 * 4611686018427387904)]
    assert g["odd"] == "a\ud800b"


def test_deeply_nested_data_in_a_machine_encodes_and_decodes_iteratively():
    src = "(def v (reduce (fn [acc _] [acc {:x acc}]) [] (range 100000))) (sleep 1) :ok"
    m = new_machine(load(src, "nested.flow"))
    m.run(100_000_000)
    limit = sys.getrecursionlimit()
    v = roundtrip(m).glob["v"]
    assert sys.getrecursionlimit() == limit
    depth = 0
    while v:
        assert v[1][kw("x")] is v[0]  # a value shared inside the nesting stays shared
        v, depth = v[0], depth + 1
    assert depth == 100_000


# -- older versions ------------------------------------------------------------------------


FIXTURES = Path(__file__).parent / "fixtures" / "snapshots_v2.json"
"""Version 2 snapshots, written by the version 2 encoder before version 3 existed, with
the stored form of their code (so they decode even if compiling changes)."""


def _fixture_units(fixture: dict):
    unit = compile_expanded(base64.b64decode(fixture["unit"]), fixture["source_name"])
    assert unit.hash == fixture["hash"]
    units = {unit.hash: unit, **base().units}
    return units.__getitem__


@pytest.mark.parametrize("fixture", json.loads(FIXTURES.read_text()), ids=lambda f: f["name"])
def test_version_2_snapshots_still_decode_and_resume(fixture):
    blob = base64.b64decode(fixture["snapshot"])
    assert json_of(blob)["v"] == 2
    m = decode(blob, base().glob, _fixture_units(fixture))
    m.complete(fixture["request"], None)
    assert pr_str(m.run(1_000_000).value) == fixture["value"]


@pytest.mark.parametrize("fixture", json.loads(FIXTURES.read_text()), ids=lambda f: f["name"])
def test_version_1_snapshots_still_decode_and_resume(fixture):
    doc = json_of(base64.b64decode(fixture["snapshot"]))
    heap = doc["heap"]
    # The same state as version 1 wrote it: each node names its unit's hash, compressed.
    v1 = [["N", heap[e[1][0]][1], e[2]] if e[0] == "N" else e for e in heap]
    blob = zlib.compress(json.dumps({**doc, "v": 1, "heap": v1}).encode())
    m = decode(blob, base().glob, _fixture_units(fixture))
    m.complete(fixture["request"], None)
    assert pr_str(m.run(1_000_000).value) == fixture["value"]


def test_a_resumed_version_2_snapshot_is_written_again_as_version_3():
    fixture = json.loads(FIXTURES.read_text())[-1]
    units = _fixture_units(fixture)
    m = decode(base64.b64decode(fixture["snapshot"]), base().glob, units)
    again = decode(encode(m, base().glob), base().glob, units)
    again.complete(fixture["request"], None)
    assert pr_str(again.run(1_000_000).value) == fixture["value"]


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"not a snapshot",
        b"\x80\x04\x95\x00",
        zlib.compress(b"[1, 2]"),
        zlib.compress(b"not json"),
        zlib.compress(b'{"v": 2, "root": [0], "heap": []}'),
        zlib.compress(b'{"v": 1}'),
        zlib.compress(b'{"v": 1, "root": [0], "heap": [["?"]]}'),
        zlib.compress(b'{"v": 1, "root": [5], "heap": []}'),
        zlib.compress(b'{"v": 1, "root": [0], "heap": [["V", null, [1]]]}'),
        zlib.compress(b'{"v": 1, "root": 7, "heap": []}'),
        b'{"v": 3}',
        b'{"v": 3, "units": ["nope"], "machine": [], "heap": []}',
        b'{"v": 3, "units": [], "machine": 5, "heap": []}',
        b'{"v": 3, "units": [], "machine": [["d", "x", [5]]], "heap": []}',
        b'{"v": 3, "units": [], "machine": [["d", "x", ["?", 1]]], "heap": []}',
        b'{"v": 3, "units": [], "machine": [["d", "x", ["N", 0, 1]]], "heap": []}',
    ],
)
def test_decoding_a_corrupt_or_foreign_blob_is_a_snapshot_error(blob):
    with pytest.raises(SnapshotError):
        decode(blob, base().glob, base().units.__getitem__)


def test_decoding_a_truncated_snapshot_is_a_snapshot_error():
    m = new_machine(load(SHARING, "share.flow"))
    m.run(10_000)
    blob = encode(m, base().glob)
    with pytest.raises(SnapshotError):
        decode(blob[: len(blob) // 2], base().glob, base().units.__getitem__)


def test_a_snapshot_naming_unknown_code_is_a_snapshot_error():
    m = new_machine(load("(sleep 1) :done", "unknown.flow"))
    m.run(10_000)
    with pytest.raises(SnapshotError):
        decode(encode(m, base().glob), base().glob, {}.__getitem__)


def test_a_newer_format_version_is_refused_by_name():
    for blob in (zlib.compress(b'{"v": 4}'), b'{"v": 4}'):
        with pytest.raises(SnapshotError, match="version 4 is not supported"):
            decode(blob, base().glob, base().units.__getitem__)


def test_a_100000_frame_stack_encodes_and_decodes_iteratively():
    src = "(defn d [n] (if (= n 0) (do (sleep 1) 0) (+ 1 (d (dec n))))) (d 100000)"
    m = new_machine(load(src, "deep.flow"))
    [req] = m.run(10_000_000).requests
    assert len(m.fibers[0].stack) > 100_000
    limit = sys.getrecursionlimit()
    m2 = roundtrip(m)
    assert sys.getrecursionlimit() == limit
    assert len(m2.fibers[0].stack) == len(m.fibers[0].stack)
    m2.complete(req.id, None)
    assert m2.run(10_000_000) == Done(100_000)


def test_a_deeply_nested_value_encodes_and_decodes_iteratively():
    value = Vector()
    for _ in range(20_000):
        value = Vector([value, 1])
    back = decode_value(encode_value(value))
    depth = 0
    while back:
        assert back[1] == 1
        back, depth = back[0], depth + 1
    assert depth == 20_000


# -- code units --------------------------------------------------------------------------


CODE = """
(defmacro twice [x] `(let [v# ~x] [v# v#]))
(defn f [{:keys [a]} & r]
  (when (pos? a) (twice (cond-> a (odd? a) inc))))
(defn g [xs] (for [x xs :when (odd? x)] (some-> x inc)))
[(f {:a 1}) (g [1 2 3]) '[a b {c 'd}] `(x ~@[1 2])]"""


def node_signature(unit) -> list[tuple]:
    out = []
    for node in unit.nodes:
        row = [type(node).__name__, node.id, node.span, node.fn_name]
        for attr in ("name", "depth", "index"):
            if hasattr(node, attr):
                row.append(getattr(node, attr))
        if hasattr(node, "const"):
            row.append(pr_str(node.const))
        out.append(tuple(row))
    return out


def test_compiling_the_same_source_twice_gives_the_same_hash():
    one, two = load(CODE, "code.flow"), load(CODE, "code.flow")
    assert one.hash == two.hash and one.blob == two.blob
    assert len(one.hash) == 64


def test_different_source_gives_a_different_hash():
    one = load(CODE, "code.flow")
    assert load(CODE + " 1", "code.flow").hash != one.hash
    assert load(CODE.replace("inc", "dec"), "code.flow").hash != one.hash


def test_the_hash_does_not_depend_on_the_process():
    script = ("from flowmetal.lang.base import load; import sys; "
              "print(load(sys.stdin.read(), 'code.flow').hash)")
    here = load(CODE, "code.flow").hash
    out = subprocess.run([sys.executable, "-c", script], input=CODE, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == here


def test_compile_expanded_rebuilds_identical_node_numbering_without_macros():
    unit = load(CODE, "code.flow")
    rebuilt = compile_expanded(unit.blob, "code.flow")
    assert rebuilt.hash == unit.hash
    assert node_signature(rebuilt) == node_signature(unit)
    assert [n.id for n in rebuilt.toplevel] == [n.id for n in unit.toplevel]


def test_a_snapshot_resumes_on_code_rebuilt_from_its_stored_form():
    unit = load(CODE + "\n(sleep 1)\n(f {:a 3})", "code.flow")
    m = new_machine(unit)
    [req] = m.run(100_000).requests
    blob = encode(m, base().glob)
    rebuilt = {unit.hash: compile_expanded(unit.blob, unit.source_name)}
    m2 = decode(blob, base().glob, rebuilt.__getitem__)
    assert m2.fibers[0].stack[-1].unit is rebuilt[unit.hash]
    m2.complete(req.id, None)
    assert pr_str(m2.run(100_000).value) == "[4 4]"


def test_the_prelude_rebuilds_identically_from_its_stored_form():
    prelude = base().prelude
    rebuilt = compile_expanded(prelude.blob, prelude.source_name)
    assert rebuilt.hash == prelude.hash
    assert node_signature(rebuilt) == node_signature(prelude)


@pytest.mark.parametrize(("src", "want"), [
    ("(let [t (transient {})] (assoc! t 1 :a) (assoc! t true :b) (assoc! t 1.0 :c)"
     " (persistent! t))", "{1 :a, true :b, 1.0 :c}"),
    ("(let [t (transient #{})] (conj! t 1) (conj! t true) (conj! t 1.0) (persistent! t))",
     "#{1 true 1.0}"),
])
def test_a_transient_keeps_keys_that_equal_in_python_apart_across_snapshots(src, want):
    value, _, steps, _ = run_program(src)
    assert value == want
    assert run_program(src, snapshot_at=range(steps + 1))[0] == want
