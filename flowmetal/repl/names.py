"""The names a REPL user can type, with what to show beside each: completion, ``,doc``,
``,apropos``.

Four sources, in this order of precedence: the special forms (documented here, since the
compiler implements them), the session's own definitions, the built-ins and prelude, and
the keywords seen in the session's inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pygments.token import String

from ..lang.base import base
from .lexer import FlowmetalLexer

__all__ = ["NameInfo", "Names", "SPECIAL_FORM_DOCS", "first_line"]

SPECIAL_FORM_DOCS: dict[str, tuple[str, str]] = {
    "quote": ("[form]", "The form itself, unevaluated. 'x is (quote x)."),
    "if": ("[test then] [test then else]",
           "Evaluate then when test is truthy (anything but nil and false), else else."),
    "do": ("[& body]", "Evaluate the forms in order; the value of the last one."),
    "def": ("[name] [name value] [name doc value]",
            "Define a global name in the program (or REPL session)."),
    "fn": ("[[params] & body] [name [params] & body] [([params] & body) ...]",
           "A function. Parameters destructure like let; & rest collects the others."),
    "let": ("[[bindings] & body]",
            "Bind names (with destructuring) in order, then evaluate the body."),
    "loop": ("[[bindings] & body]", "Like let, and a target for recur."),
    "recur": ("[& values]", "Jump back to the enclosing loop or fn with new values."),
    "defmacro": ("[name doc? [params] & body]",
                 "Define a macro: a function from forms to a form, run at compile time."),
    "quasiquote": ("[form]",
                   "A template: `(a ~b ~@c) fills in b and splices c. Written with a backquote."),
    "try": ("[& body (catch type-or-pred e & handler) (finally & cleanup)]",
            "Evaluate the body; a matching catch handles an error thrown inside it."),
    "catch": ("[type-or-pred name & body]", "A handler inside try."),
    "finally": ("[& body]", "Cleanup inside try, run however the body ends."),
    "throw": ("[error]", "Throw an error value, usually (ex-info \"message\" {:type :x})."),
}


@dataclass(frozen=True)
class NameInfo:
    """A name and what to show beside it."""

    name: str
    kind: str  # "special form", "macro", "function", "effect", "value", "keyword"
    arglists: str = ""
    doc: str = ""

    @property
    def meta(self) -> str:
        """The completion menu's side text: the arglists, else the doc's first line."""
        return self.arglists or first_line(self.doc) or self.kind


def first_line(doc: str) -> str:
    """The first non-empty line of a docstring."""
    for line in doc.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _kind_of(value: object) -> str:
    type_name = getattr(value, "type_name", "")
    if type_name == "macro":
        return "macro"
    if getattr(value, "effect", False):
        return "effect"
    return "function" if type_name == "function" else "value"


class Names:
    """What can be completed and looked up, refreshed after each input.

    :param definitions: returns the session's own definitions (name -> value).
    :param doc: returns ``(arglists, doc)`` of a name, or None.
    """

    def __init__(self, definitions: Callable[[], dict[str, object]],
                 doc: Callable[[str], tuple[str, str] | None]) -> None:
        self._definitions = definitions
        self._doc = doc
        self._user: dict[str, object] = {}
        self.keywords: set[str] = set()
        self._lexer = FlowmetalLexer()
        self._cache: dict[str, NameInfo] = {}

    def refresh(self) -> None:
        """Reread the session's definitions (call after each input)."""
        self._user = self._definitions()
        for name in self._user:
            self._cache.pop(name, None)

    def see(self, texts: Iterable[str]) -> None:
        """Remember the keywords written in these inputs, for completion."""
        for text in texts:
            for token, value in self._lexer.get_tokens(text):
                if token in String.Symbol and len(value) > 1:
                    self.keywords.add(value)

    def symbols(self) -> list[str]:
        """Every completable symbol: special forms, session definitions, built-ins."""
        names = dict.fromkeys(SPECIAL_FORM_DOCS)
        names.update(dict.fromkeys(n for n in self._user if not n.startswith("*")))
        names.update(dict.fromkeys(n for n in base().glob if not n.startswith("core/")))
        names.update(dict.fromkeys(("*1", "*2", "*3", "*e")))
        return list(names)

    def info(self, name: str) -> NameInfo | None:
        """What is known about ``name``: a symbol or a keyword; None if nothing."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        found = self._lookup(name)
        if found is not None:
            self._cache[name] = found
        return found

    def _lookup(self, name: str) -> NameInfo | None:
        if name.startswith(":"):
            return NameInfo(name, "keyword") if name in self.keywords else None
        if name in SPECIAL_FORM_DOCS:
            arglists, doc = SPECIAL_FORM_DOCS[name]
            return NameInfo(name, "special form", arglists, doc)
        if name in ("*1", "*2", "*3"):
            nth = ("last", "second last", "third last")[int(name[1]) - 1]
            return NameInfo(name, "value", "", f"The {nth} result.")
        if name == "*e":
            return NameInfo(name, "value", "", "The last error.")
        value = self._user.get(name, base().glob.get(name))
        if value is None and name not in self._user:
            return None
        arglists, doc = self._doc(name) or ("", "")
        return NameInfo(name, _kind_of(value), arglists, doc)

    def apropos(self, text: str) -> list[NameInfo]:
        """Names whose name or doc contains ``text`` (case-insensitive)."""
        needle = text.lower()
        out = []
        for name in self.symbols():
            info = self.info(name)
            if info is None:
                continue
            if needle in name.lower() or needle in info.doc.lower():
                out.append(info)
        return out
