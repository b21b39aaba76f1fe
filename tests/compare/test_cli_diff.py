"""`dusttui diff` end to end against the real engine: text, --json, --key, hashes, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from dusttui.cli import main
from dusttui.engine.embedded import EmbeddedEngine
from tests.compare.conftest import ITER_APP, KEY, UPPER_CONFIG


def diff(*args: str):
    return CliRunner().invoke(main, ["diff", *args], catch_exceptions=False)


def test_a_config_change_shows_first_then_the_word_diff_of_each_value(remote, make_run):
    inputs = [{"id": 1, "n": 2, "word": "a"}]
    a = make_run("iter", inputs)
    b = make_run("iter", inputs, config=UPPER_CONFIG)
    result = diff(a["run_id"], b["run_id"], "--app", "iter")
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[2:6] == [
        "hash: same",
        "config: 1 difference",
        '  ~ $.SAY.model_id: "echo" → "upper"',
        "inputs: matched by index: 1 in both",
    ]
    assert "3 changed · 0 broken · 0 fixed · 0 only in A · 0 only in B · 4 same" in lines
    assert (
        "llm SAY         0        2       0      0       0       0  –              12 → 12 (±0)"
        in lines
    )
    assert lines[lines.index("changed (3)") + 1 :][:6] == [
        "~ llm SAY · input 0",
        '    ~ $.completion.text: "[-a0-]{+A0+} [-is-]{+IS+} [-here-]{+HERE+}"',
        '    ~ $.completion.tokens[0]: "a0" → "A0"',
        '    ~ $.completion.tokens[1]: " [-is-]{+IS+}"',
        '    ~ $.completion.tokens[2]: " [-here-]{+HERE+}"',
        "~ llm SAY · input 0 · iteration 1",
    ]
    assert lines[-2:] == [
        "~ code JOIN · input 0",
        '    ~ $.said: "[-a0-]{+A0+} [-is-]{+IS+} [-here-]{+HERE+}, [-a1-]{+A1+} [-is-]{+IS+} '
        '[-here-]{+HERE+}"',
    ]


def test_errors_fixed_and_broken_side_by_side(remote, make_run):
    a = make_run("iter", [{"id": 1, "n": 1, "word": "a"}, {"id": 2, "n": -1, "word": "b"}])
    b = make_run("iter", [{"id": 1, "n": -2, "word": "a"}, {"id": 2, "n": 1, "word": "b"}])
    result = diff(a["run_id"], b["run_id"], "--app", "iter")
    assert result.exit_code == 1
    out = result.stdout
    assert "2 changed · 1 broken · 1 fixed · 0 only in A · 0 only in B · 0 same" in out
    broken = out[out.index("broken (value → error) (1)") :].splitlines()
    assert broken[1:7] == [
        "✗ code LIST · input 0",
        '    input A {"id": 1, "n": 1, "word": "a"}',
        '    input B {"id": 1, "n": -2, "word": "a"}',
        "    A value                                        │ B error",
        "    [                                              │ Error in `code`: Error: negative n: -2",
        '      "a0"                                         │     at _fun (line 3)',
    ]
    fixed = out[out.index("fixed (error → value) (1)") :].splitlines()
    assert fixed[4] == "    A error                                        │ B value"
    assert fixed[5] == "    Error in `code`: Error: negative n: -1         │ ["


def test_runs_that_differ_in_iterations(remote, make_run):
    a = make_run("while-demo", [{"n": 6}])
    b = make_run("while-demo", [{"n": 7}])
    result = diff(a["run_id"], b["run_id"], "--app", "while-demo", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["counts"] == {
        "same": 16,
        "changed": 11,
        "broken": 0,
        "fixed": 0,
        "only_a": 0,
        "only_b": 12,
        "pending": 0,
    }
    per_block = {(b["block_type"], b["name"]): b["counts"]["only_b"] for b in report["blocks"]}
    assert per_block == {
        ("input", "INPUT"): 0,
        ("while", "STEPS"): 4,
        ("code", "NEXT"): 4,
        ("end", "STEPS"): 4,
        ("code", "SUMMARY"): 0,
    }
    extra = [
        d for d in report["differences"] if d["kind"] == "only_b" and d["block_name"] == "NEXT"
    ]
    assert [(d["iteration"], d["b"]["value"]) for d in extra] == [
        (8, {"step": 9, "n": 20}),
        (9, {"step": 10, "n": 10}),
        (10, {"step": 11, "n": 5}),
        (11, {"step": 12, "n": 16}),
    ]


def test_inputs_matched_by_a_key_when_they_moved(remote, make_run):
    rows = [{"id": k, "n": 1, "word": w} for k, w in ((1, "a"), (2, "b"), (3, "c"))]
    a = make_run("iter", rows)
    b = make_run("iter", [rows[2], rows[0], {"id": 4, "n": 1, "word": "d"}])
    by_index = json.loads(diff(a["run_id"], b["run_id"], "--app", "iter", "--json").stdout)
    # All shifted: 3 inputs × 5 executions (the reduce block's null is the same everywhere)
    assert by_index["counts"]["changed"] == 15
    result = diff(a["run_id"], b["run_id"], "--app", "iter", "--key", "id")
    assert result.exit_code == 1
    out = result.stdout.splitlines()
    assert "inputs: matched by `id`: 2 in both, 1 only in A, 1 only in B" in out
    assert "0 changed · 0 broken · 0 fixed · 6 only in A · 6 only in B · 12 same" in out
    assert "- input INPUT · input 1 (id 2)" in out
    assert "+ input INPUT · input 2 of B (id 4)" in out
    same = diff(a["run_id"], a["run_id"], "--app", "iter", "--key", "id")
    assert same.exit_code == 0


def test_runs_of_two_hashes_of_the_same_app(remote, make_run, apps: Path):
    inputs = [{"id": 1, "n": 2, "word": "a"}]
    a = make_run("iter", inputs)
    path = apps / "iter.dust"
    try:
        path.write_text(ITER_APP.replace('.join(", ")', '.join(" | ")'))
        b = make_run("iter", inputs)
    finally:
        path.write_text(ITER_APP)
    assert a["specification_hash"] != b["specification_hash"]
    result = diff(a["run_id"], b["run_id"], "--app", "iter")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[2] == (
        f"hash: different (A {a['specification_hash'][:8]}…, B {b['specification_hash'][:8]}…)"
    )
    assert "1 changed · 0 broken · 0 fixed · 0 only in A · 0 only in B · 6 same" in lines
    assert lines[-2:] == [
        "~ code JOIN · input 0",
        '    ~ $.said: "a0 is here[-,-]{+ |+} a1 is here"',
    ]


def test_equal_runs_exit_0_and_the_json_shape(remote, make_run):
    a = make_run("echo", [{"text": "same"}, {"text": "old words here"}])
    b = make_run("echo", [{"text": "same"}, {"text": "new words here"}])
    equal = diff(a["run_id"][:10], a["run_id"], "--app", "echo")  # a prefix names a run too
    assert equal.exit_code == 0
    assert "0 changed · 0 broken · 0 fixed · 0 only in A · 0 only in B · 4 same" in equal.stdout
    result = diff(a["run_id"], b["run_id"], "--app", "echo", "--json")
    assert result.exit_code == 1
    no_time = {"a": None, "b": None, "delta": None}
    no_tokens = {"a": {"prompt": 0, "completion": 0}, "b": {"prompt": 0, "completion": 0}}
    no_tokens["delta"] = {"prompt": 0, "completion": 0}

    def counts(same: int, changed: int) -> dict[str, int]:
        zero = dict.fromkeys(("broken", "fixed", "only_a", "only_b", "pending"), 0)
        return {"same": same, "changed": changed, **zero}

    def block(block_type: str, name: str, same: int, changed: int) -> dict:
        return {
            "block_type": block_type,
            "name": name,
            "in_a": True,
            "in_b": True,
            "status_a": "succeeded",
            "status_b": "succeeded",
            "run_level": False,
            "counts": counts(same, changed),
            "latency_ms": no_time,
            "tokens": no_tokens,
        }

    def change(path: str) -> dict:
        return {
            "path": path,
            "op": "changed",
            "a": "old words here",
            "b": "new words here",
            "words": [["-", "old"], ["+", "new"], ["=", " words here"]],
        }

    where = {"input_a": 1, "input_b": 1, "iteration": 0, "key": None, "run_level": False}
    assert json.loads(result.stdout) == {
        "format": "dusttui.diff/1",
        "equal": False,
        "a": {
            "run_id": a["run_id"],
            "status": "succeeded",
            "done": True,
            "specification_hash": a["specification_hash"],
            "inputs": 2,
        },
        "b": {
            "run_id": b["run_id"],
            "status": "succeeded",
            "done": True,
            "specification_hash": b["specification_hash"],
            "inputs": 2,
        },
        "same_hash": True,
        "config": {"same": True, "changes": [], "changes_more": 0},
        "inputs": {"matched_by": "index", "key": None, "matched": 2, "only_a": 0, "only_b": 0},
        "counts": counts(2, 2),
        "blocks": [block("input", "INPUT", 1, 1), block("code", "ECHO", 1, 1)],
        "differences": [
            {
                "kind": "changed",
                "block_type": "input",
                "block_name": "INPUT",
                **where,
                "a": {"value": {"text": "old words here"}, "error": None},
                "b": {"value": {"text": "new words here"}, "error": None},
                "changes": [change("$.text")],
                "changes_more": 0,
            },
            {
                "kind": "changed",
                "block_type": "code",
                "block_name": "ECHO",
                **where,
                "a": {"value": {"text": "old words here"}, "error": None},
                "b": {"value": {"text": "new words here"}, "error": None},
                "changes": [change("$.text")],
                "changes_more": 0,
            },
        ],
    }


def test_usage_and_api_errors_exit_2_and_3(remote, make_run):
    a = make_run("iter", [{"id": 1, "n": 1, "word": "a"}])
    result = diff(a["run_id"], a["run_id"], "--app", "iter", "--key", "nope")
    assert result.exit_code == 2
    assert result.stderr == (
        "dusttui: Input 0 of run A has no field `nope`: --key must name a field every input has.\n"
    )
    result = diff(a["run_id"], a["run_id"], "--app", "iter", "--key", " ")
    assert (result.exit_code, result.stderr) == (
        2,
        "dusttui: --key needs the name of an input field, e.g. --key id.\n",
    )
    result = diff(a["run_id"], a["run_id"], "--app", "iter", "--limit", "-1")
    assert (result.exit_code, result.stderr) == (2, "dusttui: --limit must be 0 (all) or more.\n")
    result = diff("0123abcd", a["run_id"], "--app", "iter")
    assert result.exit_code == 2
    assert result.stderr == "dusttui: No run of iter has an id starting with `0123abcd` (run A).\n"
    result = diff(a["run_id"], a["run_id"], "--app", "no-such-app")
    assert result.exit_code == 2
    assert "No app `no-such-app` here" in result.stderr
    result = CliRunner(env={"DUST_API_KEY": "sk-wrong"}).invoke(
        main, ["diff", a["run_id"], a["run_id"], "--app", "iter"]
    )
    assert result.exit_code == 3


def test_an_ambiguous_prefix_asks_for_more(remote, make_run):
    ids: dict[str, str] = {}
    while True:  # 17 runs at most: two ids then share their first character
        run_id = make_run("echo", [{"text": "x"}])["run_id"]
        if run_id[0] in ids:
            break
        ids[run_id[0]] = run_id
    result = diff(run_id[0], run_id, "--app", "echo")
    assert result.exit_code == 2
    assert f"Run A: `{run_id[0]}` starts " in result.stderr
    assert "give more of it." in result.stderr


def test_values_with_control_characters_are_shown_escaped(remote, make_run):
    a = make_run("echo", [{"text": "plain"}])
    b = make_run("echo", [{"text": "\x1b[2J\x1b[31mred\u202e\x07"}])
    result = diff(a["run_id"], b["run_id"], "--app", "echo")
    assert result.exit_code == 1
    for raw in ("\x1b", "\u202e", "\x07"):
        assert raw not in result.stdout
    assert '    ~ $.text: "plain" → "\\u001b[2J\\u001b[31mred\\u202e\\u0007"' in result.stdout
    first = diff(a["run_id"], b["run_id"], "--app", "echo", "--limit", "1")
    assert first.stdout.splitlines()[-1] == (
        "… and 1 more difference (--limit 0 shows them all; --json too)"
    )


def test_a_run_the_server_lost_is_read_from_the_history(remote, tmp_path, apps):
    first = CliRunner().invoke(main, ["run", "echo", "--input", '{"text": "kept"}', "--json"])
    assert first.exit_code == 0, first.stderr
    run_id = json.loads(first.stdout)["run_id"]
    # Another engine, with the same app but an empty database: only the journal has the run.
    with EmbeddedEngine(data_dir=tmp_path / "other", apps_dir=apps, api_key=KEY) as other:
        result = CliRunner(env={"DUST_BASE_URL": other.url}).invoke(
            main, ["diff", run_id[:12], run_id, "--app", "echo"]
        )
    assert result.exit_code == 0, result.stderr
    assert "0 changed · 0 broken · 0 fixed · 0 only in A · 0 only in B · 2 same" in result.stdout


def test_the_installed_command_exits_like_diff(remote, make_run):
    a = make_run("echo", [{"text": "a"}])
    b = make_run("echo", [{"text": "b"}])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "dusttui", "diff", a["run_id"], b["run_id"], "--app", "echo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[7] == (
        "2 changed · 0 broken · 0 fixed · 0 only in A · 0 only in B · 0 same"
    )
