"""What the headless commands print: progress on stderr, the run on stdout (JSON or a summary).

Every text from a server or a user goes through :mod:`dusttui.textsafe` on its way out: what a
terminal would obey (escape sequences, C1 controls) is printed escaped, and JSON stays exact JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
import orjson

from dusttui.exitcodes import EXIT_OK, EXIT_RUN_ERRORED
from dusttui.textsafe import safe_json, safe_json_bytes, safe_line, safe_text

if TYPE_CHECKING:
    from dusttui.api.models import App
    from dusttui.api.requestlog import RequestRecord
    from dusttui.api.state import BlockState, RunState
    from dusttui.costs import RunCost
    from dusttui.session.ends import RunEnd
    from dusttui.session.runs import Change
    from dusttui.session.tracked import TrackedRun


# The live line of a running block on a terminal's stderr (its width), rewritten in place with
# a carriage return: every other line written to stderr clears it first.
_live = {"width": 0}


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 input`, `2 inputs`, `0 runs` (``many``: an irregular plural)."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def clear_live() -> None:
    """Wipe the live line, if one is on screen (nothing is written otherwise)."""
    width = _live["width"]
    if width:
        sys.stderr.write("\r" + " " * width + "\r")
        sys.stderr.flush()
        _live["width"] = 0


def write_live(line: str) -> None:
    """Show ``line`` as the live line, over the previous one (a terminal only)."""
    pad = max(0, _live["width"] - len(line))
    sys.stderr.write("\r" + line + " " * pad)
    sys.stderr.flush()
    _live["width"] = len(line)


def err(message: str) -> None:
    """An error (or a fact the user must see) on stderr, always; server text shown safely."""
    clear_live()
    click.echo(f"dusttui: {safe_text(message)}", err=True)


def size_text(count: int) -> str:
    """`512 B`, `5.3 kB`, `12.0 MB`."""
    if count < 1000:
        return f"{count} B"
    if count < 1_000_000:
        return f"{count / 1000:.1f} kB"
    return f"{count / 1_000_000:.1f} MB"


def request_line(record: RequestRecord) -> str:
    """One API call as ``--verbose`` prints it:
    `GET http://…/apps → 200 · ↑0 B ↓5.3 kB · 14 ms` (retry, stream and failure said)."""
    outcome = str(record.status) if record.status is not None else "failed"
    if record.stream:
        outcome += " stream"
    parts = [
        f"{record.method} {safe_line(record.url)} → {outcome}",
        f"↑{size_text(record.sent_bytes)} ↓{size_text(record.received_bytes)}",
    ]
    if record.elapsed is not None:
        parts.append(
            f"{record.elapsed * 1000:.0f} ms" if record.elapsed < 1 else duration(record.elapsed)
        )
    if record.retry:
        parts.append(f"retry {record.retry}")
    if record.error:
        parts.append(safe_line(record.error))
    return " · ".join(parts)


BODY_SHOWN = 500  # characters of a body `-vv` prints (the record keeps more)


def request_bodies(record: RequestRecord) -> list[str]:
    """`-vv`: the request's body and the answer's first bytes, one line each, escaped (the key
    is never in them: the record scrubbed it)."""
    lines = []
    for label, data, size in (
        ("sent", record.request_body, record.sent_bytes),
        ("answer", record.response_head, record.received_bytes),
    ):
        if not size:
            continue
        text = safe_line(data.decode("utf-8", errors="replace"))
        shown = text[:BODY_SHOWN]
        cut = len(shown) < len(text) or len(data) < size
        lines.append(f"  {label}: {shown}" + (f" … ({size_text(size)} in all)" if cut else ""))
    return lines


def log_requests(*, bodies: bool = False) -> None:
    """`--verbose`: every API call of this process, one line on stderr as each one ends;
    ``bodies`` (`-vv`): then what was sent and the answer's first bytes."""
    from dusttui.api.requestlog import RequestLog
    from dusttui.session.backend import set_process_request_log

    log = RequestLog(limit=1)  # printed as they end: nothing needs to be kept

    def show(record: RequestRecord) -> None:
        if record.done:
            err(request_line(record))
            if bodies:
                for line in request_bodies(record):
                    click.echo(line, err=True)

    log.subscribe(show)
    set_process_request_log(log)


def _color() -> bool:
    return "NO_COLOR" not in os.environ and sys.stderr.isatty()


def progress(message: str, fg: str | None = None) -> None:
    """A progress line on stderr, only when a person is watching it."""
    if sys.stderr.isatty():
        clear_live()
        message = safe_text(message)
        click.echo(click.style(message, fg=fg) if fg and _color() else message, err=True)


def emit_json(value: Any) -> None:
    """One JSON document (or JSON line) on stdout: exact JSON, nothing a terminal obeys."""
    sys.stdout.write(safe_json(json.dumps(value, ensure_ascii=False)) + "\n")
    sys.stdout.flush()


