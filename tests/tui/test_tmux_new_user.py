"""The new-user walk-through under tmux: the real `dusttui` in a real terminal."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("tmux_new_user.sh")


def test_a_new_user_starts_launches_a_demo_sees_it_succeed_and_quits():
    assert shutil.which("tmux"), "this test drives the TUI in tmux: install tmux"
    result = subprocess.run(
        [str(SCRIPT)],
        env={
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "DUSTTUI_CMD": f"{sys.executable} -m dusttui",
        },
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        result.stdout.strip() == "tmux_new_user: started, launched qa-demo, saw it succeed, quit."
    )
