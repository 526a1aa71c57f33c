"""The machine: an explicit-state evaluator whose every state is plain data.

A program runs as one or more *fibers* (``async`` makes more). Each fiber has registers
(``mode``, ``node``, ``env``, ``val``) and a continuation stack of small frame objects; the
machine has the globals, the fibers, the inboxes, and a step counter. No Python frame,
closure or generator is ever part of that state, so ``snapshot.encode(machine)`` can store
it at any step and ``snapshot.decode`` can bring it back in another process.

``run(fuel)`` steps until one of:

- ``Done(value)``: the main fiber finished;
- ``Suspended(requests)``: every fiber waits; ``requests`` are the effects asked for since
  the last run, each a plain-data map the runtime performs or waits for;
- ``OutOfFuel()``: the step budget ran out, call ``run`` again;
- ``Failed(error)``: the main fiber threw and nothing catches it. The machine stays paused
  *at the throw*, so a restart can retry the failed expression or supply its value.

Results come back in with ``complete``, ``fail_effect``, ``deliver_message`` and
``deliver_callback``; then ``run`` again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from . import nodes as N
from .core.registry import Builtin
from .data import Keyword, List, Map, Set, Vector, kw, type_name
from .errors import ExInfo, Thrown, TraceEntry, fail
from .functions import Closure, Future, Macro, Primitive
from .printer import pr_brief, pr_str

__all__ = [
    "Machine",
    "Fiber",
    "Request",
    "Done",
    "Suspended",
    "OutOfFuel",
    "Failed",
    "Outcome",
    "DEFAULT_MAX_DEPTH",
    "NO_DEFAULT",
]

EVAL, RETURN, THROW, PARKED = 0, 1, 2, 3
_MISSING = object()
_FAILS = (Thrown, N.Unbound)
DEFAULT_MAX_DEPTH = 1_000_000
_TYPE = kw("type")
NO_DEFAULT = kw("flowmetal/no-default")  # a wait with no :default throws on timeout


@dataclass(slots=True)
class Request:
    """An effect the program asked for: ``kind`` (``sleep``, ``http``...) and its data."""

    id: int
    kind: str
    data: Map


@dataclass(slots=True)
class Done:
    value: Any


@dataclass(slots=True)
class Suspended:
    requests: list[Request]
    cancelled: list[int] = field(default_factory=list)


@dataclass(slots=True)
class OutOfFuel:
    pass


@dataclass(slots=True)
class Failed:
    error: Any


Outcome = Done | Suspended | OutOfFuel | Failed


class Fiber:
    """One thread of evaluation. ``wait`` says what a waiting fiber waits for."""

    __slots__ = ("id", "stack", "mode", "node", "env", "val", "status", "wait", "waiters",
                 "fault")

    def __init__(self, fid: int) -> None:
        self.id = fid
        self.stack: list[Any] = []
        self.mode = EVAL
        self.node: N.Node | None = None
        self.env: list | None = None
        self.val: Any = None
        self.status = "run"  # run | wait | done | failed
        self.wait: tuple | None = None
        self.waiters: list[int] = []
        self.fault: tuple | None = None  # (node, env) of an expression that threw


# -- frames ----------------------------------------------------------------------------
# Each frame is what remains to do once a sub-expression has produced ``m.val``.


class IfK:
    __slots__ = ("node", "env")
    KIND = "if"

    def __init__(self, node: N.If, env: list) -> None:
        self.node, self.env = node, env

    def resume(self, m: Machine) -> None:
        v = m.val
        m.node = self.node.else_ if v is None or v is False else self.node.then
        m.env = self.env
        m.mode = EVAL


class DoK:
    __slots__ = ("node", "env", "i")
    KIND = "do"

    def __init__(self, node: N.Do, env: list, i: int) -> None:
        self.node, self.env, self.i = node, env, i

    def resume(self, m: Machine) -> None:
        m.env = self.env
        _do_from(m, self.node, self.i)


class DefK:
    __slots__ = ("node",)
    KIND = "def"

    def __init__(self, node: N.Def) -> None:
        self.node = node

    def resume(self, m: Machine) -> None:
        m.define(self.node, m.val)


class LetK:
    __slots__ = ("node", "env", "i")
    KIND = "let"

    def __init__(self, node: N.Let, env: list, i: int) -> None:
        self.node, self.env, self.i = node, env, i

    def resume(self, m: Machine) -> None:
        env = self.env
        env[self.i + 1] = m.val
        _let_from(m, self.node, env, self.i + 1)


class RecurK:
    __slots__ = ("node", "env", "vals")
    KIND = "recur"

    def __init__(self, node: N.Recur, env: list, vals: list) -> None:
        self.node, self.env, self.vals = node, env, vals

    def resume(self, m: Machine) -> None:
        self.vals.append(m.val)
        _recur_from(m, self.node, self.env, self.vals)


class CallK:
    __slots__ = ("node", "env", "vals")
    KIND = "call"

    def __init__(self, node: N.Call, env: list, vals: list) -> None:
        self.node, self.env, self.vals = node, env, vals

    def resume(self, m: Machine) -> None:
        vals = self.vals
        vals.append(m.val)
        node = self.node
        if len(vals) == node.nparts:  # the last part came back: apply right here
            _apply_parts(m, node, self.env, vals)
        else:
            _call_from(m, node, self.env, vals, self)


class TryK:
    """Around a ``try`` body (stage 0) or its catch body (stage 1)."""

    __slots__ = ("node", "env", "stage")
    KIND = "try"

    def __init__(self, node: N.Try, env: list, stage: int) -> None:
        self.node, self.env, self.stage = node, env, stage

    def resume(self, m: Machine) -> None:
        fin = self.node.finally_body
        if fin is not None:
            m.stack.append(FinallyK(RETURN, m.val))
            m.node, m.env, m.mode = fin, self.env, EVAL


class FinallyK:
    """After a finally body: go on returning or throwing what was there before it."""

    __slots__ = ("mode", "payload")
    KIND = "finally"

    def __init__(self, mode: int, payload: Any) -> None:
        self.mode, self.payload = mode, payload

    def resume(self, m: Machine) -> None:
        m.val = self.payload
        m.mode = self.mode


class ThrowK:
    __slots__ = ("node",)
    KIND = "throw"

    def __init__(self, node: N.Throw) -> None:
        self.node = node

    def resume(self, m: Machine) -> None:
        m.throw(m.val, self.node, ("eval", self.node, None))


class TopK:
    """Runs a unit's top-level forms in order, then ``main`` if asked to."""

    __slots__ = ("unit", "i", "main_args")
    KIND = "top"

    def __init__(self, unit: N.CodeUnit, i: int, main_args: Any) -> None:
        self.unit, self.i, self.main_args = unit, i, main_args

    def resume(self, m: Machine) -> None:
        top = self.unit.toplevel
        if self.i < len(top):
            m.stack.append(TopK(self.unit, self.i + 1, self.main_args))
            m.node, m.env, m.mode = top[self.i], [None], EVAL
            return
        main = m.glob.get("main") if self.main_args is not None else None
        if main is not None and self.main_args is not None:
            m.apply(main, [self.main_args], None)


