"""``python -m dusttui.engine.daemon``: the local engine, detached, shared by every front end.

Started by :func:`dusttui.engine.local.ensure_local_engine` in its own session, stdin and stdout on
/dev/null, stderr appended to ``<engine dir>/engine.log``. Serves on 127.0.0.1 (a free port) with
the data dir's key file (never the environment's key, never argv), writes the discovery file once
listening, and stops gracefully on SIGTERM/SIGINT, on ``POST /dusttui/v1/engine/stop`` or once idle
(see life.py); it removes its discovery file when it stops. Each start and stop is one log line.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path

from dusttui.engine.local import (
    CHILD_ERROR_PREFIX,
    Discovery,
    lock_file,
    remove_discovery,
    try_lock,
    write_discovery,
)

SIGNAL_NAMES: dict[int, str] = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
# A start that hangs (an unreadable file, a stuck disk) must not leave a process nobody can find:
# SIGALRM's default action ends it unless it listens by then.
STARTUP_LIMIT = 120


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dusttui.engine.daemon")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--apps-dir", type=Path)
    parser.add_argument("--token-delay", type=float)
    parser.add_argument("--idle-seconds", type=float)
    parser.add_argument("--startup-limit", type=int, default=STARTUP_LIMIT)
    return parser.parse_args(argv)


def say(message: str) -> None:
    """One line in engine.log, with the time and the pid."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} [{os.getpid()}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Serve until stopped; 0 on a clean stop, 1 (with a `dusttui engine:` line) if it cannot start."""
    args = _parse(argv)
    data_dir: Path = args.data_dir
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # before serving: just go
    signal.alarm(args.startup_limit)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from dusttui.engine.auth import ServerKeyError, file_key
    from dusttui.engine.embedded import _close, build_engine
    from dusttui.engine.process import EngineStartError
    from dusttui.engine.serving import EngineServer, bind, raise_open_files_limit, url_of

    try:
        parts = build_engine(
            data_dir=data_dir,
            apps_dir=args.apps_dir,
            api_key=file_key(data_dir),
            token_delay=args.token_delay,
            idle_stop_seconds=args.idle_seconds,
        )
    except (EngineStartError, ServerKeyError) as exc:
        print(f"{CHILD_ERROR_PREFIX}{exc}", file=sys.stderr, flush=True)
        return 1
    life = parts.life
    try:
        sock = bind("127.0.0.1", 0)
    except EngineStartError as exc:
        _close(parts)
        print(f"{CHILD_ERROR_PREFIX}{exc}", file=sys.stderr, flush=True)
        return 1

    def may_idle_stop(limit: float) -> bool:
        # Holding the lock, nobody is between finding this engine and using it; the discovery
        # file goes first, so from now on every caller starts a new engine.
        lock = try_lock(lock_file(data_dir))
        if lock is None:
            return False
        try:
            idle = life.idle_for()
            if idle is None or idle < limit:
                return False
            remove_discovery(data_dir, os.getpid())
            return True
        finally:
            os.close(lock)

    life.may_idle_stop = may_idle_stop
    try:
        raise_open_files_limit()
        sock.listen(2048)  # connections queue from now on, while uvicorn starts
        life.url = url_of(sock)
        server = EngineServer(parts.app, life, signal_names=SIGNAL_NAMES)
        write_discovery(
            data_dir,
            Discovery(
                pid=os.getpid(),
                url=life.url,
                started=life.started,
                version=life.info()["version"],
                apps_dir=None if args.apps_dir is None else str(args.apps_dir),
                token_delay=args.token_delay,
                idle_stop_seconds=args.idle_seconds,
            ),
        )
        signal.alarm(0)  # it listens and can be found: the start is over
        idle = "never" if args.idle_seconds is None else f"after {args.idle_seconds:g} s idle"
        say(f"dusttui engine listening on {life.url} (stops {idle})")
        for run_id in parts.recovered:
            say(f"run {run_id} was left running by an engine that died: marked errored")
        server.run(sockets=[sock])
    finally:
        remove_discovery(data_dir, os.getpid())
        with contextlib.suppress(OSError):
            sock.close()
        _close(parts)
    interrupted = len(life.interrupted)
    many = "s" if interrupted != 1 else ""
    runs = f"; {interrupted} running run{many} interrupted" if interrupted else ""
    say(f"dusttui engine stopped ({life.stop_reason or 'asked to'}){runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
