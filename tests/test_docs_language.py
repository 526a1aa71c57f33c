"""docs/language.md stays true: every example in it runs, and its reference is complete.

How examples in docs/language.md are written (and what this file checks)
=======================================================================

Every fenced block is ```` ```clojure ```` (or ```` ```flowmetal ````) or ```` ```console ````;
no other kind is allowed, so nothing in the page escapes a check.

**```clojure blocks** run in memory, in one session per block. A block is cut into
*steps*: some code, then the annotations about it. Each step is compiled and run in turn,
like a REPL input: it sees the globals the steps above it defined (each block starts from
the base environment), but not their futures. Positions in messages count the block's
lines, in a source called ``example.flow``. The effects are those of
``flowmetal.lang.evaluate``: a virtual clock that sleeps jump over, starting at
2026-01-01T00:00:00Z, and a fixed random seed. Annotations are comments:

- ``;=> VALUE``, after the code on the same line or alone on the next line: the step's value,
  printed with ``pr-str``, is exactly ``VALUE``.
- ``;; prints: TEXT``, one per line of output: the step prints exactly these lines (a step
  with no ``prints`` annotation must print nothing).
- ``;; throws: :TYPE MESSAGE``: the step ends with an uncaught error value whose ``:type``
  is ``TYPE`` and whose message is ``MESSAGE``;
  ``;; compile error: MESSAGE`` and ``;; read error: MESSAGE``: the step is rejected by the
  compiler or the reader with that message. A ``MESSAGE`` ending in ``...`` need only match
  the start.

A line of code after an annotation starts the next step. Other comments are just comments.

**```clojure no-run blocks** are read and compiled (``flowmetal.lang.load``) but not run:
for effects an in-memory evaluation can't answer (``http/get``, ``call``). They may not
carry annotations, since nothing would check them.

**```clojure file=NAME.flow blocks** are compiled too, and written as ``NAME.flow`` for the
console blocks, which must run every one of them.

**```console blocks** are shell sessions: each ``$ flowmetal ...`` line is run (as
``python -m flowmetal``) in a fresh folder holding the ``file=`` blocks, with the default
database; the lines after it, up to the next ``$``, are its exact output (stdout and
stderr). Program IDs (``p-`` and 12 hex digits) match any program ID.

The reference section (``## Reference``) must list every built-in, primitive and prelude
name of ``flowmetal.lang.base.base().glob`` (all but the ``core/`` helpers and names starting
with ``*``, except ``*`` itself) as a table row starting ``| `name` |``, and nothing else.
The special forms section must name every special form.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flowmetal.lang import (
    CompileError,
    EvalError,
    ReadError,
    base,
    load,
    new_machine,
    pr_str,
)
from flowmetal.lang.compiler import SPECIAL_FORMS
from flowmetal.lang.errors import ExInfo
from flowmetal.lang.evaluate import LocalEffects, drive

DOC_PATH = Path(__file__).parents[1] / "docs" / "language.md"
DOC = DOC_PATH.read_text(encoding="utf-8")

CLOCK_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, in seconds
SEED = 7
_FENCE = re.compile(r"^```(\S*)\s*(.*)$")
_NOTE = re.compile(r"^;;\s*(prints|throws|compile error|read error):(?: (.*))?$")
_PROGRAM_ID = re.compile(r"\bp-[0-9a-f]{12}\b")


@dataclass
class Block:
    """One fenced block of the page: its language, options and text."""

    lang: str
    options: dict[str, str]
    line: int  # the line of the opening fence, counting from 1
    lines: list[str]

    @property
    def id(self) -> str:
        return f"line{self.line}"

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@dataclass
class Step:
    """Some code of a clojure block and what the page says it does."""

    lines: list[int] = field(default_factory=list)  # indexes of the block's lines
    value: str | None = None
    prints: list[str] = field(default_factory=list)
    error: tuple[str, str] | None = None  # ("throws" | "compile error" | "read error", text)
    annotated: bool = False
    has_code: bool = False

    def describe(self, block: Block) -> str:
        return "\n".join(block.lines[i] for i in self.lines)


def parse_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    current: Block | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(line)
        if current is None and match:
            options: dict[str, str] = {}
            for word in match.group(2).split():
                key, _, value = word.partition("=")
                options[key] = value
            current = Block(match.group(1), options, number, [])
        elif current is not None and line.strip() == "```":
            blocks.append(current)
            current = None
        elif current is not None:
            current.lines.append(line)
    assert current is None, f"the block opened at line {current.line} is not closed"
    return blocks


BLOCKS = parse_blocks(DOC)
CODE = [b for b in BLOCKS if b.lang in ("clojure", "flowmetal")]
RUN = [b for b in CODE if "no-run" not in b.options and "file" not in b.options]
COMPILE_ONLY = [b for b in CODE if "no-run" in b.options or "file" in b.options]
CONSOLE = [b for b in BLOCKS if b.lang == "console"]
FILES = {b.options["file"]: b for b in CODE if "file" in b.options}


def _split_comment(line: str, in_string: bool) -> tuple[str, str, bool]:
    """``(code, comment, in_string_at_end)``: where the line's ``;`` comment starts."""
    i = 0
    while i < len(line):
        char = line[i]
        if in_string:
            if char == "\\":
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == ";":
            return line[:i], line[i:], False
        i += 1
    return line, "", in_string


