"""The headless commands: the same client, watch and RunState as the TUI, without a screen.

stdout carries only what ``--json``/``--jsonl`` promise (or the readable summary); progress goes to
stderr, and only when stderr is a terminal.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from dusttui.api.errors import DustError, DustTimeoutError, RunError
from dusttui.api.inputs import (
    InputError,
    blocks_of_saved_specification,
    check_body_size,
    check_config,
    check_inputs,
    inputs_format_for,
    parse_inputs,
    parse_json,
)
from dusttui.api.models import App, to_wire
from dusttui.config import Backend, ConfigError, Settings
from dusttui.exitcodes import EXIT_API, EXIT_INTERRUPTED, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE
from dusttui.output import (
    COLOR,
    GLYPH,
    block_line,
    emit_json,
    err,
    progress,
    report,
)
from dusttui.session import open_client

# Run errors that are the caller's to fix (a bad hash, bad inputs): usage errors, not API failures.
_USAGE_RUN_CODES = {
    "specification_not_found",
    "invalid_specification_error",
    "invalid_inputs_error",
    "dataset_not_found",
    "dataset_empty_error",
    "run_not_found",
}


class WatchInterrupted(Exception):
    """Ctrl-C or --timeout while a run was being watched: the run goes on on the server."""

    def __init__(self, run_id: str | None, app: str, code: int) -> None:
        super().__init__(run_id)
        self.run_id, self.app, self.code = run_id, app, code


def run_guarded(
    func: Callable[..., int], settings: Settings, backend: Backend, **kwargs: Any
) -> int:
    """Run a command; turn every failure into its message on stderr and its exit code."""
    try:
        return func(settings, backend, **kwargs)
    except WatchInterrupted as stop:
        what = "Interrupted" if stop.code == EXIT_INTERRUPTED else "Timed out"
        if stop.run_id:
            err(f"{what}. The run goes on: dusttui watch {stop.run_id} --app {stop.app}")
        else:
            err(f"{what} before the run started.")
        return stop.code
    except KeyboardInterrupt:
        err("Interrupted.")
        return EXIT_INTERRUPTED
    except (InputError, ConfigError) as exc:
        err(str(exc))
        return EXIT_USAGE
    except RunError as exc:
        err(exc.user_message)
        return EXIT_USAGE if exc.code in _USAGE_RUN_CODES else EXIT_API
    except DustTimeoutError as exc:
        err(exc.user_message)
        return EXIT_TIMEOUT
    except DustError as exc:
        err(exc.user_message)
        return EXIT_API


# ------------------------------------------------------------------ apps


async def find_app(client: Any, name: str) -> App:
    """The app whose sId or name is ``name`` (a clear error when none or several match)."""
    apps = await client.list_apps()
    for test in (lambda a: a.sId == name, lambda a: a.name == name):
        found = [a for a in apps if test(a)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise InputError(f"Several apps are named `{name}`: use its sId ({found[0].sId}, …).")
    lowered = [a for a in apps if a.name.lower() == name.lower()]
    if len(lowered) == 1:
        return lowered[0]
    names = ", ".join(sorted(a.name for a in apps)) or "none"
    raise InputError(f"No app `{name}` here (apps: {names}).")


def cmd_apps(settings: Settings, backend: Backend, *, as_json: bool) -> int:
    async def go() -> list[App]:
        async with open_client(backend, settings) as client:
            return await client.list_apps()

    apps = asyncio.run(go())
    if as_json:
        emit_json([to_wire(app) for app in apps])
        return EXIT_OK
    if not apps:
        click.echo("No apps.")
    width = max((len(a.name) for a in apps), default=0)
    for app in apps:
        description = (app.description or "").splitlines()[0] if app.description else ""
        click.echo(f"{app.name.ljust(width)}  {app.sId}  {description}".rstrip())
    return EXIT_OK


# ------------------------------------------------------------------ run


def read_config(value: str | None, app: App) -> dict[str, Any]:
    """``--config`` as a file or inline JSON; without it, the app's saved config."""
    if value is None:
        text = app.savedConfig or "{}"
        where = "saved config"
    elif value.lstrip().startswith("{"):
        text, where = value, "--config"
    else:
        text, where = _read_file(value, "--config"), value
    config = parse_json(text, where)
    check_config(config, blocks_of_saved_specification(app.savedSpecification))
    return config


