"""The fast path: simple expressions compiled to Python functions.

A *simple* node (constants, locals, globals, ``if``, calls of pure built-ins on simple
arguments) can't suspend and has no effect, so the machine evaluates it in one step. Doing
that by walking the node tree costs a Python call per node; here each simple subtree
becomes the source of one Python function, built once per code unit, that computes the
whole expression inline: ``(< n 2)`` becomes ``lt(env[1], 2)``.

Correctness does not depend on it. The generated function first checks that every global
it calls is still the built-in it was compiled against (else ``NotSimple``: the machine
steps through the node instead); and when anything inside raises, it re-runs the plain
tree walk (``node.value``), which is pure, so errors come out exactly as without it.
These functions are part of the code, rebuilt whenever a unit is compiled; they are never
part of a suspended computation.
"""

from __future__ import annotations

from typing import Any

from . import nodes as N
from .core.registry import BUILTINS, Builtin

__all__ = ["speed_up"]

_LITERALS = (int, bool, type(None))
_MAX_NODES = 60  # larger simple trees are rare; keep the generated code small


class _Gen:
    def __init__(self) -> None:
        self.consts: dict[str, Any] = {}
        self.guards: dict[str, str] = {}  # global name -> variable holding its builtin
        self.temps = 0
        self.size = 0

    def const(self, value: Any) -> str:
        if type(value) in _LITERALS and (type(value) is not int or abs(value) < 2**62):
            return repr(value)
        name = f"k{len(self.consts)}"
        self.consts[name] = value
        return name

    def expr(self, node: N.Node) -> str:
        self.size += 1
        if self.size > _MAX_NODES:
            raise _TooBig
        t = type(node)
        if t is N.Const:
            return self.const(node.const)
        if isinstance(node, N.Local):
            return "env" + "[0]" * node.depth + f"[{node.index}]"
        if t is N.Global:
            return f"_g(glob, {node.name!r})"
        if t is N.If:
            self.temps += 1
            tmp = f"t{self.temps}"
            test = self.expr(node.test)
            return (f"(({self.expr(node.else_)}) if (({tmp} := {test}) is None or {tmp} is False)"
                    f" else ({self.expr(node.then)}))")
        if t is N.Call and isinstance(node.fn, N.Global):
            b = BUILTINS.get(node.fn.name)
            n = len(node.args)
            if (isinstance(b, Builtin) and b.pure and b.min_args <= n
                    and (b.max_args is None or n <= b.max_args)):
                var = self.guards.get(node.fn.name)
                if var is None:
                    var = f"b{len(self.guards)}"
                    self.guards[node.fn.name] = var
                    self.consts[var] = b
                    self.consts[var + "f"] = b.fn
                inline = _INLINE.get((node.fn.name, n))
                if inline is not None and b is BUILTINS.get(node.fn.name):
                    return self.inline(inline, var, [self.expr(a) for a in node.args], node.args)
                args = ", ".join(self.expr(a) for a in node.args)
                return f"{var}f({args})"
        # Anything else simple (a fn expression...): the node's own evaluation.
        name = f"n{len(self.consts)}"
        self.consts[name] = node
        return f"{name}.value(env, glob)"


    def temp(self) -> str:
        self.temps += 1
        return f"t{self.temps}"

    def inline(self, op: tuple[str, str], var: str, args: list[str],
               arg_nodes: tuple[N.Node, ...]) -> str:
        """Numbers straight into Python's operator, anything else to the built-in (which
        then reports the type error exactly as it would have)."""
        python_op, kinds = op
        checks, names = [], []
        for code, node in zip(args, arg_nodes, strict=True):
            if type(node) is N.Const and type(node.const) in _KINDS[kinds]:
                names.append(code)  # a number literal: no check at run time
                continue
            t = self.temp()
            names.append(t)
            first, *rest = _KINDS[kinds]
            alts = [f"type({t} := {code}) is {first.__name__}",
                    *(f"type({t}) is {k.__name__}" for k in rest)]
            checks.append(f"({' or '.join(alts)})")
        # ``&`` rather than ``and``: every temporary must be bound for the fallback call.
        test = " & ".join(checks) or "True"
        args_text = ", ".join(names)
        expr = f"{names[0]} {python_op}" + (f" {names[1]}" if len(names) == 2 else "")
        return f"(({expr}) if {test} else {var}f({args_text}))"


# Built-ins whose two-number (or one-number) case is Python's own operator. ``=`` only for
# integers: (= 1 1.0) is false in Flowmetal. Floats stay out of ``=`` for the same reason.
_NUMS, _INTS = "NUMS", "INTS"
_KINDS: dict[str, tuple[type, ...]] = {_NUMS: (int, float), _INTS: (int,)}
_INLINE: dict[tuple[str, int], tuple[str, str]] = {
    ("+", 2): ("+", _NUMS), ("-", 2): ("-", _NUMS), ("*", 2): ("*", _NUMS),
    ("<", 2): ("<", _NUMS), (">", 2): (">", _NUMS), ("<=", 2): ("<=", _NUMS),
    (">=", 2): (">=", _NUMS), ("=", 2): ("==", _INTS), ("==", 2): ("==", _NUMS),
    ("inc", 1): ("+ 1", _NUMS), ("dec", 1): ("- 1", _NUMS),
}


class _TooBig(Exception):
    pass


def _global(glob: dict, name: str) -> Any:
    try:
        return glob[name]
    except KeyError:
        raise N.Unbound(name) from None


def _build(node: N.Node) -> Any:
    gen = _Gen()
    try:
        body = gen.expr(node)
    except _TooBig:
        return None
    if not gen.guards:
        return None  # nothing to gain over the node's own value()
    get = "glob.get" if len(gen.guards) == 1 else "get"
    guard = " or ".join(f"{get}({name!r}) is not {var}" for name, var in gen.guards.items())
    src = (
        "def make(" + ", ".join(["_g", "NotSimple", "slow", *gen.consts]) + "):\n"
        "    def fast(env, glob):\n"
        + ("        get = glob.get\n" if get == "get" else "")
        + f"        if {guard}:\n"
        "            raise NotSimple\n"
        "        try:\n"
        f"            return {body}\n"
        "        except Exception:\n"
        "            return slow(env, glob)\n"
        "    return fast\n"
    )
    scope: dict[str, Any] = {}
    exec(compile(src, f"<fastpath {node.span}>", "exec"), scope)  # noqa: S102
    return scope["make"](_global, N.NotSimple, node.value, *gen.consts.values())


def speed_up(unit: N.CodeUnit) -> None:
    """Give each outermost simple call or ``if`` of ``unit`` a generated ``fast`` function."""
    inner: set[int] = set()
    for node in unit.nodes:
        if node.simple and type(node) in (N.Call, N.If):
            for child in _children(node):
                inner.add(id(child))
    for node in unit.nodes:
        if node.simple and type(node) in (N.Call, N.If) and id(node) not in inner:
            fast = _build(node)
            if fast is not None:
                node.fast = fast


def _children(node: N.Node) -> list[N.Node]:
    if type(node) is N.If:
        return [node.test, node.then, node.else_]
    if type(node) is N.Call:
        return [node.fn, *node.args]
    return []
