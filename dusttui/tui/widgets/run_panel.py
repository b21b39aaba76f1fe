"""The run pane: a title line, the block table, what the selected block gave, the errors.

The table's cursor follows the running block (so streamed tokens show as they come) and, once the
run is over, rests on its last block (its results), until the user moves it. The error panel is
one panel, updated in place as `n` / `N` step through the errors, and shows a whole message when
expanded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from dusttui.tui import safe
from dusttui.tui.runs import TrackedRun, short_id
from dusttui.tui.widgets.block_table import GLYPHS, BlockTable
from dusttui.tui.widgets.run_rows import input_count, table_blocks

MAX_ITERATIONS = 64  # a map has at most 64 elements
MODEL_BLOCKS = ("llm", "chat")


@dataclass(frozen=True)
class Hints:
    """The keys the pane's texts name, as the user's keymap makes them."""

    prev_input: str = "["
    next_input: str = "]"
    next_error: str = "n"
    prev_error: str = "N"
    full_error: str = "z"
    launch: str = "r"
    hash: str = "h"
    mode: str = "m"
    focus_config: str = "e"
    focus_inputs: str = "i"
    focus_spec: str = "s"
    save_back: str = "S"


def run_title(run: TrackedRun, now: float) -> Text:
    """`Run 5be2f4… · qa-demo · ✓ succeeded · 1.2 s · stream`."""
    status = run.status
    glyph = GLYPHS.get(status, "◌" if status == "detached" else "✗")
    took = "—" if run.opened and not run.followed else f"{run.elapsed(now):.1f} s"
    parts = [f"Run {short_id(run.run_id)}", safe.line(run.app_name), f"{glyph} {status}", took]
    parts.append(run.mode)
    if run.waiting:
        parts.append("waiting for the answer")
    elif run.connection == "starting" and not run.done:
        parts.append("waiting for the local engine to start")
    return Text(" · ".join(parts), no_wrap=True, overflow="ellipsis")


def token_lines(live: TrackedRun, block_name: str, input_index: int, tail: int = 320) -> str:
    """The newest streamed text of a block for one input (each map iteration on its own line).

    Only the last ``tail`` characters of each: the pane shows the end of what is streaming."""
    state = live.state
    if state is None:
        return ""
    pieces = []
    for iteration in range(MAX_ITERATIONS):
        text = state.token_text(block_name, input_index, iteration)
        reasoning = state.reasoning_text(block_name, input_index, iteration)
        if not text and not reasoning:
            if iteration:
                break
            continue
        label = f"[{iteration}] " if iteration else ""
        if reasoning:
            pieces.append(f"{label}(reasoning) {_tail(safe.line(reasoning), tail)}")
        if text:
            pieces.append(f"{label}{_tail(safe.line(text), tail)}")
    return "\n".join(pieces)


def fitted(base: str, tails: list[str], width: int, *, dim_tail: bool = True) -> Text:
    """``base`` and the longest of ``tails`` (key hints, longest first) that fit on one line;
    ``base`` itself is cut with an ellipsis when even it does not fit."""
    tail = next((t for t in tails if len(base) + len(t) <= width), "")
    text = Text(base, no_wrap=True)
    if tail:
        text.append(tail, style="dim" if dim_tail else "")
    text.truncate(max(1, width), overflow="ellipsis")
    return text


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def _value_text(value: Any, limit: int) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    except (TypeError, ValueError):
        text = repr(value)
    text = safe.line(text)
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def detail_text(
    run: TrackedRun, key: str | None, input_index: int, width: int, hints: Hints, lines: int = 3
) -> Text:
    """What the selected block gave for one input: its streamed tokens while it streams, then its
    value (or its error); the last block of a succeeded run is the run's result."""
    state = run.state
    if state is None or key is None:
        return Text("")
    block_type, name = key.split(":", 1)
    inputs = input_count(state)
    index = min(input_index, max(0, inputs - 1))
    where = f"input {index} (0–{inputs - 1})" if inputs > 1 else "input 0" if inputs else ""
    last_key = state.trace_keys()[-1] if state.trace_keys() else None
    is_result = state.status == "succeeded" and last_key == (block_type, name)
    word = "result" if is_result else "output"
    base = f"{word} of {block_type} {safe.line(name)}" + (f" · {where}" if where else "")
    keys = f"{hints.prev_input} {hints.next_input}"
    tails = [" · ↑↓ other blocks", " · ↑↓ blocks", ""]
    if inputs > 1:
        tails = [f" · {keys} other inputs · ↑↓ other blocks", f" · {keys} inputs · ↑↓ blocks", ""]
    head = fitted(base, tails, width - 2)
    head.stylize("bold", 0, len(word))
    room = max(20, (width - 2) * max(1, lines))
    body = ""
    if block_type in MODEL_BLOCKS:
        body = token_lines(run, name, index, room)
    rows = state.executions(block_type, name)
    if not body and index < len(rows) and len(rows[index]):
        values = []
        for iteration, execution in enumerate(rows[index]):
            label = f"[{iteration}] " if len(rows[index]) > 1 else ""
            if execution.error is not None:
                values.append(f"{label}✗ {safe.line(execution.error)}")
            else:
                values.append(label + _value_text(execution.value, room))
        body = "\n".join(values)
        if len(body) > room:
            body = body[: room - 1] + "…"
    if not body:
        block = state.block(block_type, name)
        if block is None:
            body = "(not run)" if state.done else "(waiting for its turn)"
        elif block.status == "running":
            body = (
                "(its tokens stream here)"
                if block_type in MODEL_BLOCKS
                else "(running: its values come when the block ends)"
            )
        else:
            body = "(no value for this input)"
    return Text.assemble(head, "\n", Text(body, no_wrap=False))


