"""Atoms: ``atom``, ``deref``, ``reset!``."""

from __future__ import annotations

from flowmetal.lang.core import BUILTINS
from flowmetal.lang.data import Atom

from .core_helpers import V, call, throws


def test_atom_holds_a_value_that_deref_reads():
    a = call("atom", V(1))
    assert isinstance(a, Atom)
    assert call("deref", a) == V(1)


def test_reset_replaces_the_value_and_returns_it():
    a = call("atom", 0)
    assert call("reset!", a, 5) == 5
    assert call("deref", a) == 5


def test_reset_is_marked_impure_and_deref_is_pure():
    assert BUILTINS["reset!"].pure is False
    assert BUILTINS["deref"].pure is True


def test_deref_and_reset_need_an_atom():
    with throws("type-error", "deref expects an atom, got integer"):
        call("deref", 5)
    with throws("type-error", "reset!"):
        call("reset!", None, 1)