class SwapK:
    __slots__ = ("atom",)
    KIND = "swap"

    def __init__(self, atom: Any) -> None:
        self.atom = atom

    def resume(self, m: Machine) -> None:
        self.atom.value = m.val


class ApplyK:
    """Applies ``f`` to ``args`` when resumed: how a restart retries a failed call."""

    __slots__ = ("f", "args")
    KIND = "apply"

    def __init__(self, f: Any, args: list) -> None:
        self.f, self.args = f, args

    def resume(self, m: Machine) -> None:
        m.apply(self.f, list(self.args), None)


class CallGlobalK:
    """Calls the global function ``name`` with ``args`` when resumed: a child program's
    entry point, after its unit's definitions have run."""

    __slots__ = ("name", "args")
    KIND = "call-global"

    def __init__(self, name: str, args: list) -> None:
        self.name, self.args = name, args

    def resume(self, m: Machine) -> None:
        f = m.glob.get(self.name)
        if f is None:
            raise fail("unbound-symbol", f"no function named {self.name} to call")
        m.apply(f, list(self.args), None)


class SeqK:
    """A loop of a higher-order sequence function (``map``, ``filter``, ``reduce``...)
    over ``items``: calls ``f`` on item ``i``, folds the result into ``acc``, goes on.
    See ``sequences.py``."""

    __slots__ = ("op", "f", "items", "i", "acc", "node")
    KIND = "seq"

    def __init__(self, op: str, f: Any, items: Any, i: int, acc: Any,
                 node: N.Node | None = None) -> None:
        self.op, self.f, self.items, self.i, self.acc = op, f, items, i, acc
        self.node = node  # the call that started the loop, for stack traces

    def resume(self, m: Machine) -> None:
        from .sequences import step

        step(m, self)


FRAME_TYPES = [IfK, DoK, DefK, LetK, RecurK, CallK, TryK, FinallyK, ThrowK, TopK, SwapK, ApplyK,
               CallGlobalK, SeqK]


# -- evaluation of each kind of node -----------------------------------------------------


def _const(m: Machine, node: N.Const) -> None:
    m.val = node.const
    m.mode = RETURN


def _simple(m: Machine, node: N.Node) -> None:
    # A simple node whose value() bailed out (NotSimple): only Call can do that.
    raise AssertionError(f"unexpected non-steppable node {type(node).__name__}")


def _if(m: Machine, node: N.If) -> None:
    test = node.test
    if test.simple:
        try:
            v = test.fast(m.env, m.glob)
        except N.NotSimple:
            test.simple = False
        except _FAILS:
            m.stack.append(IfK(node, m.env))
            m.node = test
            raise
        else:
            branch = node.else_ if v is None or v is False else node.then
            if branch.simple:  # e.g. the base case of a recursion: no extra step
                try:
                    m.val = branch.fast(m.env, m.glob)
                    m.mode = RETURN
                    return
                except N.NotSimple:
                    branch.simple = False
                except _FAILS:
                    m.node = branch
                    raise
            m.node = branch
            if type(branch) is N.Call:
                # Start the branch's call in this same step. Safe from unbounded Python
                # recursion: _call never dispatches further (it enters a closure by
                # setting registers and returning).
                _call(m, branch)
            return
    m.stack.append(IfK(node, m.env))
    m.node = test