def emit_json_text(text: bytes) -> None:
    """JSON already written out, as one line on stdout (made terminal-safe, still exact)."""
    sys.stdout.write(safe_json_bytes(text).decode("utf-8", "surrogatepass") + "\n")
    sys.stdout.flush()


GLYPH = {"running": "●", "succeeded": "✓", "errored": "✗"}
COLOR = {"running": "yellow", "succeeded": "green", "errored": "red"}
BAR_WIDTH = 10


def counts(block: BlockState) -> str:
    """`256 ok, 3 errored · ran 259/1000` — a block that stopped partway says how far it got."""
    text = f"{block.success_count} ok"
    if block.error_count:
        text += f", {block.error_count} errored"
    done = block.success_count + block.error_count
    if block.status != "running" and block.expected is not None and done < block.expected:
        text += f" · ran {done}/{block.expected}"
    return text


def block_line(block: BlockState) -> str:
    """One finished block, as the progress on stderr and the summary show it."""
    kind, name = safe_line(block.block_type), safe_line(block.name)
    return f"{GLYPH.get(block.status, '?')} {kind:<8} {name:<16} {counts(block)}"


def duration(seconds: float | None) -> str:
    """`1.2 s`, `3 min 04 s`; `—` when unknown (never a made-up `0.0 s`)."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def bar(done: int, expected: int | None, width: int = BAR_WIDTH) -> str:
    """`██████░░░░ 6/10`, or just the count when the total is unknown."""
    if not expected:
        return f"{done}" if done else ""
    filled = min(width, int(width * done / expected))
    return "█" * filled + "░" * (width - filled) + f" {done}/{expected}"


def pace_text(rate: float | None, eta: float | None) -> str:
    """`120/s · 6 s left`, or what of it is known."""
    parts = []
    if rate is not None:
        parts.append(f"{rate:,.0f}/s" if rate >= 10 else f"{rate:.1f}/s")
    if eta is not None:
        parts.append(f"{duration(eta)} left")
    return " · ".join(parts)


class Printer:
    """The progress of a followed run on stderr (a terminal only), and its id (always)."""

    LIVE_EVERY = 0.1  # the live line is rewritten at most ten times a second

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.tty = sys.stderr.isatty()
        self.seen: dict[tuple[str, str], str] = {}
        self.shown: set[str] = set()
        """Block lines printed as progress: a summary on the same terminal need not repeat them."""
        self.connection: str | None = None
        self.retry = 0
        self.live_at = 0.0

    def __call__(self, run: TrackedRun, change: Change) -> None:
        if change == "started" and run.run_id is not None:
            # `watch` and `get` open a run someone else started: never "started" for them.
            err(f"run {run.run_id} {'opened' if run.opened else 'started'}")
            return
        if change == "ended":
            clear_live()
            end = run.end
            if end is not None and run.run_id is not None:
                glyph = GLYPH.get(run.status, "✗")
                said = "" if end.reason == "succeeded" else f": {end.message}"
                took = duration(run.elapsed(self.clock()))
                if not run.opened:
                    when = f" in {took}"
                elif run.followed:  # how long it ran is unknown: how long it was watched
                    when = f" (watched for {took})"
                else:
                    when = ""  # it was over when opened
                progress(f"{glyph} run {run.status}{when}{said}", COLOR.get(run.status, "red"))
            return
        if change != "updated" or not self.tty:
            return
        self._connection(run)
        state = run.state
        if state is None:
            return
        for block in state.blocks:
            key = (block.block_type, block.name)
            if self.seen.get(key) != block.status:
                self.seen[key] = block.status
                if block.status != "running":
                    line = block_line(block)
                    self.shown.add(line)
                    progress(line, COLOR.get(block.status))
        self._live(run)

    def _connection(self, run: TrackedRun) -> None:
        connection = run.connection
        if connection == "reconnecting":
            if run.retry != self.retry:
                self.retry = run.retry
                wait = f" in {run.retry_in:g} s" if run.retry_in is not None else ""
                progress(f"  … connection lost to {run.host} · retry {run.retry}{wait}")
        else:
            self.retry = 0
        if connection == self.connection:
            return
        self.connection = connection
        if connection == "connecting" and run.mode == "blocking":
            progress("  … waiting for the answer (blocking mode: the run comes back whole)")
        elif connection not in ("streaming", "connecting", "reconnecting"):
            progress(f"  … {connection}" + (f": {run.note}" if run.note else ""))

    def _live(self, run: TrackedRun) -> None:
        state = run.state
        now = self.clock()
        if state is None or now - self.live_at < self.LIVE_EVERY:
            return
        running = [b for b in state.blocks if b.status == "running"]
        if not running:
            clear_live()
            return
        block = running[-1]
        self.live_at = now
        done = block.success_count + block.error_count
        pace = run.pace(block, now)
        kind, name = safe_line(block.block_type), safe_line(block.name)
        parts = [f"● {kind:<8} {name:<16} {bar(done, block.expected)}"]
        more = pace_text(pace.rate, pace.eta)
        if more:
            parts.append(more)
        write_live("  ".join(parts))


def report(
    state: RunState,
    end: RunEnd | None,
    *,
    as_json: bool,
    as_jsonl: bool = False,
    shown: set[str] | None = None,
    cost: bool = True,
    cost_json: bool = False,
) -> int:
    """Print the final run as promised and return the exit code of its status.

    ``shown``: block lines the same terminal already shows as progress (not repeated).
    ``cost``: the summary ends with the run's estimated cost; ``cost_json``: the JSON run
    carries it under ``dusttui_cost`` (``dusttui get --json``)."""
    if as_json:
        text = state.to_wire_json()
        if cost_json:
            estimate = estimate_cost(state)
            extra = orjson.dumps(estimate.to_json() if estimate is not None else None)
            text = text[:-1] + b',"dusttui_cost":' + extra + b"}"
        emit_json_text(text)
    elif as_jsonl:
        emit_json_text(b'{"run":' + state.to_wire_json() + b"}")
    else:
        click.echo(summary(state, end, shown=shown, cost=estimate_cost(state) if cost else None))
    return EXIT_OK if state.status == "succeeded" else EXIT_RUN_ERRORED


def estimate_cost(state: RunState) -> RunCost | None:
    """The run's estimated cost from the prices (bundled + the user's file); None when it used
    no tokens, or the user's price file cannot be read (said on stderr)."""
    from dusttui.costs import PriceError, load_prices, run_cost, user_prices_path

    try:
        table = load_prices(user_prices_path())
    except PriceError as exc:
        err(f"{exc} Cost estimates are left out.")
        return None
    return run_cost(state, table)


