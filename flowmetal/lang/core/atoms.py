"""Atoms, the one mutable value: ``atom``, ``deref`` and ``reset!``.

``swap!`` is not here: it calls a function, so it lives in the prelude / machine, where a
suspended computation never holds a Python frame.
"""

from __future__ import annotations

from typing import Any

from ..data import Atom
from .registry import builtin
from .values import type_error


@builtin("atom")
def atom(x: Any) -> Atom:
    """A new atom holding x.

    (def counter (atom 0))
    """
    return Atom(x)


@builtin("deref")
def deref(ref: Any) -> Any:
    """The current value of an atom; ``@a`` is short for ``(deref a)``.

    (deref (atom 5)) ;=> 5
    """
    if type(ref) is Atom:
        return ref.value
    raise type_error("deref", "an atom", ref)


@builtin("reset!", pure=False)
def reset(a: Any, new_value: Any) -> Any:
    """Set the atom's value to new-value, whatever it was, and return new-value.

    (reset! counter 0) ;=> 0
    """
    if type(a) is not Atom:
        raise type_error("reset!", "an atom", a)
    a.value = new_value
    return new_value
