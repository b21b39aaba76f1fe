"""Re-run only the failed inputs, then merge: against the real engine."""

from __future__ import annotations

import orjson
import pytest

from dusttui.api.state import RunState
from dusttui.compare import RunDiff
from dusttui.compare.merge import MERGED_KEY, RerunError, merge_rerun, plan_rerun


def state(run: dict) -> RunState:
    return RunState.from_run_json(orjson.dumps({"run": run}))


def rows(merged: RunState, name: str) -> list:
    return [[e.value for e in row] for row in merged.executions("code", name)]


def row(id: int, fail_prep: int = -1, fail_last: int = -1) -> dict:
    """An input of `retry`: it fails in PREP or LAST when it sits at that index of a run."""
    return {"id": id, "fail_prep": fail_prep, "fail_last": fail_last}


def test_inputs_that_failed_in_the_last_block_are_re_run_and_merged(make_run):
    inputs = [row(1), row(2, fail_last=1), row(3), row(4, fail_last=3)]
    base = state(make_run("retry", inputs))
    assert base.status == "errored"
    plan = plan_rerun(base)
    assert (plan.indices, plan.inputs, plan.total) == ([1, 3], [inputs[1], inputs[3]], 4)
    assert plan.specification_hash == base.specification_hash
    rerun = state(make_run("retry", plan.inputs, spec_hash=plan.specification_hash))
    assert rerun.status == "succeeded"  # alone, at index 0 and 1, they pass
    text, report = merge_rerun(base, rerun, plan.indices, created=1)
    merged = RunState.from_run_json(text)
    assert merged.run_id == report.run_id == f"merged-{base.run_id[:16]}-{rerun.run_id[:16]}"
    assert merged.status == "succeeded"
    assert merged.extras[MERGED_KEY] == {
        "base": base.run_id,
        "rerun": rerun.run_id,
        "inputs": [1, 3],
    }
    assert (report.replaced, report.still_failing, report.unfinished) == ([1, 3], [], [])
    assert rows(merged, "LAST") == [[{"id": k, "done": True}] for k in (1, 2, 3, 4)]
    assert [(b.name, b.status, b.success_count, b.error_count) for b in merged.blocks] == [
        ("INPUT", "succeeded", 4, 0),
        ("PREP", "succeeded", 4, 0),
        ("LAST", "succeeded", 4, 0),
    ]
    diff = RunDiff(base, merged)  # the merged run diffs like any run
    assert (diff.counts["fixed"], diff.counts["same"], len(diff)) == (2, 10, 2)


def test_a_run_that_stopped_early_merges_with_the_inputs_that_never_finished_said(make_run):
    inputs = [row(1), row(2, fail_prep=1), row(3)]
    base = state(make_run("retry", inputs))
    assert [b.name for b in base.blocks] == ["INPUT", "PREP"]  # the run stopped after PREP
    plan = plan_rerun(base)
    rerun = state(make_run("retry", plan.inputs, spec_hash=plan.specification_hash))
    text, report = merge_rerun(base, rerun, plan.indices)
    merged = RunState.from_run_json(text)
    assert (report.replaced, report.still_failing, report.unfinished) == ([1], [], [0, 2])
    assert merged.status == "errored"
    assert rows(merged, "LAST") == [[], [{"id": 2, "done": True}], []]


def test_what_cannot_be_re_run_says_why(make_run):
    fine = state(make_run("retry", [row(1)]))
    with pytest.raises(RerunError, match=r"No input of run \w+ failed: there is nothing to re-run"):
        plan_rerun(fine)
    running = {**make_run("retry", [row(1)]), "status": {"run": "running", "blocks": []}}
    still = state(running)
    with pytest.raises(RerunError, match="is still running: wait for its end"):
        plan_rerun(still)
