"""Error values: ``ex-info`` makes one, ``ex-message``, ``ex-data`` and ``ex-cause`` read it.

These are the same ``ExInfo`` values that built-ins throw, so a ``catch`` can inspect a
``:type-error`` from ``count`` exactly as it inspects its own errors.
"""

from __future__ import annotations

from typing import Any

from ..data import Map
from ..errors import ExInfo
from .registry import builtin
from .values import type_error


@builtin("ex-info", arglists="[message data] [message data cause]")
def ex_info(message: Any, data: Any, cause: Any = None) -> ExInfo:
    """Make an error value with a message, a data map and an optional cause, to ``throw``.

    (throw (ex-info "Not found" {:type :not-found :id 7}))
    """
    if type(message) is not str:
        raise type_error("ex-info", "a string message", message)
    if data is not None and type(data) is not Map:
        raise type_error("ex-info", "a data map", data)
    if cause is not None and not isinstance(cause, ExInfo):
        raise type_error("ex-info", "an error as the cause", cause)
    return ExInfo(message, data if data is not None else Map(), cause)


@builtin("ex-message")
def ex_message(e: Any) -> str | None:
    """The message of an error value, or nil if e is not an error.

    (ex-message (ex-info "boom" {})) ;=> "boom"
    """
    return e.message if isinstance(e, ExInfo) else None


@builtin("ex-data")
def ex_data(e: Any) -> Map | None:
    """The data map of an error value, or nil if e is not an error.

    (ex-data (ex-info "boom" {:a 1})) ;=> {:a 1}
    """
    return e.data if isinstance(e, ExInfo) else None


@builtin("ex-cause")
def ex_cause(e: Any) -> ExInfo | None:
    """The cause of an error value, or nil if it has none or e is not an error.

    (ex-cause (ex-info "outer" {} (ex-info "inner" {}))) ;=> the inner error
    """
    return e.cause if isinstance(e, ExInfo) else None