def summary(
    state: RunState,
    end: RunEnd | None = None,
    *,
    shown: set[str] | None = None,
    cost: RunCost | None = None,
) -> str:
    """The readable end-of-run summary (plain text; server text shown safely).

    Block lines in ``shown`` are left out: the progress above, on the same terminal, has them.
    ``cost``: the estimate, last."""
    status = end.status if end is not None else (state.status or "running")
    glyph = GLYPH.get(state.status or "", "?") if status == state.status else "✗"
    lines = [f"run {safe_line(state.run_id or '')} {glyph} {status}"]
    # Why, when it did not end by itself or the engine said (a run errored by its blocks shows
    # its errors below instead).
    if end is not None and end.reason != "succeeded":
        if end.reason != "errored" or state.end_message:
            lines.append(f"  why: {_indented(end.message, 7)}")
    for block in state.blocks:
        line = block_line(block)
        if shown is None or line not in shown:
            lines.append(f"  {line}")
    errors = list(state.errors)
    if errors:
        lines.append(f"errors ({len(errors)}):")
        for ref in errors[:20]:
            where = f"input {ref.input_index}"
            if ref.iteration:
                where += f", iteration {ref.iteration}"
            # stack lines stay under their error
            lines.append(f"  {safe_line(ref.block_name)} ({where}): {_indented(ref.message, 6)}")
        if len(errors) > 20:
            lines.append(f"  … and {len(errors) - 20} more (use --json for all)")
    results = state.results
    if results is not None:
        lines.append("results:")
        for index, executions in enumerate(results[:20]):
            values = [e.value for e in executions]
            one = values[0] if len(values) == 1 else values
            text = safe_line(json.dumps(one, ensure_ascii=False))
            lines.append(f"  [{index}] {text if len(text) <= 200 else text[:199] + '…'}")
        if len(results) > 20:
            lines.append(f"  … and {len(results) - 20} more (use --json for all)")
    if cost is not None:
        from dusttui.costs import cost_lines

        lines += cost_lines(cost)
    return "\n".join(lines)


def _indented(message: str, indent: int) -> str:
    """A message that may span lines, shown safely, its later lines indented."""
    return safe_text(message).replace("\n", "\n" + " " * indent)


def apps_lines(apps: list[App]) -> list[str]:
    """`dusttui apps` as text: name, sId and what to know of each app, in aligned columns."""
    rows = []
    for app in apps:
        description = (app.description or "").splitlines()[0] if app.description else ""
        note = safe_line(_app_note(app, description))
        rows.append((safe_line(app.name), safe_line(app.sId), note))
    width = max((len(name) for name, _, _ in rows), default=0)
    return [f"{name.ljust(width)}  {sid}  {note}".rstrip() for name, sid, note in rows]


def _app_note(app: App, description: str) -> str:
    """An app's description, or why the local engine cannot run it (a .dust file that does not
    parse) or skipped a file beside it."""
    from dusttui.specs import engine_extension

    ext = engine_extension(app)
    error, problems = ext.get("specificationError"), ext.get("problems")
    if isinstance(error, str) and error:
        return f"✗ does not parse: {error}"
    if isinstance(problems, list) and problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return f"⚠ {problems[0]}{more}" + (f" · {description}" if description else "")
    return description
