"""Function-like values: closures, macros, machine primitives, effects, and futures.

None of them holds a Python callable that calls back into Flowmetal code: a closure is a
pointer to a ``Fn`` node plus its environment, and primitives act on the machine's
registers in one step. That is what lets any suspended computation be stored as data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .nodes import Fn

__all__ = ["Closure", "Macro", "Primitive", "Future", "PRIMITIVES"]


class Closure:
    """A function made by ``fn``: code (a ``Fn`` node) plus the environment it closed over."""

    __slots__ = ("fn", "env")
    type_name = "function"

    def __init__(self, fn: Fn, env: list) -> None:
        self.fn = fn
        self.env = env

    @property
    def name(self) -> str:
        return self.fn.name or "fn"

    def __repr__(self) -> str:
        return f"#<fn {self.name}>"


class Macro:
    """A macro: a closure the compiler calls on unevaluated forms."""

    __slots__ = ("closure",)
    type_name = "macro"

    def __init__(self, closure: Closure) -> None:
        self.closure = closure

    @property
    def name(self) -> str:
        return self.closure.name

    def __repr__(self) -> str:
        return f"#<macro {self.name}>"


class Primitive:
    """A function the machine implements directly because it needs the machine itself:
    ``apply``, ``swap!``, ``await`` and the effects. ``handler(machine, args)`` runs as one
    step and leaves the machine's registers set for the next one.
    """

    __slots__ = ("name", "handler", "doc", "arglists", "min_args", "max_args", "effect")
    type_name = "function"

    def __init__(self, name: str, handler: Callable[..., Any], doc: str, arglists: str,
                 min_args: int, max_args: int | None, effect: bool = False) -> None:
        self.name = name
        self.handler = handler
        self.doc = doc
        self.arglists = arglists
        self.min_args = min_args
        self.max_args = max_args
        self.effect = effect

    def __repr__(self) -> str:
        return f"#<builtin {self.name}>"


class Future:
    """The result-to-be of ``(async ...)``: names a fiber of the same program."""

    __slots__ = ("fiber",)
    type_name = "future"

    def __init__(self, fiber: int) -> None:
        self.fiber = fiber

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Future) and other.fiber == self.fiber

    def __hash__(self) -> int:
        return hash(("future", self.fiber))

    def __repr__(self) -> str:
        return f"#future[{self.fiber}]"


PRIMITIVES: dict[str, Primitive] = {}
