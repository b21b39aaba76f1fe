"""A foldable, highlighted JSON tree, lazy like the trace tree: children appear when opened.

Sections (``value``, ``meta``, ``input``) are top-level nodes; every node knows its JSON path,
so the user can copy the value under the cursor or its path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from dusttui.tui.explorer.fast_tree import FastTree
from dusttui.tui.explorer.jsonpath import (
    Key,
    Path,
    children,
    dumps,
    get_at,
    is_container,
    path_to_str,
    preview,
    scalar_kind,
    summary,
)
from dusttui.tui.explorer.safe_text import one_line

CHUNK = 100


@dataclass(slots=True)
class JsonRef:
    """A node of the JSON tree: which section, which path; ``more`` nodes cover children lo..hi."""

    section: str
    path: Path
    more: bool = False
    lo: int = 0
    hi: int = 0


JNode = TreeNode[JsonRef]


class JsonTree(FastTree[JsonRef]):
    """JSON of one execution, split into sections, built lazily, chunked past ``CHUNK`` children."""

    COMPONENT_CLASSES = {
        "json-tree--key",
        "json-tree--string",
        "json-tree--number",
        "json-tree--literal",
        "json-tree--summary",
        "json-tree--section",
        "json-tree--match",
    }
    DEFAULT_CSS = """
    JsonTree > .json-tree--key { color: $accent; }
    JsonTree > .json-tree--string { color: $success; }
    JsonTree > .json-tree--number { color: $warning; }
    JsonTree > .json-tree--literal { color: $secondary; text-style: italic; }
    JsonTree > .json-tree--summary { color: $text-muted; }
    JsonTree > .json-tree--section { text-style: bold; }
    JsonTree > .json-tree--match { background: $warning 40%; }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__("json", name=name, id=id, classes=classes)
        self.show_root = False
        self.guide_depth = 2
        self.sections: dict[str, Any] = {}
        self._matches: set[tuple[str, Path]] = set()
        self._loaded: set[int] = set()
        self._styles: dict[str, Style] = {}

    def show(self, sections: dict[str, Any], *, expand: tuple[str, ...] = ("value",)) -> None:
        """Replace the content with these sections (name → JSON value)."""
        self.clear()
        self._loaded.clear()
        self._matches = set()  # the new lines are repainted as they are built
        self.sections = sections
        for name, value in sections.items():
            node = self.root.add(Text(name), JsonRef(name, ()), allow_expand=is_container(value))
            if name in expand and is_container(value):
                self._load(node)
                node.expand()
        _ = (
            self._tree_lines
        )  # lay the lines out now: the new virtual size joins this frame's layout

    @property
    def matches(self) -> set[tuple[str, Path]]:
        """(section, path) of the nodes highlighted as find matches."""
        return self._matches

    @matches.setter
    def matches(self, matches: set[tuple[str, Path]]) -> None:
        self._matches = matches
        self.refresh_lines_now()  # labels depend on it, not only on their nodes

    def value_at(self, ref: JsonRef) -> Any:
        """The JSON value a node stands for."""
        return get_at(self.sections[ref.section], ref.path)

    # ------------------------------------------------------------------ rendering

    def render_label(self, node: JNode, base_style: Style, style: Style) -> Text:
        """``key: value`` with the value highlighted by kind, in theme colours."""
        ref = node.data
        if ref is None:
            return super().render_label(node, base_style, style)
        icon = ""
        if node.allow_expand:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
        comp = self._component_style
        parts: list[tuple[str, Style]] = [(icon, base_style)]
        if ref.more:
            parts.append(
                (f"… {ref.hi - ref.lo} more", style + comp("json-tree--summary", partial=True))
            )
            return Text.assemble(*parts)
        try:
            value = self.value_at(ref)
        except (KeyError, IndexError, TypeError):
            # a node of the previous execution, still drawn once after the content changed
            return super().render_label(node, base_style, style)
        if not ref.path:
            parts.append((ref.section, style + comp("json-tree--section", partial=True)))
        else:
            key = ref.path[-1]
            key_text = f"[{key}]" if isinstance(key, int) else one_line(dumps(key))
            parts.append((key_text, style + comp("json-tree--key", partial=True)))
        if (ref.section, ref.path) in self.matches:
            parts[-1] = (parts[-1][0], parts[-1][1] + comp("json-tree--match", partial=True))
        parts.append((": ", style))
        if is_container(value):
            shown = (
                summary(value)
                if not node.is_expanded
                else ("{" if isinstance(value, dict) else "[")
            )
            parts.append((shown, style + comp("json-tree--summary", partial=True)))
        else:
            kind = scalar_kind(value)
            comp_name = f"json-tree--{kind}" if kind != "container" else "json-tree--summary"
            parts.append((preview(value, 200), style + comp(comp_name, partial=True)))
        return Text.assemble(*parts)

    def _component_style(self, name: str, partial: bool = True) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name, partial=partial)
        return style

    def notify_style_update(self) -> None:
        """Theme or CSS changed: forget the cached highlight styles."""
        self._styles.clear()
        super().notify_style_update()

    # ------------------------------------------------------------------ lazy loading

    def _load(self, node: JNode) -> None:
        ref = node.data
        if ref is None or node.id in self._loaded or ref.more:
            return
        self._loaded.add(node.id)
        kids = children(self.value_at(ref))
        self._add_range(node, ref, kids, 0, len(kids))

    def _add_range(
        self, node: JNode, ref: JsonRef, kids: list[tuple[Key, Any]], lo: int, hi: int
    ) -> None:
        end = min(hi, lo + CHUNK)
        for key, child in kids[lo:end]:
            node.add(
                Text(one_line(str(key))),
                JsonRef(ref.section, (*ref.path, key)),
                allow_expand=is_container(child),
            )
        if end < hi:
            node.add(
                Text("more"),
                JsonRef(ref.section, ref.path, more=True, lo=end, hi=hi),
                allow_expand=False,
            )

    def open_more(self, gap: JNode) -> None:
        """Load the next chunk of a "N more" node; the gap node becomes its first item."""
        ref = gap.data
        parent = gap.parent
        if ref is None or not ref.more or parent is None or parent.data is None:
            return
        kids = children(self.value_at(parent.data))
        end = min(ref.hi, ref.lo + CHUNK)
        key, child = kids[ref.lo]
        gap.data = JsonRef(ref.section, (*ref.path, key))
        gap.allow_expand = is_container(child)
        gap.set_label(Text(one_line(str(key))))
        prev = gap
        for key, child in kids[ref.lo + 1 : end]:
            prev = parent.add(
                Text(one_line(str(key))),
                JsonRef(ref.section, (*ref.path, key)),
                after=prev,
                allow_expand=is_container(child),
            )
        if end < ref.hi:
            parent.add(
                Text("more"),
                JsonRef(ref.section, ref.path, more=True, lo=end, hi=ref.hi),
                after=prev,
                allow_expand=False,
            )

    def _on_tree_node_expanded(self, event: Tree.NodeExpanded[JsonRef]) -> None:
        if self.is_current(event.node):
            self._load(event.node)

    def _on_tree_node_selected(self, event: Tree.NodeSelected[JsonRef]) -> None:
        if self.is_current(event.node) and event.node.data is not None and event.node.data.more:
            self.open_more(event.node)

    # ------------------------------------------------------------------ paths

    def reveal(self, section: str, path: Path) -> JNode | None:
        """Expand the way to ``path`` in ``section`` and return its node."""
        node = next((n for n in self.root.children if n.data and n.data.section == section), None)
        for key in path:
            if node is None:
                return None
            self._load(node)
            node.expand()
            found = None
            k = 0
            while k < len(node.children):
                child = node.children[k]
                cref = child.data
                if cref is not None and cref.more:
                    kids = children(self.value_at(node.data))  # type: ignore[arg-type]
                    if any(kk == key for kk, _ in kids[cref.lo : cref.hi]):
                        self.open_more(child)  # one chunk at a time until the key shows
                        cref = child.data
                if cref is not None and not cref.more and cref.path[-1:] == (key,):
                    found = child
                    break
                k += 1
            node = found
        return node

    def goto(self, node: JNode) -> None:
        """Move the cursor to ``node`` now."""
        _ = self._tree_lines  # rebuild now so node._line is current
        self.move_cursor(node, animate=False)  # scrolls to it too

    def cursor_path(self) -> tuple[str, str, Any] | None:
        """(section, JSON path, value) under the cursor, or None."""
        node = self.cursor_node
        if node is None or node.data is None or node.data.more:
            return None
        ref = node.data
        try:
            return ref.section, path_to_str(ref.path), self.value_at(ref)
        except (KeyError, IndexError, TypeError):
            return None
