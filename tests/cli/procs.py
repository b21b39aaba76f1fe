"""The real `dusttui` binary in a child process: an isolated user, stderr read as it comes."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

SLOW_BLOCK_APP = (
    "input INPUT { }\n\ncode WAIT {\n  code:\n```\n_fun = (env) => {"
    " const u = Date.now() + env.state.INPUT.ms; while (Date.now() < u) {} return 1; }\n```\n}\n"
)


def cli_env(tmp_path: Path, *, apps: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of an isolated user (no DUST_* variable, its own data and config)."""
    env = dict(os.environ)
    for var in ("DUST_BASE_URL", "DUST_WORKSPACE_ID", "DUST_SPACE_ID", "DUST_API_KEY", "NO_COLOR"):
        env.pop(var, None)
    env.update(
        DUSTTUI_DATA_DIR=str(tmp_path / "data"),
        DUSTTUI_CONFIG=str(tmp_path / "config.toml"),
        DUSTTUI_CONFIG_DIR=str(tmp_path / "config"),
        DUSTTUI_TOKEN_DELAY_MS="0",
        DUSTTUI_ENGINE_IDLE_SECONDS="30",  # a backstop: the test stops its engine itself
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    if apps:
        folder = tmp_path / "apps"
        folder.mkdir(exist_ok=True)
        for name, text in apps.items():
            (folder / f"{name}.dust").write_text(text)
        (tmp_path / "config.toml").write_text(f'apps_dir = "{folder}"\n')
    env.update(extra)
    return env


class Cli:
    """One `python -m dusttui ...` process; stderr is read line by line as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dusttui", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.err = ""
        self._buffer = b""

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Read stderr until ``pattern`` matches a line; the match."""
        assert self.proc.stderr is not None
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        fd = self.proc.stderr.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                found = regex.search(self.err)
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not sel.select(0)):
                    raise AssertionError(f"no {pattern!r} on stderr: {self.err!r}")
                if sel.select(min(left, 0.1)):
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        raise AssertionError(f"no {pattern!r} before the end: {self.err!r}")
                    self.err += chunk.decode(errors="replace")

    def interrupt(self) -> None:
        """A real Ctrl-C (SIGINT) to the process."""
        self.proc.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 30.0) -> tuple[int, str, str]:
        """(exit code, stdout, all of stderr) once it exits."""
        out, rest = self.proc.communicate(timeout=timeout)
        self.err += rest.decode(errors="replace")
        return self.proc.returncode, out.decode(errors="replace"), self.err


def run_with_tty_stderr(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run the binary with stderr on a pseudo-terminal (as a person sees it): (code, out, err)."""
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
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    proc.wait(timeout=30)
    os.close(master)
    return proc.returncode, out, b"".join(chunks).decode(errors="replace")


def run_cli(args: list[str], env: dict[str, str], timeout: float = 60.0) -> tuple[int, str, str]:
    """Run the binary to its end: (exit code, stdout, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "dusttui", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stdout, done.stderr


def engine_pids(data_dir: Path) -> list[int]:
    """Local engine processes serving ``data_dir`` (found by their command line)."""
    wanted = str((data_dir / "engine").resolve()).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"dusttui.engine.daemon" in argv and wanted in argv:
            pids.append(int(entry.name))
    return pids


def stop_engines(data_dir: Path) -> None:
    """Stop the local engine a test started (teardown)."""
    from dusttui.engine.local import stop_local_engine

    stop_local_engine(data_dir / "engine")
