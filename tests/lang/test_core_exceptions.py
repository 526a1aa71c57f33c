"""Error values: ``ex-info``, ``ex-message``, ``ex-data``, ``ex-cause``."""

from __future__ import annotations

from flowmetal.lang.errors import ExInfo

from .core_helpers import K, M, call, same, throws


def test_ex_info_makes_an_error_value_with_message_data_and_cause():
    inner = call("ex-info", "inner", M())
    err = call("ex-info", "Not found", M(K("type"), K("not-found"), K("id"), 7), inner)
    assert isinstance(err, ExInfo)
    assert err.kind == "not-found"
    assert call("ex-message", err) == "Not found"
    assert same(call("ex-data", err), M(K("type"), K("not-found"), K("id"), 7))
    assert call("ex-cause", err) is inner
    assert call("ex-cause", inner) is None


def test_ex_info_with_nil_data_has_an_empty_map():
    assert same(call("ex-data", call("ex-info", "x", None)), M())


def test_readers_return_nil_for_values_that_are_not_errors():
    for value in [None, "boom", 1, M()]:
        assert call("ex-message", value) is None
        assert call("ex-data", value) is None
        assert call("ex-cause", value) is None


def test_errors_thrown_by_built_ins_are_readable_with_ex_data():
    with throws("type-error") as info:
        call("count", 1)
    err = info.value.value
    assert call("ex-message", err) == "count not supported on integer"
    assert call("ex-data", err)[K("type")] is K("type-error")


def test_ex_info_checks_its_arguments():
    with throws("type-error", "string message"):
        call("ex-info", K("oops"), M())
    with throws("type-error", "data map"):
        call("ex-info", "x", "not a map")
    with throws("type-error", "cause"):
        call("ex-info", "x", M(), "not an error")
