"""The language: reader, data, printer, compiler, machine, core library. Pure: no I/O.

Stages, in order: ``read`` (text -> forms), ``compile`` (forms -> code unit), then a
``Machine`` runs the unit step by step (``load`` does the first two, ``evaluate`` all).
"""

from .base import base, load, new_machine
from .errors import CompileError, EvalError, FlowmetalError, ReadError
from .evaluate import evaluate
from .machine import Done, Failed, Machine, OutOfFuel, Suspended
from .printer import pr_str, print_str
from .reader import read, read_one

__all__ = [
    "base", "load", "new_machine", "evaluate", "read", "read_one", "pr_str", "print_str",
    "Machine", "Done", "Failed", "OutOfFuel", "Suspended",
    "FlowmetalError", "ReadError", "CompileError", "EvalError",
]
