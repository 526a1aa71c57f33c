"""Shorthands for tests that run Flowmetal source: evaluate it, print its value, catch
its errors. Values are compared through ``pr_str`` so a list and a vector (or ``1`` and
``true``) never pass for each other."""

from __future__ import annotations

from typing import Any

import pytest

from flowmetal.lang import CompileError, EvalError, evaluate, pr_str


def show(src: str, source: str = "<eval>") -> str:
    """The printed value of ``src``."""
    return pr_str(evaluate(src, source).value)


def output(src: str) -> str:
    """What ``src`` printed."""
    return evaluate(src).output


def run(src: str) -> tuple[str, str]:
    """The printed value and the output of ``src``."""
    result = evaluate(src)
    return pr_str(result.value), result.output


def uncaught(src: str, source: str = "<eval>") -> EvalError:
    """The runtime error ``src`` ends with."""
    with pytest.raises(EvalError) as info:
        evaluate(src, source)
    return info.value


def compile_error(src: str, source: str = "job.flow") -> CompileError:
    """The compile error ``src`` gives."""
    with pytest.raises(CompileError) as info:
        evaluate(src, source)
    return info.value


def caught_type(expr: str) -> str:
    """The ``:type`` of the error ``expr`` throws, as seen by a ``catch``."""
    return show(f"(try {expr} :no-error (catch e (:type (ex-data e))))")


def where(err: Any) -> tuple[int, int]:
    return err.span.line, err.span.col
