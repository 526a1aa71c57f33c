"""Functions the machine implements itself: ``apply``, ``swap!``, concurrency, and effects.

Effects are the only door to the world. Each one checks its arguments, then suspends the
calling fiber with a plain-data request (``m.request(kind, data)``); the runtime performs
it and hands back the result. Durations are seconds or strings like ``"90s"``, ``"5m"``,
``"2h"``, ``"3d"``, ``"250ms"``.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import re
from collections.abc import Callable
from typing import Any

from .core.values import seq_items
from .data import Keyword, List, Map, Vector, kw
from .errors import fail
from .functions import PRIMITIVES, Future, Primitive
from .machine import NO_DEFAULT, Machine, SwapK
from .printer import pr_brief

__all__ = ["parse_duration", "parse_options", "text_of"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_TIMEOUT, _DEFAULT, _SECONDS = kw("timeout"), kw("default"), kw("seconds")


def parse_duration(value: Any, what: str = "duration") -> float:
    """Seconds from a number or a string such as ``"90s"``; a clear error otherwise."""
    if type(value) in (int, float):
        seconds = float(value)
    elif type(value) is str and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise fail("type-error", f"{what} must be seconds or a string like \"90s\", \"5m\", "
                   f"\"2h\", \"3d\"; got {pr_brief(value)}")
    if seconds < 0 or seconds != seconds:
        raise fail("type-error", f"{what} can't be negative: {pr_brief(value)}")
    return seconds


def parse_options(name: str, args: list[Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """Keyword options after the positional arguments: ``:timeout "5m" :default nil``."""
    if len(args) % 2:
        raise fail("arity-error", f"{name}: options must come in :key value pairs")
    out: dict[str, Any] = {}
    for i in range(0, len(args), 2):
        key = args[i]
        if type(key) is not Keyword or key.full not in allowed:
            names = ", ".join(":" + a for a in allowed)
            raise fail("type-error",
                       f"{name}: unknown option {pr_brief(key)}; expected one of {names}")
        out[key.full] = args[i + 1]
    return out


def text_of(args: list[Any], readably: bool) -> str:
    from .printer import pr_str, print_str

    return " ".join((pr_str if readably else print_str)(a) for a in args)


def _timeout(name: str, opts: dict[str, Any]) -> tuple[float | None, Any]:
    t = opts.get("timeout")
    timeout = None if t is None else parse_duration(t, f"{name} :timeout")
    return timeout, opts.get("default", NO_DEFAULT)


def primitive(name: str, *, effect: bool = False, arglists: str | None = None
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a machine primitive; ``handler(m, args, node)`` runs as one step."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        doc = inspect.cleandoc(handler.__doc__ or "")
        low, high = _ARITIES[name]
        PRIMITIVES[name] = Primitive(name, handler, doc, arglists or "", low, high, effect)
        return handler

    return register


_ARITIES: dict[str, tuple[int, int | None]] = {
    "apply": (2, None), "swap!": (2, None), "core/async": (1, 1), "await": (1, None),
    "await-any": (1, None), "receive": (1, None), "callback": (0, 1), "sleep": (1, 1),
    "sleep-until": (1, 1), "now": (0, 0), "random": (0, 1), "rand-int": (1, 1), "uuid": (0, 0),
    "print": (0, None), "println": (0, None), "prn": (0, None), "log": (1, None),
    "http/request": (1, 1), "http/get": (1, 2), "http/post": (1, 3), "call": (1, None),
    "spawn": (1, None),
}


# -- functions that need the machine ------------------------------------------------------


@primitive("apply", arglists="[f & args coll]")
def _apply(m: Machine, args: list[Any], node: Any) -> None:
    """Call f with the given arguments, the last of which is spread out: any collection,
    a string (its characters) or nil (nothing).
    (apply + 1 [2 3]) ;=> 6"""
    m.apply(args[0], [*args[1:-1], *seq_items(args[-1], "apply")], node)


@primitive("swap!", arglists="[atom f & args]")
def _swap(m: Machine, args: list[Any], node: Any) -> None:
    """Set the atom to (f current-value args...) and return the new value.
    (swap! counter inc) ;=> 1"""
    atom = args[0]
    if type(atom).__name__ != "Atom":
        raise fail("type-error", f"swap!: expected an atom, got {pr_brief(atom)}")
    m.stack.append(SwapK(atom))
    m.apply(args[1], [atom.value, *args[2:]], node)


@primitive("core/async", arglists="[thunk]")
def _async(m: Machine, args: list[Any], node: Any) -> None:
    """Run a function of no arguments concurrently; used by the async macro."""
    m.val = m.spawn_fiber(args[0])


@primitive("await", arglists="[x & {:keys [timeout default]}]")
def _await(m: Machine, args: list[Any], node: Any) -> None:
    """Wait for a future (from async), a callback, or a spawned child program.
    Options: :timeout "5m" (throws a :timeout error) and :default v (returned on timeout).
    (await (async (+ 1 2))) ;=> 3"""
    target = args[0]
    timeout, default = _timeout("await", parse_options("await", args[1:], ("timeout", "default")))
    if type(target) is Future:
        m.wait_future(target, timeout, default)
    elif isinstance(target, Map) and kw("token") in target:
        m.wait_callback(str(target[kw("token")]), timeout, default)
    elif isinstance(target, Map) and kw("program") in target:
        m.wait_callback("program:" + str(target[kw("program")]), timeout, default)
    else:
        raise fail("type-error", f"await: expected a future, a callback or a child program, "
                   f"got {pr_brief(target)}")


@primitive("await-any", arglists="[futures & {:keys [timeout default]}]")
def _await_any(m: Machine, args: list[Any], node: Any) -> None:
    """Wait for the first of several futures to finish and return its value.
    (await-any [(async (sleep "1h")) (async :fast)]) ;=> :fast"""
    futs = args[0]
    if not isinstance(futs, (List, Vector)) or not futs or any(type(f) is not Future
                                                                  for f in futs):
        raise fail("type-error", "await-any: expected a non-empty vector of futures")
    timeout, default = _timeout("await-any",
                                parse_options("await-any", args[1:], ("timeout", "default")))
    m.wait_any(list(futs), timeout, default)


@primitive("receive", arglists="[name & {:keys [timeout default]}]")
def _receive(m: Machine, args: list[Any], node: Any) -> None:
    """Take the next event of this name sent to the program, waiting for one if needed.
    Each event is received once; events that arrive early are kept in order.
    (receive :approval :timeout "3d" :default nil)"""
    name = _event_name(args[0])
    timeout, default = _timeout("receive",
                                parse_options("receive", args[1:], ("timeout", "default")))
    m.wait_message(name, timeout, default)


def _event_name(value: Any) -> str:
    if type(value) is Keyword:
        return value.full
    if type(value) is str and value:
        return value
    raise fail("type-error", f"event name must be a keyword or a string, got {pr_brief(value)}")


# -- effects ----------------------------------------------------------------------------------


@primitive("callback", effect=True, arglists="[] [opts]")
def _callback(m: Machine, args: list[Any], node: Any) -> None:
    """Make a one-shot callback: a map with a :token and a :url that an outside system
    can POST a result to, at most once. Wait for it with (await cb :timeout d).
    (let [cb (callback)] (http/post api {:json {:notify (:url cb)}}) (await cb))"""
    opts = args[0] if args else Map()
    if not isinstance(opts, Map):
        raise fail("type-error", "callback: options must be a map")
    m.request("callback", opts)


@primitive("sleep", effect=True, arglists="[duration]")
def _sleep(m: Machine, args: list[Any], node: Any) -> None:
    """Sleep durably: the program is stored and wakes when the time has passed.
    (sleep "3d")"""
    m.request("sleep", Map({_SECONDS: parse_duration(args[0], "sleep")}))


@primitive("sleep-until", effect=True, arglists="[time]")
def _sleep_until(m: Machine, args: list[Any], node: Any) -> None:
    """Sleep until a time: epoch milliseconds or an ISO-8601 string with a zone.
    (sleep-until "2027-01-01T09:00:00Z")"""
    m.request("sleep", Map({kw("until"): _epoch_seconds(args[0])}))


def _epoch_seconds(value: Any) -> float:
    if type(value) in (int, float):
        return value / 1000.0
    if type(value) is str:
        try:
            when = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            return when.timestamp()
    raise fail("type-error", f"sleep-until: expected epoch milliseconds or an ISO-8601 time "
               f"with a zone, got {pr_brief(value)}")


@primitive("now", effect=True, arglists="[]")
def _now(m: Machine, args: list[Any], node: Any) -> None:
    """The current time in epoch milliseconds, recorded so a replay sees the same value."""
    m.request("now", Map())


@primitive("random", effect=True, arglists="[] [n]")
def _random(m: Machine, args: list[Any], node: Any) -> None:
    """A random float in [0, 1), or with n a random integer in [0, n); recorded for replay."""
    if args and (type(args[0]) is not int or args[0] <= 0):
        raise fail("type-error", f"random: n must be a positive integer, got {pr_brief(args[0])}")
    m.request("random", Map({kw("n"): args[0]}) if args else Map())


@primitive("rand-int", effect=True, arglists="[n]")
def _rand_int(m: Machine, args: list[Any], node: Any) -> None:
    """A random integer in [0, n), recorded for replay. (rand-int 6)"""
    _random(m, args, node)


@primitive("uuid", effect=True, arglists="[]")
def _uuid(m: Machine, args: list[Any], node: Any) -> None:
    """A random UUID string, recorded for replay."""
    m.request("uuid", Map())


def _output(m: Machine, text: str) -> None:
    m.request("print", Map({kw("text"): text}))


@primitive("print", effect=True, arglists="[& xs]")
def _print(m: Machine, args: list[Any], node: Any) -> None:
    """Print the values separated by spaces, strings without quotes; recorded as output."""
    _output(m, text_of(args, False))


@primitive("println", effect=True, arglists="[& xs]")
def _println(m: Machine, args: list[Any], node: Any) -> None:
    """Like print, then a newline. (println "total:" 42)"""
    _output(m, text_of(args, False) + "\n")


@primitive("prn", effect=True, arglists="[& xs]")
def _prn(m: Machine, args: list[Any], node: Any) -> None:
    """Print the values readably (strings quoted), then a newline."""
    _output(m, text_of(args, True) + "\n")


@primitive("log", effect=True, arglists="[message & kvs]")
def _log(m: Machine, args: list[Any], node: Any) -> None:
    """Record a log event: a message and optional data, as key-value pairs.
    (log "charged card" :amount 12)"""
    if len(args) % 2 == 0:
        raise fail("arity-error", "log: expected a message then :key value pairs")
    data = Map((args[i], args[i + 1]) for i in range(1, len(args), 2))
    m.request("log", Map({kw("message"): text_of(args[:1], False), kw("data"): data}))


_HTTP_KEYS = frozenset(("method", "url", "headers", "query", "body", "json", "form", "timeout",
                        "retry", "follow-redirects"))


def http_request_map(req: Any) -> Map:
    if not isinstance(req, Map):
        raise fail("type-error", f"http/request: expected a map, got {pr_brief(req)}")
    unknown = [k for k in req.keys() if type(k) is not Keyword or k.full not in _HTTP_KEYS]
    if unknown:
        raise fail("type-error", f"http/request: unknown key {pr_brief(unknown[0])}; expected "
                   "one of " + ", ".join(":" + k for k in sorted(_HTTP_KEYS)))
    url = req.get(kw("url"))
    if type(url) is not str or not url.startswith(("http://", "https://")):
        raise fail("type-error",
                   f"http/request: :url must be an http(s) URL string, got {pr_brief(url)}")
    out = Map(req)
    out[kw("method")] = str(_name_of(req.get(kw("method"), "GET"))).upper()
    if kw("timeout") in req:
        out[kw("timeout")] = parse_duration(req[kw("timeout")], "http/request :timeout")
    return out


def _name_of(value: Any) -> Any:
    return value.full if type(value) is Keyword else value


@primitive("http/request", effect=True, arglists="[{:keys [method url headers body json "
           "timeout retry]}]")
def _http_request(m: Machine, args: list[Any], node: Any) -> None:
    """Make an HTTP request; returns {:status :headers :body (:json when the reply is JSON)}.
    :timeout per attempt; :retry {:max 3 :backoff "1s"} for failures and 5xx replies.
    (http/request {:method :post :url "https://example.test/x" :json {:a 1}})"""
    m.request("http", http_request_map(args[0]))


@primitive("http/get", effect=True, arglists="[url] [url opts]")
def _http_get(m: Machine, args: list[Any], node: Any) -> None:
    """GET a URL; the options map takes the keys of http/request. (http/get url)"""
    opts = _opts_map("http/get", args[1] if len(args) > 1 else None)
    m.request("http", http_request_map(opts.assoc(kw("url"), args[0]).assoc(kw("method"), "GET")))


@primitive("http/post", effect=True, arglists="[url json-body] [url json-body opts]")
def _http_post(m: Machine, args: list[Any], node: Any) -> None:
    """POST a JSON body to a URL. (http/post url {:order 7})"""
    opts = _opts_map("http/post", args[2] if len(args) > 2 else None)
    req = opts.assoc(kw("url"), args[0]).assoc(kw("method"), "POST")
    if len(args) > 1:
        req = req.assoc(kw("json"), args[1])
    m.request("http", http_request_map(req))


def _opts_map(name: str, opts: Any) -> Map:
    if opts is None:
        return Map()
    if not isinstance(opts, Map):
        raise fail("type-error", f"{name}: options must be a map, got {pr_brief(opts)}")
    return opts


@primitive("call", effect=True, arglists="[name & args] [{:keys [name timeout]} & args]")
def _call(m: Machine, args: list[Any], node: Any) -> None:
    """Call a foreign function served by an outside worker. The first argument names it
    (a keyword or string), or is a map {:name :resize :timeout "10m"}.
    (call :resize-image url 200)"""
    head = args[0]
    opts = head if isinstance(head, Map) else Map({kw("name"): head})
    name = opts.get(kw("name"))
    if type(name) not in (Keyword, str) or not _name_of(name):
        raise fail("type-error", f"call: the function name must be a keyword or string, "
                   f"got {pr_brief(name)}")
    timeout = opts.get(kw("timeout"))
    data = Map({kw("name"): _name_of(name), kw("args"): Vector(args[1:])})
    m.request("call", data, None if timeout is None else parse_duration(timeout, "call :timeout"))


@primitive("spawn", effect=True, arglists="[f & args]")
def _spawn(m: Machine, args: list[Any], node: Any) -> None:
    """Start a child program that calls the named top-level function with args; returns a
    handle to (await child). The child has its own log and survives on its own.
    (spawn 'process-order order)"""
    target = args[0]
    name = getattr(target, "full", None) or (getattr(getattr(target, "fn", None), "name", None))
    if not name:
        raise fail("type-error", "spawn: expected the name (or value) of a top-level function")
    m.request("spawn", Map({kw("function"): name, kw("args"): Vector(args[1:])}))
