"""A Pygments lexer for Flowmetal, used by the REPL and by ``pygmentize -l flowmetal``.

Registered as a Pygments plugin (``pyproject.toml``, entry point ``pygments.lexers``)::

    pygmentize -l flowmetal job.flow
    pygmentize -g job.flow          # by the *.flow file name

Token types, chosen so that ordinary Pygments styles colour Flowmetal sensibly:

=========================  ===============================================================
``Keyword``                special forms (``if`` ``fn`` ``let``...) and prelude macros (``defn``)
``Keyword.Constant``       ``nil`` ``true`` ``false``
``Name.Builtin.Pseudo``    effects, the only door to the world (``sleep`` ``receive`` ``http/get``)
``Name.Builtin``           other built-in and prelude functions (``map`` ``assoc``)
``Name.Function``          the name a ``def``/``defn``/``defmacro`` defines
``Name.Variable``          every other symbol
``String.Symbol``          keywords (``:status``)
``Name.Tag``               the printer's non-data forms (``#atom[`` ``#error`` ``#<fn f>``)
=========================  ===============================================================

The word lists come from the language itself (the built-in registry, the primitives, the
prelude's source), so the lexer never falls behind the library.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources

from pygments.lexer import RegexLexer, bygroups, include
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
    _TokenType,
)

__all__ = ["FlowmetalLexer", "word_lists"]

# Characters of a symbol or keyword, as the reader allows them (plus ``:`` inside keywords).
_NAME = r"[\w*+!\-'?<>=/.&%#$]"
_SYMBOL = rf"(?:[\w*+!\-?<>=/.&%$]{_NAME}*)"
# Waits that are not effects themselves but park a program until the outside answers.
_WAITS = frozenset({"receive", "await", "await-all", "await-any", "async"})


@lru_cache(maxsize=1)
def word_lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """``(keywords, effects, builtins)``: special forms and macros, effects, functions."""
    from ..lang import compiler, primitives  # noqa: F401  (registers the primitives)
    from ..lang.core import BUILTINS
    from ..lang.functions import PRIMITIVES

    prelude = resources.files("flowmetal.lang").joinpath("prelude.flow").read_text("utf-8")
    macros = set(re.findall(r"^\(defmacro\s+(\S+)", prelude, re.M))
    functions = set(re.findall(r"^\(defn-?\s+(\S+)", prelude, re.M))
    keywords = frozenset(compiler.SPECIAL_FORMS) | macros
    effects = frozenset(n for n, p in PRIMITIVES.items() if p.effect) | _WAITS
    builtins = (frozenset(BUILTINS) | frozenset(PRIMITIVES) | functions) - keywords - effects
    return keywords, frozenset(effects), builtins


class FlowmetalLexer(RegexLexer):
    """Flowmetal source, and the values the REPL prints."""

    name = "Flowmetal"
    url = "https://github.com/flowmetal/flowmetal"
    aliases = ["flowmetal", "flow"]
    filenames = ["*.flow"]
    mimetypes = ["text/x-flowmetal"]

    tokens = {
        "root": [
            (r"[\s,\ufeff]+", Whitespace),
            (r"#!.*?$", Comment.Hashbang),
            (r";.*?$", Comment.Single),
            (r"#_", Comment.Special),
            include("literals"),
            (r"#\{|#\(", Punctuation),
            (r"[()\[\]{}]", Punctuation),
            (r"~@|['`~@^]", Operator),
            # What the printer shows for values that are not data.
            (r"#<[^>\n]*>", Name.Tag),
            (r"#(?:atom|transient)\[", Name.Tag),
            (r"#error\b", Name.Tag),
            (rf"(def|defn-?|defmacro)(\s+)({_SYMBOL})", bygroups(Keyword, Whitespace,
                                                               Name.Function)),
            (_SYMBOL, Name.Variable),
            (r".", Text),
        ],
        "literals": [
            (r'"', String.Double, "string"),
            (r"\\(?:newline|space|tab|u[0-9a-fA-F]{4}|.)", String.Char),
            (r"##(?:-?Inf|NaN)", Number.Float),
            (r"[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)", Number.Float),
            (r"[+-]?\d+\.\d*", Number.Float),
            (r"[+-]?\d+N?(?![\w.])", Number.Integer),
            (rf":{_NAME}+", String.Symbol),
            (r"(?:nil|true|false)(?!" + _NAME + ")", Keyword.Constant),
        ],
        "string": [
            (r'[^"\\]+', String.Double),
            (r'\\(?:u[0-9a-fA-F]{4}|[ntr"\\])', String.Escape),
            (r"\\.", String.Escape),
            (r'"', String.Double, "#pop"),
        ],
    }

    def get_tokens_unprocessed(self, text: str, stack: tuple[str, ...] = ("root",)
                               ) -> Iterator[tuple[int, _TokenType, str]]:
        """Classify symbols by the word lists: special form, effect, built-in or other."""
        keywords, effects, builtins = word_lists()
        for index, token, value in super().get_tokens_unprocessed(text, stack):
            if token is Name.Variable:
                if value in keywords:
                    token = Keyword
                elif value in effects:
                    token = Name.Builtin.Pseudo
                elif value in builtins:
                    token = Name.Builtin
            yield index, token, value

    @staticmethod
    def analyse_text(text: str) -> float:
        """A guess for ``pygmentize -g``: ``(defn`` with a ``(sleep``/``(receive`` is ours."""
        score = 0.0
        if re.search(r"^\(defn\s", text, re.M):
            score += 0.1
        if re.search(r"\((?:sleep|receive|await|callback|http/\w+)\s", text):
            score += 0.2
        return score
