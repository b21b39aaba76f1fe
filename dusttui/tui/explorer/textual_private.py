"""Every private Textual name the explorer relies on, in one place (checked with textual==8.2.8).

Textual's Tree repaints every line and lays the screen out on any change; the explorer's trees
(``fast_tree``, ``tree_paint``, ``trace_look``) draw their own lines from the nodes' state, so
they read that state and override the hooks where Textual rebuilds, repaints and hit-tests. No
public API gives that. ``tests/tui/test_explorer_pure.py`` checks that each name below still
exists, so a Textual upgrade that moves one fails there, by name, and not in front of a user.
Add a name here before using it anywhere (and only when nothing public does the job).
"""

from __future__ import annotations

from textual.widgets._tree import _TreeLine as TreeLine  # a line of the tree: its path, last

__all__ = [
    "APP_ATTRIBUTES",
    "OVERRIDDEN",
    "SCROLLBAR_ATTRIBUTES",
    "STATIC_OVERRIDDEN",
    "TREE_ATTRIBUTES",
    "TREE_LINE_ATTRIBUTES",
    "TREE_NODE_ATTRIBUTES",
    "TreeLine",
]

# Read or written on tree nodes (fast_tree, tree_paint, trace_look): identity, label, folding,
# children, the line a node is drawn on, hover/selection state, and the per-node update counter.
TREE_NODE_ATTRIBUTES: tuple[str, ...] = (
    "_id",
    "_label",
    "_expanded",
    "_allow_expand",
    "_children",
    "_line",
    "_hover_",
    "_selected_",
    "_updates",
    "_reset",
)
# On the tree (fast_tree, tree_paint, trace_tree): its lines and their cache, node registry and
# counter, node creation (clear), folding on click, and the scroll view's size bookkeeping.
TREE_ATTRIBUTES: tuple[str, ...] = (
    "_tree_lines",
    "_tree_lines_cached",
    "_tree_nodes",
    "_current_id",
    "_updates",
    "_add_node",
    "_clear_line_cache",
    "_toggle_node",
    "_size",
    "_container_size",
    "_scroll_update",
    "_scrollbar_changes",
    "_vertical_scrollbar",
    "_horizontal_scrollbar",
)
TREE_LINE_ATTRIBUTES: tuple[str, ...] = ("path", "last", "node", "_get_guide_width")
# Textual methods the trees override (their behaviour is replaced, see each override's comment).
OVERRIDDEN: tuple[str, ...] = (
    "_invalidate",
    "_build",
    "_size_updated",
    "_on_resize",
    "_on_mouse_move",
    "_on_click",
)
# fast_scrollbar repaints the bar's rows itself; it drops the styles cache Textual draws from.
SCROLLBAR_ATTRIBUTES: tuple[str, ...] = ("_styles_cache",)
# value_view's QuietStatic skips a layout Textual asks for after every change of height.
STATIC_OVERRIDDEN: tuple[str, ...] = ("_size_updated",)
# fast_tree starts its own scrollbars as Textual starts its.
APP_ATTRIBUTES: tuple[str, ...] = ("_start_widget",)
