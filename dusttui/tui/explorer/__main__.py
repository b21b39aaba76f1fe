"""``python -m dusttui.tui.explorer RUN.json``: explore a saved run (a GET answer) in the terminal."""

from __future__ import annotations

import sys
from pathlib import Path

from dusttui.api.errors import StreamProtocolError
from dusttui.api.state import RunState
from dusttui.tui.explorer.app import ExplorerApp


def main(argv: list[str]) -> int:
    """Load a run file and open the explorer on it."""
    if len(argv) != 1:
        print("usage: python -m dusttui.tui.explorer RUN.json", file=sys.stderr)
        return 2
    path = Path(argv[0])
    try:
        # the JSON text is kept per block and input: no model per execution, even for big runs
        state = RunState.from_run_json(path.read_bytes())
    except OSError as exc:
        print(f"Cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    except (StreamProtocolError, ValueError) as exc:
        print(f"{path} is not a run (a GET .../runs/ID answer): {exc}", file=sys.stderr)
        return 2
    if state.run_id is None:
        print(f"{path} is not a run (a GET .../runs/ID answer).", file=sys.stderr)
        return 2
    ExplorerApp(state).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
