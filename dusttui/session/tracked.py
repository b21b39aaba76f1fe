"""A run the session follows, as the front ends read it: no Textual, no I/O.

:class:`TrackedRun` is filled in by the session (:mod:`dusttui.session.runs`) and read by the CLI's
printer and the TUI's panes: the run's state, how it is being followed, how fast each running
block goes, and once over, how it ended.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dusttui.session.ends import RunEnd

if TYPE_CHECKING:  # the reducer pulls in pydantic: not needed before the first frame
    from dusttui.api.state import BlockState, RunState

__all__ = ["MODES", "Pace", "TrackedRun", "short_id"]

MODES = ("stream", "poll", "blocking")
RATE_WINDOW = 5.0  # seconds of samples the rate of a block is measured over


def short_id(run_id: str | None) -> str:
    """`5be2f4…`: enough of a run id to recognise it."""
    return f"{run_id[:6]}…" if run_id else "(starting)"


@dataclass(frozen=True)
class Pace:
    """How fast a running block goes: executions per second, and seconds left (None: unknown)."""

    rate: float | None
    eta: float | None


class _Samples:
    """(time, executions done) of one running block over the last few seconds."""

    __slots__ = ("points",)

    def __init__(self) -> None:
        self.points: deque[tuple[float, int]] = deque()

    def add(self, now: float, done: int) -> None:
        points = self.points
        if points and points[-1][1] == done:
            return
        if points and done < points[-1][1]:  # a new iteration of a loop: start over
            points.clear()
        points.append((now, done))
        while len(points) > 2 and now - points[0][0] > RATE_WINDOW:
            points.popleft()

    def pace(self, now: float, expected: int | None, done: int) -> Pace:
        points = self.points
        if len(points) < 2:
            return Pace(None, None)
        (t0, d0), (t1, d1) = points[0], points[-1]
        # Measured up to now: a block that stalled slows down as the seconds pass.
        span = max(now, t1) - t0
        if span <= 0 or d1 <= d0:
            return Pace(None, None)
        rate = (d1 - d0) / span
        eta = (expected - done) / rate if expected is not None and expected >= done else None
        return Pace(rate, eta)


@dataclass
class TrackedRun:
    """One run the session launched or opened, and how following it goes."""

    key: str
    app_id: str
    app_name: str
    mode: str
    started: float
    specification_hash: str | None = None
    config: dict[str, Any] | None = None
    inputs: list[Any] | None = None
    state: RunState | None = None
    opened: bool = False
    connection: str = "connecting"
    note: str | None = None  # why the connection changed, in a sentence
    retry: int = 0  # while the connection is lost: the retry that comes next
    retry_in: float | None = None  # ...and the seconds until it
    lost_at: float | None = None  # when the connection was lost (timers stop there)
    host: str = ""  # where the run runs, for messages ("127.0.0.1:8787", "dust.tt")
    finished: float | None = None
    end: RunEnd | None = None
    error: Exception | None = None  # the failure that ended the watch, if one did
    waiting: bool = False  # blocking mode: the long request is out, its answer not yet in
    followed: bool = False  # it was running when the session got it, and was followed
    _samples: dict[tuple[str, str], _Samples] = field(default_factory=dict, repr=False)

    @property
    def run_id(self) -> str | None:
        """The server's run id, once known."""
        return self.state.run_id if self.state is not None else None

    @property
    def status(self) -> str:
        """running, or how it ended: succeeded, errored, refused, cancelled, interrupted,
        detached, connection lost, failed."""
        if self.end is not None:
            return self.end.status
        state = self.state
        if state is None:
            return "running"
        if state.prerun_error is not None:
            return "refused"
        return state.status or "running"

    @property
    def done(self) -> bool:
        """True once nothing more will change."""
        return self.finished is not None

    @property
    def failure(self) -> str | None:
        """Why following the run failed, when it did (a sentence)."""
        if self.end is None or self.end.reason not in ("failed", "connection_lost"):
            return None
        return self.end.message

    @property
    def can_rerun(self) -> bool:
        """Hash, config and inputs are known, so the same run can be launched again."""
        return (
            self.specification_hash is not None
            and self.config is not None
            and self.inputs is not None
        )

    def now(self, now: float) -> float:
        """The time the run's timers read: frozen while the connection is lost, and at its end."""
        if self.finished is not None:
            return self.finished
        return self.lost_at if self.lost_at is not None else now

    def elapsed(self, now: float) -> float:
        """Seconds since launch (until it ended)."""
        return max(0.0, self.now(now) - self.started)

    def sample(self, now: float) -> None:
        """Note the running blocks' counts (the session calls it on every change)."""
        if self.state is None:
            return
        for block in self.state.blocks:
            key = (block.block_type, block.name)
            if block.status != "running":
                self._samples.pop(key, None)
                continue
            samples = self._samples.get(key)
            if samples is None:
                samples = self._samples[key] = _Samples()
            samples.add(now, block.success_count + block.error_count)

    def pace(self, block: BlockState, now: float) -> Pace:
        """Rate and time left of a running block (unknown until it moved twice)."""
        samples = self._samples.get((block.block_type, block.name))
        if samples is None or block.status != "running" or self.lost_at is not None:
            return Pace(None, None)
        done = block.success_count + block.error_count
        return samples.pace(now, block.expected, done)
