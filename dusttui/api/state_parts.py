"""What the run state is made of: a block as the user sees it, an error's place, a refusal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from dusttui.api.errors import RunError, run_error_message
from dusttui.api.models import BlockStatus

__all__ = ["BlockState", "ErrorRef", "PrerunError"]


@dataclass(slots=True)
class BlockState:
    """One block of the run as the user sees it (one per distinct (block_type, name))."""

    block_type: str
    name: str
    status: str = "running"
    success_count: int = 0
    error_count: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    expected: int | None = None  # executions expected, when known
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def done(self) -> bool:
        """True once the block is no longer running."""
        return self.status != "running"

    def elapsed(self, now: float | None = None) -> float | None:
        """Seconds the block ran (so far, at ``now``, while it runs); None before it started."""
        if self.started_at is None:
            return None
        end = self.ended_at if self.ended_at is not None else now
        return None if end is None else max(0.0, end - self.started_at)

    def to_status(self) -> BlockStatus:
        """The wire ``BlockStatus``."""
        return BlockStatus(
            block_type=self.block_type,
            name=self.name,
            status=self.status,  # type: ignore[arg-type]
            success_count=self.success_count,
            error_count=self.error_count,
        )


@dataclass(frozen=True, slots=True)
class ErrorRef:
    """Where an execution failed: enough to jump to it in the trace explorer."""

    block_type: str
    block_name: str
    input_index: int
    iteration: int
    message: str


class PrerunError(NamedTuple):
    """The run was refused before it started (stream ``error`` event)."""

    code: str
    message: str

    def as_exception(self) -> RunError:
        """The same, as the RunError a caller can raise."""
        return RunError(run_error_message(self.code, self.message), code=self.code)
