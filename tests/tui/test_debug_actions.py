"""Every action of the debug screen, driven through the real UI with Pilot."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Input, RichLog, TabbedContent

from flowmetal.store import open_store
from tests.tui.conftest import settle
from tui.app import DebuggerApp
from tui.screens.breakpoints import BreakpointsModal
from tui.screens.debug import NAV_ACTIONS, DebugScreen
from tui.screens.diff import DiffScreen
from tui.screens.help import HelpScreen
from tui.screens.inject import InjectModal
from tui.screens.prompt import PromptModal
from tui.widgets import BindingsTree, EventTable, SourceView, StackTable, Timeline

pytestmark = pytest.mark.anyio


def _app(path: str, pid: str, step: int | None = 40, **kw) -> DebuggerApp:
    return DebuggerApp(path, pid, start_step=step, blink=False, **kw)


async def _open(pilot) -> DebugScreen:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, DebugScreen)
    return screen


async def _press(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def _enabled(screen: DebugScreen, action: str, *params: object) -> bool:
    return bool(screen.check_action(action, params))


async def test_opens_at_the_start_step_with_every_pane_filled(sample):
    async with _app(sample("approval"), "p-approval").run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        assert screen.step == 40 and screen.view.step == 40
        source = screen.query_one(SourceView)
        assert source.span.line == 7 and "http/post" in source.text
        stack = screen.query_one(StackTable)
        assert stack.frame_rows[:3] == [(0, 0), (0, 1), (0, 2)]
        tree = screen.query_one(BindingsTree)
        labels = [str(n.label) for n in tree.root.children[0].children]
        assert labels[0].startswith("request = {:id \"exp-42\"")
        assert screen.query_one(EventTable).cursor_row == 3


async def test_step_forward_and_back_and_the_limits(sample):
    async with _app(sample("recovery"), "p-recovery", step=1).run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await _press(pilot, "right", "right")
        assert screen.step == 3
        await _press(pilot, "left")
        assert screen.step == 2
        await _press(pilot, "home")
        assert screen.step == 0
        assert not _enabled(screen, "step", -1) and not _enabled(screen, "first")
        await _press(pilot, "left")
        assert screen.step == 0
        await _press(pilot, "end")
        assert screen.step == screen.tl.total_steps
        assert not _enabled(screen, "step", 1) and not _enabled(screen, "last")
        assert not _enabled(screen, "next_event", 0)


async def test_step_over_and_out_both_ways(sample):
    async with _app(sample("approval"), "p-approval").run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        depth = len(screen.view.machine.stack)
        await _press(pilot, "u")
        assert screen.step > 40 and len(screen.view.machine.stack) < depth
        out_step = screen.step
        await _press(pilot, "U")
        assert screen.step < out_step
        await _press(pilot, "o")
        assert screen.busy is None
        after = screen.step
        await _press(pilot, "O")
        assert screen.step < after


async def test_next_and_previous_event_and_effect(sample):
    async with _app(sample("approval"), "p-approval").run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await _press(pilot, "n")
        assert screen.step == 51 and screen.event_focus == 4  # seq 5: http requested
        await _press(pilot, "n")
        assert screen.step == 51 and screen.event_focus == 5  # seq 6, same step
        await _press(pilot, "p", "p")
        assert screen.event_focus == 3
        await _press(pilot, "N")
        assert screen.tl.marks[screen.event_focus].is_effect
        await _press(pilot, "P")
        assert screen.tl.marks[screen.event_focus].type == "effect"


async def test_goto_step_and_event(sample):
    async with _app(sample("approval"), "p-approval").run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await _press(pilot, "g")
        assert isinstance(pilot.app.screen, PromptModal)
        pilot.app.screen.query_one(Input).value = "12"
        await _press(pilot, "enter")
        assert screen.step == 12
        await _press(pilot, "g")
        pilot.app.screen.query_one(Input).value = "999"
        await _press(pilot, "enter")
        assert isinstance(pilot.app.screen, PromptModal)  # refused: past the end
        pilot.app.screen.query_one(Input).value = "50%"
        await _press(pilot, "enter")
        assert screen.step == 38
        await _press(pilot, "j")
        pilot.app.screen.query_one(Input).value = "8"
        await _press(pilot, "enter")
        assert screen.step == 53 and screen.event_focus == 7


async def test_search_events_then_next_and_previous_match(sample):
    async with _app(sample("approval"), "p-approval", step=0).run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await _press(pilot, "slash")
        pilot.app.screen.query_one(Input).value = "print"
        await _press(pilot, "enter")
        first = screen.step
        assert screen.tl.marks[screen.event_focus].kind == "print"
        await _press(pilot, "s")
        assert screen.step > first
        await _press(pilot, "S")
        assert screen.step == first


async def test_bookmarks(sample):
    async with _app(sample("approval"), "p-approval").run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        assert not _enabled(screen, "next_bookmark", 0)
        await _press(pilot, "m")
        await _press(pilot, "end")
        await _press(pilot, "m")
        assert screen.session.bookmarks == [40, 76]
        assert pilot.app.screen.query_one(Timeline).bookmarks == {40, 76}
        await _press(pilot, "quotation_mark")
        assert screen.step == 40
        await _press(pilot, "apostrophe")
        assert screen.step == 76
        await _press(pilot, "m")
        assert screen.session.bookmarks == [40]


async def test_line_breakpoint_continue_and_reverse(sample):
    async with _app(sample("approval"), "p-approval", step=0).run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        assert not _enabled(screen, "continue", 0)
        screen.session.toggle_line(screen.tl.unit.source_name, 20)
        screen.refresh_bindings()
        await _press(pilot, "c")
        hit = screen.step
        assert screen.view.machine.node.span.line == 20
        await _press(pilot, "end", "C")
        assert screen.step == hit
        # b toggles a breakpoint on the line of the selected frame's form
        await _press(pilot, "b")
        assert (screen.tl.unit.source_name, 20) not in screen.session.breakpoints.lines


async def test_breakpoint_dialog_event_kinds_and_conditions(sample):
    async with _app(sample("approval"), "p-approval", step=0).run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await _press(pilot, "B")
        modal = pilot.app.screen
        assert isinstance(modal, BreakpointsModal)
        modal.query_one("#bp-events", Input).value = "callback"
        await _press(pilot, "enter")
        assert screen.session.breakpoints.events == {"callback"}
        await _press(pilot, "c")
        assert screen.step == 30  # the (callback) effect: its kind is "callback"
        await _press(pilot, "c")
        assert screen.step == 53  # the callback input event
        await _press(pilot, "B")
        pilot.app.screen.query_one("#bp-events", Input).value = ""
        pilot.app.screen.query_one("#bp-condition", Input).value = "(= (:amount request) 350)"
        await _press(pilot, "enter")
        await _press(pilot, "home", "c")
        assert 0 < screen.step < 53
        await _press(pilot, "B")
        pilot.app.screen.query_one("#bp-lines", Input).value = "x:y"
        await _press(pilot, "enter")
        assert "not a line" in str(pilot.app.screen.query_one("#bp-error").render())
        await _press(pilot, "escape")


async def test_watches_and_run_to_a_change(sample):
    async with _app(sample("approval"), "p-approval", step=0).run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        assert not _enabled(screen, "watch_change", 0)
        await _press(pilot, "w")
        pilot.app.screen.query_one(Input).value = "request"
        await _press(pilot, "enter")
        assert screen.query_one(TabbedContent).active == "tab-watches"
        await _press(pilot, "greater_than_sign")
        changed = screen.step
        assert changed > 0
        assert "exp-42" in screen.query_one("#watches").watches[0][1]
        await _press(pilot, "end", "less_than_sign")
        assert screen.step > changed


async def test_evaluate_in_the_selected_frame(sample):
    async with _app(sample("approval"), "p-approval").run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await _press(pilot, "e")
        box = screen.query_one("#eval-input", Input)
        assert box.has_focus
        box.value = "(:amount request)"
        await _press(pilot, "enter")
        box.value = "(http/get \"https://x.test\")"
        await _press(pilot, "enter")
        lines = [str(line.text) for line in screen.query_one(RichLog).lines]
        assert any("⇒ 350" in line for line in lines)
        assert any("effects are disabled" in line for line in lines)
        await _press(pilot, "escape")
        assert not box.has_focus and isinstance(pilot.app.screen, DebugScreen)


async def test_selecting_another_frame_shows_its_bindings_and_source(sample):
    async with _app(sample("approval"), "p-approval").run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        screen.query_one(StackTable).focus()
        await _press(pilot, "down", "down")
        assert screen.sel == (0, 2)
        assert screen.query_one(SourceView).span.line == 25  # (let [decision ...] in main
        tree = screen.query_one(BindingsTree)
        assert "let" in str(tree.root.children[0].label)


async def test_event_list_enter_jumps_to_the_event(sample):
    async with _app(sample("approval"), "p-approval").run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        table = screen.query_one(EventTable)
        table.focus()
        await _press(pilot, "down", "down", "down")
        assert screen.step == 40 and screen.event_focus == 6
        await _press(pilot, "enter")
        assert screen.step == screen.tl.marks[6].step == 53


async def test_inject_a_mock_event_makes_a_fork(sample):
    path = sample("approval")
    app = _app(path, "p-approval", step=53, fork_ids=["p-fork-test"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        assert _enabled(screen, "inject")
        await _press(pilot, "i")
        modal = pilot.app.screen
        assert isinstance(modal, InjectModal)
        payload = modal.query_one("#inject-payload")
        payload.text = "{not json"
        await settle(pilot)
        assert modal.query_one("#inject-fork").disabled
        payload.text = '{"approved": false, "by": "test"}'
        await settle(pilot)
        assert not modal.query_one("#inject-fork").disabled
        await _press(pilot, "ctrl+s")
        await settle(pilot)
        fork_screen = pilot.app.screen
        assert isinstance(fork_screen, DebugScreen) and fork_screen.program_id == "p-fork-test"
        assert fork_screen.diverged_from == 7
    store = open_store(path, read_only=True)
    assert store.get_program("p-fork-test").result == {":id": "exp-42", ":paid": None}
    assert store.get_program("p-approval").last_seq == 13


async def test_inject_is_disabled_where_the_program_does_not_wait(sample):
    async with _app(sample("approval"), "p-approval").run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        assert not _enabled(screen, "inject")
        await _press(pilot, "end")
        assert not _enabled(screen, "inject")  # finished: nothing to give it


async def test_replace_a_recorded_input(sample):
    app = _app(sample("approval"), "p-approval", step=53, fork_ids=["p-replaced"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        assert screen.tl.marks[screen.view.event_index].type == "callback"
        assert _enabled(screen, "replace_event")
        await _press(pilot, "r")
        modal = pilot.app.screen
        assert isinstance(modal, InjectModal) and modal.mark.seq == 8
        text = modal.query_one("#inject-payload").text.replace('"dana"', '"eve"')
        modal.query_one("#inject-payload").text = text
        await settle(pilot)
        await _press(pilot, "ctrl+s")
        await settle(pilot)
        fork = pilot.app.screen
        assert fork.program_id == "p-replaced" and fork.step == 53  # opens at the fork point
        await _press(pilot, "end")
        out = "".join(fork.view.output)
        assert "decision: eve approved" in out


async def test_diff_two_steps_and_a_fork_against_its_parent(sample):
    async with _app(sample("approval"), "p-approval-refused", step=None).run_test(
            size=(120, 40)) as pilot:
        screen = await _open(pilot)
        assert _enabled(screen, "diff")  # a fork: diff against the parent
        await _press(pilot, "d")
        diff = pilot.app.screen
        assert isinstance(diff, DiffScreen)
        assert diff.left.bindings["(result)"] != diff.right.bindings["(result)"]
        await _press(pilot, "escape")
        await _press(pilot, "home", "equals_sign", "end", "d")
        diff = pilot.app.screen
        assert isinstance(diff, DiffScreen) and diff.left.label == "step 0"
        assert diff.right.output and not diff.left.output
        await _press(pilot, "escape")


async def test_export_from_the_debugger(sample, tmp_path):
    out = tmp_path / "run.json"
    async with _app(sample("recovery"), "p-recovery").run_test(size=(120, 40)) as pilot:
        await _open(pilot)
        await _press(pilot, "x")
        pilot.app.screen.query_one(Input).value = str(out)
        await _press(pilot, "enter")
    assert out.exists()


async def test_export_with_forks_from_the_debugger(sample, tmp_path):
    out = tmp_path / "all.json"
    async with _app(sample("approval"), "p-approval").run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        assert _enabled(screen, "export", 1)
        await _press(pilot, "X")
        pilot.app.screen.query_one(Input).value = str(out)
        await _press(pilot, "enter")
    doc = json.loads(out.read_text())
    assert [f["program"]["id"] for f in doc["forks"]] == ["p-approval-refused"]


async def _replace(pilot, screen: DebugScreen, event: int, value: str) -> InjectModal:
    """Go to event ``event``, press r, and type ``value`` as the event's value."""
    await _press(pilot, "j")
    pilot.app.screen.query_one(Input).value = str(event)
    await _press(pilot, "enter")
    assert screen.tl.marks[screen.event_focus].seq == event
    assert _enabled(screen, "replace_event")
    await _press(pilot, "r")
    modal = pilot.app.screen
    assert isinstance(modal, InjectModal) and modal.mark.seq == event
    data = json.loads(modal.query_one("#inject-payload").text)
    modal.query_one("#inject-payload").text = json.dumps({**data, "value": json.loads(value)})
    await settle(pilot)
    return modal


