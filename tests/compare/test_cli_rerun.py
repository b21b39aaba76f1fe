"""`dusttui run APP --rerun-failed RUN_ID` end to end against the real engine."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dusttui.cli import main
from tests.compare.test_merge import row


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_the_failed_inputs_are_re_run_and_the_merged_run_printed_and_journaled(remote, make_run):
    base = make_run("retry", [row(1), row(2, fail_last=1), row(3)])
    assert base["status"]["run"] == "errored"
    result = cli("run", "retry", "--rerun-failed", base["run_id"][:12], "--json")
    assert result.exit_code == 0, result.stderr
    merged = json.loads(result.stdout)
    assert merged["run_id"].startswith(f"merged-{base['run_id'][:16]}-")
    assert merged["status"]["run"] == "succeeded"
    assert merged["dusttui_merged"]["base"] == base["run_id"]
    assert merged["dusttui_merged"]["inputs"] == [1]
    last = dict((tuple(key), rows) for key, rows in merged["traces"])[("code", "LAST")]
    assert [r[0]["value"] for r in last] == [{"id": k, "done": True} for k in (1, 2, 3)]
    assert merged["results"] == last
    # The merged run is in the history: it diffs like any run (the server never had it).
    compared = cli("diff", base["run_id"], merged["run_id"], "--app", "retry")
    assert compared.exit_code == 1, compared.stderr
    assert "0 changed · 0 broken · 1 fixed · 0 only in A · 0 only in B · 8 same" in compared.stdout
    rerun_id = merged["dusttui_merged"]["rerun"]
    again = cli("diff", rerun_id, rerun_id, "--app", "retry")  # the re-run is journaled too
    assert again.exit_code == 0, again.stderr


def test_get_shows_a_merged_run_from_the_history(remote, make_run):
    base = make_run("retry", [row(1), row(2, fail_last=1)])
    merged = json.loads(cli("run", "retry", "--rerun-failed", base["run_id"], "--json").stdout)
    shown = cli("get", merged["run_id"], "--app", "retry")  # the server never had it
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == f"run {merged['run_id']} ✓ succeeded"
    assert shown.stderr.startswith(f"dusttui: run {merged['run_id']}: from this machine's history")
    as_json = cli("get", merged["run_id"], "--app", "retry", "--json")
    assert json.loads(as_json.stdout)["dusttui_merged"] == merged["dusttui_merged"]
    unknown = cli("get", "merged-0000-1111", "--app", "retry")  # neither has it: as before
    assert (unknown.exit_code, unknown.stderr) == (
        2,
        "dusttui: No run has this id (run_not_found): No run found for id `merged-0000-1111`\n",
    )


def test_a_merged_run_that_still_misses_blocks_exits_1(remote, make_run):
    base = make_run("retry", [row(1), row(2, fail_prep=1)])
    result = cli("run", "retry", "--rerun-failed", base["run_id"])
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("run merged-") and lines[0].endswith("✗ errored")


def test_what_cannot_be_re_run_exits_2_and_says_why(remote, make_run):
    fine = make_run("retry", [row(1)])
    result = cli("run", "retry", "--rerun-failed", fine["run_id"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"dusttui: No input of run {fine['run_id']} failed: there is nothing to re-run.\n"
    )
    result = cli("run", "retry", "--rerun-failed", fine["run_id"], "--input", '{"id": 1}')
    assert result.exit_code == 2
    assert result.stderr == (
        f"dusttui: --rerun-failed re-runs run {fine['run_id']} with its own hash, config and "
        "failed inputs: --input cannot be given with it.\n"
    )