def parse_steps(block: Block) -> list[Step]:
    steps: list[Step] = []
    step = Step()
    in_string = False
    for index, line in enumerate(block.lines):
        code, comment, in_string = _split_comment(line, in_string)
        note = _NOTE.match(comment.strip())
        is_value = comment.startswith(";=>")
        content = bool(code.strip()) or bool(comment and not is_value and not note)
        if content and step.annotated:
            steps.append(step)
            step = Step()
        if content:
            step.lines.append(index)
            step.has_code = step.has_code or bool(code.strip())
        if (is_value or note) and not step.has_code:
            raise AssertionError(f"line {block.line}: an annotation with no code: {line!r}")
        if is_value:
            assert step.value is None, f"two values for one step at {line!r}"
            step.value = comment[3:].strip()
            step.annotated = True
        elif note:
            assert not code.strip(), f"put `;; {note.group(1)}:` on a line of its own: {line!r}"
            if note.group(1) == "prints":
                step.prints.append(note.group(2) or "")
            else:
                assert step.error is None, f"two errors for one step at {line!r}"
                step.error = (note.group(1), note.group(2) or "")
            step.annotated = True
    if step.lines:
        steps.append(step)
    return steps


def _matches(expected: str, actual: str) -> bool:
    if expected.endswith("..."):
        return actual.startswith(expected[:-3])
    return actual == expected


class Session:
    """One block's evaluation: shared globals and effects, one step at a time."""

    def __init__(self) -> None:
        self.glob = dict(base().glob)
        self.effects = LocalEffects(seed=SEED)
        self.effects.clock = CLOCK_START

    def run(self, source: str) -> object:
        unit = load(source, "example.flow", self.glob)
        return drive(new_machine(unit, glob=self.glob), self.effects)


def check_step(session: Session, block: Block, step: Step) -> None:
    # Blank out the other steps' lines, so positions in errors are the block's own.
    source = "\n".join(line if i in step.lines else "" for i, line in enumerate(block.lines))
    where = f"docs/language.md:{block.line + 1 + step.lines[0]}:\n{step.describe(block)}"
    printed_before = len(session.effects.output)
    error: Exception | None = None
    value: object = None
    try:
        value = session.run(source)
    except (EvalError, CompileError, ReadError) as exc:
        error = exc
    output = "".join(session.effects.output[printed_before:])
    assert [x.rstrip() for x in output.splitlines()] == step.prints, where
    if step.error is None:
        assert error is None, f"{where}\nunexpected error: {error}"
        if step.value is not None:
            assert pr_str(value) == step.value, where
        return
    kind, expected = step.error
    assert step.value is None, f"{where}\na step can't both throw and return a value"
    wanted = {"throws": EvalError, "compile error": CompileError, "read error": ReadError}[kind]
    assert isinstance(error, wanted), f"{where}\nexpected a {kind}, got {error!r}"
    if kind == "throws":
        thrown = error.value
        assert isinstance(thrown, ExInfo), where
        actual = f":{thrown.kind} {thrown.message}"
    else:
        actual = error.message
    assert _matches(expected, actual), f"{where}\nexpected {expected!r}\n     got {actual!r}"


