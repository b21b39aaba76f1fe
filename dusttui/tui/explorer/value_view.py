"""The value view: one execution's value as foldable JSON, its error in full, meta, and its input.

Rendered only when an execution is opened; search inside the value, copy a value or its JSON path.
"""

from __future__ import annotations

from typing import Any, cast

from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.styles import RulesMap
from textual.geometry import Size
from textual.message import Message
from textual.widgets import Input, Static

from dusttui.tui.explorer.data import Pos, TraceData
from dusttui.tui.explorer.json_tree import JsonTree
from dusttui.tui.explorer.jsonpath import Path, dumps, find_paths
from dusttui.tui.explorer.safe_text import lines, one_line
from dusttui.tui.explorer.search import SearchError, parse_query
from dusttui.tui.explorer.summary import GLYPHS, input_label


class QuietStatic(Static):
    """A Static whose change of height costs one layout, not two.

    After a layout Textual sets a widget's virtual size through a reactive that asks for another
    layout; that one only matters when a scrollbar may come or go (content taller than the box).
    """

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        overflow = virtual_size.height > size.height or self.show_vertical_scrollbar
        return super()._size_updated(size, virtual_size, container_size, layout and overflow)


class ErrorBox(QuietStatic, can_focus=True):
    """The execution's error in full; focusable, so ``y`` can copy it."""


def set_text(widget: Static, text: str) -> None:
    """Show plain ``text`` in ``widget``; lay the screen out again only if its height changes."""
    if str(widget.content) == text:
        return
    width = widget.content_size.width
    rules = cast(RulesMap, widget.styles)  # what Textual's own layout passes (typed narrower)
    before = widget.visual.get_height(rules, width) if width else -1
    widget.update(Text(text), layout=False)
    if not width or widget.visual.get_height(rules, width) != before:
        widget.refresh(layout=True)


