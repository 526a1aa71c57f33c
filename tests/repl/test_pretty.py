"""Pretty-printing results within a width, with depth and length caps."""

from __future__ import annotations

from flowmetal.lang import evaluate
from flowmetal.lang.evaluate import LocalEffects
from flowmetal.repl.pretty import pretty


def value(text: str):
    return evaluate(text, "<test>", LocalEffects()).value


def test_small_values_print_on_one_line():
    assert pretty(value('{:a [1 2] :b "x"}')) == '{:a [1 2], :b "x"}'
    assert pretty(value("nil")) == "nil"


def test_wide_maps_put_one_entry_per_line():
    text = pretty(value("{:alpha (vec (range 30)) :beta {:x 1}}"), width=40)
    lines = text.splitlines()
    assert lines[0].startswith("{:alpha [0 1 2")
    assert lines[-1] == " :beta {:x 1}}"
    assert all(len(line) <= 40 for line in lines)


def test_long_sequences_fill_lines_and_are_cut_at_max_length():
    text = pretty(value("(vec (range 500))"), width=30, max_length=50)
    assert text.endswith("49 ...]")
    assert all(len(line) <= 30 for line in text.splitlines())


def test_deep_values_are_cut_at_max_depth():
    assert pretty(value("[[[[[1]]]]]"), max_depth=3) == "[[[...]]]"
