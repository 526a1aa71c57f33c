"""The debugger's widgets, one module per area of the screen."""

from .bindings import BindingsTree
from .events import EventTable
from .panes import EventPane, OutputPane, ValuePane, WatchPane
from .source import SourceView
from .stack import StackTable
from .timeline import Timeline

__all__ = ["Timeline", "SourceView", "StackTable", "BindingsTree", "EventTable", "ValuePane",
           "EventPane", "OutputPane", "WatchPane"]
