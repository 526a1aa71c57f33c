"""Splitting input into top-level forms, finding a definition's form, and indenting."""

from __future__ import annotations

from flowmetal.repl.forms import form_at_line, split_forms
from flowmetal.repl.indent import indent_for


def texts(text: str) -> list[str]:
    return [p.text for p in split_forms(text)]


def test_splits_forms_and_drops_comments_between_them():
    assert texts("(def a 1) ; one\n(inc a) :k \"s\" 3") == [
        "(def a 1)", "(inc a)", ":k", '"s"', "3"]


def test_brackets_in_strings_comments_and_reader_macros():
    assert texts('(str ")" ; (\n "]") \'(1 2) @a #{1} #(inc %)') == [
        '(str ")" ; (\n "]")', "'(1 2)", "@a", "#{1}", "#(inc %)"]


def test_unfinished_text_is_the_last_piece_and_stray_closer_its_own():
    assert texts("(a) (b") == ["(a)", "(b"]
    assert texts(")") == [")"]


def test_pieces_know_their_line():
    assert [p.line for p in split_forms("(a)\n\n(b\n c)\n(d)")] == [1, 3, 5]


def test_form_at_line_finds_the_form_spanning_it():
    text = "(def a 1)\n(defn f [x]\n  (* x 2))\n"
    assert form_at_line(text, 2) == "(defn f [x]\n  (* x 2))"
    assert form_at_line(text, 3) == "(defn f [x]\n  (* x 2))"
    assert form_at_line(text, 9) is None


def test_indent_body_forms_by_two():
    assert indent_for("(defn f [x]") == 2
    assert indent_for("(let [a 1]") == 2
    assert indent_for("(when ok") == 2


def test_indent_under_first_argument_or_inside_collection():
    assert indent_for("(+ a") == 3
    assert indent_for("(foo") == 1
    assert indent_for("(defn f [x]\n  (let [a 1") == 8
    assert indent_for("{:a 1") == 1
    assert indent_for("  [1 2") == 3


def test_indent_ignores_brackets_in_strings_and_closed_forms():
    assert indent_for('(str "((("') == 5
    assert indent_for("(a (b c) (d e))") == 0
