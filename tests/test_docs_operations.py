"""docs/operations.md shows only ``flowmetal`` command lines that the CLI accepts.

Every ```` ```sh ```` block of the page is read as shell: lines joined at a trailing
backslash, ``#`` comments dropped, and each line cut into simple commands at ``;``, ``&&``,
``||``, ``|``, ``&`` and parentheses (so ``ID=$(flowmetal start job.flow)`` is seen too).
A simple command whose program is ``flowmetal`` (or a path ending in ``/flowmetal``), after
any ``NAME=value`` assignments and a ``sudo``/``env``/``exec``/``nohup``/``time`` wrapper,
is parsed with the CLI's own parser (``flowmetal.cli._parser``) without being run: an
unknown command, an unknown option or a missing argument fails the test.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from flowmetal.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operations.md"

_FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", "((", "))", ";;", "|&"}
_WRAPPERS = {"sudo", "env", "exec", "nohup", "time"}
_SUDO_OPTIONS_WITH_VALUE = {"-u", "-g", "-C", "-D"}


def sh_blocks(markdown: str) -> list[str]:
    """The bodies of the page's ```sh fences."""
    return [body for lang, body in _FENCE.findall(markdown) if lang == "sh"]


def _shell_lines(block: str) -> list[str]:
    return [line for line in re.sub(r"\\\n", " ", block).splitlines() if line.strip()]


def _simple_commands(line: str) -> list[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in _SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def _program_and_args(words: list[str]) -> list[str]:
    """``words`` without leading assignments and wrappers: the program, then its arguments."""
    i = 0
    while i < len(words):
        word = words[i]
        if _ASSIGNMENT.match(word):
            i += 1
        elif word in _WRAPPERS:
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 2 if word == "sudo" and words[i] in _SUDO_OPTIONS_WITH_VALUE else 1
        else:
            break
    return words[i:]


def flowmetal_commands(markdown: str) -> list[list[str]]:
    """Every ``flowmetal`` command line in the page's ```sh blocks, as its argv (without
    the program name)."""
    found = []
    for block in sh_blocks(markdown):
        for line in _shell_lines(block):
            for words in _simple_commands(line):
                argv = _program_and_args(words)
                if argv and (argv[0] == "flowmetal" or argv[0].endswith("/flowmetal")):
                    found.append(argv[1:])
    return found


def parse_error(argv: list[str]) -> str | None:
    """None if the CLI's parser accepts ``argv``, else what it says is wrong."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            args = _parser().parse_args(argv)
    except SystemExit as exc:
        if exc.code == 0 and ("--help" in argv or "-h" in argv):
            return None
        return stderr.getvalue().strip() or f"the parser exited with {exc.code}"
    if getattr(args, "fn", None) is None:
        return "no command given"
    return None


COMMANDS = flowmetal_commands(DOC.read_text(encoding="utf-8"))


def test_the_page_has_commands_to_check() -> None:
    assert len(COMMANDS) >= 10
    assert ["worker"] in COMMANDS


@pytest.mark.parametrize("argv", COMMANDS, ids=[shlex.join(["flowmetal", *a]) for a in COMMANDS])
def test_the_cli_accepts_the_documented_command(argv: list[str]) -> None:
    error = parse_error(argv)
    assert error is None, f"`{shlex.join(['flowmetal', *argv])}` is refused:\n{error}"


def test_the_check_catches_what_the_cli_does_not_have() -> None:
    page = """```sh
export FLOWMETAL_DB=/tmp/x.db
flowmetal serve
flowmetal worker --no-such-option   # a comment
ID=$(flowmetal start job.flow) && flowmetal show "$ID" --json
sudo -u flowmetal /opt/flowmetal/.venv/bin/flowmetal ps \\
  --status ready --limit 5
flowmetal
```

```python
flowmetal worker --ignored-outside-sh-blocks
```
"""
    commands = flowmetal_commands(page)
    assert commands == [
        ["serve"],
        ["worker", "--no-such-option"],
        ["start", "job.flow"],
        ["show", "$ID", "--json"],
        ["ps", "--status", "ready", "--limit", "5"],
        [],
    ]
    errors = [parse_error(argv) for argv in commands]
    assert "invalid choice: 'serve'" in errors[0]
    assert "unrecognized arguments: --no-such-option" in errors[1]
    assert errors[2:5] == [None, None, None]
    assert errors[5] == "no command given"