def read_inputs(items: tuple[str, ...], file: str | None) -> list[Any]:
    """``--input JSON`` (repeatable) and/or ``--inputs FILE|-`` (empty when neither is given)."""
    inputs: list[Any] = [parse_json(item, f"--input #{n}") for n, item in enumerate(items, 1)]
    if file is not None:
        if file == "-":
            text, fmt = sys.stdin.read(), None
        else:
            text, fmt = _read_file(file, "--inputs"), inputs_format_for(file)
        inputs += parse_inputs(text, fmt, file if file != "-" else "stdin")
    check_inputs(inputs)
    return inputs


def _read_file(path: str, option: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{option}: no file `{path}`.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{option}: `{path}` cannot be read: {exc}") from None


def resolve_hash(app: App, requested: str | None) -> str:
    """``--hash`` as given, or the hash of the app's saved specification (else ``latest``)."""
    if requested:
        return requested
    from dusttui.specs import saved_specification_hash

    return saved_specification_hash(app) or "latest"


def cmd_run(
    settings: Settings,
    backend: Backend,
    *,
    app: str,
    spec_hash: str | None,
    config: str | None,
    input_items: tuple[str, ...],
    inputs_file: str | None,
    mode: str,
    block_filter: tuple[str, ...],
    as_json: bool,
    as_jsonl: bool,
    timeout: float | None,
) -> int:
    if as_json and as_jsonl:
        raise InputError("--json and --jsonl cannot be used together.")
    if block_filter and mode != "blocking":
        raise InputError(
            "--block-filter works with --blocking only (the protocol ignores it otherwise)."
        )
    inputs = read_inputs(input_items, inputs_file)  # before any request: bad input costs nothing

    async def go() -> int:
        async with open_client(backend, settings) as client:
            found = await find_app(client, app)
            if not inputs:
                from dusttui.specs import sample_inputs

                inputs[:] = sample_inputs(found) or []
                if not inputs:
                    raise InputError("No inputs: give --input JSON (repeatable) or --inputs FILE.")
                progress(f"using the {len(inputs)} sample input(s) of {found.name}")
            cfg = read_config(config, found)
            spec = resolve_hash(found, spec_hash)
            check_body_size({"specification_hash": spec, "config": cfg, "inputs": inputs})
            progress(f"{found.name} · {len(inputs)} input(s) · {mode} · {backend.label}")
            state = await follow(
                client,
                found,
                app_label=app,
                mode=mode,
                request=(spec, cfg, inputs),
                block_filter=list(block_filter) or None,
                as_jsonl=as_jsonl,
                time_limit=timeout,
                backend=backend,
            )
            return report(state, as_json=as_json, as_jsonl=as_jsonl)

    return _run_async(go, app)


def cmd_get(settings: Settings, backend: Backend, *, run_id: str, app: str, as_json: bool) -> int:
    async def go() -> int:
        async with open_client(backend, settings) as client:
            found = await find_app(client, app)
            from dusttui.api.state import RunState

            # The raw path builds no model per execution: big runs stay small in memory.
            state = RunState.from_run_json(await client.get_run_raw(found.sId, run_id))
            return report(state, as_json=as_json, as_jsonl=False)

    return _run_async(go, app)


def cmd_watch(
    settings: Settings,
    backend: Backend,
    *,
    run_id: str,
    app: str,
    as_json: bool,
    timeout: float | None,
) -> int:
    async def go() -> int:
        async with open_client(backend, settings) as client:
            found = await find_app(client, app)
            state = await follow(
                client,
                found,
                app_label=app,
                mode="poll",
                run_id=run_id,
                as_jsonl=False,
                time_limit=timeout,
                backend=backend,
            )
            return report(state, as_json=as_json, as_jsonl=False)

    return _run_async(go, app)


def _run_async(go: Callable[[], Any], app: str) -> int:
    try:
        return asyncio.run(go())
    except KeyboardInterrupt:
        raise WatchInterrupted(_current_run_id, app, EXIT_INTERRUPTED) from None


_current_run_id: str | None = None  # the run being watched, for the Ctrl-C message


async def follow(
    client: Any,
    app: App,
    *,
    app_label: str,
    mode: str,
    request: tuple[str, dict[str, Any], list[Any]] | None = None,
    run_id: str | None = None,
    block_filter: list[str] | None = None,
    as_jsonl: bool,
    time_limit: float | None,
    backend: Backend,
) -> Any:
    """Follow a run through ``watch_run`` to its end, printing progress; returns its RunState."""
    global _current_run_id
    from dusttui.api.journal import Journal
    from dusttui.api.watch import watch_run
    from dusttui.config import data_dir

    journal = Journal(data_dir() / "journal.sqlite")
    recorded = False
    seen: dict[tuple[str, str], str] = {}
    connection = None
    started = time.monotonic()
    state = None
    try:
        async with asyncio.timeout(time_limit):
            kwargs: dict[str, Any] = {"mode": mode}
            if request is not None:
                kwargs["request"] = request
                if block_filter:
                    kwargs["block_filter"] = block_filter
            else:
                kwargs["run_id"] = run_id
            async for update in watch_run(client, app.sId, **kwargs):
                state = update.state
                if state.run_id and not recorded:
                    _current_run_id = state.run_id
                    _journal_launch(journal, backend, app, state.run_id, mode, request)
                    recorded = True
                if as_jsonl and update.event is not None:
                    emit_json(to_wire(update.event))
                if update.connection != connection:
                    connection = update.connection
                    if str(connection) not in ("done", "streaming") or mode != "stream":
                        progress(f"  … {connection}")
                for block in state.blocks:
                    key = (block.block_type, block.name)
                    if seen.get(key) != block.status:
                        seen[key] = block.status
                        if block.status != "running":
                            progress(block_line(block), COLOR.get(block.status))
    except TimeoutError:
        raise WatchInterrupted(_current_run_id, app_label, EXIT_TIMEOUT) from None
    finally:
        if state is not None and state.run_id and recorded and state.status != "running":
            journal.record_final(state.run_id, state.to_wire())
        journal.close()
    if state is None:
        raise DustError("The server ended the run without saying anything.")
    if state.prerun_error is not None:
        code, message = state.prerun_error
        from dusttui.api.errors import run_error_message

        raise RunError(run_error_message(code, message), code=code)
    progress(
        f"{GLYPH.get(state.status, '?')} run {state.status} in {time.monotonic() - started:.1f} s"
    )
    return state


def _journal_launch(journal, backend, app, run_id, mode, request) -> None:
    spec, cfg, inputs = request if request is not None else (None, None, None)
    journal.record_launch(
        run_id=run_id,
        workspace_id=backend.workspace_id,
        app_id=app.sId,
        app_name=app.name,
        profile=backend.profile,
        base_url=backend.base_url,
        space_id=backend.space_id,
        specification_hash=spec,
        mode=mode,
        config=cfg,
        inputs=inputs,
        origin="launched" if request is not None else "opened",
    )


# ------------------------------------------------------------------ serve


def cmd_serve(
    *, host: str, port: int, apps_dir: Path | None, db_path: Path | None, allow_network: bool
) -> int:
    """`dusttui serve`: the engine in the foreground until Ctrl-C."""
    from dusttui.engine import embedded
    from dusttui.engine.auth import ServerKeyError
    from dusttui.session import engine_data_dir

    def ready(info: Any) -> None:
        where = f"in {info.key.path}" if info.key.path else "from DUSTTUI_SERVER_KEY"
        click.echo(f"dusttui engine listening on {info.url}", err=True)
        click.echo(f"  API key: {where} (send it as `Authorization: Bearer <key>`)", err=True)
        click.echo(f"  database: {info.db_path}", err=True)
        click.echo("  apps: " + ", ".join(str(d) for d in info.apps_dirs), err=True)
        for run_id in info.recovered:
            click.echo(f"  run {run_id} was interrupted by the last stop: marked errored", err=True)
        click.echo(
            f"  try: DUST_BASE_URL={info.url} DUST_WORKSPACE_ID=local "
            "DUST_API_KEY=<key> dusttui apps",
            err=True,
        )

    try:
        embedded.serve(
            host,
            port,
            apps_dir,
            db_path,
            data_dir=engine_data_dir(),
            allow_network=allow_network,
            on_ready=ready,
            log_level="warning",
            access_log=False,
        )
    except KeyboardInterrupt:
        return EXIT_OK
    except (embedded.EngineStartError, ServerKeyError, ValueError, OSError) as exc:
        err(str(exc))
        return EXIT_USAGE
    return EXIT_OK
