"""The core library: every built-in function, registered in ``BUILTINS`` by name."""

from .registry import BUILTINS, Builtin, builtin

__all__ = ["BUILTINS", "Builtin", "builtin"]
