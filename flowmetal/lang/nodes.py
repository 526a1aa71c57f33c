"""The compiled form of code: a tree of nodes, numbered, in a content-addressed code unit.

The compiler makes these; the machine steps through them. Every node has a number
(``id``, its index in ``CodeUnit.nodes``) so that a suspended computation can name the node
it stands at as plain data, ``(unit hash, node id)``, and a snapshot never holds code.

Nodes whose evaluation can never suspend or call back into Flowmetal code are marked
``simple``; the machine evaluates them in one step with ``value()``, which is what keeps
arithmetic and comparisons fast. ``value()`` raises ``NotSimple`` when, at run time, a
global turns out not to be a pure built-in (someone redefined ``+``), and the machine then
falls back to stepping through the node.
"""

from __future__ import annotations

from typing import Any

from .core.registry import Builtin
from .data import Span
from .errors import ExInfo, Thrown, fail

__all__ = [
    "Node",
    "CodeUnit",
    "NotSimple",
    "Unbound",
    "Const",
    "Local",
    "Global",
    "If",
    "Do",
    "Def",
    "Fn",
    "Arity",
    "Let",
    "Loop",
    "Recur",
    "Call",
    "Try",
    "Throw",
]


class NotSimple(Exception):
    """Raised by ``value()`` when a node must be stepped after all."""