def _enter(m: Machine, body: N.Node, env: list) -> None:
    """Start a function body. A body that is an ``if`` with a simple test (most are) gets
    its test evaluated and its branch chosen in this same step; nothing is dispatched
    further, so this never recurses."""
    m.env = env
    if type(body) is N.If:
        test = body.test
        if test.simple:
            try:
                v = test.fast(env, m.glob)
            except N.NotSimple:
                test.simple = False
            except _FAILS:
                m.stack.append(IfK(body, env))
                m.node, m.mode = test, EVAL
                raise
            else:
                branch = body.else_ if v is None or v is False else body.then
                if type(branch) is N.Local0:  # (if (< n 2) n ...): return the local
                    m.val = env[branch.index]
                    m.mode = RETURN
                    return
                if branch.simple:
                    try:
                        m.val = branch.fast(env, m.glob)
                        m.mode = RETURN
                        return
                    except N.NotSimple:
                        branch.simple = False
                    except _FAILS:
                        m.node, m.mode = branch, EVAL
                        raise
                m.node, m.mode = branch, EVAL
                return
    m.node, m.mode = body, EVAL


def _do(m: Machine, node: N.Do) -> None:
    _do_from(m, node, 0)


def _do_from(m: Machine, node: N.Do, i: int) -> None:
    body = node.body
    last = len(body) - 1
    env, glob = m.env, m.glob
    while i < last:
        child = body[i]
        if child.simple:
            try:
                child.fast(env, glob)
                i += 1
                continue
            except N.NotSimple:
                child.simple = False
            except _FAILS:
                m.stack.append(DoK(node, env, i + 1))
                m.node, m.mode = child, EVAL
                raise
        m.stack.append(DoK(node, env, i + 1))
        m.node, m.mode = child, EVAL
        return
    m.node, m.mode = body[last], EVAL


def _def(m: Machine, node: N.Def) -> None:
    if node.init is None:
        m.define(node, m.glob.get(node.name))
        return
    m.stack.append(DefK(node))
    m.node = node.init


def _let(m: Machine, node: N.Let) -> None:
    env = [m.env] + [None] * node.size
    _let_from(m, node, env, 0)


def _let_from(m: Machine, node: N.Let, env: list, i: int) -> None:
    inits = node.inits
    glob = m.glob
    n = len(inits)
    while i < n:
        init = inits[i]
        if init.simple:
            try:
                env[i + 1] = init.fast(env, glob)
                i += 1
                continue
            except N.NotSimple:
                init.simple = False
            except _FAILS:
                m.stack.append(LetK(node, env, i))
                m.node, m.env, m.mode = init, env, EVAL
                raise
        m.stack.append(LetK(node, env, i))
        m.node, m.env, m.mode = init, env, EVAL
        return
    m.node, m.env, m.mode = node.body, env, EVAL


def _recur(m: Machine, node: N.Recur) -> None:
    _recur_from(m, node, m.env, [])


def _recur_from(m: Machine, node: N.Recur, env: list, vals: list) -> None:
    args = node.args
    glob = m.glob
    i = len(vals)
    n = len(args)
    while i < n:
        arg = args[i]
        if arg.simple:
            try:
                vals.append(arg.fast(env, glob))
                i += 1
                continue
            except N.NotSimple:
                arg.simple = False
            except _FAILS:
                m.stack.append(RecurK(node, env, vals))
                m.node, m.env, m.mode = arg, env, EVAL
                raise
        m.stack.append(RecurK(node, env, vals))
        m.node, m.env, m.mode = arg, env, EVAL
        return
    frame = env
    for _ in range(node.depth):
        frame = frame[0]
    if node.loop is not None:
        m.env = [frame[0], *vals]
        m.node = node.loop.body
    else:
        arity = node.arity
        m.env = [frame[0], *vals]
        m.node = arity.body
    m.mode = EVAL


def _call(m: Machine, node: N.Call) -> None:
    if node.all_simple:
        env, glob = m.env, m.glob
        args = node.args
        n = node.nparts - 1
        try:
            fnode = node.fn
            if type(fnode) is N.Global:
                f = glob.get(fnode.name, _MISSING)
                if f is _MISSING:
                    raise N.Unbound(fnode.name)
            else:
                f = fnode.fast(env, glob)
            if n == 1:
                vals = [None, args[0].fast(env, glob)]
            elif n == 2:
                vals = [None, args[0].fast(env, glob), args[1].fast(env, glob)]
            else:
                vals = [None, *[a.fast(env, glob) for a in args]]
        except N.NotSimple:
            pass
        else:
            if type(f) is Closure:  # the common case, inlined: the new frame is ``vals``
                arity = f.fn.fixed.get(n)
                if arity is not None and len(m.stack) <= m.max_depth:
                    vals[0] = f.env
                    _enter(m, arity.body, vals)
                    return
            m.apply(f, vals[1:], node)
            return
    else:
        fnode = node.fn
        if type(fnode) is N.Global:  # (f (g x)): resolve f now, the arguments next
            f = m.glob.get(fnode.name, _MISSING)
            if f is not _MISSING:
                _call_from(m, node, m.env, [f])
                return
    _call_from(m, node, m.env, [])


