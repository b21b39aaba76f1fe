"""Commands that need no backend: help, hash, locate, and the options every command shares."""

import subprocess
import sys

from click.testing import CliRunner

from dusttui.cli import main

SPEC = "input INPUT { }\n\ncode DOUBLE {\n  code:\n```\n_fun = (env) => ({ x: env.state.INPUT.n * 2 })\n```\n}\n"


def test_every_command_has_help_with_an_example():
    runner = CliRunner()
    for command in ("run", "get", "watch", "cancel", "apps", "hash", "serve", "locate"):
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0, command
        assert "Example" in result.output, command
    remote = runner.invoke(main, ["run", "--help"]).output
    for option in ("--base-url", "--workspace", "--space", "--profile", "--local", "--timeout"):
        assert option in remote


def test_hash_prints_the_specification_hash_and_ignores_whitespace(tmp_path):
    a = tmp_path / "a.dust"
    a.write_text(SPEC)
    b = tmp_path / "b.dust"
    b.write_text(SPEC.replace("input INPUT { }", "input   INPUT {\n}\n\n"))
    runner = CliRunner()
    first = runner.invoke(main, ["hash", str(a)])
    assert first.exit_code == 0
    assert len(first.output.strip()) == 64
    assert runner.invoke(main, ["hash", str(b)]).output == first.output


def test_hash_of_a_bad_spec_says_where_and_exits_2(tmp_path):
    bad = tmp_path / "bad.dust"
    bad.write_text("input INPUT { }\n\ncode DOUBLE {\n  cod: x\n}\n")
    result = CliRunner().invoke(main, ["hash", str(bad)])
    assert result.exit_code == 2
    assert "line 4" in result.output
    assert "Unexpected `cod` in `code` block" in result.output


def test_locate_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DUSTTUI_CONFIG", str(tmp_path / "c.toml"))
    monkeypatch.setenv("DUSTTUI_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    assert runner.invoke(main, ["locate", "config"]).stdout.strip() == str(tmp_path / "c.toml")
    assert runner.invoke(main, ["locate", "data"]).stdout.strip() == str(tmp_path / "data")


def test_usage_errors_exit_2():
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 2
    assert "Missing argument 'APP'" in result.output


def test_python_dash_m_runs_the_cli():
    out = subprocess.run(
        [sys.executable, "-m", "dusttui", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "dusttui, version 0.1.0"


def _run_with_tty_stderr(args, env):
    """Run dusttui with stderr on a pseudo-terminal (as a person sees it); returns (out, err)."""
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dusttui", *args], env=env, stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read().decode()
    proc.wait(timeout=30)
    os.close(master)
    return out, b"".join(chunks).decode(errors="replace")


def test_progress_goes_to_a_terminal_stderr_and_honours_no_color(tmp_path):
    import os

    env = dict(os.environ, DUSTTUI_DATA_DIR=str(tmp_path / "d"), DUSTTUI_CONFIG=str(tmp_path / "c"))
    env["DUSTTUI_TOKEN_DELAY_MS"] = "0"
    for var in ("DUST_BASE_URL", "DUST_WORKSPACE_ID", "DUST_API_KEY", "NO_COLOR"):
        env.pop(var, None)
    args = ["run", "qa-demo", "--input", '{"question": "hi"}', "--json"]
    out, err = _run_with_tty_stderr(args, env)
    assert out.startswith("{") and out.count("\n") == 1  # stdout: the JSON run, nothing else
    assert "✓ llm      ANSWER           1 ok" in err
    assert "\x1b[32m" in err  # green for succeeded blocks
    env["NO_COLOR"] = "1"
    _, err = _run_with_tty_stderr(args, env)
    assert "✓ llm      ANSWER           1 ok" in err
    assert "\x1b[" not in err


def test_shell_completion_script_is_available():
    import os

    env = dict(os.environ, _DUSTTUI_COMPLETE="bash_source")
    out = subprocess.run(
        [sys.executable, "-m", "dusttui"], env=env, capture_output=True, text=True, timeout=30
    )
    assert "_dusttui_completion" in out.stdout
