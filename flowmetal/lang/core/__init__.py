"""The core library: every built-in function, registered in ``BUILTINS`` by name.

Importing this package registers them all. The modules, by area:

- ``values``: ``= not= compare hash type``, and the shared helpers ``equals``,
  ``compare``, ``stable_hash``, ``seq_items`` and ``type_error``;
- ``numbers``: arithmetic and numeric comparison;
- ``predicates``: ``nil? number? map? empty? not``...;
- ``collections``: building, reading and "changing" lists, vectors, maps and sets;
- ``strings``: ``str subs format`` and the ``str/`` namespace;
- ``json``: ``json/parse json/stringify``;
- ``exceptions``: ``ex-info ex-message ex-data ex-cause``;
- ``atoms``: ``atom deref reset!``;
- ``transients``: ``transient conj! assoc! dissoc! disj! persistent!``;
- ``internal``: the ``core/`` names the compiler's expansions and the prelude call.

Higher-order functions (``map``, ``reduce``, ``swap!``...) are not here: they live in the
prelude, so that no Python frame ever calls back into the evaluator.
"""

from . import (  # noqa: F401  (imported to register their built-ins)
    atoms,
    collections,
    exceptions,
    internal,
    json,
    numbers,
    predicates,
    strings,
    transients,
    values,
)
from .registry import BUILTINS, Builtin, builtin
from .values import compare, equals, seq_items, stable_hash, type_error

__all__ = [
    "BUILTINS",
    "Builtin",
    "builtin",
    "compare",
    "equals",
    "seq_items",
    "stable_hash",
    "type_error",
]
