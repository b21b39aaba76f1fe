"""The engine's commands: ``dusttui serve`` (foreground) and ``dusttui engine status|stop``.

``dusttui engine`` sees and stops the local engine every front end shares (engine/local.py);
``dusttui serve`` is an engine of its own, in the foreground, until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from dusttui.exitcodes import EXIT_OK, EXIT_USAGE


def _say(message: str) -> None:
    click.echo(message, err=True)


def _engine_dir() -> Path:
    from dusttui.session import engine_data_dir

    return engine_data_dir()


def _ago(started_ms: int) -> str:
    seconds = max(0, time.time() - started_ms / 1000)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def cmd_engine_status(*, as_json: bool) -> int:
    """`dusttui engine status`: the local engine of this data dir, if one runs."""
    from dusttui.engine.local import local_engine_info, log_file

    engine_dir = _engine_dir()
    info = local_engine_info(engine_dir)
    if as_json:
        click.echo(json.dumps({"engine": info}))
        return EXIT_OK
    if info is None:
        click.echo(f"No local engine is running (data dir {engine_dir}).")
        return EXIT_OK
    idle = info.get("idle_stop_seconds")
    lines = [
        f"Local engine running at {info['url']} (pid {info['pid']}, up {_ago(info['started'])}, "
        f"dusttui {info['version']})",
        f"  running runs: {info['running_runs']}",
        "  stops by itself: "
        + ("never" if idle is None else f"after {idle:g} s with no run and no client"),
        f"  data dir: {info['data_dir']}",
        "  apps: " + ", ".join(info["apps_dirs"]),
        f"  log: {log_file(engine_dir)}",
    ]
    click.echo("\n".join(lines))
    return EXIT_OK


def cmd_engine_stop() -> int:
    """`dusttui engine stop`: stop the local engine (its running runs are interrupted)."""
    from dusttui.engine.local import EngineStartError, find_local_engine, stop_local_engine

    engine_dir = _engine_dir()
    found = find_local_engine(engine_dir)
    try:
        stopped = stop_local_engine(engine_dir)
    except EngineStartError as exc:
        _say(f"dusttui: {exc}")
        return EXIT_USAGE
    if not stopped:
        click.echo(f"No local engine was running (data dir {engine_dir}).")
    elif found is not None:
        click.echo(f"Stopped the local engine (pid {found.pid}).")
    else:
        click.echo("Stopped the local engine.")
    return EXIT_OK


def cmd_serve(
    *, host: str, port: int, apps_dir: Path | None, db_path: Path | None, allow_network: bool
) -> int:
    """`dusttui serve`: the engine in the foreground until Ctrl-C or SIGTERM (one line then)."""
    from dusttui.engine import embedded
    from dusttui.engine.auth import ServerKeyError
    from dusttui.engine.process import EngineStartError

    def ready(info: Any) -> None:
        where = f"in {info.key.path}" if info.key.path else "from DUSTTUI_SERVER_KEY"
        _say(f"dusttui engine listening on {info.url}")
        _say(f"  API key: {where} (send it as `Authorization: Bearer <key>`)")
        _say(f"  database: {info.db_path}")
        _say("  apps: " + ", ".join(str(d) for d in info.apps_dirs))
        for run_id in info.recovered:
            _say(f"  run {run_id} was interrupted by the last stop: marked errored")
        _say(
            f"  try: DUST_BASE_URL={info.url} DUST_WORKSPACE_ID=local "
            "DUST_API_KEY=<key> dusttui apps"
        )

    try:
        life = embedded.serve(
            host,
            port,
            apps_dir,
            db_path,
            data_dir=_engine_dir(),
            allow_network=allow_network,
            on_ready=ready,
            log_level="warning",
            access_log=False,
        )
    except KeyboardInterrupt:  # Ctrl-C before it listened: nothing ran yet
        _say("dusttui engine: stopped before it started.")
        return EXIT_OK
    except (EngineStartError, ServerKeyError, ValueError, OSError) as exc:
        _say(f"dusttui: {exc}")
        return EXIT_USAGE
    runs = len(life.interrupted)
    many = "s" if runs != 1 else ""
    interrupted = f"; {runs} running run{many} interrupted, saved errored" if runs else ""
    _say(f"dusttui engine stopped ({life.stop_reason or 'asked to'}){interrupted}.")
    return EXIT_OK
