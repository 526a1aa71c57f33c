"""``json/parse`` and ``json/stringify``."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from flowmetal.lang.data import Atom, Map, Symbol, Vector
from flowmetal.lang.errors import Thrown

from .core_helpers import K, L, M, S, V, call, same, throws

# JSON-shaped Flowmetal data: string-keyed maps, vectors, and JSON scalars.
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
json_data = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: Vector(xs)),
        st.dictionaries(st.text(max_size=4), inner, max_size=4).map(Map),
    ),
    max_leaves=15,
)


class TestParse:
    def test_objects_arrays_and_null(self):
        value = call("json/parse", '{"a": [1, 2.5, null, true, "x"], "b": {}}')
        assert same(value, M("a", V(1, 2.5, None, True, "x"), "b", M()))

    def test_keys_keep_their_order(self):
        assert list(call("json/parse", '{"z": 1, "a": 2, "m": 3}')) == ["z", "a", "m"]

    def test_keywords_option_makes_keyword_keys(self):
        value = call("json/parse", '{"a": {"http/b": 1}}', M(K("keywords"), True))
        assert same(value, M(K("a"), M(K("http/b"), 1)))
        assert same(call("json/parse", '{"a": 1}', None), M("a", 1))

    def test_scalars_at_top_level(self):
        assert call("json/parse", "3") == 3
        assert call("json/parse", '"é"') == "é"
        assert call("json/parse", "null") is None

    def test_invalid_json_reports_line_and_column(self):
        with throws("json-error", "line 2, column 5") as info:
            call("json/parse", '{"a":\n  1,,}')
        data = info.value.value.data
        assert data[K("line")] == 2 and data[K("column")] == 5

    def test_nan_and_infinity_are_not_json(self):
        with throws("json-error", "NaN"):
            call("json/parse", "[NaN]")
        with throws("json-error"):
            call("json/parse", "Infinity")

    def test_deeply_nested_input_is_a_json_error_not_a_crash(self):
        with throws("json-error"):
            call("json/parse", "[" * 100_000 + "]" * 100_000)

    def test_unknown_options_and_wrong_types(self):
        with throws("argument-error", ":keywordize"):
            call("json/parse", "{}", M(K("keywordize"), True))
        with throws("type-error", "json/parse expects a string, got nil"):
            call("json/parse", None)
        with throws("type-error", "options map"):
            call("json/parse", "{}", V())


class TestStringify:
    def test_compact_output_in_key_order(self):
        value = M(K("b"), V(1, None, "x"), "a", True)
        assert call("json/stringify", value) == '{"b":[1,null,"x"],"a":true}'

    def test_pretty_output_matches_pythons_indent_2(self):
        value = M("a", V(1, M("b", None), V()), "c", M())
        expected = json.dumps({"a": [1, {"b": None}, []], "c": {}}, indent=2)
        assert call("json/stringify", value, M(K("pretty"), True)) == expected

    def test_keywords_become_their_full_names(self):
        assert call("json/stringify", M(K("a/b"), K("ok"))) == '{"a/b":"ok"}'

    def test_lists_and_sets_become_arrays(self):
        assert call("json/stringify", L(1, S(2))) == "[1,[2]]"

    def test_non_ascii_is_kept_and_control_characters_escaped(self):
        assert call("json/stringify", "é\n\"") == '"é\\n\\""'

    def test_values_without_a_json_form_throw_json_error(self):
        for bad in [Atom(1), Symbol("s"), float("nan"), float("inf"), M(1, 2), M(None, 1)]:
            with throws("json-error"):
                call("json/stringify", bad)
        with throws("json-error", "keys must be strings or keywords, got integer"):
            call("json/stringify", M(1, 2))

    def test_deeply_nested_values_are_written_without_recursion(self):
        v = V()
        for _ in range(50_000):
            v = V(v)
        text = call("json/stringify", v)
        assert text == "[" * 50_000 + "[]" + "]" * 50_000

    @given(json_data)
    def test_round_trip_of_json_shaped_data(self, value):
        for options in (None, M(K("pretty"), True)):
            text = call("json/stringify", value, options)
            assert same(call("json/parse", text), value)

    @given(json_data)
    def test_output_is_what_python_json_would_parse_to_the_same(self, value):
        text = call("json/stringify", value)
        assert json.loads(text) == json.loads(json.dumps(_to_python(value)))


def _to_python(value):
    if isinstance(value, Map):
        return {k: _to_python(v) for k, v in value.items()}
    if isinstance(value, Vector):
        return [_to_python(v) for v in value]
    return value


def test_stringify_never_raises_a_python_error():
    for weird in [object(), Thrown(None), b"bytes"]:
        with throws("json-error"):
            call("json/stringify", weird)