class ValueView(Vertical):
    """Shows the execution at one position; empty until one is opened."""

    BINDINGS = [
        Binding(
            "slash",
            "find",
            "Find in value",
            id="explorer.value.find",
            tooltip="Search inside this value",
        ),
        Binding(
            "f3,down",
            "find_step(1)",
            "Next match",
            id="explorer.value.find_next",
            tooltip="Next match of the find in value (enter too)",
            show=False,
        ),
        Binding(
            "shift+f3,shift+enter,up",
            "find_step(-1)",
            "Prev match",
            id="explorer.value.find_prev",
            tooltip="Previous match of the find in value",
            show=False,
        ),
        Binding(
            "escape",
            "close_find",
            "Close find",
            id="explorer.value.close_find",
            tooltip="Close the find box, then go back to the left pane",
            show=False,
        ),
    ]
    DEFAULT_CSS = """
    ValueView { height: 1fr; }
    ValueView #value-header { height: auto; padding: 0 1; text-style: bold; }
    ValueView #value-error { height: auto; max-height: 50%; padding: 0 1; color: $block-errored; overflow-y: auto; }
    ValueView #value-error:focus { background: $boost; }
    ValueView #value-find { display: none; }
    ValueView.finding #value-find { display: block; }
    ValueView #value-find-status { height: auto; padding: 0 1; color: $text-muted; }
    ValueView JsonTree { height: 1fr; }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.pos: Pos | None = None
        self.error_text: str | None = None  # the shown execution's error, unescaped (for copy)
        self._matches: list[tuple[str, Path]] = []
        self._match_at = -1

    def compose(self) -> ComposeResult:
        yield QuietStatic("Select an execution to see its value.", id="value-header", markup=False)
        yield ErrorBox("", id="value-error", markup=False)
        yield Input(
            placeholder="find (text or /regex/): enter/↓ next, ↑/shift+F3 prev",
            id="value-find",
        )
        yield Static("", id="value-find-status", markup=False)
        yield JsonTree(id="value-json")

    @property
    def json(self) -> JsonTree:
        """The JSON tree of the shown execution."""
        return self.query_one(JsonTree)

    def show(self, data: TraceData, pos: Pos | None) -> None:
        """Render the execution at ``pos`` (or a hint when there is none)."""
        self.pos = pos
        header = self.query_one("#value-header", Static)
        error = self.query_one("#value-error", Static)
        self._matches, self._match_at = [], -1
        set_text(self.query_one("#value-find-status", Static), "")
        e = data.execution(pos) if pos is not None else None
        self.error_text = e.error if e is not None else None
        if pos is None or e is None:
            set_text(header, "Select an execution to see its value.")
            set_text(error, "")
            error.display = False
            self.json.show({})
            return
        b, i, j = pos
        info = data.blocks[b]
        kind = "err" if e.error is not None else "ok"
        title = f"{GLYPHS[kind]} {one_line(info.block_type)} {one_line(info.name)}"
        title += f" · input {input_label(data, i, 50)}"
        if info.in_loop or len(data.row(b, i)) > 1:
            title += f" · iteration {j}"
        title += " · error" if e.error is not None else " · ok"
        set_text(header, title)
        sections: dict[str, Any] = {}
        error.display = e.error is not None
        set_text(error, lines(e.error or ""))
        if e.error is None or e.value is not None:
            sections["value"] = e.value
        sections["meta"] = e.meta
        if info.block_type != "input" and data.input_block is not None:
            sections["input"] = data.input_value(i)
        expand = ("value", "input") if e.error is not None else ("value", "meta")
        self.json.show(sections, expand=expand)

    def copy_text(self, what: str) -> tuple[str, str] | None:
        """(text to copy, what it is) for what has the focus in the value view: the error (its
        whole message), or the value (``value``) or JSON path (``path``) under the JSON cursor."""
        if self.query_one(ErrorBox).has_focus and self.error_text is not None:
            return self.error_text, "the error message"
        if not self.json.has_focus:
            return None
        found = self.json.cursor_path()
        if found is None:
            return None
        section, path, value = found
        if what == "path":
            return path, f"JSON path {path} ({section})"
        text = value if isinstance(value, str) else dumps(value, indent=True)
        return text, f"{section} at {path}"

    # ------------------------------------------------------------------ find in value

    def action_find(self) -> None:
        """Open the find box."""
        self.add_class("finding")
        self.query_one("#value-find", Input).focus()

    @on(Input.Submitted, "#value-find")
    def _find_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.find(event.value)

    def action_find_step(self, step: int) -> None:
        """Go to the next (1) or previous (-1) match of the find box's text."""
        if not self.has_class("finding"):
            raise SkipAction()  # up/down belong to the JSON tree then
        self.find(self.query_one("#value-find", Input).value, step)

    def find(self, text: str, step: int = 1) -> int:
        """Find ``text`` in keys and values; jump ``step`` matches on (-1: back). Returns how many matched."""
        status = self.query_one("#value-find-status", Static)
        try:
            match = parse_query(text).matcher()
        except SearchError as exc:
            status.update(Text(one_line(str(exc))))
            return 0
        if not self._matches or self._last_find != text:
            tree = self.json
            self._matches = [
                (section, p)
                for section, value in tree.sections.items()
                for p in find_paths(value, lambda s: match(s) is not None)
            ]
            tree.matches = set(self._matches)
            self._match_at = -1 if step > 0 else 0  # so the first step back lands on the last
            self._last_find = text
        if not self._matches:
            status.update(Text(one_line(f"no match for {text!r}")))
            return 0
        self._match_at = (self._match_at + step) % len(self._matches)
        section, p = self._matches[self._match_at]
        node = self.json.reveal(section, p)
        if node is not None:
            self.json.goto(node)
        self.json.refresh()
        status.update(Text(f"match {self._match_at + 1}/{len(self._matches)}"))
        return len(self._matches)

    _last_find: str = ""

    class Leave(Message):
        """Escape in the value view: give the focus back to the left pane."""

    def action_close_find(self) -> None:
        """Escape closes the find box, then leaves the value view; then it reaches the screen."""
        if self.has_class("finding"):
            self.remove_class("finding")
            self.json.focus()
        elif self.json.has_focus or self.query_one(ErrorBox).has_focus:
            self.post_message(self.Leave())
        else:
            raise SkipAction()