def _call_from(m: Machine, node: N.Call, env: list, vals: list,
               frame: CallK | None = None) -> None:
    """Evaluate the call's remaining parts, then apply. ``frame`` is the CallK being
    resumed, pushed back as it is rather than allocating a new one."""
    glob = m.glob
    i = len(vals)
    parts = node.parts
    n = node.nparts
    while i < n:
        sub = parts[i]
        if sub.simple:
            try:
                vals.append(sub.fast(env, glob))
                i += 1
                continue
            except N.NotSimple:
                sub.simple = False
            except _FAILS:
                m.stack.append(frame or CallK(node, env, vals))
                m.node, m.env, m.mode = sub, env, EVAL
                raise
        m.stack.append(frame or CallK(node, env, vals))
        m.node, m.env, m.mode = sub, env, EVAL
        return
    _apply_parts(m, node, env, vals)


def _apply_parts(m: Machine, node: N.Call, env: list, vals: list) -> None:
    """Apply ``vals[0]`` to ``vals[1:]``; closures and pure built-ins inlined."""
    f = vals[0]
    t = type(f)
    if t is Closure:  # ``vals`` becomes the new frame
        arity = f.fn.fixed.get(len(vals) - 1)
        if arity is not None and len(m.stack) <= m.max_depth:
            vals[0] = f.env
            _enter(m, arity.body, vals)
            return
    elif t is Builtin:
        n = len(vals) - 1
        if n >= f.min_args and (f.max_args is None or n <= f.max_args):
            try:
                m.val = f.fn(vals[1], vals[2]) if n == 2 else f.fn(*vals[1:])
                m.mode = RETURN
                return
            except Exception as exc:
                m.node, m.env = node, env
                m.pending_fault = ("apply", f, vals[1:])
                raise N.builtin_error(f, exc, node) from None
    m.node, m.env = node, env
    m.apply(f, vals[1:], node)


def _try(m: Machine, node: N.Try) -> None:
    m.stack.append(TryK(node, m.env, 0))
    m.node = node.body


def _throw(m: Machine, node: N.Throw) -> None:
    expr = node.expr
    if expr.simple:
        try:
            v = expr.fast(m.env, m.glob)
        except N.NotSimple:
            expr.simple = False
        except _FAILS:
            m.stack.append(ThrowK(node))
            m.node = expr
            raise
        else:
            m.throw(v, node, ("eval", node, m.env))
            return
    m.stack.append(ThrowK(node))
    m.node = expr


def _fn(m: Machine, node: N.Fn) -> None:
    m.val = node.fast(m.env, m.glob)
    m.mode = RETURN


_EVAL = [_const, _simple, _simple, _if, _do, _def, _fn, _let, _let, _recur, _call, _try, _throw]


