"""Flowmetal values as JSON, for the store's event log and for the outside world.

Two mappings, because the two audiences differ:

- ``to_json`` / ``from_json`` are lossless, for what the runtime writes and reads back
  (results, effect values, requests). Keywords are ``":name"`` strings, symbols ``"~$name"``;
  a string that starts with ``:`` or ``~`` gets a ``~`` in front. Lists, sets, maps with
  non-string keys and odd floats are one-key objects: ``{"~list": [...]}``, ``{"~set": [...]}``,
  ``{"~map": [[k, v], ...]}``, ``{"~float": "inf"}``; errors are ``{"~error": {...}}``.
  So ``{:status :ok, :n [1 2]}`` is ``{":status": ":ok", ":n": [1, 2]}``.
- ``from_plain`` reads JSON that came from outside (a webhook body, a task result, a
  message sent with ``flowmetal send``): objects become maps with string keys, arrays
  vectors, and strings stay strings whatever they start with.
"""

from __future__ import annotations

import math
from typing import Any

from ..lang.data import Atom, Keyword, List, Map, Set, Symbol, Vector, kw
from ..lang.errors import ExInfo, TraceEntry
from ..lang.functions import Future

__all__ = ["to_json", "from_json", "from_plain", "error_to_json", "error_from_json"]


def _str_out(s: str) -> str:
    return "~" + s if s[:1] in (":", "~") else s


def _str_in(s: str) -> Any:
    if s[:1] == ":" and len(s) > 1:
        return kw(s[1:])
    if s[:2] == "~$":
        return Symbol(s[2:])
    if s[:1] == "~":
        return s[1:]
    return s


def _key_out(k: Any) -> str | None:
    if type(k) is str:
        return _str_out(k)
    if type(k) is Keyword:
        return ":" + k.full
    return None


def to_json(value: Any) -> Any:
    """A JSON-compatible structure that ``from_json`` turns back into ``value``."""
    t = type(value)
    if value is None or t is bool or t is int:
        return value
    if t is float:
        if math.isfinite(value):
            return value
        return {"~float": "nan" if value != value else ("inf" if value > 0 else "-inf")}
    if t is str:
        return _str_out(value)
    if t is Keyword:
        return ":" + value.full
    if t is Symbol:
        return "~$" + value.full
    if t is Vector:
        return [to_json(x) for x in value]
    if t is List:
        return {"~list": [to_json(x) for x in value]}
    if t is Set:
        return {"~set": [to_json(x) for x in value]}
    if isinstance(value, Map):
        keys = [_key_out(k) for k in value.keys()]
        if all(k is not None for k in keys):
            return {k: to_json(v) for k, v in zip(keys, value.values())}
        return {"~map": [[to_json(k), to_json(v)] for k, v in value.items()]}
    if t is ExInfo:
        return {"~error": error_to_json(value)}
    if t is Future:
        return {"~future": value.fiber}
    if t is Atom:
        return {"~atom": to_json(value.value)}
    from ..lang.printer import pr_str

    return {"~opaque": pr_str(value)}


def from_json(data: Any) -> Any:
    """The Flowmetal value that ``to_json`` wrote."""
    t = type(data)
    if data is None or t in (bool, int, float):
        return data
    if t is str:
        return _str_in(data)
    if t is list:
        return Vector(from_json(x) for x in data)
    if t is dict:
        if len(data) == 1:
            (tag, inner), = data.items()
            if tag == "~list":
                return List(from_json(x) for x in inner)
            if tag == "~set":
                return Set(from_json(x) for x in inner)
            if tag == "~map":
                return Map((from_json(k), from_json(v)) for k, v in inner)
            if tag == "~float":
                return float(inner)
            if tag == "~error":
                return error_from_json(inner)
            if tag == "~future":
                return Future(inner)
            if tag == "~atom":
                return Atom(from_json(inner))
            if tag == "~opaque":
                return inner
        return Map((_str_in(k), from_json(v)) for k, v in data.items())
    raise TypeError(f"not JSON data: {type(data).__name__}")


def from_plain(data: Any) -> Any:
    """Plain JSON from outside: objects -> maps with string keys, arrays -> vectors."""
    t = type(data)
    if data is None or t in (bool, int, float, str):
        return data
    if t is list:
        return Vector(from_plain(x) for x in data)
    if t is dict:
        return Map((k, from_plain(v)) for k, v in data.items())
    raise TypeError(f"not JSON data: {type(data).__name__}")


def error_to_json(err: Any) -> dict:
    """An error value as JSON: message, type, data, where, and the Flowmetal stack."""
    if not isinstance(err, ExInfo):
        return {"message": "uncaught throw of a non-error value", "type": "throw",
                "data": to_json(err), "trace": []}
    return {
        "message": err.message,
        "type": err.kind,
        "data": to_json(err.data),
        "where": str(err.span) if err.span else None,
        "trace": [[t.name, t.where] for t in err.trace],
        "cause": error_to_json(err.cause) if err.cause is not None else None,
    }


def error_from_json(data: Any) -> ExInfo:
    """An error value from its JSON form (or from a plain message an outside worker sent)."""
    if isinstance(data, str):
        return ExInfo(data, Map({kw("type"): kw("effect-failed")}))
    if not isinstance(data, dict):
        return ExInfo("effect failed", Map({kw("type"): kw("effect-failed"),
                                            kw("detail"): from_plain(data)}))
    raw = data.get("data")
    payload = from_json(raw) if isinstance(raw, (dict, list)) else Map()
    if not isinstance(payload, Map):
        payload = Map({kw("detail"): payload})
    if kw("type") not in payload:
        payload = payload.assoc(kw("type"), kw(str(data.get("type") or "effect-failed")))
    trace = tuple(TraceEntry(name, None) for name, _where in data.get("trace") or ())
    cause = data.get("cause")
    return ExInfo(str(data.get("message", "effect failed")), payload,
                  error_from_json(cause) if cause else None, trace)
