"""Shorthands for the core library tests: call a built-in by name, build values tersely."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from flowmetal.lang.core import BUILTINS
from flowmetal.lang.data import Keyword, List, Map, Set, Vector, kw
from flowmetal.lang.errors import ExInfo, Thrown


def call(name: str, *args: Any) -> Any:
    """Call the built-in ``name`` the way the machine does, after checking the arity."""
    b = BUILTINS[name]
    assert len(args) >= b.min_args, f"{name} needs at least {b.min_args} arguments"
    assert b.max_args is None or len(args) <= b.max_args, f"{name} takes at most {b.max_args}"
    return b.fn(*args)


@contextmanager
def throws(kind: str, match: str | None = None) -> Iterator[pytest.ExceptionInfo[Thrown]]:
    """Expect a Flowmetal throw of ``:type kind`` (and a message containing ``match``)."""
    with pytest.raises(Thrown) as info:
        yield info
    error = info.value.value
    assert isinstance(error, ExInfo)
    assert error.kind == kind, f"expected {kind}, got {error.kind}: {error.message}"
    if match is not None:
        assert match in error.message, error.message


def K(name: str) -> Keyword:
    return kw(name)


def V(*items: Any) -> Vector:
    return Vector(items)


def L(*items: Any) -> List:
    return List(items)


def S(*items: Any) -> Set:
    return Set(items)


def M(*kvs: Any) -> Map:
    it = iter(kvs)
    return Map(zip(it, it))


def same(a: Any, b: Any) -> bool:
    """Exactly the same value: equal AND of the same types all the way down.

    Python's ``==`` says ``(1,) == [1]``-ish things (a List equals a Vector, 1 equals 1.0
    and True), which would hide the very mistakes these tests look for.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, (List, Vector, list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, Map):
        return same(list(a.items()), list(b.items()))
    if isinstance(a, Set):
        return list(a) == list(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return a == b
