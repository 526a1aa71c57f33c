"""Error messages quote values as Flowmetal prints them (``"soon"``, ``:kw``, ``nil``),
never as Python's ``repr`` would (``'soon'``, ``None``)."""

from __future__ import annotations

import re

import pytest

from flowmetal.lang.data import Atom, List, Map, Set, Vector, kw
from flowmetal.lang.errors import EvalError, ExInfo, Thrown

from .core_helpers import call, throws
from .flow_helpers import compile_error, show, uncaught


def message(expr: str) -> str:
    """The message of the error ``expr`` throws, as a catch sees it."""
    text = show(f"(try {expr} :no-error (catch e (ex-message e)))")
    assert text != ":no-error", expr
    return text[1:-1].replace('\\"', '"')


@pytest.mark.parametrize(
    "expr, expected",
    [
        ('(sleep "soon")', 'got "soon"'),
        ("(sleep -1)", "can't be negative: -1"),
        ('(sleep-until "tomorrow")', 'got "tomorrow"'),
        ('(receive "")', 'got ""'),
        ("(receive nil)", "got nil"),
        ("(await :x)", "got :x"),
        ("(await (async 1) :bad 1)", "unknown option :bad;"),
        ('(swap! "a" inc)', 'got "a"'),
        ('(random "x")', 'got "x"'),
        ('(http/request "u")', 'got "u"'),
        ('(http/request {:url "ftp://x"})', 'got "ftp://x"'),
        ('(http/request {:url "http://x" "bad" 1})', 'unknown key "bad";'),
        ('(http/request {:url "http://x" true 1})', "unknown key true;"),
        ('(http/get "http://x" "o")', 'options must be a map, got "o"'),
        ("(call nil)", "got nil"),
        ('(json/parse "1" {"k" 1})', 'unknown option "k" (known: :keywords)'),
        ("(json/stringify ##Inf)", "##Inf is not valid JSON"),
        ('(apply + "a" 1)', "apply expects a collection, got integer"),
    ],
)
def test_messages_quote_values_as_flowmetal_prints_them(expr: str, expected: str) -> None:
    text = message(expr)
    assert expected in text
    assert not re.search(r"'[^ ']*'", text) and "None" not in text


def test_an_uncaught_plain_string_is_reported_as_flowmetal_text() -> None:
    err = uncaught('(throw "boom")')
    assert 'uncaught throw of "boom"' in str(err)
    assert str(EvalError("boom")).endswith('uncaught throw of "boom"')
    assert str(Thrown("boom")) == '"boom"' and str(Thrown(None)) == "nil"


def test_destructuring_helpers_quote_the_index_they_got() -> None:
    with throws("type-error", 'got "x"'):
        call("core/nth", Vector(), "x")
    with throws("type-error", "got nil"):
        call("core/nthrest", Vector(), None)


def test_compile_errors_name_flowmetal_types_and_values() -> None:
    assert compile_error("(let [{:keys a} {}] a)").message.startswith(
        ":keys needs a vector of names")
    assert "can't bind to a string:" in compile_error('(let ["s" 1] 1)').message


def test_python_repr_of_a_value_is_its_flowmetal_text() -> None:
    """What an f-string or a debugger shows is never Python's quoting."""
    assert repr(Map({"a": Vector(["b", None, True])})) == '{"a" ["b" nil true]}'
    assert repr(List(["x"])) == '("x")' and repr(Set(["x"])) == '#{"x"}'
    assert repr(Atom("s")) == '#atom["s"]'
    assert repr(ExInfo("m", Map({kw("k"): "v"}))) == '#error {:message "m", :data {:k "v"}}'