# -- the examples ----------------------------------------------------------------------------


def test_the_page_has_examples_and_only_checked_kinds():
    assert len(RUN) > 40
    odd = [(b.line, b.lang) for b in BLOCKS if b.lang not in ("clojure", "flowmetal", "console")]
    assert odd == [], "every fenced block must be clojure, flowmetal or console"
    for block in CODE:
        assert set(block.options) <= {"no-run", "file"}, f"line {block.line}: {block.options}"


@pytest.mark.parametrize("block", RUN, ids=[b.id for b in RUN])
def test_example_runs_as_shown(block: Block):
    session = Session()
    steps = parse_steps(block)
    assert steps, f"line {block.line}: an empty block"
    for step in steps:
        check_step(session, block, step)


@pytest.mark.parametrize("block", COMPILE_ONLY, ids=[b.id for b in COMPILE_ONLY])
def test_example_that_is_not_run_still_compiles(block: Block):
    for line in block.lines:
        comment = _split_comment(line, False)[1]
        assert not comment.startswith(";=>") and not _NOTE.match(comment.strip()), (
            f"line {block.line}: a block that is not run can't promise results: {line!r}")
    load(block.text, block.options.get("file") or "example.flow")


def _normalize(text: str) -> list[str]:
    return [_PROGRAM_ID.sub("p-ID", line.rstrip()) for line in text.strip("\n").splitlines()]


def _commands(block: Block) -> list[tuple[str, list[str]]]:
    commands: list[tuple[str, list[str]]] = []
    for line in block.lines:
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            assert commands, f"line {block.line}: output before any command"
            commands[-1][1].append(line)
    return commands


@pytest.mark.parametrize("block", CONSOLE, ids=[b.id for b in CONSOLE])
def test_console_session_prints_what_is_shown(block: Block, tmp_path: Path):
    for name, file_block in FILES.items():
        (tmp_path / name).write_text(file_block.text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "FLOWMETAL_DB"}
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb")
    for command, expected in _commands(block):
        argv = shlex.split(command)
        assert argv[0] == "flowmetal", command
        result = subprocess.run(
            [sys.executable, "-m", "flowmetal", *argv[1:]], cwd=tmp_path, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        assert _normalize(result.stdout) == _normalize("\n".join(expected)), command


def test_every_file_is_run_by_a_console_session():
    commands = " ".join(c for b in CONSOLE for c, _ in _commands(b))
    unused = [name for name in FILES if name not in commands]
    assert unused == []


# -- the reference ---------------------------------------------------------------------------


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", DOC + "\n## ", re.S | re.M)
    assert match, f"no section ## {title}"
    return match.group(1)


def _reference_names() -> list[str]:
    return re.findall(r"^\| `([^`]+)` \|", _section("Reference"), re.M)


def _base_names() -> set[str]:
    # Names starting with * (such as the REPL's *1) are not part of the language; * is.
    return {name for name in base().glob
            if not name.startswith("core/") and (name == "*" or not name.startswith("*"))}


def test_reference_lists_every_builtin_and_prelude_name():
    missing = sorted(_base_names() - set(_reference_names()))
    assert missing == []


def test_reference_lists_only_real_names_once_each():
    names = _reference_names()
    assert sorted(set(names) - _base_names()) == []
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_every_special_form_is_documented():
    section = _section("Special forms")
    missing = [name for name in SPECIAL_FORMS if f"`{name}`" not in section
               and f"({name} " not in section]
    assert missing == []


def test_steps_are_cut_where_the_annotations_say():
    block = Block("clojure", {}, 1, [
        "(def x 1)",
        "(+ x 1) ;=> 2",
        "(println \"a;=> b\")",
        ";; prints: a;=> b",
        ";=> nil",
        ";; a plain comment",
        "(/ 1 0)",
        ";; throws: :arithmetic-error Divide...",
    ])
    steps = parse_steps(block)
    assert [s.lines for s in steps] == [[0, 1], [2], [5, 6]]
    assert [s.value for s in steps] == ["2", "nil", None]
    assert steps[1].prints == ["a;=> b"]
    assert steps[2].error == ("throws", ":arithmetic-error Divide...")
    session = Session()
    for step in steps:
        check_step(session, block, step)
