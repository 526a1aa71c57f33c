"""The runtime's JSON codec: every data value round-trips through the log's JSON, keys
that Python's ``==`` confuses (``1``, ``1.0``, ``true``) included."""

from __future__ import annotations

import json

from flowmetal.lang.reader import read_one
from flowmetal.runtime.codec import from_json, to_json

from ..lang.core_helpers import same


def roundtrip(text: str) -> tuple[object, object]:
    value = read_one(text)
    return value, from_json(json.loads(json.dumps(to_json(value))))


def test_maps_and_sets_with_keys_python_confuses_round_trip():
    for text in ("{1 :a true :b 1.0 :c false :d 0 :e}", "#{1 true 1.0 [1] [true]}",
                 "{[1] 1 [1.0] 2 #{true} 3 {:a true} 4}", '{"s" 1 :k true nil 2}'):
        value, back = roundtrip(text)
        assert same(back, value), text


def test_string_and_keyword_keys_stay_a_json_object():
    assert to_json(read_one('{:a 1 "b" true}')) == {":a": 1, "b": True}
    assert to_json(read_one("{true 1}")) == {"~map": [[True, 1]]}
