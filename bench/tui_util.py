"""Shared bits of the TUI benchmarks: percentiles and writing a section of BENCHMARKS.md."""

from __future__ import annotations

import math
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def write_section(path: Path, title: str, body: str) -> None:
    """Replace (or add) the `## title` section of BENCHMARKS.md, keeping the others."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    head = f"## {title}\n"
    start = text.find(head)
    block = f"{head}\n{body.rstrip()}\n\n"
    if start < 0:
        text = text.rstrip() + "\n\n" + block
    else:
        end = text.find("\n## ", start + len(head))
        text = text[:start] + block + (text[end + 1 :] if end >= 0 else "")
    path.write_text(text.rstrip() + "\n", encoding="utf-8")
