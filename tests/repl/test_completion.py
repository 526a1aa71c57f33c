"""Completion: special forms, built-ins, the session's definitions, keywords, commands."""

from __future__ import annotations

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from flowmetal.repl.completion import FlowmetalCompleter

from .conftest import Captured


def complete(repl: Captured, text: str) -> dict[str, str]:
    completer = FlowmetalCompleter(repl.shell.names, repl.shell.commands.summaries)
    found = completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
    return {c.text: c.display_meta_text for c in found}


def test_special_forms_with_their_arglists(repl: Captured):
    found = complete(repl, "(lo")
    assert found["loop"] == "[[bindings] & body]"


def test_builtins_and_prelude_with_arglists(repl: Captured):
    found = complete(repl, "(str/jo")
    assert found["str/join"] == "[coll] [separator coll]"
    assert "[f coll]" in complete(repl, "(ma")["map"]


def test_session_definitions_with_arglists_or_first_doc_line(repl: Captured):
    repl.submit('(defn greet "Say hello.\\nAt length." [who] (str "hello " who))')
    repl.submit('(def greeting-limit "How many greetings." 3)')
    found = complete(repl, "(gree")
    assert found["greet"] == "[who]"
    assert found["greeting-limit"] == "How many greetings."


def test_keywords_seen_in_the_session(repl: Captured):
    repl.submit("(def order {:order/id 1 :status :shipped})")
    assert set(complete(repl, "(get order :st")) == {":status"}
    assert ":order/id" in complete(repl, ":ord")


def test_prefix_matches_come_before_inner_matches(repl: Captured):
    names = list(complete(repl, "(map"))
    assert names[:3] == ["map", "map?", "mapv"]
    assert names.index("map-indexed") < names.index("zipmap")
    assert "core/map*" not in names  # internal helpers are not offered


def test_nothing_inside_strings_or_comments(repl: Captured):
    assert complete(repl, '(str "ma') == {}
    assert complete(repl, "; ma") == {}


def test_comma_commands_at_the_start(repl: Captured):
    found = complete(repl, ",so")
    assert set(found) == {",source"}
    assert "SYM" in found[",source"]


def test_definitions_restored_in_a_new_process_complete_too(db, repl: Captured):
    repl.submit("(defn restored-fn [x] x)")
    repl.close()
    again = Captured(db)
    try:
        assert "restored-fn" in complete(again, "(restored")
    finally:
        again.close()
