"""How the trace tree's nodes look: fold icon, status glyph in its theme colour, plain label.

Lines are drawn by :class:`FastTree` from the segments given here; a label's pieces (its text cut
where its style changes) are cut once per label, not once per frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Self

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.widgets.tree import TreeNode

from dusttui.tui.explorer.data import Pos
from dusttui.tui.explorer.fast_tree import FastTree
from dusttui.tui.explorer.summary import GLYPHS
from dusttui.tui.explorer.tree_paint import text_width


@dataclass(slots=True)
class NodeRef:
    """What a tree node stands for. ``kind``: block, input, iter, or more (a gap of ``lo..hi``)."""

    kind: str
    b: int
    i: int = -1
    j: int = -1
    lo: int = 0
    hi: int = 0
    status: str = "none"

    @property
    def pos(self) -> Pos | None:
        """The execution this node opens in the value view, if any."""
        if self.kind == "iter":
            return (self.b, self.i, self.j)
        if self.kind == "input":
            return (self.b, self.i, 0)
        return None


Node = TreeNode[NodeRef]


class TraceLook(FastTree[NodeRef]):
    """The drawing half of the trace tree (the structure is in :class:`TraceTree`)."""

    def __init__(
        self,
        label: str,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        self._styles: dict[str, Style] = {}
        self._widths: dict[int, tuple[Text, int]] = {}
        self._pieces: dict[int, tuple[Text, list[tuple[str, Style | None]], int]] = {}
        self._parsed: dict[str | Style, Style] = {}
        super().__init__(label, name=name, id=id, classes=classes)

    def render_label(self, node: Node, base_style: Style, style: Style) -> Text:
        """Fold icon, the node's status glyph in its theme colour, then the (plain) label."""
        ref = node.data
        if ref is None:
            return super().render_label(node, base_style, style)
        kind = "more" if ref.kind == "more" else ref.status
        glyph = "…" if ref.kind == "more" else GLYPHS.get(ref.status, " ")
        label = node._label.copy()
        label.stylize(style)
        return Text.assemble(
            (self.fold_icon(node), base_style), (glyph + " ", style + self._style(kind)), label
        )

    def label_segments(
        self, node: Node, base: Style, label_style: Style
    ) -> tuple[list[Segment], int]:
        """What ``render_label`` draws, as segments built without Text (label pieces cached)."""
        ref = node.data
        if ref is None:
            return super().label_segments(node, base, label_style)
        label = node._label
        cached = self._pieces.get(node.id)
        if cached is None or cached[0] is not label:
            cached = self._pieces[node.id] = (label, self._split(label), text_width(label.plain))
        out: list[Segment] = []
        icon = self.fold_icon(node)
        if icon:
            out.append(Segment(icon, base))
        kind = "more" if ref.kind == "more" else ref.status
        glyph = "…" if ref.kind == "more" else GLYPHS.get(ref.status, " ")
        out.append(Segment(glyph + " ", base + (label_style + self._style(kind))))
        for text, style in cached[1]:
            out.append(Segment(text, (base + style if style else base) + label_style))
        return out, len(icon) + 2 + cached[2]

    def _split(self, label: Text) -> list[tuple[str, Style | None]]:
        """A label's text cut where its style changes, with that style (what ``Text.render``
        gives for our labels, whose styled parts do not overlap, without its general machinery)."""
        plain = label.plain
        spans = sorted(label.spans, key=lambda span: span.start)
        if label.style or any(a.end > b.start for a, b in pairwise(spans)):
            return [(s.text, s.style) for s in label.render(self.app.console) if s.text]
        pieces: list[tuple[str, Style | None]] = []
        pos = 0
        for span in spans:
            if span.start > pos:
                pieces.append((plain[pos : span.start], None))
            if span.end > span.start:
                style = self._parsed.get(span.style)
                if style is None:
                    style = self._parsed[span.style] = self.app.console.get_style(span.style)
                pieces.append((plain[span.start : span.end], style))
            pos = max(pos, span.end)
        if pos < len(plain):
            pieces.append((plain[pos:], None))
        return pieces

    def get_label_width(self, node: Node) -> int:
        """Width without rendering: fold icon + glyph + label (called for every line on rebuild)."""
        label = node._label
        cached = self._widths.get(node.id)
        if cached is None or cached[0] is not label:
            cached = self._widths[node.id] = (label, text_width(label.plain))
        return (len(self.ICON_NODE) if node.allow_expand else 0) + 2 + cached[1]

    def forget_nodes(self, ids: Iterable[int]) -> None:
        """Drop the cached label widths and pieces of removed nodes too."""
        ids = list(ids)
        super().forget_nodes(ids)
        for node_id in ids:
            self._widths.pop(node_id, None)
            self._pieces.pop(node_id, None)

    def clear(self) -> Self:
        """Remove every node, and what is cached for them."""
        self._widths.clear()
        self._pieces.clear()
        return super().clear()

    def _style(self, kind: str) -> Style:
        style = self._styles.get(kind)
        if style is None:
            style = self._styles[kind] = self.get_component_rich_style(
                f"trace-tree--{kind}", partial=True
            )
        return style

    def notify_style_update(self) -> None:
        """Theme or CSS changed: forget the cached glyph styles."""
        self._styles.clear()
        super().notify_style_update()
