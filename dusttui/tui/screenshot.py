"""Saving the palette's "Screenshot": where it goes, and a sentence either way.

Textual saves into the Downloads folder and says only "Failed to save screenshot" when that folder
is missing (a fresh account, a server). Here the screenshot goes into Downloads when it exists,
else into ``screenshots/`` in the data folder (created, readable by you only), and the message
says where, or why it could not be written. Plain file I/O: callers run it off the UI thread.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def screenshot_name(title: str, clock: float | None = None) -> str:
    """`dusttui_2026-12-04T23_10_05.svg`: sortable, no characters a file system refuses."""
    stamp = time.strftime("%Y-%m-%dT%H_%M_%S", time.localtime(clock))
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in title) or "screenshot"
    return f"{safe}_{stamp}.svg"


def save_screenshot(svg: str, name: str, downloads: Path, fallback: Path) -> tuple[bool, str]:
    """Write ``svg`` as ``name`` into ``downloads``, or ``fallback`` when ``downloads`` is not
    a folder; (saved, the sentence for the user)."""
    note = ""
    folder = downloads
    if not downloads.is_dir():
        note = f"{downloads} does not exist: "
        folder = fallback
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            return (
                False,
                f"Screenshot not saved: {note}and {folder} cannot be created ({_why(exc)}).",
            )
    path = folder / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(svg)
    except OSError as exc:
        return False, f"Screenshot not saved: {note}{path} cannot be written ({_why(exc)})."
    return (
        True,
        f"{note}saved the screenshot to {path}" if note else f"Saved the screenshot to {path}",
    )


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
