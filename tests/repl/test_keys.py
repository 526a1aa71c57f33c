"""Key handling at the prompt, driven through prompt-toolkit's pipe input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from flowmetal.repl.app import build_prompt, continuation_prompt
from flowmetal.repl.history import DedupFileHistory, DedupInMemoryHistory, open_history
from flowmetal.repl.keys import should_evaluate

from .conftest import Captured


class ReadyHistory(DedupInMemoryHistory):
    """An in-memory history that says when a prompt has finished loading it, so keys are
    sent after that (a prompt loads its history in the background once it is drawn)."""

    def __init__(self, *strings: str) -> None:
        super().__init__()
        for text in strings:
            self.append_string(text)
        self.ready: asyncio.Event | None = None

    async def load(self) -> AsyncIterator[str]:
        async for item in super().load():
            yield item
        if self.ready is not None:
            self.ready.set()


@pytest.fixture
def typed(repl: Captured) -> Iterator:
    """``typed(keys)`` types ``keys`` at a fresh prompt and returns what it submitted."""
    repl.submit("(defn addition [a b] (+ a b))")

    def run(keys: str, history: ReadyHistory | None = None) -> str:
        history = history or ReadyHistory()

        async def scenario() -> str:
            history.ready = asyncio.Event()
            with create_pipe_input() as inp:
                prompt = build_prompt(repl.shell.names, repl.shell.commands.summaries,
                                      history, lambda: "t=> ", input=inp,
                                      output=DummyOutput())
                task = asyncio.ensure_future(prompt.prompt_async())
                await asyncio.wait_for(history.ready.wait(), 10)
                inp.send_text(keys)
                return await asyncio.wait_for(task, 10)

        return asyncio.run(scenario())

    yield run


def test_enter_evaluates_only_a_complete_form(typed):
    assert typed("(+ 1\r2)\r") == "(+ 1\n   2)"


def test_brackets_in_strings_and_comments_do_not_count(typed):
    assert typed('(str "(" ; [\r)\r') == '(str "(" ; [\n     )'
    assert typed('(str ")")\r') == '(str ")")'


def test_new_lines_are_indented(typed):
    assert typed("(let [a 1\rb 2]\r(+ a b))\r") == "(let [a 1\n      b 2]\n  (+ a b))"


def test_escape_enter_forces_evaluation(typed):
    assert typed("(unfinished\x1b\r") == "(unfinished"


def test_enter_runs_a_comma_command_and_blank_input(typed):
    assert typed(",doc map\r") == ",doc map"
    assert typed("\r") == ""


def test_tab_at_line_start_indents(typed):
    assert typed("(defn f [x]\r\x01\x0b\t(inc x))\r") == "(defn f [x]\n  (inc x))"


def test_up_arrow_searches_history_by_prefix(typed, tmp_path: Path):
    history = ReadyHistory("(+ 1 2)", "(defn f [] 1)", "(+ 3 4)")
    assert typed("(+\x1b[A\x1b[A\r", history) == "(+ 1 2)"
    # Without a prefix, Up walks every entry (the one just submitted is newest).
    assert typed("\x1b[A\x1b[A\x1b[A\r", history) == "(defn f [] 1)"


def test_ctrl_r_searches_history(typed, tmp_path: Path):
    history = ReadyHistory("(defn f [] 1)", "(+ 3 4)")
    assert typed("\x12defn\r\r", history) == "(defn f [] 1)"


def test_suggestion_from_history_is_accepted_with_right_arrow(repl: Captured):
    history = ReadyHistory("(reduce + (range 10))")

    async def scenario() -> str:
        history.ready = asyncio.Event()
        suggested = asyncio.Event()
        with create_pipe_input() as inp:
            prompt = build_prompt(repl.shell.names, {}, history, lambda: "t=> ", input=inp,
                                  output=DummyOutput())
            prompt.default_buffer.on_suggestion_set += lambda _b: suggested.set()
            task = asyncio.ensure_future(prompt.prompt_async())
            await asyncio.wait_for(history.ready.wait(), 10)
            inp.send_text("(redu")
            await asyncio.wait_for(suggested.wait(), 10)
            inp.send_text("\x1b[C\r")
            return await asyncio.wait_for(task, 10)

    assert asyncio.run(scenario()) == "(reduce + (range 10))"


def test_history_file_skips_consecutive_duplicates(tmp_path: Path):
    path = tmp_path / "hist"
    history = DedupFileHistory(str(path))
    for text in ["(a)", "(a)", "(b)", "(a)"]:
        history.append_string(text)
    assert list(DedupFileHistory(str(path)).load_history_strings()) == ["(a)", "(b)", "(a)"][::-1]


def test_history_can_be_turned_off(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FLOWMETAL_HISTORY", "")
    assert isinstance(open_history(), DedupInMemoryHistory)


def test_tab_completes_a_session_definition(repl: Captured, tmp_path: Path):
    repl.submit("(defn addition [a b] (+ a b))")

    async def scenario() -> str:
        with create_pipe_input() as inp:
            prompt = build_prompt(repl.shell.names, repl.shell.commands.summaries,
                                  open_history(tmp_path / "h"), lambda: "t=> ", input=inp,
                                  output=DummyOutput())
            changed = asyncio.Event()

            def on_change(_buffer: Buffer) -> None:
                if prompt.default_buffer.text == "(addition":
                    changed.set()

            prompt.default_buffer.on_text_changed += on_change
            task = asyncio.ensure_future(prompt.prompt_async())
            inp.send_text("(additi\t")
            await asyncio.wait_for(changed.wait(), 10)
            inp.send_text(" 1 2)\r")
            return await asyncio.wait_for(task, 10)

    assert asyncio.run(scenario()) == "(addition 1 2)"


def test_should_evaluate():
    assert should_evaluate("(+ 1 2)")
    assert not should_evaluate("(+ 1")
    assert not should_evaluate('"open string')
    assert should_evaluate("(+ 1))")  # a stray closer is complete: evaluating reports it
    assert should_evaluate("  ,help")


def test_continuation_prompt_shows_open_depth_at_prompt_width():
    assert continuation_prompt(2, 9) == ".......2 "
    assert len(continuation_prompt(12, 9)) == 9
