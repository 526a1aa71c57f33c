"""The core library as a whole: every built-in is documented, tested, and fails cleanly."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from flowmetal.lang.core import BUILTINS
from flowmetal.lang.data import Atom, Symbol, Transient
from flowmetal.lang.errors import ExInfo, Thrown

from .core_helpers import K, L, M, S, V

# The modules of this library (the compiler's ``core/`` helpers live in ``internal``).
_OURS = {
    "values", "numbers", "predicates", "collections", "strings", "json", "exceptions",
    "atoms", "transients",
}
OURS = sorted(
    name for name, b in BUILTINS.items()
    if b.fn.__module__.rpartition(".")[2] in _OURS and b.fn.__module__.startswith("flowmetal")
)


def test_the_library_is_loaded_by_importing_the_package():
    for name in ["+", "count", "str/join", "json/parse", "ex-info", "reset!", "persistent!"]:
        assert name in BUILTINS


@pytest.mark.parametrize("name", OURS)
def test_every_built_in_has_a_doc_with_a_summary_and_an_example(name):
    doc = BUILTINS[name].doc
    summary = doc.splitlines()[0]
    assert summary.strip() and summary.endswith("."), f"{name}: first line {summary!r}"
    assert f"({name}" in doc, f"{name}: no example call in its doc"
    assert BUILTINS[name].arglists.startswith("[")


def test_every_built_in_is_named_in_a_test():
    here = Path(__file__).parent
    text = "\n".join(p.read_text("utf-8") for p in here.glob("test_core_*.py"))
    untested = [name for name in OURS if f'"{name}"' not in text]
    assert not untested, f"built-ins no test mentions: {untested}"


# Arguments of every kind, most of them wrong for most built-ins.
SAMPLES = [
    0, 7, -2, 1.5, float("nan"), True, None, "ab", "", K("k"), Symbol("s"),
    M(K("a"), 1), M(), V(1, "x"), V(), L(2), S(1), Atom(0), ExInfo("e"),
]


def _sweep(name: str) -> list[str]:
    """Call ``name`` with every combination of up to three samples; list stray exceptions."""
    b = BUILTINS[name]
    high = 3 if b.max_args is None else min(b.max_args, 3)
    problems = []
    for n in range(b.min_args, high + 1):
        for args in itertools.product(SAMPLES + [Transient("vector", [1])], repeat=n):
            try:
                b.fn(*args)
            except Thrown as exc:
                assert isinstance(exc.value, ExInfo)
            except Exception as exc:  # noqa: BLE001 - this is what the test looks for
                problems.append(f"({name} {' '.join(map(repr, args))}): "
                                f"{type(exc).__name__}: {exc}")
    return problems


@pytest.mark.parametrize("name", OURS)
def test_wrong_typed_arguments_throw_flowmetal_errors_not_python_ones(name):
    problems = _sweep(name)
    assert not problems, "\n".join(problems[:10])


@pytest.mark.parametrize("name", OURS)
def test_type_errors_name_the_function_and_the_type(name):
    for value in [K("wrong"), Atom(0)]:
        b = BUILTINS[name]
        args = [value] * max(b.min_args, 1)
        if b.max_args is not None and len(args) > b.max_args:
            continue
        try:
            b.fn(*args)
        except Thrown as exc:
            err = exc.value
            if err.kind == "type-error":
                assert re.search(r"keyword|atom", err.message), err.message
                assert name in err.message or "compare" in err.message, err.message
