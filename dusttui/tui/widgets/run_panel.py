"""The run pane: a title line, the block table, the streamed tokens, the errors."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from dusttui.tui.runs import TrackedRun, short_id
from dusttui.tui.widgets.block_table import GLYPHS, BlockTable

MAX_ITERATIONS = 64  # a map has at most 64 elements


def run_title(run: TrackedRun, now: float) -> Text:
    """`Run 5be2f4… · qa-demo · ✓ succeeded · 1.2 s · stream`."""
    status = run.status
    glyph = GLYPHS.get(status, "◌" if status == "detached" else "✗")
    took = "—" if run.opened and not run.followed else f"{run.elapsed(now):.1f} s"
    parts = [f"Run {short_id(run.run_id)}", run.app_name, f"{glyph} {status}", took, run.mode]
    if run.waiting:
        parts.append("waiting for the answer")
    return Text(" · ".join(parts))


def token_lines(live: TrackedRun, block_name: str, input_index: int, tail: int = 320) -> Text:
    """The newest streamed text of a block for one input (each map iteration on its own line).

    Only the last ``tail`` characters of each: the pane shows the end of what is streaming.
    """
    state = live.state
    if state is None:
        return Text("")
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
            pieces.append(f"{label}(reasoning) {_tail(reasoning, tail)}")
        if text:
            pieces.append(f"{label}{_tail(text, tail)}")
    if not pieces:
        return Text("")
    head = f"tokens ({block_name} · input {input_index}): "
    return Text(head + "\n".join(pieces))


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def error_summary(run: TrackedRun) -> Text:
    """Why the run ended, when it did not end by itself (cancelled, interrupted, detached, the
    connection lost...), then its first error."""
    state = run.state
    if state is not None and state.prerun_error is not None:
        return Text(f"✗ run refused ({state.prerun_error.code}): {state.prerun_error.message}")
    lines = []
    end = run.end
    if end is not None and end.reason not in ("succeeded", "errored"):
        lines.append(f"{'◌' if end.reason == 'detached' else '✗'} {end.message}")
    elif state is not None and state.end_message and state.status == "errored":
        lines.append(f"✗ {state.end_message}")
    if state is not None and state.errors:
        first = state.errors[0]
        text = first.message.strip()
        message = text.splitlines()[0] if text else "(no message)"
        more = f" (+{len(state.errors) - 1} more, n/N to step)" if len(state.errors) > 1 else ""
        lines.append(f"✗ {first.block_name} · input {first.input_index}: {message}{more}")
    return Text("\n".join(lines))


class RunPanel(Vertical):
    """Shows one run at a time (the selected one); updated in place as it progresses."""

    DEFAULT_CSS = """
    RunPanel { height: 1fr; }
    RunPanel > #run-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    RunPanel > #run-tokens { height: 4; padding: 0 1; color: $text-muted; }
    RunPanel > #run-errors { height: 2; padding: 0 1; color: $block-errored; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static(Text("No run yet: pick an app and press r to launch one."), id="run-title")
        yield BlockTable(id="blocks")
        yield Static(id="run-tokens")
        yield Static(id="run-errors")

    @property
    def table(self) -> BlockTable:
        """The block table."""
        return self.query_one(BlockTable)

    def _set(self, widget_id: str, text: Text) -> None:
        # Fixed-height lines: repaint only when the text changed, and never re-layout the screen.
        if self._shown.get(widget_id) != text.plain:
            self._shown[widget_id] = text.plain
            self.query_one(f"#{widget_id}", Static).update(text, layout=False)

    def show(self, live: TrackedRun, now: float, input_index: int) -> None:
        """Bring the pane up to date with ``live``."""
        self._set("run-title", run_title(live, now))
        table = self.table
        blocks = live.state.blocks if live.state is not None else []
        table.show_rows(blocks, live.now(now), live.pace)
        key = table.selected_key()
        name = key.split(":", 1)[1] if key else None
        # What fits in the tokens lines (3 of them after the heading), so the newest text shows.
        tail = max(40, (self.size.width - 4) * 3 - 40)
        tokens = token_lines(live, name, input_index, tail) if name else Text("")
        self._set("run-tokens", tokens)
        self._set("run-errors", error_summary(live))

    def clear(self, message: str) -> None:
        """Show no run."""
        self._set("run-title", Text(message))
        self.table.reset()
        self._set("run-tokens", Text(""))
        self._set("run-errors", Text(""))