def error_panel(run: TrackedRun, cursor: int, expanded: bool, width: int, hints: Hints) -> Text:
    """Why the run ended when it did not end by itself, then the error under the cursor (the
    first one until `n` / `N` move it): one line cut with an ellipsis, or whole when expanded."""
    state = run.state
    out = Text()
    if state is not None and state.prerun_error is not None:
        code, message = state.prerun_error
        out.append(f"✗ run refused ({safe.line(code)}): ")
        out.append(safe.lines(message) if expanded else safe.line(message))
        return out
    lines: list[Text] = []
    end = run.end
    if end is not None and end.reason not in ("succeeded", "errored"):
        glyph = "◌" if end.reason == "detached" else "✗"
        lines.append(Text(f"{glyph} {safe.line(end.message)}"))
    elif state is not None and state.end_message and state.status == "errored":
        lines.append(Text(f"✗ {safe.line(state.end_message)}"))
    errors = state.errors if state is not None else []
    if errors:
        k = min(max(cursor, 0), len(errors) - 1)
        ref = errors[k]
        base = (
            f"✗ error {k + 1}/{len(errors)} · {safe.line(ref.block_name)} · input {ref.input_index}"
        )
        if ref.iteration:
            base += f" · iteration {ref.iteration}"
        toggle = "collapse" if expanded else "whole message"
        step = f"{hints.next_error}/{hints.prev_error}"
        if len(errors) > 1:
            tails = [
                f"  ({step} step · {hints.full_error} {toggle})",
                f"  ({step} · {hints.full_error})",
            ]
        else:
            tails = [f"  ({hints.full_error} {toggle})", f"  ({hints.full_error})"]
        head = fitted(base, [*tails, ""], width - 2, dim_tail=True)
        lines.append(head)
        message = ref.message.strip() or "(no message)"
        if expanded:
            lines.append(Text(safe.lines(message)))
        else:
            first, *more = message.splitlines()
            cut = Text(safe.line(first) + (" …" if more else ""), no_wrap=True)
            cut.truncate(max(10, width - 2), overflow="ellipsis")
            lines.append(cut)
    return Text("\n").join(lines)


class RunPanel(Vertical):
    """Shows one run at a time (the selected one); updated in place as it progresses."""

    DEFAULT_CSS = """
    RunPanel { height: 1fr; }
    RunPanel > #run-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    RunPanel > #run-detail { height: 4; padding: 0 1; color: $text-muted; }
    RunPanel > #run-errors-box { height: auto; max-height: 3; padding: 0 1; }
    RunPanel > #run-errors-box.-expanded { max-height: 60%; }
    RunPanel #run-errors { color: $block-errored; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: dict[str, str] = {}
        self.hints = Hints()
        self.error_cursor = 0
        self.expanded = False
        self._detail: tuple[tuple[Any, ...], Text] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("No run yet: pick an app and press r to launch one."), id="run-title")
        yield BlockTable(id="blocks")
        yield Static(id="run-detail")
        with VerticalScroll(id="run-errors-box"):
            yield Static(id="run-errors")

    @property
    def table(self) -> BlockTable:
        """The block table."""
        return self.query_one(BlockTable)

    def _set(self, widget_id: str, text: Text, *, layout: bool = False) -> None:
        # Repaint only when the text changed; fixed-height lines never re-layout the screen.
        if self._shown.get(widget_id) != text.plain:
            self._shown[widget_id] = text.plain
            self.query_one(f"#{widget_id}", Static).update(text, layout=layout)

    def show(
        self,
        live: TrackedRun,
        now: float,
        input_index: int,
        spec: list[tuple[str, str]] | None = None,
    ) -> None:
        """Bring the pane up to date with ``live`` (``spec``: the app's blocks, in order)."""
        self._set("run-title", run_title(live, now))
        table = self.table
        state = live.state
        blocks = table_blocks(state, spec) if state is not None else []
        table.show_rows(blocks, live.now(now), live.pace)
        if not table.user_moved and state is not None:
            self._follow(live)
        key = table.selected_key()
        width = self.size.width or 80
        lines = max(1, self.query_one("#run-detail").size.height - 1)
        version = state.version if state is not None else -1
        seen = (live.key, version, key, input_index, width, lines, self.hints)
        if self._detail is None or self._detail[0] != seen:  # values are read once per change
            detail = detail_text(live, key, input_index, width, self.hints, lines)
            self._detail = (seen, detail)
        self._set("run-detail", self._detail[1])
        errors = error_panel(live, self.error_cursor, self.expanded, width, self.hints)
        self._set("run-errors", errors, layout=True)

    def _follow(self, live: TrackedRun) -> None:
        """The cursor on the running block; once the run is over, on its last block."""
        state = live.state
        assert state is not None
        running = [b for b in state.blocks if b.status == "running"]
        if running:
            self.table.select_key(f"{running[-1].block_type}:{running[-1].name}")
        elif state.done and state.trace_keys():
            block_type, name = state.trace_keys()[-1]
            self.table.select_key(f"{block_type}:{name}")

    def toggle_errors(self) -> bool:
        """Show the whole error message, or one line of it again; True when expanded."""
        self.expanded = not self.expanded
        self.query_one("#run-errors-box").set_class(self.expanded, "-expanded")
        return self.expanded

    def clear(self, message: str) -> None:
        """Show no run."""
        self._set("run-title", Text(message))
        self.table.reset()
        self._set("run-detail", Text(""))
        self._set("run-errors", Text(""), layout=True)