class Machine:
    """The whole state of one program, and the stepping loop over it."""

    def __init__(self, glob: dict[str, Any], max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        # A copy of the base's globals, then the names the program adds. Rebind a base
        # name only through ``define`` (which records it in ``docs``): a snapshot finds
        # the program's own globals that way, without comparing every base name.
        self.glob = glob
        self.docs: dict[str, Map] = {}
        self.max_depth = max_depth
        self.steps = 0
        self.fibers: dict[int, Fiber] = {}
        self.runq: deque[int] = deque()
        self.next_fiber = 0
        self.next_effect = 0
        # effect id -> (fiber, purpose ("value" or "timeout"), kind, data)
        self.effects: dict[int, tuple[int, str, str, Map]] = {}
        self.inbox: dict[str, list[Any]] = {}
        self.message_waiters: dict[str, list[int]] = {}
        # token -> (payload, is_error): callbacks that arrived before their await
        self.callbacks: dict[str, tuple[Any, bool]] = {}
        self.callback_waiters: dict[str, int] = {}
        self.new_requests: list[Request] = []
        self.cancelled: list[int] = []
        self.result: Any = None
        self.extra: dict[str, Any] = {}  # the runtime's bookkeeping, stored with the state
        self.status = "run"  # run | done | failed | aborted
        self.error: Any = None
        # Registers of the current fiber.
        self.pending_fault: tuple | None = None
        self.fiber: Fiber | None = None
        self.stack: list[Any] = []
        self.mode = EVAL
        self.node: N.Node | None = None
        self.env: list | None = None
        self.val: Any = None

    # -- starting ----------------------------------------------------------------------

    def start(self, unit: N.CodeUnit, main_args: Any = None) -> None:
        """Make the main fiber run ``unit``'s top-level forms, then ``(main main_args)``."""
        fiber = self._new_fiber()
        fiber.stack.append(TopK(unit, 0, main_args))
        fiber.mode = RETURN
        self.runq.append(fiber.id)

    def start_eval(self, unit: N.CodeUnit) -> bool:
        """Evaluate another unit in this machine's globals (a REPL input), on fiber 0.

        False, changing nothing, while fiber 0 still waits on an earlier input: resetting
        it would orphan that input's waits. The caller queues the unit until ``go_idle``.
        """
        fiber = self.fibers.get(0)
        if fiber is not None and fiber.status in ("run", "wait"):
            return False
        fiber = fiber or self._new_fiber()
        fiber.stack = [TopK(unit, 0, None)]
        fiber.mode, fiber.val, fiber.status, fiber.wait = RETURN, None, "run", None
        fiber.node = fiber.env = fiber.fault = None
        fiber.waiters = []
        self.status = "run"
        self.result = self.error = None
        self.runq.append(0)
        return True

    def go_idle(self) -> None:
        """After a REPL input: wait for the next one, keeping globals and other fibers."""
        self.status = "idle"
        self.fibers[0].status = "done"
        self.fibers[0].stack = []

    def start_node(self, node: N.Node) -> None:
        """Make the main fiber evaluate one node at top level (compile-time definitions)."""
        fiber = self._new_fiber()
        fiber.node, fiber.env, fiber.mode = node, [None], EVAL
        self.runq.append(fiber.id)

    def start_call(self, f: Any, args: list[Any]) -> None:
        """Make the main fiber call ``f`` with ``args`` (macros, compile-time evaluation)."""
        fiber = self._new_fiber()
        self._switch_to(fiber)
        self.apply(f, args, None)
        self._save()
        self.fiber = None
        self.runq.append(fiber.id)

    def _new_fiber(self) -> Fiber:
        fiber = Fiber(self.next_fiber)
        self.next_fiber += 1
        self.fibers[fiber.id] = fiber
        return fiber

    # -- the loop ----------------------------------------------------------------------

    def run(self, fuel: int = 1_000_000) -> Outcome:
        """Step until done, suspended, failed, or ``fuel`` steps have been taken."""
        glob = self.glob
        end = self.steps + fuel
        evals = _EVAL
        while True:
            if self.status != "run" and self.status != "idle":
                return Done(self.result) if self.status == "done" else Failed(self.error)
            if self.fiber is None and not (self.runq and self._schedule()):
                return self._suspend()
            steps = self.steps
            try:
                while steps < end:
                    steps += 1
                    mode = self.mode
                    if mode == EVAL:
                        node = self.node
                        if node.simple:
                            try:
                                self.val = node.fast(self.env, glob)
                                self.mode = RETURN
                                continue
                            except N.NotSimple:
                                # Demoting is safe for replay: a failed eager attempt has no
                                # effects and takes no step, so step numbers never change.
                                node.simple = False
                        evals[node.op](self, node)
                    elif mode == RETURN:
                        stack = self.stack
                        if stack:
                            stack.pop().resume(self)
                        else:
                            self._fiber_done()
                    elif mode == THROW:
                        self._unwind()
                    else:  # PARKED: this fiber waits or ended; schedule another
                        steps -= 1
                        break
                else:
                    self.steps = steps
                    self._save()
                    return OutOfFuel()
                self.steps = steps
            except _FAILS as exc:
                self.steps = steps
                if type(exc) is N.Unbound:
                    value = fail("unbound-symbol", f"Unable to resolve symbol: {exc.name}",
                                 symbol=exc.name).value
                else:
                    value = exc.value
                fault = self.pending_fault or ("eval", self.node, self.env)
                self.pending_fault = None
                self.throw(value, self.node, fault)

    def _suspend(self) -> Suspended:
        out = Suspended(self.new_requests, self.cancelled)
        self.new_requests, self.cancelled = [], []
        return out

    # -- fibers ------------------------------------------------------------------------

    def _schedule(self) -> bool:
        while self.runq:
            fiber = self.fibers.get(self.runq.popleft())
            if fiber is not None and fiber.status == "run":
                self._switch_to(fiber)
                return True
        return False

    def _switch_to(self, fiber: Fiber) -> None:
        self.fiber = fiber
        self.stack, self.mode, self.node = fiber.stack, fiber.mode, fiber.node
        self.env, self.val = fiber.env, fiber.val

    def _save(self) -> None:
        fiber = self.fiber
        if fiber is not None:
            fiber.stack, fiber.mode, fiber.node = self.stack, self.mode, self.node
            fiber.env, fiber.val = self.env, self.val

    def _park(self, wait: tuple) -> None:
        """The current fiber waits for ``wait``; another fiber (if any) runs next."""
        fiber = self.fiber
        self.mode = RETURN
        self._save()
        fiber.status = "wait"
        fiber.wait = wait
        self.fiber = None
        self.mode = PARKED

    def _wake(self, fiber: Fiber, mode: int, val: Any) -> None:
        fiber.mode = mode
        fiber.val = val
        fiber.status = "run"
        wait, fiber.wait = fiber.wait, None
        if wait is not None and wait[2] is not None:  # a timeout timer still pending
            self.effects.pop(wait[2], None)
            self.cancelled.append(wait[2])
        if wait is not None and wait[0] == "any":
            for fid in wait[1]:
                other = self.fibers.get(fid)
                if other is not None and fiber.id in other.waiters:
                    other.waiters.remove(fiber.id)
        self.runq.append(fiber.id)

    def _fiber_done(self, error: Any = None, failed: bool = False) -> None:
        fiber = self.fiber
        fiber.status = "failed" if failed else "done"
        fiber.val = error if failed else self.val
        fiber.stack = []
        fiber.node = fiber.env = None
        self.fiber = None
        self.mode = PARKED
        if failed and fiber.id != 0 and not any(
                fid in self.fibers and self.fibers[fid].status == "wait"
                for fid in fiber.waiters):  # nobody awaits it yet: reported if nobody will
            self.extra.setdefault("unawaited", []).append(fiber.id)
        for fid in fiber.waiters:
            waiter = self.fibers.get(fid)
            if waiter is not None and waiter.status == "wait":
                if failed:  # the waiter throws by the usual path, so an uncaught one pauses
                    self._wake(waiter, RETURN, None)
                    self._rethrow_in(waiter, fiber.val, None)
                else:
                    self._wake(waiter, RETURN, fiber.val)
        fiber.waiters = []
        self.fiber = None
        self.mode = PARKED
        if fiber.id == 0:
            self.status = "done"
            self.result = fiber.val
            if self.extra.get("repl"):
                return  # a REPL session keeps its background fibers between inputs
            for f in self.fibers.values():  # the program is over: abandon the rest
                if f.wait is not None and f.wait[0] == "effect":
                    self.cancelled.append(f.wait[1])
                if f.wait is not None and f.wait[2] is not None:
                    self.cancelled.append(f.wait[2])
            self.effects.clear()

    # -- applying functions ------------------------------------------------------------

    def apply(self, f: Any, args: list[Any], node: N.Node | None) -> None:
        """Call ``f`` with ``args`` as a tail call from the current point."""
        t = type(f)
        if t is Closure:
            fn = f.fn
            n = len(args)
            arity = fn.fixed.get(n)
            if arity is not None:
                self.env = [f.env, *args]
            else:
                arity = fn.variadic
                if arity is None or n < arity.nparams:
                    self.pending_fault = ("apply", f, args)
                    raise fail("arity-error",
                               f"Wrong number of arguments ({n}) passed to {f.name}",
                               function=f.name)
                k = arity.nparams
                self.env = [f.env, *args[:k], List(args[k:]) if n > k else None]
            if len(self.stack) > self.max_depth:
                self.pending_fault = ("apply", f, args)
                raise fail("stack-overflow",
                           f"Stack depth limit ({self.max_depth} frames) exceeded in {f.name}")
            self.node = arity.body
            self.mode = EVAL
        elif t is Builtin:
            try:
                n = len(args)
                if n < f.min_args or (f.max_args is not None and n > f.max_args):
                    self.val = N.call_builtin(f, args, node or self.node)  # reports arity
                try:
                    self.val = f.fn(*args)
                except Exception as exc:
                    raise N.builtin_error(f, exc, node or self.node) from None
            except Thrown:
                self.pending_fault = ("apply", f, args)
                raise
            self.mode = RETURN
        elif t is Primitive:
            n = len(args)
            try:
                if n < f.min_args or (f.max_args is not None and n > f.max_args):
                    raise fail("arity-error",
                               f"Wrong number of arguments ({n}) passed to {f.name}",
                               function=f.name)
                self.mode = RETURN
                f.handler(self, args, node)
            except Thrown:
                self.pending_fault = ("apply", f, args)
                raise
        elif t is Keyword or t is Map or t is Set or t is Vector:
            self.val = _call_data(f, args)
            self.mode = RETURN
        elif t is Macro:
            raise fail("type-error", f"Can't take the value of macro {f.name}")
        else:
            raise fail("type-error", f"{pr_str(f)} ({type_name(f)}) is not a function")

    # -- definitions ---------------------------------------------------------------------

    def define(self, node: N.Def, value: Any) -> None:
        if node.macro:
            value = Macro(value)
        self.glob[node.name] = value
        doc = Map({kw("name"): node.name})
        if node.doc is not None:
            doc[kw("doc")] = node.doc
        init = node.init
        if isinstance(init, N.Fn):
            doc[kw("arglists")] = init.arglists()
        if node.span is not None:
            doc[kw("file")] = node.span.source
            doc[kw("line")] = node.span.line
        self.docs[node.name] = doc
        from .data import Symbol

        self.val = Symbol(node.name)
        self.mode = RETURN

    # -- throwing ----------------------------------------------------------------------

    def throw(self, value: Any, node: N.Node | None, fault: tuple | None = None) -> None:
        """Throw ``value`` from ``node``: unwind to a catching ``try``, or pause the program."""
        if isinstance(value, ExInfo):
            if value.span is None and node is not None:
                value.span = node.span
            if not value.trace:
                value.trace = self._trace(node)
        fiber = self.fiber
        fiber.fault = fault
        if fiber.id == 0 and not self._will_catch(value):
            if not isinstance(value, ExInfo):  # keep where a plain value was thrown from
                    value = ExInfo(f"uncaught throw of {pr_str(value)}",
                               Map({_TYPE: kw("uncaught-throw"), kw("value"): value}),
                               trace=self._trace(node), span=node.span if node else None)
            self._save()
            self.status = "failed"
            self.error = value
            fiber.status = "failed-paused"
            self.fiber = None
            self.mode = PARKED
            return
        self.val = value
        self.mode = THROW

    def _will_catch(self, value: Any) -> bool:
        return any(type(f) is TryK and f.stage == 0 and _catches(f.node, value)
                   for f in self.stack)

    def _trace(self, node: N.Node | None) -> tuple[TraceEntry, ...]:
        entries: list[TraceEntry] = []
        last = None
        if node is not None:
            entries.append(TraceEntry(node.fn_name, node.span))
            last = node.fn_name
        for frame in reversed(self.stack):
            fnode = getattr(frame, "node", None)
            if fnode is None or not hasattr(fnode, "fn_name"):
                continue
            if fnode.fn_name != last:
                entries.append(TraceEntry(fnode.fn_name, fnode.span))
                last = fnode.fn_name
            if len(entries) >= 50:
                break
        return tuple(entries)

    def _unwind(self) -> None:
        stack = self.stack
        if not stack:
            self._fiber_done(self.val, failed=True)
            return
        frame = stack.pop()
        if type(frame) is TryK:
            node = frame.node
            if frame.stage == 0 and _catches(node, self.val):
                stack.append(TryK(node, frame.env, 1))
                self.env = [frame.env, self.val]
                self.node = node.catch_body
                self.mode = EVAL
            elif node.finally_body is not None:
                stack.append(FinallyK(THROW, self.val))
                self.node, self.env, self.mode = node.finally_body, frame.env, EVAL

    # -- restarts ----------------------------------------------------------------------

    def restart(self, how: str, value: Any = None) -> None:
        """Resume a failed program: ``retry`` the expression (or effect) that threw,
        ``use-value`` to make it return ``value`` instead, or ``abort`` to end it."""
        if self.status != "failed":
            raise ValueError("the program has not failed; there is nothing to restart")
        fiber = self.fibers[0]
        if how == "abort":
            self.status = "aborted"
            return
        fault = fiber.fault
        if how == "retry" and fault is None:
            raise ValueError("nothing to retry: the error did not come from an expression")
        self.status = "run"
        self.error = None
        fiber.status = "run"
        if how != "retry":
            fiber.mode, fiber.val = RETURN, value
        elif fault[0] == "eval":
            fiber.mode, fiber.node = EVAL, fault[1]
            if fault[2] is not None:
                fiber.env = fault[2]
        elif fault[0] == "apply":
            fiber.stack.append(ApplyK(fault[1], fault[2]))
            fiber.mode, fiber.val = RETURN, None
        else:  # ("effect", kind, data): ask for the effect again
            self._switch_to(fiber)
            self.request(fault[1], fault[2])
            return
        self.runq.append(0)

    # -- effects and waits -----------------------------------------------------------------

    def request(self, kind: str, data: Map, timeout: float | None = None,
                default: Any = NO_DEFAULT) -> None:
        """Suspend the current fiber on a new effect."""
        if timeout is not None:
            eid = self._new_effect(kind, data, "value")
            self._park_with_timeout(("effect", eid), timeout, default)
            return
        # Without a timeout, as _new_effect then _park, in one call: every effect comes here.
        fiber = self.fiber
        eid = self.next_effect
        self.next_effect = eid + 1
        self.effects[eid] = (fiber.id, "value", kind, data)
        self.new_requests.append(Request(eid, kind, data))
        fiber.stack, fiber.mode, fiber.node = self.stack, RETURN, self.node
        fiber.env, fiber.val = self.env, self.val
        fiber.status = "wait"
        fiber.wait = ("effect", eid, None, default)
        self.fiber = None
        self.mode = PARKED

    def _new_effect(self, kind: str, data: Map, purpose: str) -> int:
        eid = self.next_effect
        self.next_effect += 1
        self.effects[eid] = (self.fiber.id, purpose, kind, data)
        self.new_requests.append(Request(eid, kind, data))
        return eid

    def _park_with_timeout(self, wait: tuple, timeout: float | None, default: Any) -> None:
        timer = None
        if timeout is not None:
            timer = self._new_effect("sleep", Map({kw("seconds"): timeout,
                                                   kw("timeout"): True}), "timeout")
        self._park((wait[0], wait[1], timer, default))

    def wait_message(self, name: str, timeout: float | None, default: Any) -> None:
        queue = self.inbox.get(name)
        if queue:
            self.val = queue.pop(0)
            if not queue:
                del self.inbox[name]
            self.mode = RETURN
            return
        self.message_waiters.setdefault(name, []).append(self.fiber.id)
        self._park_with_timeout(("message", name), timeout, default)

    def wait_callback(self, token: str, timeout: float | None, default: Any) -> None:
        if token in self.callbacks:
            payload, is_error = self.callbacks.pop(token)
            if is_error:
                raise Thrown(payload)
            self.val = payload
            self.mode = RETURN
            return
        self.callback_waiters[token] = self.fiber.id
        self._park_with_timeout(("callback", token), timeout, default)

    def wait_future(self, fut: Future, timeout: float | None, default: Any) -> None:
        target = self.fibers.get(fut.fiber)
        if target is None:
            raise fail("type-error", f"unknown future {fut.fiber}")
        if target.status in ("done", "failed"):
            if target.status == "failed":
                raise Thrown(self._awaited(target))
            self.val, self.mode = target.val, RETURN
            return
        if target.id == self.fiber.id:
            raise fail("deadlock", "a future can't await itself")
        target.waiters.append(self.fiber.id)
        self._park_with_timeout(("future", fut.fiber), timeout, default)

    def _awaited(self, fiber: Fiber) -> Any:
        """A failed fiber's error, now seen by an ``await``: no longer reported as lost."""
        lost = self.extra.get("unawaited")
        if lost and fiber.id in lost:
            lost.remove(fiber.id)
        return fiber.val

    def wait_any(self, futs: list[Future], timeout: float | None, default: Any) -> None:
        for fut in futs:
            target = self.fibers.get(fut.fiber)
            if target is not None and target.status in ("done", "failed"):
                if target.status == "failed":
                    raise Thrown(self._awaited(target))
                self.val, self.mode = target.val, RETURN
                return
        for fut in futs:
            self.fibers[fut.fiber].waiters.append(self.fiber.id)
        self._park_with_timeout(("any", tuple(f.fiber for f in futs)), timeout, default)

    def spawn_fiber(self, thunk: Any) -> Future:
        """Start ``thunk`` in a new fiber; it runs after the current one yields."""
        current = self.fiber
        self._save()
        fiber = self._new_fiber()
        self._switch_to(fiber)
        try:
            self.apply(thunk, [], None)
        finally:
            self._save()
            self._switch_to(current)
        self.runq.append(fiber.id)
        return Future(fiber.id)

    # -- inputs from the runtime -------------------------------------------------------------

    def waiting_on(self, eid: int) -> bool:
        return eid in self.effects

    def complete(self, eid: int, value: Any) -> None:
        """An effect finished with ``value``."""
        entry = self.effects.pop(eid, None)
        if entry is None:
            return  # cancelled or already settled: late results are ignored
        fiber = self.fibers[entry[0]]
        if entry[1] == "timeout":
            self._timed_out(fiber)
        elif fiber.wait is not None and fiber.wait[1] == eid:
            self._wake(fiber, RETURN, value)

    def fail_effect(self, eid: int, error: Any) -> None:
        """An effect failed for good: throw ``error`` at the point that asked for it."""
        entry = self.effects.pop(eid, None)
        if entry is None:
            return
        fiber = self.fibers[entry[0]]
        if fiber.wait is None or fiber.wait[1] != eid:
            return
        self._wake(fiber, RETURN, None)
        self._rethrow_in(fiber, error, ("effect", entry[2], entry[3]))

    def _rethrow_in(self, fiber: Fiber, error: Any, fault: tuple | None) -> None:
        """Make ``fiber`` throw ``error`` as its next step (via the normal throw path)."""
        self.runq.remove(fiber.id)
        current = self.fiber
        self._save()
        self._switch_to(fiber)
        self.throw(error, fiber.node, fault)
        if self.fiber is not None:
            self._save()
            self.runq.appendleft(fiber.id)
        self.fiber = None
        if current is not None and current is not fiber:
            self._switch_to(current)

    def _timed_out(self, fiber: Fiber) -> None:
        wait = fiber.wait
        if wait is None:
            return
        kind, key, _timer, default = wait
        if kind == "message":
            waiters = self.message_waiters.get(key, [])
            if fiber.id in waiters:
                waiters.remove(fiber.id)
            if not waiters:
                self.message_waiters.pop(key, None)
        elif kind == "callback":
            self.callback_waiters.pop(key, None)
        elif kind == "effect":
            self.effects.pop(key, None)
            self.cancelled.append(key)
        elif kind in ("future", "any"):
            for fid in (key if kind == "any" else (key,)):
                target = self.fibers.get(fid)
                if target is not None and fiber.id in target.waiters:
                    target.waiters.remove(fiber.id)
        fiber.wait = (kind, key, None, default)
        if default is not NO_DEFAULT:
            self._wake(fiber, RETURN, default)
            return
        what = {"message": f"message :{key}", "callback": "callback", "effect": "effect",
                "future": "future", "any": "futures"}[kind]
        err = fail("timeout", f"Timed out waiting for {what}").value
        self._wake(fiber, RETURN, None)
        self._rethrow_in(fiber, err, None)

    def deliver_message(self, name: str, payload: Any) -> None:
        """A named event arrived: the first waiting ``receive`` gets it, or it is buffered."""
        waiters = self.message_waiters.get(name)
        if waiters:
            fid = waiters.pop(0)
            if not waiters:
                del self.message_waiters[name]
            self._wake(self.fibers[fid], RETURN, payload)
        else:
            self.inbox.setdefault(name, []).append(payload)

    def deliver_callback(self, token: str, payload: Any, error: bool = False) -> None:
        """A callback (or a child program's end) arrived; ``error`` makes the await throw."""
        fid = self.callback_waiters.pop(token, None)
        if fid is None:
            self.callbacks[token] = (payload, error)
        elif error:
            fiber = self.fibers[fid]
            self._wake(fiber, RETURN, None)
            self._rethrow_in(fiber, payload, None)
        else:
            self._wake(self.fibers[fid], RETURN, payload)

    # -- introspection -------------------------------------------------------------------

    def waits(self) -> list[tuple]:
        """What each waiting fiber waits for: ``(fiber id, kind, key)``."""
        return [(f.id, f.wait[0], f.wait[1]) for f in self.fibers.values()
                if f.status == "wait" and f.wait is not None]


def _catches(node: N.Try, value: Any) -> bool:
    if node.catch_body is None:
        return False
    if node.catch_type is None:
        return True
    return isinstance(value, ExInfo) and value.data.get(_TYPE) is node.catch_type


def _call_data(f: Any, args: list[Any]) -> Any:
    n = len(args)
    if n not in (1, 2) or (type(f) is Vector and n != 1):
        raise fail("arity-error",
                   f"Wrong number of arguments ({n}) passed to a {type_name(f)}")
    default = args[1] if n == 2 else None
    t = type(f)
    if t is Keyword:
        coll = args[0]
        if isinstance(coll, Map):
            return coll.get(f, default)
        if isinstance(coll, Set):
            return f if f in coll else default
        return default
    if t is Map:
        try:
            return f.get(args[0], default)
        except TypeError:
            return default
    if t is Set:
        return args[0] if args[0] in f else default
    i = args[0]
    if type(i) is not int or not 0 <= i < len(f):
        raise fail("index-out-of-bounds",
                   f"Index {pr_brief(i)} out of bounds for vector of {len(f)}")
    return f[i]