class Unbound(Exception):
    """A global was read before anything defined it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class CodeUnit:
    """Compiled code for one source (a file, a REPL input), addressed by ``hash``."""

    __slots__ = ("hash", "source_name", "nodes", "toplevel", "blob")

    def __init__(self, source_name: str) -> None:
        self.hash = ""
        self.source_name = source_name
        self.nodes: list[Node] = []
        self.toplevel: list[Node] = []
        self.blob = b""

    def __repr__(self) -> str:
        return f"<CodeUnit {self.source_name} {self.hash[:12]} {len(self.nodes)} nodes>"


class Node:
    """Base of all nodes. ``fn_name`` names the enclosing function, for stack traces."""

    __slots__ = ("op", "id", "unit", "span", "fn_name", "simple", "fast")
    OP = -1

    def __init__(self, unit: CodeUnit, span: Span | None, fn_name: str) -> None:
        self.fast = self.value  # replaced by generated code for simple subtrees (fastpath)
        self.op = self.OP
        self.id = len(unit.nodes)
        unit.nodes.append(self)
        self.unit = unit
        self.span = span
        self.fn_name = fn_name
        self.simple = False

    def value(self, env: list, glob: dict) -> Any:
        raise NotSimple


class Const(Node):
    __slots__ = ("const",)
    OP = 0

    def __init__(self, unit: CodeUnit, span: Span | None, fn_name: str, const: Any) -> None:
        super().__init__(unit, span, fn_name)
        self.const = const
        self.simple = True

    def value(self, env: list, glob: dict) -> Any:
        return self.const


class Local(Node):
    """A local variable: ``depth`` frames up the environment chain, slot ``index``."""

    __slots__ = ("depth", "index", "name")
    OP = 1

    def __init__(self, unit, span, fn_name, depth: int, index: int, name: str) -> None:
        super().__init__(unit, span, fn_name)
        self.depth = depth
        self.index = index + 1  # slot 0 of every frame is its parent
        self.name = name
        self.simple = True

    def value(self, env: list, glob: dict) -> Any:
        for _ in range(self.depth):
            env = env[0]
        return env[self.index]


class Local0(Local):
    """A local of the innermost frame, the common case, without the walk up the chain."""

    __slots__ = ()

    def value(self, env: list, glob: dict) -> Any:
        return env[self.index]


class Local1(Local):
    __slots__ = ()

    def value(self, env: list, glob: dict) -> Any:
        return env[0][self.index]


def make_local(unit: CodeUnit, span: Span | None, fn_name: str, depth: int, index: int,
               name: str) -> Local:
    cls = Local0 if depth == 0 else Local1 if depth == 1 else Local
    return cls(unit, span, fn_name, depth, index, name)


class Global(Node):
    __slots__ = ("name",)
    OP = 2

    def __init__(self, unit, span, fn_name, name: str) -> None:
        super().__init__(unit, span, fn_name)
        self.name = name
        self.simple = True

    def value(self, env: list, glob: dict) -> Any:
        try:
            return glob[self.name]
        except KeyError:
            raise Unbound(self.name) from None


class If(Node):
    __slots__ = ("test", "then", "else_")
    OP = 3

    def __init__(self, unit, span, fn_name, test: Node, then: Node, else_: Node) -> None:
        super().__init__(unit, span, fn_name)
        self.test, self.then, self.else_ = test, then, else_
        self.simple = test.simple and then.simple and else_.simple

    def value(self, env: list, glob: dict) -> Any:
        t = self.test.value(env, glob)
        if t is None or t is False:
            return self.else_.value(env, glob)
        return self.then.value(env, glob)


class Do(Node):
    __slots__ = ("body",)
    OP = 4

    def __init__(self, unit, span, fn_name, body: tuple[Node, ...]) -> None:
        super().__init__(unit, span, fn_name)
        self.body = body


class Def(Node):
    __slots__ = ("name", "init", "doc", "macro")
    OP = 5

    def __init__(self, unit, span, fn_name, name: str, init: Node | None, doc: str | None):
        super().__init__(unit, span, fn_name)
        self.name, self.init, self.doc = name, init, doc
        self.macro = False


class Arity:
    """One arity of a ``fn``: ``nparams`` fixed parameters, maybe a rest parameter.

    ``names`` names the slots of the frame a call makes (parameters, then the rest
    parameter), for debuggers; the machine itself never reads it.
    """

    __slots__ = ("nparams", "rest", "body", "params_text", "names")

    def __init__(self, nparams: int, rest: bool, body: Node, params_text: str,
                 names: tuple[str, ...] = ()) -> None:
        self.nparams, self.rest, self.body, self.params_text = nparams, rest, body, params_text
        self.names = names


class Fn(Node):
    """A ``fn`` expression; evaluating it makes a closure over the current environment."""

    __slots__ = ("name", "fixed", "variadic", "self_slot")
    OP = 6

    def __init__(self, unit, span, fn_name, name: str | None) -> None:
        super().__init__(unit, span, fn_name)
        self.name = name
        self.fixed: dict[int, Arity] = {}
        self.variadic: Arity | None = None
        self.self_slot = False  # a named fn binds itself in a frame of its own
        self.simple = True

    def value(self, env: list, glob: dict) -> Any:
        from .functions import Closure

        if self.self_slot:
            env = [env, None]
            closure = Closure(self, env)
            env[1] = closure
            return closure
        return Closure(self, env)

    def arglists(self) -> str:
        arities = list(self.fixed.values()) + ([self.variadic] if self.variadic else [])
        return " ".join(a.params_text for a in arities)


class Let(Node):
    """``let``: a new frame of ``size`` slots, filled in order, then the body.

    ``names`` names those slots (for debuggers; the machine never reads it).
    """

    __slots__ = ("inits", "body", "size", "names")
    OP = 7

    def __init__(self, unit, span, fn_name, inits: tuple[Node, ...], body: Node,
                 names: tuple[str, ...] = ()) -> None:
        super().__init__(unit, span, fn_name)
        self.inits, self.body, self.size = inits, body, len(inits)
        self.names = names


class Loop(Let):
    __slots__ = ()
    OP = 8


class Recur(Node):
    """``recur`` to the enclosing ``loop`` (``loop`` set) or function arity."""

    __slots__ = ("args", "loop", "arity", "depth")
    OP = 9

    def __init__(self, unit, span, fn_name, args: tuple[Node, ...], loop: Loop | None,
                 arity: Arity | None, depth: int) -> None:
        super().__init__(unit, span, fn_name)
        self.args, self.loop, self.arity = args, loop, arity
        self.depth = depth  # frames between the recur and the frame it rebinds


class Call(Node):
    __slots__ = ("fn", "args", "all_simple", "parts", "nparts")
    OP = 10

    def __init__(self, unit, span, fn_name, fn: Node, args: tuple[Node, ...]) -> None:
        super().__init__(unit, span, fn_name)
        self.fn, self.args = fn, args
        self.parts = (fn, *args)
        self.nparts = len(self.parts)
        self.all_simple = fn.simple and all(a.simple for a in args)
        # Only calls of globals can be pure built-ins; the check happens at run time.
        self.simple = self.all_simple and isinstance(fn, Global)

    def value(self, env: list, glob: dict) -> Any:
        f = self.fn.value(env, glob)
        if type(f) is not Builtin or not f.pure:
            raise NotSimple
        args = self.args
        n = len(args)
        # Unrolled for the common arities: this is the hottest code in the interpreter.
        if n == 2 and f.min_args <= 2 and (f.max_args is None or f.max_args >= 2):
            a = args[0].value(env, glob)
            b = args[1].value(env, glob)
            try:
                return f.fn(a, b)
            except Exception as exc:
                raise builtin_error(f, exc, self) from None
        if n == 1 and f.min_args <= 1 and (f.max_args is None or f.max_args >= 1):
            a = args[0].value(env, glob)
            try:
                return f.fn(a)
            except Exception as exc:
                raise builtin_error(f, exc, self) from None
        return call_builtin(f, [a.value(env, glob) for a in args], self)


class Try(Node):
    """``try``; ``catch_name`` names the one slot of the frame its catch body runs in."""

    __slots__ = ("body", "catch_type", "catch_body", "finally_body", "catch_name")
    OP = 11

    def __init__(self, unit, span, fn_name, body: Node, catch_type: Any, catch_body: Node | None,
                 finally_body: Node | None, catch_name: str | None = None) -> None:
        super().__init__(unit, span, fn_name)
        self.body, self.catch_type = body, catch_type
        self.catch_body, self.finally_body = catch_body, finally_body
        self.catch_name = catch_name


class Throw(Node):
    __slots__ = ("expr",)
    OP = 12

    def __init__(self, unit, span, fn_name, expr: Node) -> None:
        super().__init__(unit, span, fn_name)
        self.expr = expr


def call_builtin(f: Builtin, args: list, node: Node) -> Any:
    """Apply a built-in, turning arity mistakes and stray Python errors into Flowmetal throws."""
    n = len(args)
    if n < f.min_args or (f.max_args is not None and n > f.max_args):
        raise fail("arity-error", f"Wrong number of arguments ({n}) passed to {f.name}",
                   function=f.name)
    try:
        return f.fn(*args)
    except Exception as exc:
        raise builtin_error(f, exc, node) from None


def builtin_error(f: Builtin, exc: Exception, node: Node | None) -> Thrown:
    """The Flowmetal error for an exception a built-in raised, placed at ``node``."""
    if isinstance(exc, Thrown):
        thrown = exc
    elif isinstance(exc, ZeroDivisionError):
        thrown = fail("arithmetic-error", "Divide by zero", function=f.name)
    elif isinstance(exc, RecursionError):
        thrown = fail("stack-overflow", f"{f.name}: value nested too deeply")
    else:  # a built-in bug must still reach the program as an error, not a traceback
        thrown = fail("internal-error", f"{f.name}: {type(exc).__name__}: {exc}",
                      function=f.name)
    info = thrown.value
    if isinstance(info, ExInfo) and info.span is None and node is not None:
        info.span = node.span
    return thrown


def error_value(exc: Thrown | ExInfo) -> Any:
    return exc.value if isinstance(exc, Thrown) else exc
