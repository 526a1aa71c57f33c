"""What a pending REPL input waits on, and answering it by hand (mock mode).

An input that waits on the outside is described as a list of ``Wait``: the outbox tasks
(``http``, ``call``), the messages (``receive``) and callbacks (``await cb``) it waits for,
the children it awaits, and its timers (``sleep``, and the ``:timeout`` of other waits).
``answer`` records a hand-typed result through the store exactly as the outside world
would: completing the task, sending the message, delivering the callback, firing the timer.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..runtime.codec import from_json
from ..store import NotFound, TaskRecord
from .pretty import pretty

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Wait", "describe", "answer"]


@dataclass
class Wait:
    """One thing a pending input waits on, and what answers it.

    ``kind`` is ``task`` (an ``http``/``call`` effect in the outbox), ``message`` (a
    ``receive``), ``callback`` (an ``await`` on a callback), ``child`` (an ``await`` on a
    spawned program), ``timer`` (a ``sleep``, or the ``:timeout`` of another wait).
    """

    kind: str
    text: str
    hint: str = ""
    key: str | None = None
    task: TaskRecord | None = None
    due: float | None = None
    timeout: bool = False

    @property
    def answerable(self) -> bool:
        """True for what hand-fed (mock) mode can answer."""
        return self.kind != "child"


def describe(session: Session) -> list[Wait]:
    """What the session waits on now, answerable things first: outbox tasks, messages,
    callbacks, children, sleeps, then the timeouts of the other waits."""
    rec = session.record
    out: list[Wait] = []
    for task in session.store.list_tasks(session.id):
        if task.status in ("pending", "claimed"):
            out.append(Wait("task", f"{task.kind} {_short_json(task.request)}",
                            "a connector or worker completes it",
                            key=task.effect_key, task=task))
    for item in rec.waiting or []:
        kind = item.get("kind")
        if kind == "message":
            name = str(item.get("name"))
            out.append(Wait("message", f"message {json.dumps(name)}",
                            f"flowmetal send --db {session.db_shown} {session.id} {name} JSON",
                            key=name))
        elif kind == "callback" and str(item.get("token", "")).startswith("program:"):
            child = str(item["token"]).split(":", 1)[1]
            out.append(_child_wait(session, child))
        elif kind == "callback":
            token = str(item.get("token"))
            out.append(Wait("callback", f"callback {token}",
                            f"flowmetal send --db {session.db_shown} --callback {token} JSON",
                            key=token))
    sleeps, timeouts = [], []
    requests = _timer_requests(session)
    for timer in session.store.list_timers(session.id):
        req = requests.get(timer.key, {})
        is_timeout = bool(req.get(":timeout"))
        seconds = req.get(":seconds")
        what = "timeout" if is_timeout else "sleep"
        text = f"{what} {_duration(seconds)}" if seconds is not None else what
        wait = Wait("timer", f"{text}, due {_clock(timer.due_at)}",
                    "it fires by itself when due", key=timer.key, due=timer.due_at,
                    timeout=is_timeout)
        (timeouts if is_timeout else sleeps).append(wait)
    return out + sleeps + timeouts


def _child_wait(session: Session, child: str) -> Wait:
    try:
        rec = session.store.get_program(child)
    except NotFound:
        return Wait("child", f"child program {child} (not in this store)", key=child)
    if rec.status == "failed":
        message = (rec.error or {}).get("message", "")
        return Wait("child", f"child program {child}, which failed: {message}",
                    f"flowmetal recover --db {session.db_shown} {child} ...", key=child)
    return Wait("child", f"child program {child} ({rec.status})", "it runs in this REPL",
                key=child)


def _timer_requests(session: Session) -> dict[str, dict]:
    requested = session.store.events(session.id, types=["requested"])
    return {str(e.data.get("key")): (e.data.get("request") or {}) for e in requested
            if e.data.get("kind") == "sleep"}


def answer(session: Session, wait: Wait, text: str) -> str:
    """Answer ``wait`` by hand (mock mode) with JSON ``text``; returns what was done.

    A timer fires whatever the text. For a task, ``!fail MESSAGE`` makes the effect
    fail instead. Raises ``ValueError`` for text that is not JSON.
    """
    if wait.kind == "timer":
        session.rt.fire_timer(session.id, str(wait.key))
        return "fired the timer"
    if wait.kind == "task" and wait.task is not None and text.startswith("!fail"):
        message = text[len("!fail"):].strip() or "failed by hand in the REPL"
        session.store.complete_task(wait.task.id, ok=False, value=message)
        return f"failed {wait.task.kind} task {wait.task.id}"
    payload = _parse_json(text)
    if wait.kind == "task" and wait.task is not None:
        session.store.complete_task(wait.task.id, ok=True, value=payload)
        return f"completed {wait.task.kind} task {wait.task.id}"
    if wait.kind == "message":
        session.rt.send(session.id, str(wait.key), payload)
        return f"sent message {json.dumps(wait.key)}"
    if wait.kind == "callback":
        session.rt.complete_callback(str(wait.key), payload)
        return "delivered the callback"
    raise ValueError(f"{wait.text} can't be answered by hand")


def _parse_json(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None


def _short_json(data: Any, limit: int = 120) -> str:
    """A stored request, shown as Flowmetal data (it is stored in the lossless codec)."""
    try:
        text = pretty(from_json(data), width=10_000)
    except (TypeError, ValueError):
        text = json.dumps(data)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _duration(seconds: Any) -> str:
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return str(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{int(s // size)}{unit}"
    return f"{s:g}s"


def _clock(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when))
