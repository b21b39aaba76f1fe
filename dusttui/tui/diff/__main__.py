"""``python -m dusttui.tui.diff A.json B.json [--key FIELD]``: two saved runs (GET answers, or
``dusttui get --json`` files) compared in the terminal."""

from __future__ import annotations

import sys
from pathlib import Path

from dusttui.api.errors import DustError
from dusttui.api.state import RunState


def main(argv: list[str]) -> int:
    """Load both run files and open the diff screen on them."""
    key = None
    if "--key" in argv:
        at = argv.index("--key")
        key = argv[at + 1] if at + 1 < len(argv) else None
        argv = argv[:at] + argv[at + 2 :]
    if len(argv) != 2 or key == "":
        print("usage: python -m dusttui.tui.diff A.json B.json [--key FIELD]", file=sys.stderr)
        return 2
    states = []
    for name in argv:
        path = Path(name)
        try:
            states.append(RunState.from_run_json(path.read_bytes()))
        except OSError as exc:
            print(f"Cannot read {path}: {exc.strerror}", file=sys.stderr)
            return 2
        except DustError as exc:
            print(
                f"{path} is not a run (a GET .../runs/ID answer): {exc.user_message}",
                file=sys.stderr,
            )
            return 2
    from dusttui.tui.diff.app import DiffApp

    DiffApp(states[0], states[1], key=key).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
