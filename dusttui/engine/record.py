"""A run as the engine keeps it while it executes, and its literal wire JSON (PROTOCOL.md §2).

The runner updates a :class:`RunRecord` in place as the run goes (block statuses and their counts,
traces, the run status); the server reads it to answer GET, the blocking flavour and the listing.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from blake3 import blake3

Execution = dict[str, Any]  # {"value", "error", "meta"}
Trace = list[Any]  # [[block_type, block_name], executions[input][iteration]]


def new_run_id() -> str:
    """A fresh run id: 64 lowercase hex characters (blake3 of a random UUID, as core does)."""
    return blake3(uuid.uuid4().bytes).hexdigest()


def now_ms() -> int:
    """Current Unix time in milliseconds (the unit of ``created``)."""
    return time.time_ns() // 1_000_000


@dataclass
class RunRecord:
    """A run as GET returns it, updated as the run goes."""

    run_id: str
    created: int
    specification_hash: str
    app_id: str
    config: dict[str, Any]
    run_type: str = "deploy"
    status: str = "running"
    # BlockStatus dicts, one per distinct (block_type, name) in first-execution order.
    blocks: list[dict[str, Any]] = field(default_factory=list)
    # Merged traces as core stores them: while-loop iterations appended along j, skips dropped.
    traces: list[Trace] = field(default_factory=list)
    # One entry per block_execution event, unmerged: what the blocking flavour answers with.
    event_traces: list[Trace] = field(default_factory=list)
    results: list[list[Execution]] | None = None
    # Why the engine itself ended the run: None (it ended by itself), "cancelled", "interrupted"
    # or "engine_error"; `error` is the sentence for the user.
    end_reason: str | None = None
    error: str | None = None
    # Executions each block expects in its current (or last) iteration, by (block_type, name).
    totals: dict[tuple[str, str], int | None] = field(default_factory=dict)

    @classmethod
    def new(
        cls,
        specification_hash: str,
        app_id: str,
        config: dict[str, Any],
        run_type: str = "deploy",
    ) -> RunRecord:
        """A record for a run about to start: fresh id, ``created`` now, status running."""
        return cls(
            run_id=new_run_id(),
            created=now_ms(),
            specification_hash=specification_hash,
            app_id=app_id,
            config=config,
            run_type=run_type,
        )

    def set_block_status(self, status: dict[str, Any]) -> None:
        """Replace the status of the same (block_type, name), or append it (core's semantics)."""
        for i, existing in enumerate(self.blocks):
            if (
                existing["block_type"] == status["block_type"]
                and existing["name"] == status["name"]
            ):
                self.blocks[i] = status
                return
        self.blocks.append(status)

    def set_block_total(self, block_type: str, name: str, total: int | None) -> None:
        """How many executions a block expects in the iteration about to run."""
        self.totals[(block_type, name)] = total

    def extension(self, blocks: list[dict[str, Any]]) -> dict[str, Any]:
        """The run JSON's `dusttui` object: the end reason, and each block's expected total."""
        return {
            "end_reason": self.end_reason,
            "blocks": [
                {
                    "block_type": b["block_type"],
                    "name": b["name"],
                    "total": self.totals.get((b["block_type"], b["name"])),
                }
                for b in blocks
            ],
        }

    def to_wire(
        self, block_filter: list[str] | None = None, *, blocking: bool = False
    ) -> dict[str, Any]:
        """The literal Run JSON (the value under ``{"run": ...}``).

        ``block_filter`` keeps only the named blocks in ``traces`` and ``status.blocks`` and computes
        ``results`` from the filtered traces. ``blocking=True`` answers with one trace entry per
        ``block_execution`` event (while-loop iterations not merged), as the hosted blocking flavour does.
        """
        traces = self.event_traces if blocking else self.traces
        blocks = self.blocks
        if block_filter is not None:
            keep = set(block_filter)
            traces = [t for t in traces if t[0][1] in keep]
            blocks = [b for b in blocks if b["name"] in keep]
        results = traces[-1][1] if self.status == "succeeded" and traces else None
        return self._wire(blocks, list(traces), results)

    def _wire(
        self, blocks: list[dict[str, Any]], traces: list[Trace], results: Any
    ) -> dict[str, Any]:
        # front's key order: core's Run fields, then `specification_hash` (set after deleting
        # `app_hash`) and `results` (front/pages/api/v1/w/[wId]/spaces/[spaceId]/apps/[aId]/runs)
        run: dict[str, Any] = {
            "run_id": self.run_id,
            "created": self.created,
            "run_type": self.run_type,
            "config": {"blocks": self.config},
            "status": {"run": self.status, "blocks": [dict(b) for b in blocks]},
            "traces": traces,
            "specification_hash": self.specification_hash,
            "results": results,
        }
        if self.error is not None:
            run["error"] = self.error
        run["dusttui"] = self.extension(blocks)
        return run

    def to_listing_wire(self) -> dict[str, Any]:
        """The Run without traces, as the runs listing extension answers (``results`` null).

        Cheap at any run size: the traces are never copied.
        """
        return self._wire(self.blocks, [], None)
