"""The installed `dusttui` script, as a user types it: Ctrl-C while it loads."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import dusttui
from tests.cli.procs import cli_env

DEMO = Path(__file__).parents[2] / "dusttui" / "engine" / "apps" / "qa-demo.dust"


def test_the_installed_script_goes_through_the_loading_time_ctrl_c_handler():
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "dusttui"]
    assert script.value == "dusttui.__main__:run"


def test_ctrl_c_while_the_installed_script_loads_never_prints_a_traceback(tmp_path):
    script = Path(sys.executable).parent / "dusttui"
    assert script.exists(), f"the test command installs the package first: no {script}"
    env = cli_env(tmp_path)
    outcomes = []
    # Ctrl-C at moments spread over the command line's loading (imports take ~0.1-0.5 s).
    for delay in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8):
        proc = subprocess.Popen(
            [str(script), "hash", str(DEMO)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
        outcomes.append((delay, proc.returncode, err.decode()))
    ours = str(Path(dusttui.__file__).parent)
    for delay, code, err in outcomes:
        if "Traceback" in err:
            # Only Python's own start (site, a .pth of the machine) or its import of the package
            # named on the script's import line, before any line of ours ran, may be cut so
            # (a busy machine reaches it at 0.15 s): never a line of the package.
            assert ours not in err, (delay, err)
            continue
        # -2: the signal came before Python ran any code of ours (nothing printed either);
        # 0: the hash was already printed.
        assert code in (130, -signal.SIGINT, 0), (delay, code, err)
        if code == 130:
            assert err.endswith("Interrupted.\n"), (delay, err)
