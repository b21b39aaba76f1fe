"""Full garbage collections between keystrokes, not during them.

Python's cyclic GC runs its older generations whenever enough objects have survived. Each jump
in the explorer builds and drops a few hundred tree nodes, so a quarter of the key presses would
carry a middle-generation collection (~5 ms) and one in forty a full one (~50 ms: the app's
objects, not the run's, which is JSON text). While the explorer is open only the youngest
generation collects automatically (well under a millisecond); the others run when the user has
paused (or every few seconds of non-stop activity); closing the explorer restores the thresholds.
(``bench/explorer_bench.py`` measures it; nothing is ever frozen out of the collector's reach.)
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

NEVER = 2**30  # a threshold the older generations' counters never reach


class IdleCollector:
    """Defers full collections to quiet moments; :meth:`tick` is called by a timer."""

    def __init__(
        self,
        quiet: float = 0.4,
        longest: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet = quiet  # seconds without activity before a full collection
        self.longest = longest  # a full collection at least this often while collections wait
        self.clock = clock
        self.saved: tuple[int, int, int] | None = None
        self.last_activity = self.last_collection = clock()
        self.pending = False
        self.collections = 0

    def start(self) -> None:
        """Stop automatic collections of the older generations (the youngest keeps collecting)."""
        if self.saved is None:
            self.saved = gc.get_threshold()
            gc.set_threshold(self.saved[0], NEVER, NEVER)

    def stop(self) -> None:
        """Give the GC its thresholds back."""
        if self.saved is not None:
            gc.set_threshold(*self.saved)
            self.saved = None

    def touch(self) -> None:
        """The user did something: wait for a pause before collecting."""
        self.last_activity = self.clock()
        self.pending = True

    def tick(self) -> bool:
        """Collect if the user paused (or waited too long); returns whether it collected."""
        if self.saved is None or not self.pending:
            return False
        now = self.clock()
        if now - self.last_activity < self.quiet and now - self.last_collection < self.longest:
            return False
        gc.collect()
        self.pending = False
        self.last_collection = self.clock()
        self.collections += 1
        return True
