"""The runs list's labels; the runs themselves are the session's :class:`TrackedRun` objects."""

from __future__ import annotations

import time

from rich.text import Text

from dusttui.session.tracked import MODES, TrackedRun, short_id

__all__ = ["GLYPH", "LABEL_WIDTH", "MODES", "LiveRun", "TrackedRun", "run_label", "short_id"]

GLYPH = {"running": "●", "succeeded": "✓", "errored": "✗", "detached": "◌"}
LABEL_WIDTH = 31
LiveRun = TrackedRun  # the name the panes knew it by


def short_label_id(run_id: str | None) -> str:
    """Six characters that tell runs apart: a merged run (`merged-BASE-RERUN`) by its base."""
    if not run_id:
        return "……"
    if run_id.startswith("merged-"):
        return "⊕" + run_id[7:12]
    return run_id[:6]


def run_label(
    run_id: str | None, status: str, when: float, app_name: str, colours: dict[str, str]
) -> Text:
    """`✓ 5be2f4 12:01 qa-demo` on one line (the app name is cut to fit)."""
    label = Text(no_wrap=True, overflow="ellipsis")
    style = colours.get(f"block-{status}", colours.get("block-errored", ""))
    if status == "detached":
        style = colours.get("block-running", "")
    label.append(GLYPH.get(status, "✗"), style=style)
    label.append(f" {short_label_id(run_id)} ")
    label.append(time.strftime("%H:%M ", time.localtime(when)), style="dim")
    label.append(app_name)
    label.truncate(LABEL_WIDTH, overflow="ellipsis")  # one line each in the narrow runs list
    return label
