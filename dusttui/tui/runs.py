"""The runs the TUI knows in this session: launched here, or opened from the journal.

No Textual here: a :class:`LiveRun` is what the worker fills in and the panes read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the reducer pulls in pydantic: not needed before the first frame
    from dusttui.api.state import RunState

MODES = ("stream", "poll", "blocking")


def short_id(run_id: str | None) -> str:
    """`5be2f4…`: enough of a run id to recognise it."""
    return f"{run_id[:6]}…" if run_id else "(starting)"


@dataclass
class LiveRun:
    """One run being watched (or watched before) in this session."""

    key: str
    app_id: str
    app_name: str
    mode: str
    started: float
    specification_hash: str | None = None
    config: dict[str, Any] | None = None
    inputs: list[Any] | None = None
    state: RunState | None = None
    connection: str = "connecting"
    failure: str | None = None
    finished: float | None = None
    opened: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str | None:
        """The server's run id, once known."""
        return self.state.run_id if self.state is not None else None

    @property
    def status(self) -> str:
        """running, succeeded, errored, refused (before it started) or failed (no answer)."""
        if self.failure:
            return "failed"
        state = self.state
        if state is None:
            return "running" if self.finished is None else "failed"
        if state.prerun_error is not None:
            return "refused"
        return state.status or "running"

    @property
    def done(self) -> bool:
        """True once nothing more will change."""
        return self.finished is not None

    def elapsed(self, now: float) -> float:
        """Seconds since launch (until it ended)."""
        end = self.finished if self.finished is not None else now
        return max(0.0, end - self.started)

    @property
    def can_rerun(self) -> bool:
        """Hash, config and inputs are known, so the same run can be launched again."""
        return (
            self.specification_hash is not None
            and self.config is not None
            and self.inputs is not None
        )
