"""`dusttui run | get | watch | apps` end to end through the real engine: output and exit codes."""

from __future__ import annotations

import json

import httpx
from click.testing import CliRunner

from dusttui.cli import main

QUESTION = '{"question": "What is 2+2?"}'


def invoke(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def test_run_on_the_embedded_default_prints_a_summary():
    result = invoke("run", "qa-demo", "--input", QUESTION)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("✓ succeeded")
    assert "  ✓ llm      ANSWER           1 ok" in lines
    assert lines[-3:] == [
        '  [0] {"question": "What is 2+2?", "answer": "WHAT IS 2+2?", "words": 3}',
        "cost (estimate, prices as of 2025-06): $0.00",  # the offline provider costs nothing
        "  llm      ANSWER           offline/upper        3 + 3 tokens  $0.00",
    ]


def test_run_json_prints_only_the_final_run(remote):
    result = invoke("run", "qa-demo", "--input", QUESTION, "--json")
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)  # stdout is one JSON document, nothing else
    assert run["status"]["run"] == "succeeded"
    assert [b["name"] for b in run["status"]["blocks"]] == ["INPUT", "PREP", "ANSWER", "FORMAT"]
    assert run["results"][0][0]["value"]["answer"] == "WHAT IS 2+2?"
    assert run["config"]["blocks"]["ANSWER"]["provider_id"] == "offline"


def test_jsonl_prints_each_event_then_the_run(remote):
    result = invoke("run", "qa-demo", "--input", QUESTION, "--jsonl")
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["type"] == "run_status"
    assert lines[0]["content"]["status"] == "running"
    assert [ln["type"] for ln in lines[-3:-1]] == ["run_status", "final"]
    assert "tokens" in {ln.get("type") for ln in lines}
    assert lines[-1]["run"]["run_id"] == lines[0]["content"]["run_id"]


def test_errored_run_exits_1_and_lists_the_errors(remote):
    result = invoke(
        "run",
        "flaky-demo",
        "--input",
        '{"payload": "{\\"name\\": \\"a\\", \\"items\\": [1]}"}',
        "--input",
        '{"payload": "{"}',
    )
    assert result.exit_code == 1
    assert "✗ errored" in result.stdout.splitlines()[0]
    assert "errors (1):" in result.stdout
    assert "PARSE (input 1): Error in `code`: SyntaxError" in result.stdout


def test_poll_and_blocking_reach_the_same_results(remote):
    outs = {}
    for mode in ("--poll", "--blocking", "--stream"):
        result = invoke("run", "while-demo", "--input", '{"n": 6}', mode, "--json")
        assert result.exit_code == 0, (mode, result.stderr)
        run = json.loads(result.stdout)
        outs[mode] = (run["status"]["blocks"], [[e["value"] for e in r] for r in run["results"]])
    assert outs["--poll"] == outs["--blocking"] == outs["--stream"]


def test_block_filter_keeps_only_the_named_blocks(remote):
    result = invoke(
        "run", "qa-demo", "--input", QUESTION, "--blocking", "--block-filter", "PREP", "--json"
    )
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    assert [t[0] for t in run["traces"]] == [["code", "PREP"]]
    assert [b["name"] for b in run["status"]["blocks"]] == ["PREP"]


def test_inputs_from_stdin_csv_and_a_jsonl_file(remote, tmp_path):
    result = invoke("run", "while-demo", "--inputs", "-", "--json", stdin="n\n1\n6\n")
    # CSV values are strings: the app sees "1" and "6".
    assert result.exit_code in (0, 1), result.stderr
    assert len(json.loads(result.stdout)["traces"][0][1]) == 2
    path = tmp_path / "in.jsonl"
    path.write_text('{"n": 1}\n{"n": 6}\n')
    result = invoke("run", "while-demo", "--inputs", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    assert [e[0]["value"] for e in json.loads(result.stdout)["traces"][0][1]] == [
        {"n": 1},
        {"n": 6},
    ]


def _runs_total(engine, app_sid: str) -> int:
    url = f"{engine.url}/api/v1/w/w/spaces/s/apps/{app_sid}/runs?limit=1"
    return httpx.get(url, headers={"Authorization": f"Bearer {engine.api_key}"}).json()["total"]


def test_bad_input_exits_2_with_a_clear_message_and_sends_nothing(remote, tmp_path):
    apps = json.loads(invoke("apps", "--json").stdout)
    sid = next(a["sId"] for a in apps if a["name"] == "qa-demo")
    before = _runs_total(remote, sid)
    big = tmp_path / "big.json"
    big.write_text(json.dumps([{"question": "x" * 4_300_000}]))
    cases = [
        (
            ["--input", '{"question": "a",}'],
            "input 0 (--input): line 1, column 18: Expecting property name",
        ),
        (
            ["--input", '{"question": "a"}', "--input", '{"q": "b"}'],
            "all inputs must have the same keys — input 0 has {question}, input 1 has {q}",
        ),
        (["--input", "[1]"], "input 0 is an array; every input must be an object"),
        (["--input", QUESTION, "--config", '{"NOPE": {}}'], "`NOPE` is not a block of this app"),
        (
            ["--input", QUESTION, "--config", '{"ANSWER": {"provider_id": "offline"}}'],
            "needs `model_id`",
        ),
        (["--inputs", str(big)], "over the 4 MB limit"),
        (["--inputs", str(tmp_path / "missing.jsonl")], "no file"),
    ]
    for args, message in cases:
        result = invoke("run", "qa-demo", *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert result.stdout == ""
    assert _runs_total(remote, sid) == before


def test_unknown_app_hash_and_bad_key(remote, monkeypatch):
    result = invoke("run", "no-such-app", "--input", QUESTION)
    assert result.exit_code == 2
    assert "No app `no-such-app` here (apps: " in result.stderr
    result = invoke("run", "qa-demo", "--input", QUESTION, "--hash", "ab" * 32)
    assert result.exit_code == 2
    assert "specification_not_found" in result.stderr
    monkeypatch.setenv("DUST_API_KEY", "sk-wrong")
    result = invoke("apps")
    assert result.exit_code == 3
    assert "DUST_API_KEY" in result.stderr
    assert "sk-wrong" not in result.stderr


def test_get_and_watch_a_run_created_elsewhere(remote):
    created = json.loads(invoke("run", "slow", "--input", '{"ms": 10}', "--json").stdout)
    run_id = created["run_id"]
    result = invoke("get", run_id, "--app", "slow", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["traces"] == created["traces"]
    result = invoke("watch", run_id, "--app", "slow")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"run {run_id} ✓ succeeded"
    result = invoke("get", "f" * 64, "--app", "slow")
    assert result.exit_code == 2
    assert "run_not_found" in result.stderr


def test_timeout_exits_4_and_says_how_to_resume(remote):
    result = invoke("run", "slow", "--input", '{"ms": 3000}', "--timeout", "0.8")
    assert result.exit_code == 4
    assert "Timed out. The run goes on: dusttui watch " in result.stderr
    assert result.stderr.rstrip().endswith("--app slow")


def test_apps_lists_names_and_json(remote):
    result = invoke("apps")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert {"qa-demo", "map-reduce-demo", "while-demo", "flaky-demo", "load-1000", "slow"} <= set(
        names
    )
    apps = json.loads(invoke("apps", "--json").stdout)
    assert {"id", "sId", "name", "savedSpecification", "savedConfig", "space"} <= set(apps[0])
