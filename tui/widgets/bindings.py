"""The bindings of the selected frame as a tree: scope by scope, values expandable.

Collections open lazily, so a frame holding a 100,000-element vector costs nothing until
it is expanded (and then only the first 200 items).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from flowmetal.runtime.timeline import expandable, show, value_children

__all__ = ["BindingsTree"]

_PENDING = object()


class BindingsTree(Tree):
    """Scopes of a frame (innermost first), then the program's own globals."""

    DEFAULT_CSS = """
    BindingsTree {
        height: 1fr;
        overflow-x: hidden;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("bindings", id=id)
        self.show_root = False
        self.guide_depth = 2

    def show_scopes(self, scopes: list[Any], globals_: list[tuple[str, Any]],
                    value: tuple[str, Any] | None = None) -> None:
        """Replace the tree with ``scopes`` (``ScopeView``), ``globals_`` and ``value``."""
        self.clear()
        root = self.root
        if value is not None:
            self._leaf(root, value[0], value[1], style="bold")
        if not scopes:
            root.add_leaf(Text("no local bindings here", style="dim italic"))
        for scope in scopes:
            branch = root.add(Text(scope.label, style="bold cyan"), expand=True)
            for name, val in scope.items:
                self._leaf(branch, name, val)
        if globals_:
            branch = root.add(Text(f"globals ({len(globals_)})", style="bold cyan"),
                              expand=False)
            for name, val in globals_[:500]:
                self._leaf(branch, name, val)
        root.expand()

    def _leaf(self, parent: TreeNode, name: str, value: Any, style: str = "") -> None:
        label = Text.assemble((name, style or "bold"), " = ", show(value, 70))
        if expandable(value):
            node = parent.add(label, data=value, expand=False)
            node.add_leaf("…", data=_PENDING)
        else:
            parent.add_leaf(label, data=value)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        node = event.node
        children = list(node.children)
        if len(children) == 1 and children[0].data is _PENDING:
            children[0].remove()
            for label, val in value_children(node.data):
                self._leaf(node, label, val)
