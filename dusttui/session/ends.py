"""How a run ended, in one word and one sentence: the same for the CLI and the TUI.

The engine says why it stopped a run (``dusttui.end_reason`` and ``error`` in the run JSON); the
session adds what only the front end knows (it stopped watching, the connection was lost, a
request failed). :func:`end_of` turns all of it into one :class:`RunEnd`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dusttui.api.errors import DustError
    from dusttui.api.state import RunState

__all__ = ["EndReason", "RunEnd", "end_of", "errors_sentence"]


class EndReason(StrEnum):
    """Why a run's watch ended."""

    SUCCEEDED = "succeeded"  # the run ended by itself, every block succeeded
    ERRORED = "errored"  # the run ended by itself: a block failed
    REFUSED = "refused"  # the server refused the run before it started
    CANCELLED = "cancelled"  # the user cancelled it (the local engine stopped it)
    INTERRUPTED = "interrupted"  # the engine stopped it (stopped, killed, restarted)
    ENGINE_ERROR = "engine_error"  # the engine itself failed while running it
    DETACHED = "detached"  # we stopped watching; the run goes on where it runs
    CONNECTION_LOST = "connection_lost"  # the server stopped answering while it ran
    FAILED = "failed"  # a request failed (auth, a bad answer...) before the run was known


# The status word a front end shows for each end (the run's own status for the first two).
STATUS_WORDS = {
    EndReason.SUCCEEDED: "succeeded",
    EndReason.ERRORED: "errored",
    EndReason.REFUSED: "refused",
    EndReason.CANCELLED: "cancelled",
    EndReason.INTERRUPTED: "interrupted",
    EndReason.ENGINE_ERROR: "errored",
    EndReason.DETACHED: "detached",
    EndReason.CONNECTION_LOST: "connection lost",
    EndReason.FAILED: "failed",
}


@dataclass(frozen=True)
class RunEnd:
    """How a run's watch ended: ``reason``, and ``message`` — a sentence for the user."""

    reason: EndReason
    message: str

    @property
    def status(self) -> str:
        """The word to show beside the run (``succeeded``, ``cancelled``, ``detached``...)."""
        return STATUS_WORDS[self.reason]

    @property
    def run_goes_on(self) -> bool:
        """The run may still be running where it runs (we only stopped following it)."""
        return self.reason in (EndReason.DETACHED, EndReason.CONNECTION_LOST)


def errors_sentence(state: RunState) -> str:
    """`2 executions failed in PARSE.` — what a run that errored by itself says."""
    errors = state.errors
    if not errors:
        failed = [b.name for b in state.blocks if b.status == "errored"]
        where = f" in {', '.join(failed)}" if failed else ""
        return f"The run errored{where}."
    names = list(dict.fromkeys(ref.block_name for ref in errors))
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    many = "s" if len(errors) != 1 else ""
    return f"{len(errors)} execution{many} failed in {shown}."


def end_of(
    state: RunState | None,
    *,
    error: DustError | None = None,
    detached: str | None = None,
    connection_lost: str | None = None,
) -> RunEnd:
    """The end of a watch from the run's state and what the front end saw.

    ``detached`` / ``connection_lost``: the sentence to give when the watch stopped that way
    (used only while the run was still running: a run already over says how it ended).
    """
    if state is not None and state.prerun_error is not None:
        from dusttui.api.errors import run_error_message

        code, message = state.prerun_error
        return RunEnd(EndReason.REFUSED, run_error_message(code, message))
    status = state.status if state is not None else None
    if state is not None and status in ("succeeded", "errored"):
        reason = state.end_reason
        if reason == "cancelled":
            return RunEnd(EndReason.CANCELLED, state.end_message or "The run was cancelled.")
        if reason == "interrupted":
            return RunEnd(EndReason.INTERRUPTED, state.end_message or "The engine stopped the run.")
        if reason == "engine_error":
            return RunEnd(
                EndReason.ENGINE_ERROR, state.end_message or "The engine failed running the run."
            )
        if status == "succeeded":
            return RunEnd(EndReason.SUCCEEDED, "The run succeeded.")
        return RunEnd(EndReason.ERRORED, state.end_message or errors_sentence(state))
    if detached is not None:
        return RunEnd(EndReason.DETACHED, detached)
    if connection_lost is not None:
        return RunEnd(EndReason.CONNECTION_LOST, connection_lost)
    if error is not None:
        from dusttui.api.errors import RunError

        if isinstance(error, RunError) and (state is None or state.run_id is None):
            return RunEnd(EndReason.REFUSED, error.user_message)
        return RunEnd(EndReason.FAILED, error.user_message)
    return RunEnd(EndReason.FAILED, "The watch ended without the run's end.")
