"""The base environment (built-ins, primitives, prelude) and the stage-by-stage pipeline.

``load(text, source)`` runs the stages in order, stopping at the first that reports an
error: ``reader.read`` -> ``compiler.compile`` -> a ``CodeUnit``; ``new_machine(unit)`` then
gives a machine ready to ``run``. The base environment is built once per process; every
program's globals start as a copy of it.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from . import compiler, primitives, sequences  # noqa: F401  (they register themselves)
from . import nodes as N
from .core import BUILTINS
from .errors import CompileError, EvalError
from .functions import PRIMITIVES, Closure
from .machine import Done, Failed, Machine, OutOfFuel, Suspended
from .reader import read

__all__ = ["Base", "base", "load", "new_machine", "CompileHost", "run_to_end"]

_SYNC_FUEL = 50_000_000


class CompileHost:
    """Lets the compiler find macros in ``glob`` and run code at compile time.

    Compile-time definitions go into a private copy of the globals, so compiling never
    changes the program it compiles for.
    """

    def __init__(self, glob: dict[str, Any]) -> None:
        self.glob = dict(glob)

    def lookup(self, name: str) -> Any:
        return self.glob.get(name)

    def defines(self, name: str) -> bool:
        """Is ``name`` a global at all (even one bound to nil)?"""
        return name in self.glob

    def expand(self, macro: Any, form: Any, args: list[Any]) -> Any:
        m = Machine(self.glob)
        m.start_call(macro.closure, args)
        return run_to_end(m, f"macro {macro.name}")

    def define_now(self, node: N.Node) -> None:
        m = Machine(self.glob)
        m.start_node(node)
        run_to_end(m, "a definition at compile time")


def run_to_end(m: Machine, what: str) -> Any:
    """Run a machine that must not wait on anything (macros, compile-time code)."""
    outcome = m.run(_SYNC_FUEL)
    if isinstance(outcome, Done):
        return outcome.value
    if isinstance(outcome, Failed):
        raise EvalError(outcome.error)
    if isinstance(outcome, Suspended):
        kinds = ", ".join(r.kind for r in outcome.requests)
        raise CompileError(f"{what} tried to perform an effect ({kinds}); effects can't run "
                           "at compile time")
    assert isinstance(outcome, OutOfFuel)
    raise CompileError(f"{what} ran for more than {_SYNC_FUEL} steps")


class Base:
    """The globals every program starts from, and the prelude's code unit."""

    def __init__(self) -> None:
        glob: dict[str, Any] = {}
        glob.update(BUILTINS)
        glob.update(PRIMITIVES)
        glob["core/sort"] = BUILTINS["sort"]
        text = resources.files("flowmetal.lang").joinpath("prelude.flow").read_text("utf-8")
        unit = compiler.compile(read(text, "prelude.flow"), "prelude.flow", CompileHost(glob))
        m = Machine(glob)
        m.start(unit)
        run_to_end(m, "the prelude")
        self.glob = glob
        self.docs = m.docs
        self.prelude = unit
        self.units: dict[str, N.CodeUnit] = {unit.hash: unit}

    def doc(self, name: str) -> tuple[str, str] | None:
        """``(arglists, doc)`` of a built-in, primitive or prelude definition."""
        value = self.glob.get(name)
        if value is None:
            return None
        if hasattr(value, "doc") and hasattr(value, "arglists"):
            return value.arglists, value.doc
        info = self.docs.get(name)
        if info is not None:
            from .data import kw

            return str(info.get(kw("arglists"), "")), str(info.get(kw("doc"), ""))
        if isinstance(value, Closure):
            return value.fn.arglists(), ""
        return None


_BASE: Base | None = None


def base() -> Base:
    """The process-wide base environment, built on first use."""
    global _BASE
    if _BASE is None:
        _BASE = Base()
    return _BASE


def load(text: str, source: str = "<string>", glob: dict[str, Any] | None = None
         ) -> N.CodeUnit:
    """Read and compile ``text``; macros and names resolve against ``glob`` (default: base)."""
    b = base()
    forms = read(text, source)
    from .core.internal import reset_gensym

    reset_gensym()
    unit = compiler.compile(forms, source, CompileHost(glob if glob is not None else b.glob))
    b.units.setdefault(unit.hash, unit)
    return unit


def new_machine(unit: N.CodeUnit, main_args: Any = None, glob: dict[str, Any] | None = None
                ) -> Machine:
    """A machine that will run ``unit`` (then ``main`` with ``main_args`` if given)."""
    m = Machine(dict(base().glob) if glob is None else glob)
    m.start(unit, main_args)
    return m
