"""The ``flowmetal`` command, run as a user runs it: a subprocess with ``--db`` in a temporary
folder. Every command, its errors (a message and exit code 1, never a traceback), Ctrl-C,
and its documentation (every command and option has help text and is in docs/cli.md)."""

from __future__ import annotations

import argparse
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowmetal.cli import _parser
from flowmetal.runtime import Runtime
from flowmetal.store import open_store

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
ID = re.compile(r"p-[0-9a-f]{12}")

ASK = """(defn main [_]
  (println "first")
  (let [m (receive :go)]
    (println "got" m)
    {:m m}))
"""
FAILS = """(defn main [{:keys [d]}]
  (println "dividing by" d)
  (let [q (/ 10 d)]
    (println "q is" q)
    q))
"""
SLEEPY = """(defn main [{:keys [n name xs]}]
  (println "hello" name)
  (sleep "3d")
  [(* 2 n) (count xs) (now)])
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FLOWMETAL_DB"}
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb", **extra)
    return env


class Cli:
    """Runs ``flowmetal`` in ``tmp_path`` on the store ``db``."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.db = tmp_path / "cli.db"

    def file(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.write_text(text, encoding="utf-8")
        return path

    def argv(self, args: tuple[str, ...], db: bool) -> list[str]:
        return [sys.executable, "-m", "flowmetal", *args, *(["--db", str(self.db)] if db else [])]

    def __call__(self, *args: str, db: bool = True, ok: bool | None = True,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(self.argv(args, db), cwd=self.dir, env=env or _env(),
                              capture_output=True, text=True, timeout=60)
        assert "Traceback" not in done.stderr, done.stderr
        if ok is True:
            assert done.returncode == 0, done.stderr
        elif ok is False:
            assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
        return done

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(args, True), cwd=self.dir, env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def runtime(self) -> Runtime:
        return Runtime(open_store(str(self.db)))

    def only_program(self) -> str:
        with open_store(str(self.db)) as store:
            [rec] = store.list_programs(kind="program")
            return rec.id


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def _readline(proc: subprocess.Popen, timeout: float = 30) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    assert sel.select(timeout), "no output in time"
    return proc.stdout.readline()


def _wait_for_event(db: Path, pid_type: str, kind: str, timeout: float = 30) -> str:
    """Poll the store until some program has a ``pid_type`` event of ``kind``; its id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            with open_store(str(db)) as store:
                for rec in store.list_programs():
                    if any(e.data.get("kind") == kind
                           for e in store.events(rec.id, types=[pid_type])):
                        return rec.id
        time.sleep(0.02)
    raise AssertionError(f"no {pid_type} {kind} event within {timeout}s")


# -- run, start, resume -------------------------------------------------------------------------


def test_run_prints_output_as_it_happens_then_the_result(cli: Cli):
    path = cli.file("ask.flow", ASK)
    proc = cli.popen("run", str(path))
    try:
        assert _readline(proc) == "first\n"
        assert proc.poll() is None  # still running: the output came before the end
        pid = cli.only_program()
        cli("send", pid, "go", '"yes"')
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out == 'got yes\n{:m "yes"}\n'
    assert f"waiting for message 'go'; send it with:\n  flowmetal send {pid} go JSON" in err


def test_run_with_args_in_virtual_time(cli: Cli):
    path = cli.file("sleepy.flow", SLEEPY)
    t0 = time.monotonic()
    done = cli("run", str(path), "--arg", "n=21", "--arg", "name=ada", "--arg", "xs=[1,2,3]",
               "--virtual-time")
    assert time.monotonic() - t0 < 30
    lines = done.stdout.splitlines()
    assert lines[0] == "hello ada"
    assert re.fullmatch(r"\[42 3 \d+\]", lines[1])


def test_run_drives_the_children_a_program_spawns(cli: Cli):
    path = cli.file("family.flow", """(defn child [n] (sleep "1h") (println "child" n) (* n n))
(defn main [_] (reduce + (mapv await (mapv (fn [n] (spawn 'child n)) [1 2 3]))))
""")
    done = cli("run", str(path), "--virtual-time")
    assert done.stdout.splitlines()[-1] == "14"
    with open_store(str(cli.db)) as store:
        kids = store.list_programs(kind="child")
        assert sorted(p.result for p in kids) == [1, 4, 9]
        assert {p.status for p in kids} == {"done"}


def test_run_with_a_bad_arg_is_a_usage_error(cli: Cli):
    path = cli.file("sleepy.flow", SLEEPY)
    done = cli("run", str(path), "--arg", "novalue", ok=False)
    assert "--arg expects KEY=VALUE" in done.stderr


def test_the_store_comes_from_flowmetal_db_or_defaults_to_the_current_folder(cli: Cli):
    path = cli.file("sleepy.flow", SLEEPY)
    env_db = cli.dir / "from-env.db"
    cli("run", str(path), "--arg", "n=1", "--virtual-time", db=False,
        env=_env(FLOWMETAL_DB=str(env_db)))
    assert env_db.exists() and not (cli.dir / "flowmetal.db").exists()
    listed = cli("ps", db=False, env=_env(FLOWMETAL_DB=str(env_db)))
    assert "sleepy" in listed.stdout and "done" in listed.stdout
    cli("start", str(path), db=False)
    assert (cli.dir / "flowmetal.db").exists()


def test_start_prints_only_the_id_and_resume_drives_it(cli: Cli):
    path = cli.file("sleepy.flow", SLEEPY)
    started = cli("start", str(path), "--arg", "n=5", "--arg", "name=bo")
    assert ID.fullmatch(started.stdout.strip()) and started.stdout.count("\n") == 1
    assert started.stderr == ""
    pid = started.stdout.strip()
    assert "status   ready" in cli("show", pid).stdout
    resumed = cli("resume", pid, "--virtual-time")
    assert resumed.stdout.startswith("hello bo\n[10 0 ")


def test_ctrl_c_leaves_the_program_suspended_and_resume_finishes_it(cli: Cli):
    path = cli.file("nap.flow", '(defn main [_]\n  (println "napping")\n  (sleep "30s")\n'
                                '  (println "woke")\n  :done)\n')
    proc = cli.popen("run", str(path))
    try:
        pid = _wait_for_event(cli.db, "requested", "sleep")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert out == "napping\n"
    assert "Traceback" not in err
    assert f"program {pid} is safely suspended in {cli.db}" in err
    assert f"flowmetal resume {pid}" in err
    with open_store(str(cli.db)) as store:
        assert store.get_program(pid).status == "waiting"
        assert len(store.list_timers(pid)) == 1
    resumed = cli("resume", pid, "--virtual-time")
    assert resumed.stdout == "woke\n:done\n"  # not "napping" again: it went on from the sleep


# -- looking inside: ps, show, log ---------------------------------------------------------------


def test_ps_lists_programs_and_filters_by_status(cli: Cli):
    ok = cli("start", str(cli.file("ask.flow", ASK))).stdout.strip()
    cli("run", str(cli.file("fails.flow", FAILS)), "--arg", "d=0", ok=False)
    table = cli("ps").stdout
    assert ok in table and "ready" in table and "failed" in table
    assert "ID" in table and "STATUS" in table
    failed = cli("ps", "--status", "failed").stdout
    assert ok not in failed and "fails" in failed
    assert len(cli("ps", "--limit", "1").stdout.strip().splitlines()) == 2


def test_show_a_done_a_waiting_and_a_failed_program(cli: Cli):
    cli("run", str(cli.file("fails.flow", FAILS)), "--arg", "d=2")
    done_id = cli.only_program()
    shown = cli("show", done_id).stdout
    assert "status   done" in shown and "result   5" in shown
    data = json.loads(cli("show", done_id, "--json").stdout)
    assert data["status"] == "done" and data["result"] == 5 and data["id"] == done_id

    rt = cli.runtime()
    waiting = rt.start(ASK, "ask.flow")
    rt.drive(waiting)
    shown = cli("show", waiting).stdout
    assert "status   waiting" in shown and "waits on message 'go'" in shown

    failed = rt.start(FAILS, "fails.flow", {"d": 0})
    rt.drive(failed)
    shown = cli("show", failed).stdout
    assert "error    arithmetic-error: Divide by zero" in shown
    assert f"flowmetal recover {failed} --retry | --use-value JSON | --abort" in shown


def test_log_human_and_json(cli: Cli):
    cli("run", str(cli.file("fails.flow", FAILS)), "--arg", "d=5")
    pid = cli.only_program()
    human = cli("log", pid).stdout
    for word in ("SEQ", "TYPE", "started", "effect", "completed"):
        assert word in human
    lines = cli("log", pid, "--json").stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "started" and events[-1]["type"] == "completed"
    assert events[-1]["data"] == {"value": 2}
    assert all(set(e) == {"seq", "type", "at", "data"} for e in events)


# -- talking to programs: send, cancel, recover ---------------------------------------------------


def test_send_a_message_then_resume(cli: Cli):
    pid = cli("start", str(cli.file("ask.flow", ASK))).stdout.strip()
    sent = cli("send", pid, "go", '{"n": [1, 2]}')
    assert f"sent 'go' to {pid}" in sent.stdout
    assert cli("resume", pid).stdout == 'first\ngot {n [1 2]}\n{:m {"n" [1 2]}}\n'


def test_send_a_callback_at_most_once(cli: Cli):
    rt = cli.runtime()
    pid = rt.start('(defn main [_] (await (callback) :timeout "1d"))', "cb.flow")
    rt.drive(pid)
    [cb] = rt.store.list_callbacks(pid)
    delivered = cli("send", "--callback", cb.token, '{"paid": true}')
    assert "delivered callback" in delivered.stdout
    again = cli("send", "--callback", cb.token, '{"paid": false}', ok=False)
    assert "already" in again.stderr
    assert cli("resume", pid).stdout == '{"paid" true}\n'
    unknown = cli("send", "--callback", "no-such-token", "1", ok=False)
    assert "no callback with token 'no-such-token'" in unknown.stderr


def test_cancel(cli: Cli):
    rt = cli.runtime()
    pid = rt.start(ASK, "ask.flow")
    rt.drive(pid)
    assert cli("cancel", pid).stdout.strip() == f"program {pid} is cancelled"
    assert "status   cancelled" in cli("show", pid).stdout
    late = cli("send", pid, "go", "1", ok=False)
    assert "already cancelled" in late.stderr


def test_recover_with_each_restart(cli: Cli):
    path = cli.file("fails.flow", FAILS)
    run = cli("run", str(path), "--arg", "d=0", ok=False)
    pid = cli.only_program()
    assert f"{path}:3:11: arithmetic-error: Divide by zero" in run.stderr
    assert f"flowmetal recover {pid} --retry | --use-value JSON | --abort" in run.stderr

    ask = cli("recover", pid, ok=False)
    assert "choose a restart: --retry, --use-value JSON or --abort" in ask.stdout
    again = cli("recover", pid, "--retry", ok=False)  # the same division fails again
    assert "Divide by zero" in again.stderr
    cli("recover", pid, "--use-value", "7", "--no-run")
    shown = cli("show", pid).stdout  # recorded, not yet driven
    assert "status   ready" in shown and "Divide by zero" in shown
    assert "is ready, not failed" in cli("recover", pid, "--abort", ok=False).stderr
    assert cli("resume", pid).stdout == "q is 7\n7\n"
    hows = [json.loads(line)["data"] for line in cli("log", pid, "--json").stdout.splitlines()
            if json.loads(line)["type"] == "restart"]
    assert hows[0] == {"how": "retry"} and hows[1] == {"how": "use-value", "value": 7}

    cli("run", str(path), "--arg", "d=0", ok=False)
    with open_store(str(cli.db)) as store:
        other = [p.id for p in store.list_programs(status="failed")][0]
    aborted = cli("recover", other, "--abort", ok=False)
    assert f"program {other} ended: aborted" in aborted.stderr
    refused = cli("recover", other, "--retry", ok=False)
    assert "is aborted, not failed" in refused.stderr


def test_recover_with_bad_json(cli: Cli):
    cli("run", str(cli.file("fails.flow", FAILS)), "--arg", "d=0", ok=False)
    bad = cli("recover", cli.only_program(), "--use-value", "{oops", ok=False)
    assert "--use-value is not valid JSON" in bad.stderr


# -- versions: replay, upgrade -------------------------------------------------------------------


def test_replay_and_upgrade(cli: Cli):
    v1 = cli.file("v1.flow", ASK)
    pid = cli("start", str(v1)).stdout.strip()
    cli.runtime().drive(pid)
    replayed = cli("replay", pid, "--verify")
    assert f"replay of {pid} matches its log" in replayed.stdout

    divergent = cli.file("v3.flow", ASK.replace('"first"', '"primero"'))
    refused = cli("upgrade", pid, str(divergent), ok=False)
    assert f"not upgraded: replaying {pid} against {divergent} diverges" in refused.stderr
    assert f"{divergent}:2:3" in refused.stderr
    assert 'recorded: {"kind": "print", "request": {":text": "first\\n"}}' in refused.stderr
    assert 'replayed: {"kind": "print", "request": {":text": "primero\\n"}}' in refused.stderr

    compatible = cli.file("v2.flow", ASK.replace('"got"', '"v2 got"'))
    before = json.loads(cli("show", pid, "--json").stdout)["code_hash"]
    upgraded = cli("upgrade", pid, str(compatible))
    assert f"program {pid} now runs {compatible}" in upgraded.stdout
    assert json.loads(cli("show", pid, "--json").stdout)["code_hash"] != before
    cli("send", pid, "go", "1")
    assert cli("resume", pid).stdout == "v2 got 1\n{:m 1}\n"
    assert "matches its log" in cli("replay", pid).stdout


# -- eval ----------------------------------------------------------------------------------------


def test_eval(cli: Cli):
    assert cli("eval", "(reduce + (range 10))", db=False).stdout == "45\n"
    assert cli("eval", '(println "hi") (sleep 1) :k', db=False).stdout == "hi\n:k\n"
    failed = cli("eval", "(/ 1 0)", db=False, ok=False)
    assert "<eval>:1:1: runtime error (arithmetic-error): Divide by zero" in failed.stderr


# -- errors: a clear message, exit code 1, never a traceback ------------------------------------


@pytest.mark.parametrize("args", [
    ("show", "p-000000000000"), ("log", "p-000000000000"), ("resume", "p-000000000000"),
    ("cancel", "p-000000000000"), ("recover", "p-000000000000", "--abort"),
    ("replay", "p-000000000000"), ("send", "p-000000000000", "go", "1"),
    ("upgrade", "p-000000000000", "x.flow")])
def test_an_unknown_id_is_a_clear_error(cli: Cli, args: tuple[str, ...]):
    done = cli(*args, ok=False)
    assert "no program with id 'p-000000000000'" in done.stderr


@pytest.mark.parametrize("args, message", [
    (("send", "p-000000000000", "go", "{bad"), "the payload is not valid JSON"),
    (("send", "--callback", "tok", "[1,"), "the callback payload is not valid JSON"),
    (("send", "p-000000000000"), "send needs ID NAME JSON"),
    (("run", "missing.flow"), "no such file: missing.flow"),
    (("start", "missing.flow"), "no such file: missing.flow"),
])
def test_bad_input_is_a_clear_error(cli: Cli, args: tuple[str, ...], message: str):
    assert message in cli(*args, ok=False).stderr


def test_upgrade_to_a_missing_file(cli: Cli):
    pid = cli("start", str(cli.file("ask.flow", ASK))).stdout.strip()
    assert "can't read missing.flow" in cli("upgrade", pid, "missing.flow", ok=False).stderr


def test_a_read_error_shows_file_line_col_and_a_caret(cli: Cli):
    path = cli.file("bad.flow", '(defn main [_]\n  (println "hi")\n  [1 2 )\n')
    for command in ("run", "start"):
        done = cli(command, str(path), ok=False)
        lines = done.stderr.splitlines()
        assert lines[0] == (f"{path}:3:8: read error: Expected ']' to close the vector "
                            "opened at 3:3, found ')'")
        source_line, caret = lines[1], lines[2]
        assert source_line.strip() == "[1 2 )"
        assert caret.strip() == "^" and caret.index("^") == source_line.index(")")
        assert done.stdout == ""
    with open_store(str(cli.db)) as store:
        assert store.list_programs() == []  # nothing was stored


def test_a_compile_error_names_the_place(cli: Cli):
    path = cli.file("undefined.flow", "(defn main [_]\n  (frobnicate 1))\n")
    done = cli("run", str(path), ok=False)
    assert f"{path}:2:4: compile error: Unable to resolve symbol: frobnicate" in done.stderr


def test_no_command_prints_help(cli: Cli):
    done = cli(db=False, ok=False)
    assert "usage: flowmetal" in done.stdout and "run" in done.stdout


# -- help and docs -----------------------------------------------------------------------------


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _doc_section(name: str) -> str:
    start = re.search(rf"^### `flowmetal {name}[` ]", DOC, re.M).start()
    end = DOC.find("\n### ", start + 1)
    return DOC[start:end if end > 0 else len(DOC)]


def test_every_command_and_option_has_help_text():
    commands = _subcommands()
    assert set(commands) >= {"run", "start", "resume", "ps", "show", "log", "send", "cancel",
                             "recover", "replay", "upgrade", "eval", "worker", "repl", "debug"}
    for name, sp in commands.items():
        assert sp.description, name
        assert (sp.epilog or "").startswith("Example: ") and "flowmetal " in sp.epilog, name
        for action in sp._actions:
            if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
                continue
            assert action.help, f"flowmetal {name} {action.dest}: no help text"


def test_every_command_and_option_is_in_docs_cli_md():
    for name, sp in _subcommands().items():
        section = _doc_section(name)
        for action in sp._actions:
            if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
                continue
            spelled = (action.option_strings[-1] if action.option_strings
                       else (action.metavar or action.dest).upper())
            assert f"`{spelled}" in section, f"flowmetal {name}: {spelled} is not documented"
        assert "```" in section, f"flowmetal {name}: no example"


def test_help_runs_for_every_command(cli: Cli):
    for name in _subcommands():
        done = cli(name, "--help", db=False)
        assert done.stdout.startswith(f"usage: flowmetal {name}")
        assert "Example: " in done.stdout


def test_worker_lease_and_batch_options_are_checked_and_used(cli: Cli):
    for bad, says in [(("--lease", "0"), "--lease: must be above 0, got 0"),
                      (("--batch", "x"), "--batch: expected a number, got 'x'"),
                      (("--batch", "-3"), "--batch: must be above 0, got -3")]:
        done = cli("worker", *bad, ok=None)
        assert done.returncode == 2 and says in done.stderr
    job = cli.file("job.flow", "(defn main [_] :done)")
    pids = [cli("start", str(job)).stdout.strip() for _ in range(3)]
    done = cli("worker", "--until-idle", "--batch", "1", "--lease", "5")
    assert "drove 3 times" in done.stderr
    with open_store(str(cli.db)) as store:
        assert {store.get_program(p).status for p in pids} == {"done"}


def test_log_and_ps_show_brackets_in_data_and_names_as_they_are(cli: Cli):
    job = cli.file("[job].flow", "(defn main [_] (receive :go))")
    pid = cli("start", str(job)).stdout.strip()
    cli("send", pid, "go", '[true, "[bold]x[/bold]"]')
    assert '[true, "[bold]x[/bold]"]' in cli("log", pid).stdout
    assert "[job]" in cli("ps").stdout
