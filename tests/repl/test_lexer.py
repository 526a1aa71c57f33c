"""The Pygments lexer: token classes, and its registration as a Pygments plugin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, String

from flowmetal.repl.lexer import FlowmetalLexer

SAMPLE = '''#!/usr/bin/env flowmetal
;; an approval flow
(defn main [{:keys [amount]}]
  (let [reply (receive :approval :timeout "3d" :default nil)]
    (when (> amount 100.5) (sleep "2s"))
    (http/get "https://example.com" {:headers {"a" "b\\n"}})
    [#{1 2} #(inc %) '(a b) `(x ~y ~@z) @state #_ignored nil true ##Inf -3 1e5 :a/b]))
'''


def tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in FlowmetalLexer().get_tokens(text) if v.strip()]


def kind_of(text: str, word: str) -> object:
    return next(t for t, v in tokens(text) if v == word)


def test_special_forms_and_macros_are_keywords():
    assert kind_of("(if a b)", "if") is Keyword
    assert kind_of("(let [a 1] a)", "let") is Keyword
    assert kind_of("(when a b)", "when") is Keyword


def test_effects_builtins_and_plain_symbols_differ():
    assert kind_of('(sleep "2s")', "sleep") is Name.Builtin.Pseudo
    assert kind_of("(receive :go)", "receive") is Name.Builtin.Pseudo
    assert kind_of("(map inc xs)", "map") is Name.Builtin
    assert kind_of("(str/join xs)", "str/join") is Name.Builtin
    assert kind_of("(my-fn xs)", "my-fn") is Name.Variable


def test_definition_names_are_functions():
    assert kind_of("(defn add [a b] (+ a b))", "add") is Name.Function
    assert kind_of("(def limit 10)", "limit") is Name.Function


def test_literals():
    assert kind_of(":status", ":status") is String.Symbol
    assert kind_of("nil", "nil") is Keyword.Constant
    assert kind_of("(nil? x)", "nil?") is Name.Builtin
    assert kind_of("42", "42") in Number
    assert kind_of("-3.5", "-3.5") in Number
    assert kind_of("##Inf", "##Inf") in Number
    assert kind_of('"a\\nb"', "\\n") is String.Escape
    assert kind_of("; note", "; note") in Comment


def test_brackets_inside_strings_are_string():
    assert [v for t, v in tokens('"(["') if t is not String.Double] == []


def test_printed_values_highlight_too():
    assert kind_of("#atom[1]", "#atom[") is Name.Tag
    assert kind_of('#error {:message "x"}', "#error") is Name.Tag
    assert kind_of("#<fn f>", "#<fn f>") is Name.Tag


def test_sample_program_has_no_error_tokens():
    assert [v for t, v in tokens(SAMPLE) if t is Error] == []
    assert "".join(v for _, v in FlowmetalLexer().get_tokens(SAMPLE)) == SAMPLE


def test_registered_by_name_alias_and_file_name():
    assert isinstance(get_lexer_by_name("flowmetal"), FlowmetalLexer)
    assert isinstance(get_lexer_by_name("flow"), FlowmetalLexer)
    assert isinstance(get_lexer_for_filename("job.flow"), FlowmetalLexer)


def test_pygmentize_highlights_a_flow_file(tmp_path: Path):
    path = tmp_path / "job.flow"
    path.write_text(SAMPLE, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pygments", "-l", "flowmetal", "-f",
                           "terminal", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "\x1b[" in done.stdout and "receive" in done.stdout
