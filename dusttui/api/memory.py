"""Memory of big runs: pause the collector while building them, hand freed pages back after.

Building a run of hundreds of thousands of executions makes as many objects and no cycles: the
collector's full passes in the middle cost seconds, so it is paused. And glibc keeps the pages a
big transient parse freed (hundreds of MB for a 20 MB answer): ``malloc_trim`` returns them.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["gc_paused", "release_memory"]


@contextmanager
def gc_paused(active: bool = True) -> Iterator[None]:
    """Pause the garbage collector: building a big run makes many objects and no cycles."""
    if not active or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS, Windows)
        return None


_TRIM = _malloc_trim()
_armed = False
_hooked = False


def release_memory(*, now: bool = True) -> None:
    """Give the memory freed by a big transient parse back to the system (glibc keeps it).

    ``now=False``: do it after the next full garbage collection, for objects the caller still
    holds (a ``Run`` whose models are about to go).
    """
    global _armed, _hooked
    if _TRIM is None:
        return
    if now:
        _TRIM(0)
        return
    _armed = True
    if not _hooked:  # registered once: a callback must not leave the list while gc walks it
        _hooked = True
        gc.callbacks.append(_after_collect)


def _after_collect(phase: str, info: dict[str, Any]) -> None:
    global _armed
    if _armed and phase == "stop" and info.get("generation") == 2:
        _armed = False
        _TRIM(0)
