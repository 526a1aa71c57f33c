"""The table of built-in functions, and the decorator that fills it.

A built-in is a plain Python function over Flowmetal values. It must not call back into
the evaluator (higher-order functions live in the prelude, written in Flowmetal, so that a
suspended computation never holds a Python frame). It reports errors with
``raise fail("type-error", "...")`` so programs can catch them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["Builtin", "BUILTINS", "builtin"]


class Builtin:
    """A built-in function value. ``pure`` ones may be evaluated eagerly by the machine."""

    __slots__ = ("name", "fn", "doc", "arglists", "min_args", "max_args", "pure")
    type_name = "function"

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        doc: str,
        arglists: str,
        min_args: int,
        max_args: int | None,
        pure: bool,
    ) -> None:
        self.name = name
        self.fn = fn
        self.doc = doc
        self.arglists = arglists
        self.min_args = min_args
        self.max_args = max_args
        self.pure = pure

    def __repr__(self) -> str:
        return f"#<builtin {self.name}>"


BUILTINS: dict[str, Builtin] = {}


def _arity(fn: Callable[..., Any]) -> tuple[int, int | None]:
    low, high = 0, 0
    for param in inspect.signature(fn).parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            return low, None
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            high += 1
            if param.default is param.empty:
                low += 1
    return low, high


def _arglists(fn: Callable[..., Any]) -> str:
    parts = []
    for param in inspect.signature(fn).parameters.values():
        name = param.name.rstrip("_").replace("_", "-")
        if param.kind is param.VAR_POSITIONAL:
            parts.append(f"& {name}")
        elif param.default is not param.empty:
            parts.append(f"{name}?")
        else:
            parts.append(name)
    return "[" + " ".join(parts) + "]"


def builtin(
    name: str, *, arglists: str | None = None, pure: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as the built-in ``name``; its docstring is what ``,doc`` shows.

    Example::

        @builtin("inc")
        def inc(x):
            "Return x plus one."
            return add(x, 1)

    ``pure=False`` marks built-ins with side effects on atoms, so the machine never runs
    them speculatively.
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        low, high = _arity(fn)
        doc = inspect.cleandoc(fn.__doc__ or "")
        if not doc:
            raise ValueError(f"built-in {name} needs a docstring")
        BUILTINS[name] = Builtin(name, fn, doc, arglists or _arglists(fn), low, high, pure)
        return fn

    return register