async def test_replace_a_random_answer_on_a_fork(dice):
    path, pid = dice
    recorded = [(e.type, e.data) for e in open_store(path, read_only=True).events(pid)]
    app = _app(path, pid, step=0, fork_ids=["p-lucky"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        step = next(mk.step for mk in screen.tl.marks if mk.seq == 3)
        modal = await _replace(pilot, screen, 3, '"high"')  # random answers a number
        assert modal.query_one("#inject-fork").disabled
        assert "(random 100) is an integer" in str(modal.query_one("#inject-error").render())
        # a high roll the recording did not make (it rolled 99 one run in a hundred)
        roll = 98 if recorded[2][1]["value"] == 99 else 99
        data = json.loads(modal.query_one("#inject-payload").text)
        modal.query_one("#inject-payload").text = json.dumps({**data, "value": roll})
        await settle(pilot)
        assert not modal.query_one("#inject-fork").disabled
        await _press(pilot, "ctrl+s")
        fork = pilot.app.screen
        assert isinstance(fork, DebugScreen) and fork.program_id == "p-lucky"
        assert fork.step == step and fork.diverged_from == 2  # the third event differs
        await _press(pilot, "end")
        assert f"rolled {roll}\n" in "".join(fork.view.output)
    store = open_store(path, read_only=True)
    assert store.get_program("p-lucky").result == ":high"
    assert [(e.type, e.data) for e in store.events(pid)] == recorded  # parent untouched


async def test_a_sleep_replaced_by_a_value_and_outputs_are_not_replaceable(dice):
    path, pid = dice
    app = _app(path, pid, step=0, fork_ids=["p-early"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await _press(pilot, "j")
        pilot.app.screen.query_one(Input).value = "5"  # a print: nothing to replace
        await _press(pilot, "enter")
        assert not _enabled(screen, "replace_event")
        await _replace(pilot, screen, 7, '"early"')  # the sleep's timer
        await _press(pilot, "ctrl+s")
        fork = pilot.app.screen
        assert fork.program_id == "p-early"
        await _press(pilot, "end")
        assert "slept early\n" in "".join(fork.view.output)


async def test_help_and_command_palette_list_the_actions(sample):
    async with _app(sample("recovery"), "p-recovery", step=10).run_test(
            size=(120, 40)) as pilot:
        screen = await _open(pilot)
        titles = [c.title for c in pilot.app.get_system_commands(screen)]
        assert "Step" in titles and "Eval" in titles
        assert "Next event" in titles and "Inject" not in titles  # can't act here
        await _press(pilot, "f1")
        assert isinstance(pilot.app.screen, HelpScreen)
        keys = dict(pilot.app.screen.rows)
        assert keys["o"].startswith("Step over")
        await _press(pilot, "escape")
        assert isinstance(pilot.app.screen, DebugScreen)


async def test_timeline_click_and_columns(sample):
    async with _app(sample("long_loop"), "p-long_loop", step=0).run_test(
            size=(120, 40)) as pilot:
        screen = await _open(pilot)
        bar = screen.query_one(Timeline)
        await pilot.click(Timeline, offset=(60, 0))
        await settle(pilot)
        assert abs(screen.step - screen.tl.total_steps // 2) < screen.tl.total_steps // 50
        before = screen.step
        bar.focus()
        await _press(pilot, "shift+right")
        assert screen.step > before + 1000
        assert "checked" in "".join(screen.view.output)


async def test_keys_are_disabled_until_the_run_is_indexed(sample):
    app = _app(sample("long_loop"), "p-long_loop")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, DebugScreen)
        if screen._building:  # the first replay of 468,675 steps is still running
            for action in NAV_ACTIONS:
                assert screen.check_action(action, (0,)) is None, action
        await settle(pilot)
        assert not screen._building
        assert screen.check_action("step", (-1,)) is True


async def test_inject_at_the_end_of_a_run_that_still_waits(sample):
    from flowmetal.runtime.forks import drive_fork, fork_at
    from flowmetal.runtime.timeline import Timeline as Engine

    path = sample("approval")
    rw = open_store(path)
    tl = Engine(rw, "p-approval")
    tl.build()
    waiting = fork_at(tl, rw, tl.waits[1], None, program_id="p-waiting")
    assert drive_fork(rw, waiting, {"sleep": False}).status == "waiting"
    rw.close()
    app = _app(path, "p-waiting", step=None, fork_ids=["p-answered"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await _press(pilot, "end")
        assert _enabled(screen, "inject")
        await _press(pilot, "i")
        modal = pilot.app.screen
        labels = [t.label for t in modal.choices[-1][1]]
        assert labels[0].startswith("callback") and labels[1].startswith("timer")
        modal.query_one("#inject-payload").text = '{"approved": true, "by": "pilot"}'
        await settle(pilot)
        await _press(pilot, "ctrl+s")
        await settle(pilot)
        assert pilot.app.screen.program_id == "p-answered"
    store = open_store(path, read_only=True)
    result = store.get_program("p-answered")
    assert result.parent_id == "p-waiting"
    # approved, so it asks for the payout, which no mock answers: it stops there
    assert result.status == "waiting"
    assert store.events("p-answered")[-1].data["kind"] == "call"


async def test_inject_a_different_restart_into_a_failed_run(sample):
    from textual.widgets import Select

    path = sample("recovery")
    app = _app(path, "p-recovery", step=21, fork_ids=["p-use-value"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await _press(pilot, "i")
        modal = pilot.app.screen
        assert [w.seq for w, _ in modal.choices] == [4, 6, 8]
        modal.query_one("#inject-wait", Select).value = 1  # instead of the "retry"
        await settle(pilot)
        assert modal._targets()[0].type == "restart"
        modal.query_one("#inject-payload").text = '{"use-value": {"id": "manual"}}'
        await settle(pilot)
        await _press(pilot, "ctrl+s")
        await settle(pilot)
        assert pilot.app.screen.program_id == "p-use-value"
        assert screen.program_id == "p-recovery"
    rec = open_store(path, read_only=True).get_program("p-use-value")
    assert rec.result == {":order": "ord-9", ":receipt": "manual"}
