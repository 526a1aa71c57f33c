"""Flowmetal: a durable, evented, asynchronous Lisp for coordination scripts.

The package's parts, in the order data flows through them: ``lang`` (read, compile, run
on an explicit-state machine), ``runtime`` (effects, snapshots, the executor, replay),
``store`` (the event store), ``connectors``, and the ``cli``.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
