"""The lazy trace tree: block → input → iteration, loaded in chunks with "N more" nodes.

No node exists for an execution until its parent is opened; a level holds at most ``CHUNK`` new
nodes per load, and the rest sit in a "N more" gap node that loads on demand (or around the target
of a jump). Live updates only add nodes and relabel, so the cursor and expanded nodes stay put.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import NodeID

from dusttui.api.models import Execution
from dusttui.tui.explorer.data import Pos, TraceData
from dusttui.tui.explorer.summary import BLOCK_KIND, row_kind
from dusttui.tui.explorer.trace_look import Node, NodeRef, TraceLook
from dusttui.tui.explorer.tree_labels import block_label, input_row_label, iter_label, more_label

__all__ = ["CHUNK", "Node", "NodeRef", "TraceTree"]

CHUNK = 100


class TraceTree(TraceLook):
    """Tree of a run's traces that never builds more than it shows."""

    COMPONENT_CLASSES = {
        "trace-tree--ok",
        "trace-tree--err",
        "trace-tree--running",
        "trace-tree--none",
        "trace-tree--more",
    }
    DEFAULT_CSS = """
    TraceTree > .trace-tree--ok { color: $block-succeeded; }
    TraceTree > .trace-tree--err { color: $block-errored; text-style: bold; }
    TraceTree > .trace-tree--running { color: $block-running; }
    TraceTree > .trace-tree--none { color: $text-muted; }
    TraceTree > .trace-tree--more { color: $text-muted; text-style: italic; }
    """

    def __init__(
        self,
        data: TraceData,
        *,
        errors_only: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__("run", name=name, id=id, classes=classes)
        self._bulk_depth = 0
        self._bulk_dirty = False
        self._auto_expanded: set[int] = set()  # input nodes a jump opened (closed by the next jump)
        self.show_root = False
        self.guide_depth = 3
        self.trace = data
        self.errors_only = errors_only
        self._rows: dict[int, Sequence[int]] = {}  # parent node id → row values (inputs or iters)
        self._blocks: list[Node] = []
        self._inputs: dict[tuple[int, int], Node] = {}
        self._iters: dict[Pos, Node] = {}
        self._add_blocks()

    def _invalidate(self) -> None:
        # Tree invalidates (and re-lays out) on every add; in bulk, do it once at the end.
        if self._bulk_depth:
            self._bulk_dirty = True
            return
        super()._invalidate()

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Add or change many nodes with a single invalidation."""
        self._bulk_depth += 1
        try:
            yield
        finally:
            self._bulk_depth -= 1
            if not self._bulk_depth and self._bulk_dirty:
                self._bulk_dirty = False
                super()._invalidate()

    def _status(self, ref: NodeRef) -> str:
        data = self.trace
        if ref.kind == "block":
            info = data.blocks[ref.b]
            return BLOCK_KIND.get(info.status, "none")
        if ref.kind == "input":
            return row_kind(data, ref.b, ref.i)
        e = data.execution((ref.b, ref.i, ref.j))
        if e is None:
            return "none"
        return "err" if e.error is not None else "ok"

    # ------------------------------------------------------------------ building

    def _add_blocks(self) -> None:
        for b in range(len(self._blocks), len(self.trace.blocks)):
            ref = NodeRef("block", b)
            ref.status = self._status(ref)
            node = self.root.add(
                block_label(self.trace, b), ref, allow_expand=self._block_rows_len(b) > 0
            )
            self._blocks.append(node)

    def _block_rows(self, b: int) -> Sequence[int]:
        if self.errors_only:
            return self.trace.error_inputs(b)
        return range(len(self.trace.traces[b]))

    def _block_rows_len(self, b: int) -> int:
        return len(self._block_rows(b))

    def _item(
        self, parent: Node, value: int, row: Sequence[Execution] | None
    ) -> tuple[Text, NodeRef, bool]:
        """Label, data and expandability of the child ``value`` of ``parent`` (``row``: the
        input's executions when ``parent`` is an input, fetched once per chunk)."""
        pref = parent.data
        assert pref is not None
        if pref.kind == "block":
            ref = NodeRef("input", pref.b, value)
            ref.status = self._status(ref)
            label = input_row_label(self.trace, pref.b, value)
            return label, ref, self.trace.blocks[pref.b].in_loop
        ref = NodeRef("iter", pref.b, pref.i, value)
        if row is None or value >= len(row):
            ref.status = self._status(ref)
        else:
            ref.status = "err" if row[value].error is not None else "ok"
        return iter_label(self.trace, pref.b, pref.i, value, row), ref, False

    def _register(self, node: Node) -> None:
        ref = node.data
        assert ref is not None
        if ref.kind == "input":
            self._inputs[(ref.b, ref.i)] = node
        elif ref.kind == "iter":
            self._iters[(ref.b, ref.i, ref.j)] = node

    def ensure_loaded(self, parent: Node) -> None:
        """Give an opened block or input node its first chunk of children (once)."""
        ref = parent.data
        if ref is None or parent.id in self._rows or ref.kind not in ("block", "input"):
            return
        if ref.kind == "block":
            rows: Sequence[int] = self._block_rows(ref.b)
        else:
            rows = range(len(self.trace.row(ref.b, ref.i)))
        self._rows[parent.id] = rows
        if not rows:
            return
        what = "inputs" if ref.kind == "block" else "iterations"
        gap = parent.add(
            more_label(0, len(rows), rows, what),
            NodeRef("more", ref.b, ref.i, lo=0, hi=len(rows)),
            allow_expand=False,
        )
        self.load_gap(gap, 0)

    def load_gap(self, gap: Node, at: int) -> Node:
        """Load the chunk of a "N more" node holding row ``at``; returns the node for ``at``.

        The gap node itself becomes the first loaded item, so a cursor on it stays valid.
        """
        ref = gap.data
        parent = gap.parent
        assert ref is not None and ref.kind == "more" and parent is not None
        rows = self._rows[parent.id]
        lo, hi = ref.lo, ref.hi
        start = max(lo, min(at, hi - 1) - (min(at, hi - 1) - lo) % CHUNK)
        end = min(hi, start + CHUNK)
        what = "inputs" if parent.data and parent.data.kind == "block" else "iterations"
        if start > lo:
            parent.add(
                more_label(lo, start, rows, what),
                NodeRef("more", ref.b, ref.i, lo=lo, hi=start),
                before=gap,
                allow_expand=False,
            )
        pref = parent.data
        assert pref is not None
        row = list(self.trace.row(pref.b, pref.i)) if pref.kind == "input" else None  # one fetch
        label, item_ref, expandable = self._item(parent, rows[start], row)
        gap.set_label(label)
        gap.data = item_ref
        gap.allow_expand = expandable
        self._register(gap)
        found = gap
        prev = gap
        for k in range(start + 1, end):
            label, item_ref, expandable = self._item(parent, rows[k], row)
            prev = parent.add(label, item_ref, after=prev, allow_expand=expandable)
            self._register(prev)
            if k == at:
                found = prev
        if end < hi:
            parent.add(
                more_label(end, hi, rows, what),
                NodeRef("more", ref.b, ref.i, lo=end, hi=hi),
                after=prev,
                allow_expand=False,
            )
        return found

    def _on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeRef]) -> None:
        if not self.is_current(event.node):
            return
        with self.bulk():
            self.ensure_loaded(event.node)

    def _on_tree_node_collapsed(self, event: Tree.NodeCollapsed[NodeRef]) -> None:
        self._auto_expanded.discard(event.node.id)  # the user folded it: it is theirs now

    def open_gap(self, gap: Node) -> Node:
        """What enter on a "N more" node does: load its first chunk, cursor stays on it."""
        ref = gap.data
        assert ref is not None
        with self.bulk():
            return self.load_gap(gap, ref.lo)

    # ------------------------------------------------------------------ jumping

    def _child_for(self, parent: Node, value: int) -> Node | None:
        self.ensure_loaded(parent)
        ref = parent.data
        assert ref is not None
        known = (
            self._inputs.get((ref.b, value))
            if ref.kind == "block"
            else self._iters.get((ref.b, ref.i, value))
        )
        if known is not None:
            return known
        rows = self._rows.get(parent.id, ())
        k = value - rows.start if isinstance(rows, range) else bisect_left(rows, value)
        if not 0 <= k < len(rows) or rows[k] != value:
            return None
        for child in parent.children:
            cref = child.data
            if cref is not None and cref.kind == "more" and cref.lo <= k < cref.hi:
                return self.load_gap(child, k)
        return None

    def reveal(self, pos: Pos) -> Node | None:
        """Load and expand what leads to ``pos`` and return its node (None if it is not shown)."""
        with self.bulk():
            return self._reveal(pos)

    def _reveal(self, pos: Pos) -> Node | None:
        b, i, j = pos
        if b >= len(self._blocks):
            return None
        bnode = self._blocks[b]
        inode = self._inputs.get((b, i)) or self._child_for(bnode, i)
        if inode is None:
            return None
        if not bnode.is_expanded:
            bnode.expand()
        if not self.trace.blocks[b].in_loop:
            return inode
        jnode = self._iters.get(pos) or self._child_for(inode, j)
        if jnode is None:
            return inode
        for node_id in list(self._auto_expanded):  # fold what the previous jump opened
            if node_id != inode.id:
                self._auto_expanded.discard(node_id)
                node = self._tree_nodes.get(NodeID(node_id))
                if node is not None and node.is_expanded:
                    node.collapse()
                    self._unload(node)
        if not inode.is_expanded:
            inode.expand()
            self._auto_expanded.add(inode.id)
        return jnode

    def _unload(self, inode: Node) -> None:
        """Drop an input's iteration nodes (they load again when it opens): jump after jump, the
        tree holds what the user opened, not every iteration a jump went through."""
        ref = inode.data
        assert ref is not None
        gone = [child.id for child in inode.children]
        inode.remove_children()
        self._rows.pop(inode.id, None)
        for key in [k for k in self._iters if k[:2] == (ref.b, ref.i)]:
            del self._iters[key]
        self.forget_nodes(gone)

    def goto(self, node: Node) -> None:
        """Move the cursor to ``node`` now (the tree's lines are rebuilt first)."""
        _ = self._tree_lines  # rebuild now so node._line is current
        self.move_cursor(node, animate=False)  # scrolls to it too

    @property
    def cursor_pos(self) -> Pos | None:
        """The execution under the cursor, if the cursor is on one."""
        node = self.cursor_node
        return node.data.pos if node is not None and node.data is not None else None

    # ------------------------------------------------------------------ live updates

    def sync(self, data: TraceData) -> None:
        """Take a newer snapshot of the run: add and relabel nodes, never drop the user's place."""
        with self.bulk():
            self._sync(data)

    def _sync(self, data: TraceData) -> None:
        old = self.trace
        self.trace = data
        self._add_blocks()
        for b, bnode in enumerate(self._blocks):
            ref = bnode.data
            assert ref is not None
            changed = (
                b >= len(old.blocks)
                or old.blocks[b] != data.blocks[b]
                or old.traces[b] is not data.traces[b]
            )
            if not changed:
                continue
            ref.status = self._status(ref)
            bnode.set_label(block_label(self.trace, b))
            bnode.allow_expand = self._block_rows_len(b) > 0
            if bnode.id in self._rows:
                self._extend(bnode, self._block_rows(b), "inputs")
            for (bb, i), inode in list(self._inputs.items()):
                if bb != b:
                    continue
                iref = inode.data
                assert iref is not None
                iref.status = self._status(iref)
                inode.set_label(input_row_label(self.trace, b, i))
                if inode.id in self._rows:
                    self._extend(inode, range(len(data.row(b, i))), "iterations")
            for (bb, i, j), jnode in self._iters.items():
                if bb == b and jnode.data is not None:
                    jnode.data.status = self._status(jnode.data)
                    jnode.set_label(iter_label(self.trace, b, i, j))

    def _extend(self, parent: Node, rows: Sequence[int], what: str) -> None:
        """Rows grew (or changed, in the errors-only view): cover the new ones with a gap node."""
        old = self._rows[parent.id]
        if list(rows[: len(old)]) != list(old):
            parent.remove_children()  # the filtered rows changed under us: rebuild this level
            del self._rows[parent.id]
            self._drop_children_of(parent)
            self.ensure_loaded(parent)
            return
        self._rows[parent.id] = rows
        if len(rows) <= len(old):
            return
        pref = parent.data
        assert pref is not None
        last = parent.children[-1] if parent.children else None
        if last is not None and last.data is not None and last.data.kind == "more":
            last.data.hi = len(rows)
            last.set_label(more_label(last.data.lo, len(rows), rows, what))
            return
        gap = parent.add(
            more_label(len(old), len(rows), rows, what),
            NodeRef("more", pref.b, pref.i, lo=len(old), hi=len(rows)),
            allow_expand=False,
        )
        if len(rows) <= CHUNK:
            self.load_gap(gap, len(old))

    def _drop_children_of(self, parent: Node) -> None:
        ref = parent.data
        assert ref is not None
        if ref.kind == "block":
            for input_key in [k for k in self._inputs if k[0] == ref.b]:
                del self._inputs[input_key]
            for pos in [k for k in self._iters if k[0] == ref.b]:
                del self._iters[pos]
        else:
            for pos in [k for k in self._iters if k[:2] == (ref.b, ref.i)]:
                del self._iters[pos]

    def set_errors_only(self, on: bool) -> None:
        """Show every input, or only those with an error; loaded levels are rebuilt."""
        if on == self.errors_only:
            return
        self.errors_only = on
        self.clear()
        self._auto_expanded.clear()  # node ids start again after clear: these are gone
        self._rows.clear()
        self._blocks.clear()
        self._inputs.clear()
        self._iters.clear()
        self._add_blocks()
