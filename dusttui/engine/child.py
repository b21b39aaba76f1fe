"""``python -m dusttui.engine.child``: the embedded engine as a child of the TUI (see process.py).

Serves on 127.0.0.1, port 0; prints ``{"url": ..., "key": ...}`` on stdout once listening; stops
when stdin closes (the parent is gone, however it died) or on SIGTERM, saving live runs as errored.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from dusttui.engine.process import CHILD_ERROR_PREFIX

if TYPE_CHECKING:
    from dusttui.engine.serving import EngineServer

NICENESS = 5


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dusttui.engine.child")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--apps-dir", type=Path)
    parser.add_argument("--db-path", type=Path)
    parser.add_argument("--token-delay", type=float)
    return parser.parse_args(argv)


class _Stopper:
    """Watches stdin: its end closing means the parent is gone, so the server must stop."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.server: EngineServer | None = None

    def watch(self) -> None:
        try:
            # The raw fd: a daemon thread inside a buffered read aborts interpreter shutdown.
            while os.read(0, 4096):  # the parent never writes; anything is ignored
                pass
        except OSError:
            pass
        self.stop()

    def stop(self) -> None:
        self.requested.set()
        if self.server is not None:
            self.server.request_stop("the dusttui that started it quit")


def main(argv: list[str] | None = None) -> int:
    """Run the engine until stdin closes or SIGTERM; 0 on a clean stop, 1 if it cannot start."""
    args = _parse(argv)
    os.nice(NICENESS)  # the TUI comes first for the CPU: its frames and keys stay prompt
    # uvicorn re-raises the SIGTERM it caught once it has shut down: exit cleanly then.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stopper = _Stopper()
    threading.Thread(target=stopper.watch, name="stdin-watch", daemon=True).start()

    from dusttui.engine.auth import ServerKeyError, check_bind
    from dusttui.engine.embedded import _close, build_engine
    from dusttui.engine.process import EngineStartError
    from dusttui.engine.serving import EngineServer, bind, url_of

    host = "127.0.0.1"
    try:
        parts = build_engine(
            data_dir=args.data_dir,
            db_path=args.db_path,
            apps_dir=args.apps_dir,
            token_delay=args.token_delay,
        )
    except (EngineStartError, ServerKeyError) as exc:
        print(f"{CHILD_ERROR_PREFIX}{exc}", file=sys.stderr)
        return 1
    try:
        check_bind(host, parts.key)
        sock = bind(host, 0)
    except (EngineStartError, ServerKeyError) as exc:
        _close(parts)
        print(f"{CHILD_ERROR_PREFIX}{exc}", file=sys.stderr)
        return 1
    try:
        sock.listen(2048)  # connections queue from now on, while uvicorn starts
        parts.life.url = url_of(sock)
        server = EngineServer(parts.app, parts.life, log_level="warning", access_log=False)
        stopper.server = server
        if stopper.requested.is_set():
            return 0
        sys.stdout.write(json.dumps({"url": parts.life.url, "key": parts.key.value}) + "\n")
        sys.stdout.flush()
        os.dup2(2, 1)  # nothing else goes to the parent's pipe (nobody reads it any more)
        server.run(sockets=[sock])
    finally:
        sock.close()
        _close(parts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
