"""The diff of two runs as text for a terminal: what differs in the runs first (hash, config,
inputs), the counts, a table per block (counts, latency and token deltas), then each difference
(the value diff, or both sides side by side). Pure; every value and error goes through
:func:`dusttui.compare.text.safe`, so nothing a run holds reaches the terminal raw.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from dusttui.compare.rundiff import KINDS, BlockDiff, Detail, Difference, RunDiff
from dusttui.compare.text import (
    cell,
    one_line,
    plural,
    pretty_lines,
    safe,
    side_by_side,
    width_of,
)
from dusttui.compare.values import Change, path_text

__all__ = [
    "GLYPH",
    "KIND_TITLES",
    "Style",
    "block_table",
    "change_line",
    "counts_line",
    "detail_lines",
    "header_lines",
    "report_lines",
    "where",
]

# style(text, role) → text: roles are "removed", "added", "title", "dim" (identity: no colour)
Style = Callable[[str, str], str]

KIND_TITLES = {
    "changed": "changed",
    "broken": "broken (value → error)",
    "fixed": "fixed (error → value)",
    "only_a": "only in A",
    "only_b": "only in B",
    "same": "same",
    "pending": "still to come",
}
GLYPH = {"changed": "~", "broken": "✗", "fixed": "✓", "only_a": "-", "only_b": "+"}


def _plain(text: str, role: str) -> str:
    return text


def _short(run_id: str | None) -> str:
    if not run_id:
        return "?"
    n = 15 if run_id.startswith("merged-") else 8  # a merged run: its mark and its first run
    return safe(run_id[:n] + ("…" if len(run_id) > n else ""))


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _signed(n: float, unit: str = "") -> str:
    return f"+{n:,}{unit}" if n > 0 else f"{n:,}{unit}" if n < 0 else f"±0{unit}"


def latency_text(block: BlockDiff) -> str:
    """``12 ms → 9 ms (-3 ms)``, or ``–`` when a side is not known."""
    a, b = block.latency_a, block.latency_b
    if a is None and b is None:
        return "–"
    text = f"{_ms(a)} → {_ms(b)}"
    if a is not None and b is not None:
        text += f" ({_signed(round((b - a) * 1000), ' ms')})"
    return text


def tokens_text(block: BlockDiff) -> str:
    """``120 → 131 (+11)`` (prompt + completion), or ``–`` when neither run used tokens."""
    a, b = block.tokens_a, block.tokens_b
    ta = sum(a) if a is not None else 0
    tb = sum(b) if b is not None else 0
    if not ta and not tb:
        return "–"
    return f"{ta:,} → {tb:,} ({_signed(tb - ta)})"


def where(diff: RunDiff, d: Difference) -> str:
    """``llm MODEL · input 3 (id "x") · iteration 2`` — where a difference is, in both runs."""
    parts = [safe(f"{d.block_type} {d.block_name}")]
    if d.run_level:
        parts.append("run")
    else:
        if d.input_a == d.input_b or d.input_b is None:
            text = f"input {d.input_a}"
        elif d.input_a is None:
            text = f"input {d.input_b} of B"
        else:
            text = f"input {d.input_a} (B: {d.input_b})"
        if diff.key is not None:
            text += f" ({safe(diff.key)} {_clip(one_line(d.label), 40)})"
        parts.append(text)
    if d.iteration:
        parts.append(f"iteration {d.iteration}")
    return " · ".join(parts)


def change_line(change: Change, style: Style = _plain, width: int = 200) -> str:
    """One change of a value diff: ``~ $.a: "x [-old-]{+new+}"``, ``+ $.b: 3``, ``- $.c: …``."""
    path = safe(path_text(change.path))
    if change.op == "added":
        return style(f"+ {path}: {_clip(one_line(change.b), width)}", "added")
    if change.op == "removed":
        return style(f"- {path}: {_clip(one_line(change.a), width)}", "removed")
    if change.words is not None and any(op == "=" for op, _ in change.words):
        pieces = []
        for op, text in change.words:
            shown = _clip(one_line(text)[1:-1], width)  # the JSON string's escapes, no quotes
            if op == "-":
                pieces.append(style(f"[-{shown}-]", "removed"))
            elif op == "+":
                pieces.append(style(f"{{+{shown}+}}", "added"))
            else:
                pieces.append(shown if len(shown) <= 60 else shown[:28] + "…" + shown[-28:])
        return f'~ {path}: "{"".join(pieces)}"'
    old = style(_clip(one_line(change.a), width // 2), "removed")
    new = style(_clip(one_line(change.b), width // 2), "added")
    return f"~ {path}: {old} → {new}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def _side(execution: dict[str, Any] | None, run: str) -> tuple[str, list[str]]:
    if execution is None:
        return (f"{run}: —", ["(no execution)"])
    error = execution.get("error")
    if error is not None:
        return (f"{run} error", safe(str(error), newlines=True).splitlines() or [""])
    return (f"{run} value", pretty_lines(execution.get("value")))


def detail_lines(
    diff: RunDiff,
    detail: Detail,
    width: int,
    style: Style = _plain,
    *,
    inputs: bool = True,
    context: bool = False,
) -> list[str]:
    """One difference: where it is, then its value diff or both sides next to each other.
    ``inputs``: show both inputs when they differ (matched by index). ``context`` (a screen with
    room): the input always, and both values side by side under their value diff."""
    d = detail.difference
    lines = [style(f"{GLYPH[d.kind]} {where(diff, d)}", "title")]
    differ = diff.key is None and detail.input_a != detail.input_b
    if inputs and differ and not d.run_level:
        lines.append(style(f"    input A {_clip(one_line(detail.input_a), width - 14)}", "dim"))
        lines.append(style(f"    input B {_clip(one_line(detail.input_b), width - 14)}", "dim"))
    elif context and not d.run_level:
        shown = detail.input_b if detail.input_b is not None else detail.input_a
        lines.append(style(f"    input {_clip(one_line(shown), width - 12)}", "dim"))
    if d.kind in ("only_a", "only_b"):
        execution = detail.a if d.kind == "only_a" else detail.b
        if execution is not None and execution.get("error") is not None:
            text = "error: " + one_line(execution["error"])[1:-1]
        else:
            text = "value: " + one_line(execution.get("value") if execution else None)
        lines.append("    " + _clip(text, width - 4))
        return lines
    if detail.changes:
        lines += ["    " + change_line(c, style, max(40, width - 8)) for c in detail.changes]
        if detail.more:
            lines.append(f"    … and {detail.more} more changes (--json lists them all)")
        if not context:
            return lines
        lines.append("")
    left, right = _side(detail.a, "A"), _side(detail.b, "B")
    limit = 40 if context else 14
    lines += ["    " + line for line in side_by_side(left, right, width - 4, limit)]
    return lines


def header_lines(diff: RunDiff, width: int, style: Style = _plain) -> Iterator[str]:
    """Both runs, then what differs in them: hash, config, how inputs were matched."""
    a, b = diff.a, diff.b
    for name, run, inputs in (("A", a, diff.pairing.inputs_a), ("B", b, diff.pairing.inputs_b)):
        status = safe(str(run.status or "not started"))
        if not run.done:
            status += " (still running: compared so far)"
        count = "? inputs" if inputs is None else plural(inputs, "input")
        yield f"{name} {_short(run.run_id)}  {status}  hash {_short(run.specification_hash)}  {count}"
    if diff.same_hash is None:
        unknown = " and ".join(n for n, r in (("A", a), ("B", b)) if r.specification_hash is None)
        yield f"hash: not known for {unknown} (a run launched as latest, followed on its stream)"
    elif diff.same_hash:
        yield "hash: same"
    else:
        yield style(
            f"hash: different (A {_short(a.specification_hash)}, B {_short(b.specification_hash)})",
            "title",
        )
    n = len(diff.config_changes) + diff.config_more
    if not n:
        yield "config: same"
    else:
        yield style(f"config: {n} difference{'s' if n > 1 else ''}", "title")
        for change in diff.config_changes[:20]:
            yield "  " + change_line(change, style, width - 4)
        if n > 20:
            yield f"  … and {n - 20} more"
    p = diff.pairing
    if p.key is not None:
        yield (
            f"inputs: matched by `{safe(p.key)}`: {p.matched} in both, {p.only_a} only in A, "
            f"{p.only_b} only in B"
        )
    else:
        text = f"inputs: matched by index: {p.matched} in both"
        if p.only_a or p.only_b:
            text += f", {p.only_a} only in A, {p.only_b} only in B"
        yield text
        moved = sum(blk.differs for blk in diff.blocks if blk.key[0] == "input")
        if moved:
            yield style(
                f"  {plural(moved, 'input')} {'differs' if moved == 1 else 'differ'} at the same"
                " index: --key FIELD matches inputs by a "
                "field instead",
                "dim",
            )


def counts_line(diff: RunDiff) -> str:
    """``3 changed · 1 broken · 0 fixed · 0 only in A · 0 only in B · 120 same``."""
    c = diff.counts
    parts = [f"{c[k]:,} {KIND_TITLES[k].split(' (')[0]}" for k in (*KINDS, "same")]
    if c["pending"]:
        parts.append(f"{c['pending']:,} still to come")
    return " · ".join(parts)


def block_table(diff: RunDiff, width: int) -> list[str]:
    """One line per block: its counts, latency A → B and tokens A → B."""
    heads = ("block", "same", "changed", "broken", "fixed", "only A", "only B", "latency A → B")
    rows = []
    for block in diff.blocks:
        name = safe(f"{block.key[0]} {block.key[1]}")
        if not block.in_a or not block.in_b:
            name += " (A)" if block.in_a else " (B)"
        c = block.counts
        nums = [f"{c[k]:,}" for k in ("same", *KINDS)]
        rows.append([name, *nums, latency_text(block), tokens_text(block)])
    widths = [max([width_of(h), *(width_of(r[n]) for r in rows)]) for n, h in enumerate(heads)]
    widths[0] = min(widths[0], 28)
    lines = []
    for row in [[*heads, "tokens A → B"], *rows]:
        parts = [cell(row[0], widths[0])]
        parts += [row[n].rjust(widths[n]) for n in range(1, 7)]
        parts += [cell(row[7], widths[7]), row[8]]
        line = "  ".join(parts).rstrip()
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    return lines


def report_lines(
    diff: RunDiff, *, width: int = 100, limit: int | None = 100, style: Style = _plain
) -> Iterator[str]:
    """The whole text report, line by line (the first ``limit`` differences; None: all)."""
    yield from header_lines(diff, width, style)
    yield ""
    yield style(counts_line(diff), "title")
    yield ""
    yield from block_table(diff, width)
    total = len(diff)
    shown = total if limit is None else min(limit, total)
    kind = None
    inputs: tuple[int | None, int | None] | None = None
    for k in range(shown):
        detail = diff.detail(k)
        d = detail.difference
        if d.kind != kind:
            kind = d.kind
            inputs = None
            yield ""
            yield style(f"{KIND_TITLES[kind]} ({diff.counts[kind]:,})", "title")
        fresh = (d.input_a, d.input_b) != inputs  # inputs shown once for their differences
        inputs = (d.input_a, d.input_b)
        yield from detail_lines(diff, detail, width, style, inputs=fresh)
    if shown < total:
        yield ""
        more = total - shown
        noun = "difference" if more == 1 else "differences"
        yield f"… and {more:,} more {noun} (--limit 0 shows them all; --json too)"
