"""``flowmetal repl``: the interactive, durable REPL on prompt-toolkit.

``run_repl(db_path, session_name)`` opens the session (restoring its definitions and atoms
if it exists), then reads, evaluates and prints until Ctrl-D or ``,quit``. With stdin not
a terminal it reads forms from stdin instead (``pipe.py``). The parts:

- ``session.py`` talks to the runtime; ``shell.py`` is the REPL logic;
- ``keys.py`` (Enter, Esc Enter, Tab), ``completion.py``, ``history.py``, ``lexer.py``;
- this module puts them together in a ``PromptSession``.

Keys and commands are documented in ``docs/repl.md``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from prompt_toolkit import PromptSession
from prompt_toolkit.application import get_app, run_in_terminal
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import History
from prompt_toolkit.input import Input
from prompt_toolkit.layout.processors import HighlightMatchingBracketProcessor
from prompt_toolkit.lexers import PygmentsLexer
from prompt_toolkit.output import Output as PtOutput
from prompt_toolkit.shortcuts import CompleteStyle

from .. import __version__
from ..lang.errors import FlowmetalError
from ..lang.reader import open_depth
from ..store import StoreError
from .completion import FlowmetalCompleter
from .history import open_history
from .keys import repl_key_bindings
from .lexer import FlowmetalLexer
from .names import Names
from .output import TerminalOutput
from .render import STYLE
from .session import Session
from .shell import Shell

__all__ = ["run_repl", "build_prompt", "continuation_prompt"]

T = TypeVar("T")
BACKGROUND_POLL = 0.25  # seconds between looks for background work while the prompt waits


def continuation_prompt(depth: int, width: int) -> str:
    """The prompt of a continuation line: dots up to the number of open brackets."""
    label = f"{depth} "
    return "." * max(0, width - len(label)) + label


def build_prompt(names: Names, commands: dict[str, str], history: History,
                 message: Callable[[], str], *, input: Input | None = None,
                 output: PtOutput | None = None) -> PromptSession[str]:
    """The prompt-toolkit session: our keys, lexer, completion, history and prompts."""
    session: PromptSession[str]

    def continuation(width: int, line_number: int, wrap_count: int) -> FormattedText:
        if wrap_count:
            return FormattedText([("", " " * width)])
        lines = session.default_buffer.document.lines[:line_number]
        depth = open_depth("\n".join(lines))
        return FormattedText([("class:continuation", continuation_prompt(depth, width))])

    session = PromptSession(
        message=lambda: FormattedText([("class:prompt", message())]),
        multiline=True,
        prompt_continuation=continuation,
        lexer=PygmentsLexer(FlowmetalLexer),
        completer=FlowmetalCompleter(names, commands),
        complete_while_typing=False,
        complete_style=CompleteStyle.COLUMN,
        auto_suggest=AutoSuggestFromHistory(),
        history=history,
        enable_history_search=True,
        search_ignore_case=True,
        key_bindings=repl_key_bindings(),
        style=STYLE,
        include_default_pygments_style=False,
        input_processors=[HighlightMatchingBracketProcessor(chars="[](){}")],
        tempfile_suffix=".flow",
        input=input,
        output=output,
    )
    return session


def run_repl(db_path: str, session_name: str = "default", *,
             history_path: str | os.PathLike[str] | None = None,
             input: Input | None = None, output: PtOutput | None = None) -> int:
    """Run the REPL on session ``session_name`` of the store at ``db_path``; the exit code.

    :param history_path: the editing-history file (default ``$FLOWMETAL_HISTORY`` or
        ``~/.flowmetal_history``; see ``history.py``).
    :param input: and ``output``: prompt-toolkit's, for tests; by default the terminal,
        or the piped mode when stdin is not a terminal.
    """
    session = Session.open(db_path, session_name)
    try:
        if input is None and not sys.stdin.isatty():
            from .pipe import run_pipe

            return run_pipe(session)
        return _interactive(session, history_path, input, output)
    finally:
        session.close()


def _interactive(session: Session, history_path: str | os.PathLike[str] | None,
                 input: Input | None, output: PtOutput | None) -> int:
    shell = Shell(session, TerminalOutput(output))
    session.on_output = shell.program_output

    def message() -> str:
        return f"{session.name}{' (mock)' if shell.mock else ''}=> "

    prompt = build_prompt(shell.names, shell.commands.summaries, open_history(history_path),
                          message, input=input, output=output)
    _banner(shell)

    def start_background() -> None:
        get_app().create_background_task(_background(shell))

    while not shell.quit:
        try:
            text = prompt.prompt(pre_run=start_background)
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt drops the input being typed
        except EOFError:
            break
        shell.interrupted = False
        try:
            shell.submit(text)
        except KeyboardInterrupt:
            shell.out.note("interrupted")
        except Exception as exc:  # noqa: BLE001  (a bug must not end the session)
            shell.out.error(f"internal error (a bug in Flowmetal, please report it): "
                            f"{type(exc).__name__}: {exc}")
    return 0


async def _background(shell: Shell) -> None:
    """While the prompt waits for typing, let the session's background fibers run and
    print above the prompt (a timer in an ``async`` fiber, a message for it...)."""
    while True:
        await asyncio.sleep(BACKGROUND_POLL)
        try:
            printed = await _in_daemon_thread(shell.session.background_step)
        except (StoreError, FlowmetalError):
            continue  # a busy store, say: try again at the next poll
        if printed:
            def show(printed: list[tuple[str, str]] = printed) -> None:
                for program_id, text in printed:
                    shell.program_output(program_id, text)

            await run_in_terminal(show)


async def _in_daemon_thread(fn: Callable[[], T]) -> T:
    """``fn()`` in a daemon thread: a background fiber that never stops computing must not
    keep the process from exiting (executor threads are joined at exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if not future.done():
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

    def work() -> None:
        value, error = None, None
        try:
            value = fn()
        except BaseException as exc:  # noqa: BLE001  (handed to the awaiting coroutine)
            error = exc
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:
            pass  # the prompt (and its event loop) ended meanwhile

    threading.Thread(target=work, daemon=True, name="flowmetal-repl-background").start()
    return await future


def _banner(shell: Shell) -> None:
    session = shell.session
    restored = (f"{session.inputs} inputs restored" if session.inputs else "new session")
    shell.out.note(f"Flowmetal {__version__} REPL · session {session.name!r} ({session.id}, "
                   f"{restored}) in {session.db_shown}\n"
                   ",help for commands and keys · Ctrl-D to leave (the session stays)")
    seq = session.pending_input()
    if seq is not None:
        shell.out.note(f"input {session.input_number(seq)} is still in flight; it finishes "
                       "before your next input (,mock on to answer it by hand)")
